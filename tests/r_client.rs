//! R over QAP: `rdesk tunnel` forwards a port here through the host's SSH
//! session to an app's QAP port, and the R program the core shows for it
//! (RSclient, Debian's r-cran-rsclient) is run with Rscript as shown, only
//! the token pasted in. A right token gets the function's answer, a missing
//! or wrong one is refused, a third wrong token on one connection ends it;
//! the tunnel ends with the command (SIGTERM or Ctrl-C) and leaves no ssh
//! process or listening port; bad input gets one sentence each.
// Test support: a panic here is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Instant;

use rdesk_core::snippets::TOKEN_PLACEHOLDER;
use rdesk_e2e::clients::{Tunnel, rscript, rscript_ok};
use rdesk_e2e::{Rdesk, Standin, app_folder};

const APP: &str = r#"
add <- function(a, b) a + b
size <- function(x) length(x)
"#;

fn rsclient_installed() {
    let (ok, _, stderr) = rscript("library(RSclient)");
    assert!(
        ok,
        "RSclient is missing (`cargo xtask standin up` installs r-cran-rsclient): {stderr}"
    );
}

/// `snippet` with a call of `add(1, 2)` where the user would write theirs.
fn with_a_call(snippet: &str) -> String {
    snippet.replace(
        "invisible(RS.close(c))\n",
        "writeLines(format(RS.eval.qap(c, as.call(list(funs$add, 1, 2)))))\ninvisible(RS.close(c))\n",
    )
}

/// Milliseconds per call of `add` from R through `tunnel`, over 20 calls on
/// one connection.
fn per_call_ms(tunnel: &Tunnel, token: &str) -> f64 {
    let port = tunnel.port();
    let timed = rscript_ok(&format!(
        r#"library(RSclient)
c <- RS.connect("127.0.0.1", {port}L)
funs <- RS.eval.qap(c, as.call(list(attr(c, "capabilities"), "{token}")))
took <- system.time(for (i in 1:20) RS.eval.qap(c, as.call(list(funs$add, i, 1))))[["elapsed"]]
writeLines(format(took * 1000 / 20))
"#
    ));
    timed.trim().parse().unwrap()
}

