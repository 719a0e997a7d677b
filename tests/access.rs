//! Who may call an app, tried through the stand-in's real Traefik with the
//! clients people use: rserve-js (npm `rserve` 1.0.2 under Node, from
//! `tests/node`), `rdesk call`, and the QAP client for what JSON cannot say.
//! A public app answers anyone; a token app only a live token; an allow-list
//! refuses callers outside it; an eval app is never public; tokens never
//! show in `docker inspect`, labels, the app's logs or SQLite.
// Test support: a panic here is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use rdesk_e2e::clients::run_snippet;
use rdesk_e2e::{Rdesk, Standin, app_folder, docker_out, running_container};
use rserve_qap::{AccessToken, Client, ClientOptions, Value};
use serde_json::{Value as Json, json};

const APP: &str = r#"
.secret <- "s3cr3t-only-inside"
add <- function(a, b) a + b
apply_it <- function(f, args) do.call(f, args)
size <- function(x) length(x)
"#;

/// `ws://HOST:PORT/SLUG` of the stand-in's Traefik.
fn ws_url(standin: &Standin, slug: &str) -> String {
    format!(
        "{}/{slug}",
        standin.public_url.replacen("http://", "ws://", 1)
    )
}

/// One call with rserve-js under Node: `{"ok": true, "value": ...}` or
/// `{"ok": false, "stage": ..., "error": ...}`.
fn node_call(url: &str, function: &str, args: Json, token: Option<&str>) -> Json {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("node/call.js");
    assert!(
        script
            .with_file_name("node_modules")
            .join("rserve")
            .is_dir(),
        "tests/node/node_modules is missing: `cargo xtask standin up` installs it (npm ci)"
    );
    let mut cmd = Command::new("node");
    cmd.arg(&script)
        .arg(url)
        .arg(function)
        .arg(args.to_string());
    if let Some(t) = token {
        cmd.arg(t);
    }
    let out = cmd.output().expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "node printed no JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The number an answer carries (rserve-js gives a numeric vector of one as `[x]` or `x`).
fn answered(result: &Json) -> f64 {
    assert_eq!(result["ok"], true, "expected an answer, got {result}");
    let value = &result["value"];
    value
        .as_f64()
        .or_else(|| value.get(0).and_then(Json::as_f64))
        .unwrap_or_else(|| panic!("not a number: {result}"))
}

fn refused(result: &Json, stage: &str) {
    assert_eq!(result["ok"], false, "expected a refusal, got {result}");
    assert_eq!(result["stage"], stage, "{result}");
}

/// A QAP client over Traefik with `token`.
async fn qap(url: &str, token: &str) -> Client {
    let options = ClientOptions {
        token: Some(AccessToken::new(token)),
        ..ClientOptions::default()
    };
    Client::connect_ws_with(url, options).await.unwrap()
}

fn rdesk_with_token(desk: &Rdesk, token: &str, args: &[&str]) -> std::process::Output {
    Command::new(rdesk_e2e::rdesk_binary())
        .args(args)
        .env("RDESK_DATA_DIR", desk.data_dir.path())
        .env("RDESK_TOKEN", token)
        .output()
        .unwrap()
}

/// Everything SQLite keeps on this desk, as bytes (database and WAL).
fn sqlite_bytes(desk: &Rdesk) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(desk.data_dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            all.extend(std::fs::read(path).unwrap());
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread")]
async fn token_apps_answer_only_live_tokens_which_never_leak() {
    let Some(standin) = Standin::from_env("token_apps_answer_only_live_tokens_which_never_leak")
    else {
        return;
    };
    let desk = standin.desk();
    let slug = "ac-token";
    let _ = desk.run(&["rm", slug, "--host", "vps"]);
    let (_dir, app) = app_folder(slug, &[("main.R", APP)]);
    // No --access: a new app takes tokens.
    desk.deploy(&app, slug, &["--memory", "128m"]);
    let url = ws_url(&standin, slug);

    refused(&node_call(&url, "add", json!([1, 2]), None), "authenticate");
    let wrong = format!("rdt_0123abcd_{}", "0".repeat(64));
    refused(
        &node_call(&url, "add", json!([1, 2]), Some(&wrong)),
        "authenticate",
    );

    let first = desk.json(&["token", "create", slug, "--host", "vps", "--name", "one"]);
    let second = desk.json(&["token", "create", slug, "--host", "vps", "--name", "two"]);
    let (t1, t2) = (
        first["token"].as_str().unwrap().to_owned(),
        second["token"].as_str().unwrap().to_owned(),
    );
    assert_eq!(
        answered(&node_call(&url, "add", json!([1, 2]), Some(&t1))),
        3.0
    );

    // A connection logged in with the first token outlives its revocation;
    // new logins with it are refused; the second token is untouched.
    let mut open = qap(&url, &t1).await;
    desk.ok(&[
        "token",
        "revoke",
        slug,
        first["id"].as_str().unwrap(),
        "--host",
        "vps",
    ]);
    refused(
        &node_call(&url, "add", json!([1, 2]), Some(&t1)),
        "authenticate",
    );
    assert_eq!(
        answered(&node_call(&url, "add", json!([2, 3]), Some(&t2))),
        5.0
    );
    let still = open
        .call("add", vec![Value::double(1.0), Value::double(1.0)])
        .await
        .unwrap();
    assert_eq!(still, Value::double(2.0));
    open.close().await;

    let listed = desk.json(&["token", "list", slug, "--host", "vps"]);
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second["id"].as_str().unwrap()], "{listed}");

    // rdesk call: with the desk's own token (made and revoked for the call,
    // there being no keyring here), and with RDESK_TOKEN.
    assert_eq!(desk.call(slug, "add", &["1", "2"]), json!(3.0));
    let with_env = rdesk_with_token(
        &desk,
        &t2,
        &["call", slug, "add", "4", "5", "--host", "vps", "--json"],
    );
    assert!(with_env.status.success(), "{with_env:?}");
    let refused_call = rdesk_with_token(
        &desk,
        &t1,
        &["call", slug, "add", "1", "2", "--host", "vps"],
    );
    assert!(!refused_call.status.success());
    assert!(
        String::from_utf8_lossy(&refused_call.stderr).contains("refused access"),
        "{refused_call:?}"
    );
    assert_eq!(
        desk.json(&["token", "list", slug, "--host", "vps"])
            .as_array()
            .unwrap()
            .len(),
        1,
        "the one-call token is gone again"
    );

    // Arguments are values all the way down: a symbol inside a list would
    // let do.call read the app's private variable.
    let mut client = qap(&url, &t2).await;
    let sneaky = Value::List(rserve_qap::Vector::new(vec![Value::Symbol(
        ".secret".into(),
    )]));
    let err = client
        .call("apply_it", vec![Value::string("identity"), sneaky])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("plain values"), "{err}");
    let plain = Value::List(rserve_qap::Vector::new(vec![Value::double(4.0)]));
    assert_eq!(
        client
            .call("apply_it", vec![Value::string("sqrt"), plain])
            .await
            .unwrap(),
        Value::double(2.0)
    );
    // Rserve's input buffer is an eighth of the 128 MiB limit (16 MiB): a
    // 100 MiB request, which would take the container past its limit once
    // buffered and decoded, is refused (over WebSocket Rserve ends that
    // connection) and the same container goes on serving, not OOM-killed.
    let container = running_container(slug);
    let big = Value::Raw(rserve_qap::Vector::new(vec![7u8; 100 << 20]));
    let err = client.call("size", vec![big]).await.unwrap_err();
    assert!(
        matches!(err, rserve_qap::Error::RequestDropped { .. }),
        "{err}"
    );
    client.close().await;
    assert_eq!(
        answered(&node_call(&url, "add", json!([1, 1]), Some(&t2))),
        2.0,
        "the app still serves after the oversized request"
    );
    assert_eq!(running_container(slug), container);
    let state = rdesk_e2e::docker_inspect(&container)["State"].clone();
    assert_eq!(state["OOMKilled"], false, "{state}");

    let inspect = docker_out(&["inspect", &container]);
    let logs = {
        let out = Command::new("docker")
            .args(["logs", &container])
            .output()
            .unwrap();
        [out.stdout, out.stderr].concat()
    };
    let sqlite = sqlite_bytes(&desk);
    for token in [&t1, &t2] {
        let secret = &token[13..];
        assert!(!inspect.contains(secret), "a token in docker inspect");
        assert!(!contains(&logs, secret), "a token in the app's logs");
        assert!(!contains(&sqlite, secret), "a token in SQLite");
    }

    // With a keyring, the desk makes its own token once and keeps it there.
    let keyring = rdesk_e2e::KeyringSession::start();
    for _ in 0..2 {
        let out = keyring
            .command(rdesk_e2e::rdesk_binary())
            .args(["call", slug, "add", "1", "2", "--host", "vps"])
            .env("RDESK_DATA_DIR", desk.data_dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    let listed = desk.json(&["token", "list", slug, "--host", "vps"]);
    let workstation = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"] == "rdesk workstation")
        .count();
    assert_eq!(workstation, 1, "{listed}");
    drop(keyring);

    desk.ok(&["rm", slug, "--host", "vps"]);
    let volumes = docker_out(&["volume", "ls", "-q"]);
    assert!(
        !volumes.lines().any(|v| v == "rserve-desk-access-ac-token"),
        "removing the app removes its token volume"
    );
}

#[test]
fn public_apps_answer_anyone_and_allow_lists_refuse_outsiders() {
    let Some(standin) =
        Standin::from_env("public_apps_answer_anyone_and_allow_lists_refuse_outsiders")
    else {
        return;
    };
    let desk = standin.desk();
    let slug = "ac-public";
    let _ = desk.run(&["rm", slug, "--host", "vps"]);
    let (_dir, app) = app_folder(slug, &[("main.R", APP)]);
    desk.deploy(&app, slug, &["--access", "public"]);
    let url = ws_url(&standin, slug);
    assert_eq!(answered(&node_call(&url, "add", json!([1, 2]), None)), 3.0);

    // TEST-NET-3 only: this machine is outside; Traefik answers 403.
    desk.ok(&["set", slug, "--host", "vps", "--allow", "203.0.113.0/24"]);
    refused(&node_call(&url, "add", json!([1, 2]), None), "connect");
    let call = desk.run(&["call", slug, "add", "1", "2", "--host", "vps"]);
    assert!(!call.status.success());
    assert!(
        String::from_utf8_lossy(&call.stderr).contains("403"),
        "{call:?}"
    );

    // Loopback and the private ranges Docker's gateways live in: inside.
    desk.ok(&[
        "set",
        slug,
        "--host",
        "vps",
        "--allow",
        "127.0.0.0/8",
        "--allow",
        "10.0.0.0/8",
        "--allow",
        "172.16.0.0/12",
        "--allow",
        "192.168.0.0/16",
    ]);
    assert_eq!(answered(&node_call(&url, "add", json!([2, 2]), None)), 4.0);
    let bad = desk.fails(&["set", slug, "--host", "vps", "--allow", "10.1.2.3/8"]);
    assert!(bad.contains("did you mean 10.0.0.0/8"), "{bad}");
    desk.ok(&["set", slug, "--host", "vps", "--no-allow"]);
    assert_eq!(answered(&node_call(&url, "add", json!([3, 2]), None)), 5.0);
    desk.ok(&["rm", slug, "--host", "vps"]);
}

#[test]
fn eval_apps_are_never_public_and_log_in_with_a_token() {
    let Some(standin) = Standin::from_env("eval_apps_are_never_public_and_log_in_with_a_token")
    else {
        return;
    };
    let desk = standin.desk();
    let slug = "ac-eval";
    let _ = desk.run(&["rm", slug, "--host", "vps"]);
    let (_dir, app) = app_folder(slug, &[("main.R", APP)]);
    let path = app.to_str().unwrap();
    let refusal = desk.fails(&[
        "deploy", path, "--host", "vps", "--slug", slug, "--mode", "eval", "--access", "public",
    ]);
    assert!(refusal.contains("cannot be public"), "{refusal}");
    let filter = format!("label=io.rserve-desk.slug={slug}");
    assert!(
        docker_out(&["ps", "-a", "-q", "--filter", &filter])
            .trim()
            .is_empty(),
        "nothing was started"
    );

    desk.deploy(&app, slug, &["--mode", "eval"]);
    let url = ws_url(&standin, slug);
    refused(&node_call(&url, "add", json!([1, 2]), None), "call");
    let made = desk.json(&["token", "create", slug, "--host", "vps"]);
    let token = made["token"].as_str().unwrap();
    assert_eq!(
        answered(&node_call(&url, "add", json!([1, 2]), Some(token))),
        3.0
    );
    assert_eq!(desk.call(slug, "add", &["2", "2"]), json!(4.0));
    let public = desk.fails(&["set", slug, "--host", "vps", "--access", "public"]);
    assert!(public.contains("cannot be public"), "{public}");
    desk.ok(&["rm", slug, "--host", "vps"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_snippets_the_window_shows_call_the_app_as_shown() {
    use rdesk_core::snippets::{TOKEN_PLACEHOLDER, rserve_js};
    use rdesk_core::spawner::{AccessMode, Mode};

    let Some(standin) = Standin::from_env("the_snippets_the_window_shows_call_the_app_as_shown")
    else {
        return;
    };
    let desk = standin.desk();
    let slug = "ac-snippet";
    let _ = desk.run(&["rm", slug, "--host", "vps"]);
    let (_dir, app) = app_folder(slug, &[("main.R", APP)]);
    desk.deploy(&app, slug, &["--memory", "128m"]);
    let url = ws_url(&standin, slug);

    // A token app: the snippet with the user's token pasted in.
    let made = desk.json(&["token", "create", slug, "--host", "vps", "--name", "web"]);
    let token = made["token"].as_str().unwrap();
    let shown = rserve_js(&url, slug, "vps", Mode::Ocap, AccessMode::Token);
    assert!(shown.contains(TOKEN_PLACEHOLDER), "{shown}");
    let printed = run_snippet(&shown.replace(TOKEN_PLACEHOLDER, token));
    assert_eq!(printed.trim(), "functions: add, apply_it, size", "{shown}");
    // Made public: the snippet as shown, nothing to paste.
    desk.ok(&["set", slug, "--host", "vps", "--access", "public"]);
    let shown = rserve_js(&url, slug, "vps", Mode::Ocap, AccessMode::Public);
    assert_eq!(
        run_snippet(&shown).trim(),
        "functions: add, apply_it, size",
        "{shown}"
    );
    desk.ok(&["rm", slug, "--host", "vps"]);
}

/// One call from a web page: `tests/node/browser.html` (rserve-js's browser
/// build over the browser's own WebSocket) in headless Chromium, driven by
/// chromedriver; the same JSON as [`node_call`].
async fn browser_call(url: &str, function: &str, args: Json, token: Option<&str>) -> Json {
    use rdesk_e2e::display::Proc;
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join("node/browser.html");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _driver = Proc(
        Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("chromedriver runs (`cargo xtask standin up` installs chromium-driver)"),
    );
    let profile = tempfile::tempdir().unwrap();
    let capabilities: serde_json::Map<String, Json> = serde_json::from_value(json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        },
    }))
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let client = loop {
        match fantoccini::ClientBuilder::native()
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => break c,
            Err(e) if std::time::Instant::now() > deadline => {
                panic!("no chromedriver session: {e}")
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
        }
    };
    let mut query = vec![
        ("url", url.to_owned()),
        ("fn", function.to_owned()),
        ("args", args.to_string()),
    ];
    if let Some(t) = token {
        query.push(("token", t.to_owned()));
    }
    let query: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect();
    client
        .goto(&format!("file://{}?{}", page.display(), query.join("&")))
        .await
        .unwrap();
    // The page gives up by itself after 15 s.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let text = loop {
        let text = client
            .find(fantoccini::Locator::Id("out"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text != "pending" || std::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    client.close().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("the page wrote no JSON ({e}): {text}"))
}

/// `text` with everything but unreserved URL characters percent-encoded.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_web_page_calls_apps_with_the_browser_build_of_rserve_js() {
    let Some(standin) =
        Standin::from_env("a_web_page_calls_apps_with_the_browser_build_of_rserve_js")
    else {
        return;
    };
    let desk = standin.desk();
    let slug = "ac-page";
    let _ = desk.run(&["rm", slug, "--host", "vps"]);
    let (_dir, app) = app_folder(slug, &[("main.R", APP)]);
    desk.deploy(&app, slug, &["--memory", "128m"]);
    let url = ws_url(&standin, slug);

    // A token app: refused without its token, answers with it.
    refused(
        &browser_call(&url, "add", json!([1, 2]), None).await,
        "authenticate",
    );
    let made = desk.json(&["token", "create", slug, "--host", "vps", "--name", "page"]);
    let token = made["token"].as_str().unwrap();
    assert_eq!(
        answered(&browser_call(&url, "add", json!([1, 2]), Some(token)).await),
        3.0
    );

    // Public behind an allow-list the page's address is not on: Traefik
    // refuses the upgrade; without the list the page gets through.
    desk.ok(&[
        "set",
        slug,
        "--host",
        "vps",
        "--access",
        "public",
        "--allow",
        "203.0.113.0/24",
    ]);
    let outside = browser_call(&url, "add", json!([1, 2]), None).await;
    assert_eq!(outside["ok"], false, "{outside}");
    desk.ok(&["set", slug, "--host", "vps", "--no-allow"]);
    assert_eq!(
        answered(&browser_call(&url, "add", json!([4, 5]), None).await),
        9.0
    );
    desk.ok(&["rm", slug, "--host", "vps"]);
}
