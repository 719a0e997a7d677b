//! What every end-to-end test needs: the stand-in VPS's facts (from the
//! environment `cargo xtask test` sets), the real `rdesk` binary run with a
//! private data directory, app folders written on the fly, and a look at the
//! Docker Engine behind the stand-in to see what exists there.
// Test support: a panic here is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod clients;
pub mod display;
mod keyring;
mod ssh_counter;
mod traffic;
pub mod vps;
pub use keyring::KeyringSession;
pub use ssh_counter::SshCounter;
pub use traffic::{Seen, Traffic};

/// The stand-in VPS, or `None` (the test prints that it was skipped) when
/// `RDESK_E2E` is not set. `cargo xtask test` always sets it.
#[derive(Clone)]
pub struct Standin {
    pub ssh: String,
    pub identity: String,
    pub public_url: String,
    pub repo: String,
    pub r_version: String,
}

impl Standin {
    pub fn from_env(test: &str) -> Option<Self> {
        if !e2e_enabled(test) {
            return None;
        }
        let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set"));
        Some(Self {
            ssh: var("RDESK_STANDIN_SSH"),
            identity: var("RDESK_STANDIN_IDENTITY"),
            public_url: var("RDESK_STANDIN_PUBLIC_URL"),
            repo: var("RDESK_STANDIN_REPO"),
            r_version: var("RDESK_STANDIN_R_VERSION"),
        })
    }

    /// The same stand-in reached through its slow path (`cargo xtask relay`
    /// in front of its sshd: a delay each way and a bandwidth cap).
    pub fn over_the_slow_link(&self) -> Self {
        Self {
            ssh: SlowLink::from_env().ssh,
            ..self.clone()
        }
    }

    /// A fresh `rdesk` with its own data directory and the stand-in added as host `vps`.
    pub fn desk(&self) -> Rdesk {
        let desk = Rdesk::new();
        self.add_to(&desk);
        desk
    }

    /// Adds the stand-in to `desk` as host `vps`.
    pub fn add_to(&self, desk: &Rdesk) {
        desk.add_vps(&self.ssh, &self.identity, &self.public_url);
    }
}

/// Whether the end-to-end environment is set (`RDESK_E2E=1`, as `cargo xtask
/// test` sets it). Without it a test says it is skipped, except under CI
/// (`CI` set), where a test never skips silently: it fails.
pub fn e2e_enabled(test: &str) -> bool {
    if std::env::var("RDESK_E2E").as_deref() == Ok("1") {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: CI is set but RDESK_E2E=1 is not: run it through `cargo xtask test`"
    );
    eprintln!("{test}: skipped (set RDESK_E2E=1, as `cargo xtask test` does)");
    false
}

/// The stand-in's slow path, from `RDESK_STANDIN_SLOW_*` (`cargo xtask
/// standin env` prints them; `standin up` starts the relay).
#[derive(Clone, Debug)]
pub struct SlowLink {
    /// `USER@HOST:PORT` of the stand-in's sshd behind the relay.
    pub ssh: String,
    /// The relay's delay in each direction.
    pub one_way: Duration,
    /// The relay's cap in each direction, in bytes per second (0: none).
    pub cap_bytes_per_sec: u64,
}

impl SlowLink {
    pub fn from_env() -> Self {
        let var = |k: &str| {
            std::env::var(k).unwrap_or_else(|_| {
                panic!("{k} is not set: `cargo xtask standin env` prints the slow path's variables")
            })
        };
        let number = |k: &str| -> u64 {
            var(k)
                .parse()
                .unwrap_or_else(|e| panic!("{k} is not a number: {e}"))
        };
        Self {
            ssh: var("RDESK_STANDIN_SLOW_SSH"),
            one_way: Duration::from_millis(number("RDESK_STANDIN_SLOW_DELAY_MS")),
            cap_bytes_per_sec: number("RDESK_STANDIN_SLOW_CAP_MBIT") * 1_000_000 / 8,
        }
    }