#[test]
fn r_calls_a_token_app_through_the_tunnel_as_the_snippet_shows() {
    let Some(standin) =
        Standin::from_env("r_calls_a_token_app_through_the_tunnel_as_the_snippet_shows")
    else {
        return;
    };
    rsclient_installed();
    let desk = standin.desk();
    let slug = "rq-token";
    let _ = desk.run(&["rm", slug, "--host", "vps"]);
    let (_dir, app) = app_folder(slug, &[("main.R", APP)]);
    desk.deploy(&app, slug, &[]);
    let made = desk.json(&["token", "create", slug, "--host", "vps", "--name", "r"]);
    let token = made["token"].as_str().unwrap();

    let opened = Instant::now();
    let tunnel = Tunnel::open(&desk, "vps", slug, &[]);
    println!("the tunnel was open after {:?}", opened.elapsed());
    assert_eq!(tunnel.view["address"], "127.0.0.1", "{}", tunnel.view);
    let shown = tunnel.snippet();
    assert!(
        shown.contains(&format!("RS.connect(\"127.0.0.1\", {}L)", tunnel.port())),
        "{shown}"
    );

    // The right token: the functions, and the function's answer.
    let pasted = shown.replace(TOKEN_PLACEHOLDER, token);
    assert_eq!(
        rscript_ok(&pasted).trim(),
        "functions: add, size",
        "{shown}"
    );
    let answered = rscript_ok(&with_a_call(&pasted));
    assert_eq!(answered.lines().last(), Some("3"), "{answered}");

    // No token (the placeholder as shown) and a wrong one: refused.
    let wrong = format!("rdt_0123abcd_{}", "0".repeat(64));
    for program in [shown.clone(), shown.replace(TOKEN_PLACEHOLDER, &wrong)] {
        let (ok, stdout, stderr) = rscript(&program);
        assert!(!ok, "a call without the right token answered: {stdout}");
        assert!(stderr.contains("error in R during evaluation"), "{stderr}");
        assert!(!stdout.contains("functions:"), "{stdout}");
    }

    // A third wrong token ends the connection; a new one with the right
    // token still works.
    let port = tunnel.port();
    let attempts = format!(
        r#"library(RSclient)
c <- RS.connect("127.0.0.1", {port}L)
first <- attr(c, "capabilities")
for (i in 1:4) {{
  said <- tryCatch({{ RS.eval.qap(c, as.call(list(first, "{wrong}"))); "answered" }},
                   error = function(e) conditionMessage(e))
  writeLines(paste0(i, ": ", said))
}}
c <- RS.connect("127.0.0.1", {port}L)
funs <- RS.eval.qap(c, as.call(list(attr(c, "capabilities"), "{token}")))
writeLines(paste0("then: ", RS.eval.qap(c, as.call(list(funs$add, 2, 2)))))
"#
    );
    let said = rscript_ok(&attempts);
    let lines: Vec<&str> = said
        .lines()
        .filter(|l| !l.starts_with("rsc_abort"))
        .collect();
    println!("{said}");
    assert_eq!(lines.len(), 5, "{said}");
    for refused in &lines[..2] {
        assert!(refused.ends_with("error in R during evaluation"), "{said}");
    }
    for ended in &lines[2..4] {
        assert!(
            !ended.contains("answered") && !ended.contains("error in R during evaluation"),
            "the third wrong token should end the connection: {said}"
        );
    }
    assert_eq!(lines[4], "then: 4", "{said}");

    // What a call costs through the tunnel, here and over the slow link.
    let loopback = per_call_ms(&tunnel, token);
    tunnel.end_with("-TERM");
    let slow = standin.over_the_slow_link();
    let far = Rdesk::new();
    slow.add_to(&far);
    let far_tunnel = Tunnel::open(&far, "vps", slug, &[]);
    let over_slow_link = per_call_ms(&far_tunnel, token);
    far_tunnel.end_with("-TERM");
    let rtt = rdesk_e2e::SlowLink::from_env().rtt();
    println!(
        "R call through the tunnel: {loopback:.1} ms on loopback, {over_slow_link:.1} ms over the slow link ({} ms round trip)",
        rtt.as_millis()
    );
    assert!(
        over_slow_link >= rtt.as_secs_f64() * 1000.0,
        "a call over the slow link cannot beat its round trip"
    );

    // The forward is cancelled while the session lives on (the window's
    // case): the port stops listening at once.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let core = rdesk_core::desk::Desk::open(desk.data_dir.path())
            .await
            .unwrap();
        let session = core.session("vps").await.unwrap();
        let tunnel = session.open_tunnel(slug, None).await.unwrap();
        let port = tunnel.view().port;
        assert!(
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        );
        tunnel.close().await;
        assert!(
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_err(),
            "port {port} still listens after close"
        );
        session.close().await;
        core.shutdown().await;
    });

    // Bad input: one sentence each, nothing left open.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().port().to_string();
    let in_use = desk.fails(&["tunnel", slug, "--host", "vps", "--port", &busy]);
    assert!(
        in_use.contains(&format!(
            "port {busy} on this machine's 127.0.0.1 is in use"
        )),
        "{in_use}"
    );
    let unknown = desk.fails(&["tunnel", "rq-nothing", "--host", "vps"]);
    assert!(
        unknown.contains("there is no app `rq-nothing`"),
        "{unknown}"
    );
    desk.ok(&["stop", slug, "--host", "vps"]);
    let stopped = desk.fails(&["tunnel", slug, "--host", "vps"]);
    assert!(
        stopped.contains(&format!("app `{slug}` on host `vps` is not running"))
            && stopped.contains(&format!("rdesk start {slug} --host vps")),
        "{stopped}"
    );
    for sentence in [&in_use, &unknown, &stopped] {
        assert_eq!(sentence.trim().lines().count(), 1, "{sentence}");
    }
    desk.ok(&["rm", slug, "--host", "vps"]);
}

#[test]
fn r_logs_in_to_an_eval_app_through_the_tunnel() {
    let Some(standin) = Standin::from_env("r_logs_in_to_an_eval_app_through_the_tunnel") else {
        return;
    };
    rsclient_installed();
    let desk = standin.desk();
    let slug = "rq-eval";
    let _ = desk.run(&["rm", slug, "--host", "vps"]);
    let (_dir, app) = app_folder(slug, &[("main.R", APP)]);
    desk.deploy(&app, slug, &["--mode", "eval"]);
    let made = desk.json(&["token", "create", slug, "--host", "vps"]);
    let token = made["token"].as_str().unwrap();

    let tunnel = Tunnel::open(&desk, "vps", slug, &[]);
    let shown = tunnel.snippet();
    assert!(shown.contains("RS.login(c, \"rdesk\", token"), "{shown}");
    let printed = rscript_ok(&shown.replace(TOKEN_PLACEHOLDER, token));
    assert!(printed.starts_with("R: R version"), "{printed}");
    let (ok, stdout, stderr) = rscript(&shown);
    assert!(!ok, "an eval app answered without its token: {stdout}");
    assert!(stderr.contains("authentication failed"), "{stderr}");
    tunnel.end_with("-INT");
    desk.ok(&["rm", slug, "--host", "vps"]);
}
