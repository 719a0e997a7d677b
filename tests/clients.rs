//! The clients people use, as the tests run them: R (RSclient with
//! Rscript) through `rdesk tunnel`, and a program of rserve-js under Node
//! (`tests/node`), each run as the window shows it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::{Rdesk, ssh_processes_under};

/// `rdesk tunnel SLUG --host HOST --json EXTRA...` running in the background
/// with its own runtime directory (so its ssh processes can be found).
pub struct Tunnel {
    child: Child,
    runtime: tempfile::TempDir,
    pub view: Json,
}

impl Tunnel {
    pub fn open(desk: &Rdesk, host: &str, slug: &str, extra: &[&str]) -> Tunnel {
        let runtime = tempfile::Builder::new()
            .prefix("rqt")
            .tempdir_in("/tmp")
            .unwrap();
        let mut args = vec!["tunnel", slug, "--host", host, "--json"];
        args.extend_from_slice(extra);
        let mut child = desk
            .command(&args)
            .env("XDG_RUNTIME_DIR", runtime.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("rdesk runs");
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = send.send(line);
            }
        });
        let Ok(line) = lines.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "rdesk tunnel printed nothing: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        };
        let view: Json = serde_json::from_str(&line).expect("JSON");
        assert!(view.get("error").is_none(), "{view}");
        Tunnel {
            child,
            runtime,
            view,
        }
    }

    pub fn port(&self) -> u16 {
        u16::try_from(self.view["port"].as_u64().unwrap()).unwrap()
    }

    pub fn snippet(&self) -> String {
        self.view["r_snippet"].as_str().unwrap().to_owned()
    }

    /// Sends `signal` to the command and checks it ends cleanly, taking its
    /// ssh processes and the forwarded port with it.
    pub fn end_with(mut self, signal: &str) {
        let port = self.port();
        let sent = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "rdesk tunnel outlived {signal}");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(
            status.success(),
            "rdesk tunnel ended with {status} on {signal}"
        );
        let left = ssh_processes_under(self.runtime.path());
        assert!(
            left.is_empty(),
            "ssh processes outlived the tunnel: {left:?}"
        );
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "port {port} still listens after the tunnel ended"
        );
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `program` with Rscript: (success, stdout, stderr).
pub fn rscript(program: &str) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snippet.R");
    std::fs::write(&file, program).unwrap();
    let out = Command::new("Rscript")
        .arg(&file)
        .output()
        .expect("Rscript runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The snippet's output, which must succeed.
pub fn rscript_ok(program: &str) -> String {
    let (ok, stdout, stderr) = rscript(program);
    assert!(ok, "the R program failed:\n{stdout}\n{stderr}\n{program}");
    stdout
}

/// Runs a snippet the window shows, as a Node program with `tests/node`'s
/// rserve-js, and returns what it printed.
pub fn run_snippet(snippet: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snippet.js");
    std::fs::write(&file, snippet).unwrap();
    let modules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("node/node_modules");
    let out = Command::new("node")
        .arg(&file)
        .env("NODE_PATH", &modules)
        .output()
        .expect("node runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        out.status.success(),
        "the snippet failed: {stdout}\n{stderr}\n{snippet}"
    );
    stdout
}
