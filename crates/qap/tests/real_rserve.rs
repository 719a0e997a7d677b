//! The client against a real Rserve started with the platform's
//! `rserve-base/start.R`, in OCAP and eval mode, over TCP and WebSocket, plus
//! handshakes with servers that are not Rserve.
//!
//! The real-Rserve tests need R and the Rserve package and take seconds, so
//! they run only with `RDESK_E2E=1` (as `cargo xtask test` sets); otherwise
//! each prints that it was skipped. Every Rserve started here runs in a
//! process group of its own that is stopped, by its id, when the test ends.
// Test helpers: a panic is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use rserve_qap::{AccessToken, Client, ClientOptions, Error, Mode, Signature, Value};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

const APP_MAIN: &str = r#"
add <- function(a, b) a + b
greet <- function(name) paste0("Hello, ", name, "!")
outer_fn <- function(x) {
    inner_helper <- function(y) y * 2
    inner_helper(x)
}
.private <- function() "secret"
fails <- function(x) stop("custom failure: ", x)
echo <- function(x) x
slow <- function(seconds) { Sys.sleep(seconds); "done" }
big <- function(n) as.numeric(seq_len(n))
describe <- function(...) { a <- list(...); list(n = length(a), names = names(a)) }
read_data <- function() c(readLines("data/values.txt"), loaded_at_start)
with_defaults <- function(n = 10L, label = "a b", weights = c(1, 2)) list(n, label, weights)
"#;

const APP_SUB: &str = r#"
stats_of <- function(x) list(mean = mean(x), n = length(x), values = x)
threshold <- 3
loaded_at_start <- readLines("data/values.txt")
"#;

/// The app's top-level functions in start.R's byte-wise order; not
/// `.private`, `inner_helper` (defined inside `outer_fn`) or `threshold`
/// (not a function).
const EXPOSED: [&str; 12] = [
    "add",
    "big",
    "describe",
    "echo",
    "fails",
    "greet",
    "outer_fn",
    "read_data",
    "slow",
    "stats_of",
    "with_defaults",
    "zz_last",
];

fn e2e_enabled(test: &str) -> bool {
    if std::env::var("RDESK_E2E").as_deref() == Ok("1") {
        return true;
    }
    // Under CI a test never skips silently.
    assert!(
        std::env::var_os("CI").is_none(),
        "real_rserve::{test}: CI is set but RDESK_E2E=1 is not: run it through `cargo xtask test`"
    );
    // Straight to stderr, past the test harness's output capture.
    let _ = writeln!(
        std::io::stderr(),
        "real_rserve::{test}: skipped (set RDESK_E2E=1 to run it against a real Rserve)"
    );
    false
}

fn start_r() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rserve-base/start.R")
}

async fn free_ports() -> (u16, u16) {
    let a = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    let b = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    (
        a.local_addr().expect("local address").port(),
        b.local_addr().expect("local address").port(),
    )
}

/// An Rserve started with start.R; stopped (whole process group) on drop.
struct Rserve {
    child: tokio::process::Child,
    qap_port: u16,
    ws_port: u16,
    dir: tempfile::TempDir,
    /// The token its clients log in with (eval mode, which is never public).
    token: Option<&'static str>,
}

/// The one token of the eval servers, and its SHA-256 as start.R reads it.
const EVAL_TOKEN: &str =
    "rdt_0123abcd_5555555555555555555555555555555555555555555555555555555555555555";
const EVAL_TOKEN_SHA256: &str = "2b3cdb4ec607e2193496bd00fd1a3da6ba2b3436a198468da161e91a4b48787e";