    /// The relay's round trip: its delay, both ways.
    pub fn rtt(&self) -> Duration {
        2 * self.one_way
    }
}

/// The `rdesk` binary, built once per test run.
pub fn rdesk_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        if let Some(bin) = std::env::var_os("RDESK_BIN") {
            return PathBuf::from(bin);
        }
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("workspace root");
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", "rdesk-cli"])
            .current_dir(workspace)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building rdesk failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace.join("target"));
        target.join("debug").join("rdesk")
    })
}

/// One user's `rdesk`: a private data directory that lives as long as this value.
pub struct Rdesk {
    pub data_dir: tempfile::TempDir,
}

impl Default for Rdesk {
    fn default() -> Self {
        Self::new()
    }
}

impl Rdesk {
    pub fn new() -> Self {
        Self {
            data_dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// `rdesk host add vps --ssh SSH --identity KEY --public-url URL`.
    pub fn add_vps(&self, ssh: &str, identity: &str, public_url: &str) {
        self.ok(&[
            "host",
            "add",
            "vps",
            "--ssh",
            ssh,
            "--identity",
            identity,
            "--public-url",
            public_url,
        ]);
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("rdesk runs")
    }

    /// `rdesk ARGS` with this user's data directory, not started yet.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(rdesk_binary());
        cmd.args(args).env("RDESK_DATA_DIR", self.data_dir.path());
        cmd
    }

    /// Runs and insists on success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "rdesk {args:?} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// Runs and insists on failure; returns stderr (the error sentence).
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "rdesk {args:?} should have failed:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Runs with `--json` and parses the last line of stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let stdout = self.ok(&all);
        let last = stdout.lines().last().unwrap_or_default();
        serde_json::from_str(last).unwrap_or_else(|e| panic!("not JSON ({e}): {last}"))
    }

    /// The entry of `slug` in `rdesk apps --host HOST --json`, if listed.
    pub fn listed_app(&self, host: &str, slug: &str) -> Option<Value> {
        let apps = self.json(&["apps", "--host", host]);
        listed_in(&apps, slug)
    }

    /// `rdesk deploy PATH --host vps --slug SLUG EXTRA...`; returns stdout.
    pub fn deploy(&self, path: &Path, slug: &str, extra: &[&str]) -> String {
        let path = path.to_str().expect("UTF-8 path");
        let mut all = vec!["deploy", path, "--host", "vps", "--slug", slug];
        all.extend_from_slice(extra);
        self.ok(&all)
    }

    /// `rdesk deploy PATH --host vps --slug SLUG`, which must fail; returns
    /// stderr (the error sentence).
    pub fn deploy_fails(&self, path: &Path, slug: &str) -> String {
        let path = path.to_str().expect("UTF-8 path");
        self.fails(&["deploy", path, "--host", "vps", "--slug", slug])
    }