impl Rserve {
    async fn start(mode: &str) -> Rserve {
        let dir = tempfile::tempdir().expect("temporary folder");
        let app = dir.path().join("app");
        std::fs::create_dir_all(app.join("sub")).expect("app folder");
        std::fs::write(app.join("main.R"), APP_MAIN).expect("write main.R");
        std::fs::write(app.join("sub/b.R"), APP_SUB).expect("write b.R");
        std::fs::write(app.join("z.R"), "zz_last <- function() 'last'\n").expect("write z.R");
        std::fs::create_dir_all(app.join("data")).expect("data folder");
        std::fs::write(app.join("data/values.txt"), "v1\n").expect("write data");
        let (qap_port, ws_port) = free_ports().await;
        let stdout = std::fs::File::create(dir.path().join("stdout.log")).expect("log file");
        let stderr = std::fs::File::create(dir.path().join("stderr.log")).expect("log file");
        let eval = mode == "eval";
        let tokens = dir.path().join("tokens");
        std::fs::write(
            &tokens,
            format!("0123abcd\t{EVAL_TOKEN_SHA256}\t0\ttests\n"),
        )
        .expect("write tokens");
        let child = tokio::process::Command::new("Rscript")
            .arg(start_r())
            .env("APP_DIR", &app)
            .env("RSERVE_MODE", mode)
            // These tests are about the protocol: OCAP servers are public;
            // eval servers cannot be, so they take the one EVAL_TOKEN.
            .env("RDESK_ACCESS", if eval { "token" } else { "public" })
            .env("RDESK_TOKENS", &tokens)
            .env("QAP_PORT", qap_port.to_string())
            .env("WS_PORT", ws_port.to_string())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("Rscript must be installed when RDESK_E2E=1");
        let mut server = Rserve {
            child,
            qap_port,
            ws_port,
            dir,
            token: eval.then_some(EVAL_TOKEN),
        };
        server.wait_ready().await;
        server
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    async fn wait_ready(&mut self) {
        for _ in 0..240 {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "start.R exited with {status}\nstdout:\n{}\nstderr:\n{}",
                    self.log("stdout.log"),
                    self.log("stderr.log")
                );
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", self.ws_port))
                .await
                .is_ok()
                && tokio::net::TcpStream::connect(("127.0.0.1", self.qap_port))
                    .await
                    .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!(
            "Rserve did not listen within 60 s\nstderr:\n{}",
            self.log("stderr.log")
        );
    }

    fn tcp(&self) -> String {
        format!("127.0.0.1:{}", self.qap_port)
    }

    fn ws(&self) -> String {
        format!("ws://127.0.0.1:{}/", self.ws_port)
    }

    async fn clients(&self) -> Vec<(&'static str, Client)> {
        let options = || ClientOptions {
            token: self.token.map(AccessToken::new),
            ..ClientOptions::default()
        };
        vec![
            (
                "tcp",
                Client::connect_tcp_with(self.tcp(), options())
                    .await
                    .expect("TCP connect"),
            ),
            (
                "ws",
                Client::connect_ws_with(&self.ws(), options())
                    .await
                    .expect("WebSocket connect"),
            ),
        ]
    }
}

impl Drop for Rserve {
    fn drop(&mut self) {
        // Rserve forks one process per connection into our process group:
        // stop the group by its id, then make sure of the leader.
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.start_kill();
    }
}

/// The QAP1 encoding of the R call `Sys.getenv("HOME")`.
fn getenv_call() -> Vec<u8> {
    fn sexp(xt: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = (u32::from(xt) | ((payload.len() as u32) << 8))
            .to_le_bytes()
            .to_vec();
        out.extend_from_slice(payload);
        out
    }
    let function = sexp(19, b"Sys.getenv\0\0"); // XT_SYMNAME
    let argument = sexp(34, b"HOME\0\x01\x01\x01"); // XT_ARRAY_STR
    sexp(22, &[function, argument].concat()) // XT_LANG_NOTAG
}

/// The arguments `start.R` (OCAP) or the global environment (eval) says
/// for a few of the app's functions: names in order, defaults as R source.
fn assert_signatures(found: &[Signature], transport: &str) {
    let arguments = |name: &str| -> Vec<(String, Option<String>)> {
        let signature = found
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{transport}: no {name} in {found:?}"));
        let arguments = signature.arguments.as_ref().expect("arguments are said");
        arguments
            .iter()
            .map(|a| (a.name.clone(), a.default.clone()))
            .collect()
    };
    assert_eq!(
        arguments("add"),
        [("a".to_owned(), None), ("b".to_owned(), None)],
        "{transport}"
    );
    assert_eq!(arguments("read_data"), [], "{transport}");
    assert_eq!(
        arguments("describe"),
        [("...".to_owned(), None)],
        "{transport}"
    );
    assert_eq!(
        arguments("with_defaults"),
        [
            ("n".to_owned(), Some("10L".to_owned())),
            ("label".to_owned(), Some("\"a b\"".to_owned())),
            ("weights".to_owned(), Some("c(1, 2)".to_owned())),
        ],
        "{transport}"
    );
}

fn r_error_message(result: Result<Value, Error>) -> String {
    match result {
        Err(Error::RError { message }) => message,
        other => panic!("expected an R error, got {other:?}"),
    }
}

#[tokio::test]
async fn ocap_mode_over_tcp_and_websocket() {
    if !e2e_enabled("ocap_mode_over_tcp_and_websocket") {
        return;
    }
    let server = Rserve::start("ocap").await;
    assert!(
        server
            .log("stdout.log")
            .contains(&format!("exposed functions: {}", EXPOSED.join(", "))),
        "start-up line: {}",
        server.log("stdout.log")
    );
    for (transport, mut client) in server.clients().await {
        assert_eq!(client.mode(), Mode::Ocap, "{transport}");
        assert!(
            client.banner().is_none(),
            "{transport}: OCAP servers send no banner"
        );
        assert_eq!(client.functions(), EXPOSED.to_vec(), "{transport}");
        assert_signatures(&client.list_signatures().await.unwrap(), transport);

        // JSON in, JSON out.
        assert_eq!(
            client
                .call_json("add", &[json!(1), json!(2.5)])
                .await
                .unwrap(),
            json!(3.5)
        );
        assert_eq!(
            client.call_json("greet", &[json!("R")]).await.unwrap(),
            json!("Hello, R!")
        );
        assert_eq!(
            client
                .call_json("stats_of", &[json!([1, 2, 3, null])])
                .await
                .unwrap(),
            json!({"mean": null, "n": 4, "values": [1.0, 2.0, 3.0, null]})
        );
        assert_eq!(
            client
                .call_json("echo", &[json!({"a": [true, null], "b": "x", "c": {}})])
                .await
                .unwrap(),
            json!({"a": [true, null], "b": "x", "c": {}})
        );
        assert_eq!(
            client.call_json("outer_fn", &[json!(21)]).await.unwrap(),
            json!(42.0)
        );
        assert_eq!(
            client.call_json("zz_last", &[]).await.unwrap(),
            json!("last")
        );

        // Relative paths resolve against APP_DIR, at load time and in calls.
        assert_eq!(
            client.call_json("read_data", &[]).await.unwrap(),
            json!(["v1", "v1"])
        );

        // Values keep NA, integers and attributes through R and back.
        let mut ints = rserve_qap::Vector::new(vec![Some(1), None, Some(3)]);
        ints.attributes
            .set("names", Value::strings(["a", "b", "c"]));
        let ints = Value::Integer(ints);
        assert_eq!(client.call("echo", vec![ints.clone()]).await.unwrap(), ints);
        let strings = Value::Character(rserve_qap::Vector::new(vec![
            Some("é".into()),
            None,
            Some(String::new()),
        ]));
        assert_eq!(
            client.call("echo", vec![strings.clone()]).await.unwrap(),
            strings
        );

        // Named arguments.
        let described = client
            .call_named(
                "describe",
                vec![(Some("x".into()), Value::double(1.0)), (None, Value::Null)],
            )
            .await
            .unwrap();
        assert_eq!(described.to_json(), json!({"n": 2, "names": ["x", ""]}));

        // Large values both ways (XT_LARGE / DT_LARGE headers).
        let n = 2_500_000;
        let big = client
            .call("big", vec![Value::double(n as f64)])
            .await
            .unwrap();
        assert_eq!(big.len(), n, "{transport}");
        let back = client.call("echo", vec![big.clone()]).await.unwrap();
        assert_eq!(back, big, "{transport}");

        // Only the top-level functions of the app are callable.
        for name in ["inner_helper", "system", ".private", "threshold", "oc.init"] {
            match client.call(name, vec![]).await {
                Err(Error::NotCallable { name: n, available }) => {
                    assert_eq!(n, name);
                    assert_eq!(available, EXPOSED.to_vec());
                }
                other => panic!("{transport}: calling {name} gave {other:?}"),
            }
        }
        assert!(matches!(
            client.eval("1 + 1").await,
            Err(Error::WrongMode { .. })
        ));

        // R errors carry R's message, and the connection stays usable.
        let message = r_error_message(client.call("fails", vec![Value::string("x")]).await);
        assert_eq!(message, "custom failure: x", "{transport}");
        let message = r_error_message(
            client
                .call("add", vec![Value::string("a"), Value::double(1.0)])
                .await,
        );
        assert!(
            message.contains("non-numeric argument"),
            "{transport}: {message}"
        );

        // Rserve evaluates the arguments of the call it receives, so a
        // symbol or a call as argument would run as R code: start.R refuses them.
        let code = Value::from_qap(&getenv_call()).unwrap();
        assert!(matches!(&code, Value::Opaque(o) if o.kind() == "call"));
        let message = r_error_message(client.call("echo", vec![code]).await);
        assert!(
            message.contains("arguments must be plain values"),
            "{transport}: {message}"
        );
        let message = r_error_message(
            client
                .call("echo", vec![Value::Symbol("Sys.getenv".into())])
                .await,
        );
        assert!(
            message.contains("arguments must be plain values"),
            "{transport}: {message}"
        );

        assert_eq!(
            client
                .call_json("add", &[json!(2), json!(2)])
                .await
                .unwrap(),
            json!(4.0)
        );
        client.close().await;
    }
}

#[tokio::test]
async fn eval_mode_over_tcp_and_websocket() {
    if !e2e_enabled("eval_mode_over_tcp_and_websocket") {
        return;
    }
    let server = Rserve::start("eval").await;
    for (transport, mut client) in server.clients().await {
        assert_eq!(client.mode(), Mode::Eval, "{transport}");
        let banner = client.banner().expect("eval servers send a banner");
        assert_eq!(
            (banner.version.as_str(), banner.protocol.as_str()),
            ("0103", "QAP1")
        );
        assert!(client.functions().is_empty());
        let listed = client.list_functions().await.unwrap();
        assert_signatures(&client.list_signatures().await.unwrap(), transport);
        for name in EXPOSED {
            assert!(
                listed.iter().any(|n| n == name),
                "{transport}: {name} missing from {listed:?}"
            );
        }

        assert_eq!(client.eval("1 + 2").await.unwrap(), Value::double(3.0));
        assert_eq!(
            client.eval("x <- 2L; x * 3L").await.unwrap(),
            Value::integer(6)
        );
        assert_eq!(
            client.eval("\"é\\\"\"").await.unwrap(),
            Value::string("é\"")
        );
        client.set("y", &Value::doubles([1.0, 2.0])).await.unwrap();
        assert_eq!(client.eval("sum(y)").await.unwrap(), Value::double(3.0));

        assert_eq!(
            client
                .call_json("add", &[json!(1), json!(2)])
                .await
                .unwrap(),
            json!(3.0)
        );
        assert_eq!(
            client
                .call_json("stats_of", &[json!([2, 4])])
                .await
                .unwrap(),
            json!({"mean": 3.0, "n": 2, "values": [2.0, 4.0]})
        );
        let described = client
            .call_named("describe", vec![(Some("k".into()), Value::logical(true))])
            .await
            .unwrap();
        assert_eq!(described.to_json(), json!({"n": 1, "names": "k"}));
        assert_eq!(
            client.call_json("read_data", &[]).await.unwrap(),
            json!(["v1", "v1"])
        );
        // The helper argument variable does not linger.
        assert_eq!(
            client.eval("exists('.rdesk_args')").await.unwrap(),
            Value::logical(false)
        );

        // Errors: R's message, for calls, runtime errors and parse errors.
        assert_eq!(
            r_error_message(client.call("fails", vec![Value::string("y")]).await),
            "custom failure: y"
        );
        assert_eq!(
            r_error_message(client.eval("stop('bad thing')").await),
            "bad thing"
        );
        let message = r_error_message(client.eval("1 +").await);
        assert!(
            message.contains("unexpected end of input"),
            "{transport}: {message}"
        );
        let message = r_error_message(client.eval("inner_helper(1)").await);
        assert!(
            message.contains("could not find function"),
            "{transport}: {message}"
        );

        match client.call("no_such_fn", vec![]).await {
            Err(Error::NotCallable { available, .. }) => {
                assert!(available.contains(&"add".to_string()))
            }
            other => panic!("{transport}: {other:?}"),
        }
        assert!(matches!(
            client.call("system('ls')", vec![]).await,
            Err(Error::InvalidName { .. })
        ));
        assert!(matches!(
            client.set("a b", &Value::Null).await,
            Err(Error::InvalidName { .. })
        ));
        assert_eq!(client.eval("1").await.unwrap(), Value::double(1.0));
        client.close().await;
    }
}

#[tokio::test]
async fn request_timeout_closes_the_connection() {
    if !e2e_enabled("request_timeout_closes_the_connection") {
        return;
    }
    let server = Rserve::start("ocap").await;
    let options = ClientOptions {
        request_timeout: Duration::from_millis(500),
        ..ClientOptions::default()
    };
    let mut client = Client::connect_tcp_with(server.tcp(), options)
        .await
        .unwrap();
    let result = client.call("slow", vec![Value::double(3.0)]).await;
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
    let result = client
        .call("add", vec![Value::double(1.0), Value::double(1.0)])
        .await;
    assert!(matches!(result, Err(Error::Broken { .. })), "{result:?}");
    // A new connection is fine.
    let mut client = Client::connect_tcp(server.tcp()).await.unwrap();
    assert_eq!(
        client
            .call_json("add", &[json!(1), json!(1)])
            .await
            .unwrap(),
        json!(2.0)
    );
}

#[tokio::test]
async fn start_r_fails_loudly_on_a_broken_file() {
    if !e2e_enabled("start_r_fails_loudly_on_a_broken_file") {
        return;
    }
    for (file, content, r_message) in [
        ("bad_syntax.R", "f <- function( {\n", "unexpected"),
        (
            "bad_run.R",
            "x <- stop('cannot load config')\n",
            "cannot load config",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.R"), "ok <- function() 1\n").unwrap();
        std::fs::write(dir.path().join(file), content).unwrap();
        let (qap_port, ws_port) = free_ports().await;
        let mut command = tokio::process::Command::new("Rscript");
        command
            .arg(start_r())
            .env("APP_DIR", dir.path())
            .env("QAP_PORT", qap_port.to_string())
            .env("WS_PORT", ws_port.to_string())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let output = tokio::time::timeout(Duration::from_secs(60), command.output())
            .await
            .expect("start.R must stop by itself")
            .expect("Rscript runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{file}: start.R must fail");
        assert!(
            stderr.contains(file),
            "{file}: stderr must name the file: {stderr}"
        );
        assert!(
            stderr.contains(r_message),
            "{file}: stderr must carry R's error: {stderr}"
        );
    }
}

/// A one-shot TCP server that sends `greeting` to its first client.
async fn fake_server(greeting: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        if let Ok((mut socket, _)) = listener.accept().await {
            let _ = socket.write_all(greeting).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    addr
}

#[tokio::test]
async fn servers_that_are_not_rserve_give_handshake_errors() {
    for (greeting, expected) in [
        (
            &b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"[..],
            "\"HTTP\"",
        ),
        (b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", "\"SSH-\""),
        (
            b"\x00\x01\x02\x03garbage garbage garbage garbage",
            "bytes [00 01 02 03]",
        ),
        (b"Rsrv0103QAP2\r\n\r\n--------------\r\n", "QAP2"),
        (b"Rsrv0103QAP1\r\n\r\nARpt------------", "login"),
        (b"Rsr", "closed before"),
    ] {
        let addr = fake_server(greeting).await;
        match Client::connect_tcp(addr.as_str()).await {
            // A server that needs a login is refused before any: no token was given.
            Err(e @ (Error::Handshake { .. } | Error::AccessRefused { .. })) => {
                let text = e.to_string();
                assert!(text.contains(expected), "{text}");
                assert!(text.contains(&addr), "{text}");
            }
            other => panic!("greeting {greeting:?} gave {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let holder = tokio::spawn(async move {
        let accepted = listener.accept().await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        drop(accepted);
    });
    let options = ClientOptions {
        connect_timeout: Duration::from_millis(300),
        ..ClientOptions::default()
    };
    let result = Client::connect_tcp_with(addr, options).await;
    assert!(
        matches!(result, Err(Error::ConnectTimeout { .. })),
        "{result:?}"
    );
    holder.abort();
}

#[tokio::test]
async fn websocket_urls_are_checked() {
    for (url, expected) in [
        ("http://127.0.0.1:1/", "ws:// or wss://"),
        ("127.0.0.1:1", "ws:// or wss://"),
    ] {
        match Client::connect_ws(url).await {
            Err(e @ Error::InvalidUrl { .. }) => assert!(e.to_string().contains(expected), "{e}"),
            other => panic!("{url}: {other:?}"),
        }
    }
}

/// A fake eval-mode Rserve: sends the banner, then answers the n-th request
/// with the n-th byte string of `answers`.
async fn fake_eval_server(answers: Vec<Vec<u8>>) -> String {
    use tokio::io::AsyncReadExt;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let _ = socket
            .write_all(b"Rsrv0103QAP1\r\n\r\n--------------\r\n")
            .await;
        for answer in answers {
            let mut header = [0u8; 16];
            if socket.read_exact(&mut header).await.is_err() {
                return;
            }
            let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
            let mut body = vec![0u8; len];
            if socket.read_exact(&mut body).await.is_err() {
                return;
            }
            let _ = socket.write_all(&answer).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    });
    addr
}

fn message(cmd: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for word in [cmd, body.len() as u32, 0, 0] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    out.extend_from_slice(body);
    out
}

fn double_param(x: f64) -> Vec<u8> {
    let mut out = vec![0x0a, 0x0c, 0, 0, 0x21, 0x08, 0, 0];
    out.extend_from_slice(&x.to_le_bytes());
    out
}

#[tokio::test]
async fn out_of_band_messages_are_skipped_and_r_errors_without_text_are_reported() {
    let answers = vec![
        // OOB send (0x21000) of 1.0, then the answer 7.0.
        [
            message(0x21000, &double_param(1.0)),
            message(0x10001, &double_param(7.0)),
        ]
        .concat(),
        // What Rserve sends when R fails and nothing caught the error.
        message(0x7f01_0002, &[]),
        // "invalid parameter".
        message(0x4401_0002, &[]),
    ];
    let addr = fake_eval_server(answers).await;
    let mut client = Client::connect_tcp(addr.as_str()).await.unwrap();
    assert_eq!(client.eval("7").await.unwrap(), Value::double(7.0));
    let message = r_error_message(client.eval("stop()").await);
    assert!(message.contains("no message"), "{message}");
    match client.eval("x").await {
        Err(e @ Error::Server { code: 0x44, .. }) => {
            assert!(e.to_string().contains("invalid parameter"), "{e}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_ocap_greeting_with_an_absurd_length_is_refused() {
    // "RsOC" with a body length of 2^40 bytes.
    let addr = fake_server(b"RsOC\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00").await;
    match Client::connect_tcp(addr.as_str()).await {
        Err(e @ Error::Handshake { .. }) => assert!(e.to_string().contains("announces"), "{e}"),
        other => panic!("{other:?}"),
    }
}

/// A TLS front for a local port, as Traefik would be: a private CA, a
/// certificate for `localhost` signed by it, and a proxy that ends TLS and
/// passes the bytes on.
struct TlsFront {
    port: u16,
    ca_pem: String,
    task: tokio::task::JoinHandle<()>,
}

impl TlsFront {
    async fn start(backend_port: u16) -> TlsFront {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        use tokio_rustls::rustls;

        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &ca)
            .unwrap();
        let key = rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap();
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    if let Ok(mut backend) =
                        tokio::net::TcpStream::connect(("127.0.0.1", backend_port)).await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut backend).await;
                    }
                });
            }
        });
        TlsFront {
            port,
            ca_pem: ca.pem(),
            task,
        }
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn websocket_over_tls_checks_the_certificate() {
    if !e2e_enabled("websocket_over_tls_checks_the_certificate") {
        return;
    }
    let server = Rserve::start("ocap").await;
    let front = TlsFront::start(server.ws_port).await;
    let url = format!("wss://localhost:{}/", front.port);

    // Trusting the private CA: the call goes through TLS to Rserve.
    let options = ClientOptions {
        extra_roots_pem: Some(front.ca_pem.clone().into_bytes()),
        ..ClientOptions::default()
    };
    let mut client = Client::connect_ws_with(&url, options).await.unwrap();
    assert_eq!(
        client.call_json("greet", &[json!("TLS")]).await.unwrap(),
        json!("Hello, TLS!")
    );
    client.close().await;

    // Without it, the certificate is refused before any QAP byte.
    let err = Client::connect_ws(&url).await.err().unwrap();
    assert!(
        matches!(&err, Error::WebSocket { .. }) && err.to_string().contains("certificate"),
        "{err}"
    );

    // A certificate for another name is refused even from a trusted CA.
    let options = ClientOptions {
        extra_roots_pem: Some(front.ca_pem.clone().into_bytes()),
        ..ClientOptions::default()
    };
    let other = format!("wss://127.0.0.1:{}/", front.port);
    let err = Client::connect_ws_with(&other, options)
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("certificate"), "{err}");

    // Extra roots that are not certificates: a TLS set-up error, not a connect.
    let options = ClientOptions {
        extra_roots_pem: Some(b"not a certificate".to_vec()),
        ..ClientOptions::default()
    };
    let err = Client::connect_ws_with(&url, options).await.err().unwrap();
    assert!(matches!(err, Error::Tls { .. }), "{err}");
}