    /// `rdesk call` on host `vps`, retried a bounded number of times while the
    /// app may still be starting; parsed.
    pub fn call_when_up(&self, slug: &str, function: &str, args: &[&str]) -> Value {
        let mut all = vec!["call", slug, function];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--host", "vps", "--json"]);
        for _ in 0..40 {
            let out = self.run(&all);
            if out.status.success() {
                let stdout = String::from_utf8_lossy(&out.stdout);
                return serde_json::from_str(stdout.trim()).expect("JSON");
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
        panic!("{slug} never answered {function}");
    }

    /// `rdesk call` on host `vps`, parsed.
    pub fn call(&self, slug: &str, function: &str, args: &[&str]) -> Value {
        let mut all = vec!["call", slug, function];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--host", "vps"]);
        self.json(&all)
    }
}

/// A long-running `rdesk ... --json` in the background (`watch`, say), its
/// JSON lines on a channel; killed, by its pid, when dropped.
pub struct JsonLines {
    child: Child,
    lines: mpsc::Receiver<Value>,
}

impl JsonLines {
    /// Starts `rdesk ARGS` with `desk`'s data directory and `env`.
    pub fn start(desk: &Rdesk, args: &[&str], env: &[(&str, &Path)]) -> Self {
        Self::start_on(desk.data_dir.path(), args, env)
    }

    /// Starts `rdesk ARGS` with the data directory `data_dir` and `env`.
    pub fn start_on(data_dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> Self {
        let mut cmd = Command::new(rdesk_binary());
        cmd.args(args)
            .env("RDESK_DATA_DIR", data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (name, value) in env {
            cmd.env(name, value);
        }
        let mut child = cmd.spawn().expect("rdesk runs");
        let stdout = child.stdout.take().expect("piped stdout");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(value) = serde_json::from_str::<Value>(&line)
                    && send.send(value).is_err()
                {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// Waits (bounded) for a line matching `wanted`; the lines passed over
    /// are shown when none comes.
    pub fn wait_for(&self, within: Duration, wanted: impl Fn(&Value) -> bool) -> Value {
        self.try_wait_for(within, wanted)
            .unwrap_or_else(|missed| panic!("{missed}"))
    }

    /// [`Self::wait_for`], saying so instead of panicking when the line
    /// never came (for a caller with something to clean up first).
    pub fn try_wait_for(
        &self,
        within: Duration,
        wanted: impl Fn(&Value) -> bool,
    ) -> Result<Value, String> {
        let deadline = Instant::now() + within;
        let mut passed = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if wanted(&line) => return Ok(line),
                Ok(line) => passed.push(line),
                Err(_) => break,
            }
        }
        let shown: Vec<String> = passed.iter().rev().take(30).map(Value::to_string).collect();
        Err(format!(
            "rdesk never printed the expected line within {within:?}; the last lines, newest first:\n{}",
            shown.join("\n")
        ))
    }

    /// The process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The lines printed so far and not yet read.
    pub fn so_far(&self) -> Vec<Value> {
        self.lines.try_iter().collect()
    }
}

impl Drop for JsonLines {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.0 GET to `addr` (`IP:port`): the whole answer, or the error
/// (an address that is not `IP:port` is a bug of the test).
pub fn http_get(addr: &str, path: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let addr = addr.parse().expect("an IP:port address");
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

/// A folder holding the given files, for deploying.
pub fn app_folder(name: &str, files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join(name);
    for (path, contents) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, contents).expect("write");
    }
    (dir, root)
}

/// Names of Docker objects (containers with `ps -a`, or images) carrying a label filter.
pub fn docker_objects(kind: DockerKind, label_filter: &str) -> Vec<String> {
    let listing: &[&str] = match kind {
        DockerKind::Containers => &["ps", "-a", "--format", "{{.Names}}"],
        DockerKind::Images => &["images", "--format", "{{.Repository}}:{{.Tag}}"],
    };
    let filter = format!("label={label_filter}");
    let mut args = listing.to_vec();
    args.extend(["--filter", &filter]);
    docker_out(&args).lines().map(str::to_owned).collect()
}

/// What `docker ARGS` printed; it must succeed.
pub fn docker_out(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `docker inspect` of one container or image, parsed.
pub fn docker_inspect(name: &str) -> Value {
    serde_json::from_str::<Value>(&docker_out(&["inspect", name])).unwrap()[0].clone()
}

/// The entry of `slug` in the answer of `rdesk apps --json`.
pub fn listed_in(apps: &Value, slug: &str) -> Option<Value> {
    apps["apps"]
        .as_array()?
        .iter()
        .find(|a| a["slug"] == slug)
        .cloned()
}

/// The id of the app's one running container.
pub fn running_container(slug: &str) -> String {
    let filter = format!("label=io.rserve-desk.slug={slug}");
    let id = docker_out(&["ps", "-q", "--filter", &filter])
        .trim()
        .to_owned();
    assert!(
        !id.is_empty() && !id.contains('\n'),
        "{slug} runs one container: {id:?}"
    );
    id
}

#[derive(Clone, Copy)]
pub enum DockerKind {
    Containers,
    Images,
}

/// Everything on the stand-in that belongs to one app slug.
pub fn objects_of(slug: &str) -> Vec<String> {
    let filter = format!("io.rserve-desk.slug={slug}");
    let mut all = docker_objects(DockerKind::Containers, &filter);
    all.extend(docker_objects(DockerKind::Images, &filter));
    all
}

/// Removes what an earlier, interrupted run left of an app (its containers and
/// images) and packages layers no container uses, so a test starts clean.
/// Packages layers go by tag: the untagged images of a build in progress
/// inherit the packages label, and a parallel test's build needs them.
pub fn remove_leftovers(slug: &str) {
    let by_slug = format!("label=io.rserve-desk.slug={slug}");
    let packages = "label=io.rserve-desk.role=packages".to_owned();
    for (list, remove) in [
        (vec!["ps", "-aq", "--filter", &by_slug], vec!["rm", "-f"]),
        (
            vec!["images", "-q", "--filter", &by_slug],
            vec!["rmi", "-f"],
        ),
        (
            vec![
                "images",
                "--filter",
                &packages,
                "--filter",
                "dangling=false",
                "--format",
                "{{.Repository}}:{{.Tag}}",
            ],
            vec!["rmi"],
        ),
    ] {
        let out = Command::new("docker")
            .args(&list)
            .output()
            .expect("docker runs");
        let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter(|id| !id.contains("<none>"))
            .map(str::to_owned)
            .collect();
        if !ids.is_empty() {
            // A packages layer still in use is refused by Docker: that is fine.
            let _ = Command::new("docker").args(&remove).args(&ids).output();
        }
    }
}

/// The ssh processes (pid, arguments) whose arguments name a path under
/// `dir`: a run's masters, leases and mux clients when `dir` is its
/// `XDG_RUNTIME_DIR`.
pub fn ssh_processes_under(dir: &Path) -> Vec<(u32, String)> {
    let dir = dir.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if comm.trim() != "ssh" {
            continue;
        }
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args = String::from_utf8_lossy(&raw).replace('\0', " ");
        if args.contains(&dir) {
            found.push((pid, args.trim_end().to_owned()));
        }
    }
    found
}

/// The first column of the first row `sql` gives in the cache (SQLite) of
/// the data directory `data_dir`, as text.
pub fn cache_scalar(data_dir: &Path, sql: &str) -> String {
    let path = rdesk_core::paths::database(data_dir);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        use sqlx::ConnectOptions;
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .connect()
            .await
            .unwrap();
        let value: sqlx::sqlite::SqliteRow = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&mut conn)
            .await
            .unwrap();
        use sqlx::Row;
        value
            .try_get::<String, _>(0)
            .or_else(|_| value.try_get::<i64, _>(0).map(|n| n.to_string()))
            .unwrap()
    })
}

/// The ssh master (started with `-M`) whose control socket is under `dir`,
/// once it runs in the background. It is started with `-f`: the process
/// started first waits for the login, forks the master off into a session
/// of its own and exits, so only a `-M` process leading its own session is
/// the master.
pub fn ssh_master_under(dir: &Path) -> Option<u32> {
    ssh_processes_under(dir)
        .into_iter()
        .find(|(pid, args)| args.split(' ').any(|a| a == "-M") && leads_its_session(*pid))
        .map(|(pid, _)| pid)
}

/// Whether process `pid` is its session's leader (field 6 of its stat).
fn leads_its_session(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, fields)| fields.split_whitespace().nth(3)?.parse::<u32>().ok())
            == Some(pid)
    })
}

/// Sends SIGTERM to `pid`, one of the test's own processes.
pub fn terminate(pid: u32) {
    let status = Command::new("kill")
        .arg(pid.to_string())
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill {pid}: {status}");
}
