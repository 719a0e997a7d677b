//! `remote-bootstrap/install-docker.sh` for real, inside throwaway
//! `debian:bookworm` containers on this machine's Docker (only with
//! `RDESK_E2E=1`): Docker's packages get installed, a second run does
//! nothing, and a fake `/etc/os-release` is refused with a clear message.
//! The containers are ours, named per test and process, removed on drop.
//!
//! And, read-only, over real SSH to the stand-in VPS (`cargo xtask standin
//! env`): `bootstrap::plan` probes the host and runs every step's check
//! through the `openssh` session (argv quoting, scripts on stdin) and changes
//! nothing, so it cannot disturb the stand-in other tests use.
// Test helpers: a panic is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

use std::time::{Duration, Instant};

use rdesk_core::bootstrap::commands::{INSTALL_DOCKER_SH, TraefikNetwork};
use rdesk_core::bootstrap::{self, BootstrapOptions, Role};
use rdesk_core::host::{ConnectOptions, Connection, HostTarget};
use rdesk_core::store::{HostKind, HostRecord, Store};

const IMAGE: &str = "debian:bookworm";

fn enabled(test: &str) -> bool {
    let on = std::env::var("RDESK_E2E").is_ok_and(|v| v == "1");
    if !on {
        println!("skipped {test}: set RDESK_E2E=1 to run it against this machine's Docker");
    }
    on
}

/// A `debian:bookworm` container that sleeps (at most 15 minutes) and is
/// removed when dropped.
struct Throwaway {
    name: String,
}

impl Throwaway {
    fn start(test: &str) -> Throwaway {
        let name = format!("rdesk-bootstrap-{test}-{}", std::process::id());
        let _ = Command::new("docker")
            .args(["rm", "--force", &name])
            .output();
        let out = Command::new("docker")
            .args([
                "run",
                "--detach",
                "--rm",
                "--label",
                "io.rserve-desk.test=bootstrap",
                "--name",
                &name,
                IMAGE,
                "sleep",
                "900",
            ])
            .output()
            .expect("docker run");
        assert!(out.status.success(), "docker run: {}", text(&out));
        Throwaway { name }
    }

    /// `docker exec` with the given environment; `stdin` is written to it.
    fn exec(&self, env: &[&str], argv: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new("timeout");
        cmd.args(["600", "docker", "exec", "-i"]);
        for e in env {
            cmd.args(["-e", e]);
        }
        cmd.arg(&self.name).args(argv);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("docker exec");
        let mut pipe = child.stdin.take().expect("stdin");
        if let Some(input) = stdin {
            pipe.write_all(input.as_bytes()).expect("write stdin");
        }
        drop(pipe);
        child.wait_with_output().expect("docker exec output")
    }

    fn script(&self, env: &[&str], args: &[&str]) -> Output {
        let mut argv = vec!["sh", "-s", "--"];
        argv.extend_from_slice(args);
        self.exec(env, &argv, Some(INSTALL_DOCKER_SH))
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "--force", &self.name])
            .output();
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// An unprivileged container cannot run dockerd: only the packages and the
/// group are checked here; starting the daemon is the runner's e2e's job.
const ENV: &[&str] = &["RDESK_SKIP_START=1", "RDESK_USER=tester"];

#[test]
fn install_script_installs_docker_then_does_nothing() {
    if !enabled("install_script_installs_docker_then_does_nothing") {
        return;
    }
    let c = Throwaway::start("install");
    let out = c.exec(&[], &["useradd", "--create-home", "tester"], None);
    assert!(out.status.success(), "useradd: {}", text(&out));

    let check = c.script(ENV, &["--check"]);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check));
    assert!(text(&check).contains("to do: install docker.io"));

    let first = c.script(ENV, &[]);
    let log = text(&first);
    assert!(first.status.success(), "first run: {log}");
    assert!(log.contains("rserve-desk: installing docker.io"), "{log}");
    assert!(
        log.contains("rserve-desk: added tester to the group docker"),
        "{log}"
    );
    let dpkg = c.exec(
        &[],
        &["dpkg-query", "-W", "-f=${Status}", "docker.io"],
        None,
    );
    assert_eq!(
        String::from_utf8_lossy(&dpkg.stdout),
        "install ok installed",
        "{}",
        text(&dpkg)
    );
    let groups = c.exec(&[], &["id", "-nG", "tester"], None);
    assert!(String::from_utf8_lossy(&groups.stdout).contains("docker"));

    let second = c.script(ENV, &[]);
    let log = text(&second);
    assert!(second.status.success(), "second run: {log}");
    assert!(log.ends_with("rserve-desk: already there\n"), "{log}");
    assert!(!log.contains("installing"), "{log}");
    let check = c.script(ENV, &["--check"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
}

#[test]
fn install_script_refuses_other_distributions() {
    if !enabled("install_script_refuses_other_distributions") {
        return;
    }
    let c = Throwaway::start("fedora");
    let fake = "NAME=\"Fedora Linux\"\nID=fedora\nVERSION_ID=40\nPRETTY_NAME=\"Fedora Linux 40 (Container Image)\"\n";
    let out = c.exec(
        &[],
        &["sh", "-c", "rm -f /etc/os-release && cat > /etc/os-release"],
        Some(fake),
    );
    assert!(out.status.success(), "{}", text(&out));

    let out = c.script(ENV, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "rserve-desk: unsupported OS: Fedora Linux 40 (Container Image) (ID=fedora); \
         Rserve Desk supports Debian and Ubuntu only, nothing was changed\n"
    );
    assert!(out.stdout.is_empty());
    // Nothing was installed.
    let docker = c.exec(&[], &["sh", "-c", "command -v docker"], None);
    assert!(!docker.status.success(), "{}", text(&docker));
    let check = c.script(ENV, &["--check"]);
    assert_eq!(check.status.code(), Some(3));
}

#[tokio::test]
async fn plan_over_ssh_to_the_standin_changes_nothing() {
    if !enabled("plan_over_ssh_to_the_standin_changes_nothing") {
        return;
    }
    // The other tests here need only Docker; this one needs the stand-in.
    let (Ok(ssh), Ok(identity)) = (
        std::env::var("RDESK_STANDIN_SSH"),
        std::env::var("RDESK_STANDIN_IDENTITY"),
    ) else {
        println!(
            "skipped plan_over_ssh_to_the_standin_changes_nothing: no stand-in (see `cargo xtask standin env`)"
        );
        return;
    };
    let r_version = std::env::var("RDESK_STANDIN_R_VERSION").unwrap_or_else(|_| "4.2.2".into());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("rdesk.sqlite")).await.unwrap();
    store
        .add_host(HostRecord {
            name: "standin".into(),
            kind: HostKind::Ssh,
            ssh_target: Some(ssh),
            identity_file: Some(identity),
            public_url: "http://127.0.0.1:18080".into(),
            added_at: 0,
        })
        .await
        .unwrap();
    let record = store.host("standin").await.unwrap().unwrap();
    let target = HostTarget::from_record(&record).unwrap();
    let mut options = ConnectOptions::new(dir.path().join("run"));
    options.connect_timeout = Duration::from_secs(5);
    options.require_docker = false;
    let connection = Connection::open("standin", target, &options, &store)
        .await
        .unwrap();

    let wanted = BootstrapOptions {
        http_port: 18080,
        https_port: 18443,
        r_versions: vec![r_version],
        ..BootstrapOptions::default()
    };
    let result = bootstrap::plan(&connection, &wanted, Role::Host, None).await;
    connection.close().await.unwrap();
    let plan = match result {
        Ok(plan) => plan,
        // The stand-in's sshd runs on this machine: if that is not Debian or
        // Ubuntu the refusal must be the clear one.
        Err(bootstrap::BootstrapError::Unsupported(e)) => {
            println!("stand-in refused as expected for this OS: {e}");
            return;
        }
        Err(e) => panic!("plan over SSH: {e}"),
    };
    println!("{plan:#?}");
    let steps: Vec<&str> = plan.steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(
        steps[..4],
        ["install-docker", "network", "docker-filter", "traefik"]
    );
    assert_eq!(steps.len(), 5);
    assert!(!plan.facts.user.is_empty());
    // The install script's own check answered (0 or 1), through stdin.
    assert!(plan.steps[0].note.starts_with("rserve-desk: "), "{plan:#?}");
}

/// An HTTP GET on 127.0.0.1, answering (status line, body); bounded.
fn http_get(port: u16, path: &str) -> Option<(String, String)> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    Some((head.lines().next()?.to_owned(), body.to_owned()))
}

/// The host port Docker published for `port/tcp` of `container`.
fn published(container: &str, port: u16) -> u16 {
    let out = Command::new("docker")
        .args(["port", container, &format!("{port}/tcp")])
        .output()
        .expect("docker port");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.rsplit_once(':')?.1.trim().parse().ok())
        .unwrap_or_else(|| panic!("{container} publishes no {port}: {text}"))
}

/// The bootstrap's own command, with this test's names for its containers
/// and volumes.
fn renamed(cmd: &bootstrap::RemoteCommand, name: &str) -> Vec<String> {
    let names = [
        ("rserve-desk-traefik-config", format!("{name}-config")),
        ("rserve-desk-traefik-acme", format!("{name}-acme")),
        ("rserve-desk-traefik", name.to_owned()),
        ("rserve-desk-docker-filter", format!("{name}-filter")),
    ];
    cmd.argv
        .iter()
        .map(|arg| {
            names
                .iter()
                .fold(arg.clone(), |a, (from, to)| a.replace(from, to))
        })
        .collect()
}

/// Runs a (renamed) bootstrap command with its stdin; it must succeed.
fn run_renamed(cmd: &bootstrap::RemoteCommand, name: &str) -> String {
    let argv = renamed(cmd, name);
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("docker runs");
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(cmd.stdin.as_deref().unwrap_or_default())
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{argv:?}: {}", text(&out));
    text(&out)
}

/// The rendered static configuration in real Traefik, made the way the
/// runner makes it (the bootstrap's own `docker create` of the filter and of
/// Traefik, `docker cp -` of the configuration, `docker start`; only the
/// names differ): Traefik on the host's network accepts it, reads Docker
/// through the filter, and ping and the API answer on the dashboard entry
/// point and Prometheus metrics on the metrics one, both on 127.0.0.1. With a
/// domain the same holds; Let's Encrypt (ACME) itself cannot be reached from
/// this machine, so no certificate is expected. Uses the stand-in's Traefik
/// and filter images and ports of its own.
#[test]
fn rendered_config_is_accepted_by_traefik() {
    if !enabled("rendered_config_is_accepted_by_traefik") {
        return;
    }
    let image = std::env::var("RDESK_TRAEFIK_IMAGE")
        .unwrap_or_else(|_| "rserve-desk/traefik:3.7.15".into());
    for (label, domain, email) in [
        ("plain", None, None),
        ("tls", Some("r.example.org"), Some("admin@example.org")),
    ] {
        let options = BootstrapOptions {
            domain: domain.map(Into::into),
            email: email.map(Into::into),
            http_port: 18880,
            https_port: 18843,
            dashboard_port: 18889,
            metrics_port: 18882,
            traefik_image: image.clone(),
            ..BootstrapOptions::default()
        }
        .validate()
        .unwrap();
        let config = bootstrap::render_traefik_config(&options).unwrap();
        let name = format!("rdesk-bootstrap-traefik-{label}-{}", std::process::id());
        let guard = Named(name.clone());
        let docker = bootstrap::DockerCli { sudo: false };
        run_renamed(&docker.filter_create(&options, "test"), &name);
        run_renamed(&docker.container_start("rserve-desk-docker-filter"), &name);
        run_renamed(
            &docker.traefik_create(&options, "test", TraefikNetwork::Host),
            &name,
        );
        run_renamed(&docker.traefik_copy_config(&config).unwrap(), &name);
        run_renamed(&docker.container_start("rserve-desk-traefik"), &name);

        let deadline = Instant::now() + Duration::from_secs(30);
        let ping = loop {
            // Traefik may say 404 for a moment before its own routers exist.
            if let Some(answer) = http_get(options.dashboard_port, "/ping")
                && answer.0 == "HTTP/1.1 200 OK"
            {
                break answer;
            }
            let logs = Command::new("docker")
                .args(["logs", &name])
                .output()
                .unwrap();
            assert!(
                Instant::now() < deadline,
                "{label}: Traefik did not answer /ping within 30 s; logs:\n{}",
                text(&logs)
            );
            std::thread::sleep(Duration::from_millis(300));
        };
        assert_eq!(ping, ("HTTP/1.1 200 OK".into(), "OK".into()), "{label}");
        let (status, body) = http_get(options.dashboard_port, "/api/entrypoints").unwrap();
        assert_eq!(status, "HTTP/1.1 200 OK", "{label}: {body}");
        for entry_point in ["\"web\"", "\"websecure\"", "\"metrics\"", "\"traefik\""] {
            assert!(body.contains(entry_point), "{label}: {body}");
        }
        // The redirect and the resolver exist only with a domain.
        let tls = domain.is_some();
        assert_eq!(body.contains("redirections"), tls, "{label}: {body}");
        assert_eq!(
            body.contains("\"certResolver\":\"letsencrypt\""),
            tls,
            "{label}: {body}"
        );
        let (status, body) = http_get(options.metrics_port, "/metrics").unwrap();
        assert_eq!(status, "HTTP/1.1 200 OK", "{label}");
        assert!(body.contains("traefik_"), "{label}: {body}");
        let logs = Command::new("docker")
            .args(["logs", &name])
            .output()
            .unwrap();
        let logs = text(&logs);
        assert!(
            !logs.contains("command traefik error") && !logs.contains("field not found"),
            "{label}: {logs}"
        );
        // Traefik's provider read Docker through the filter: it lists the
        // containers after its ping and version, maybe after its entry
        // points answer, so its log is read again for at most 15 s.
        let deadline = Instant::now() + Duration::from_secs(15);
        let filtered = loop {
            let logs = Command::new("docker")
                .args(["logs", &format!("{name}-filter")])
                .output()
                .unwrap();
            let logs = text(&logs);
            if logs.contains("/containers/json") || Instant::now() > deadline {
                break logs;
            }
            std::thread::sleep(Duration::from_millis(300));
        };
        assert!(
            filtered.contains(" 200 ") && filtered.contains("/containers/json"),
            "{label}: {filtered}"
        );
        drop(guard);
    }
}

/// Removes the named container when dropped.
struct Named(String);

impl Drop for Named {
    fn drop(&mut self) {
        let filter = format!("{}-filter", self.0);
        let _ = Command::new("docker")
            .args(["rm", "--force", &self.0, &filter])
            .output();
        let volumes = [
            filter,
            format!("{}-config", self.0),
            format!("{}-acme", self.0),
        ];
        let _ = Command::new("docker")
            .args(["volume", "rm", "--force"])
            .args(&volumes)
            .output();
    }
}

/// A throwaway VPS: `debian:bookworm` with sshd (root login by a fresh key)
/// published on 127.0.0.1 only, no Docker. Containers here cannot be
/// privileged, so dockerd cannot run in it: the runner's own e2e ends at
/// starting the daemon.
struct SshVps {
    container: Named,
    port: u16,
    dir: tempfile::TempDir,
}

const VPS_IMAGE: &str = "rdesk-bootstrap-e2e-vps:1";
const VPS_DOCKERFILE: &str = "FROM debian:bookworm\n\
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssh-server \
&& rm -rf /var/lib/apt/lists/* && mkdir -p /run/sshd /root/.ssh && chmod 700 /root/.ssh\n\
CMD [\"/usr/sbin/sshd\", \"-D\", \"-e\"]\n";

impl SshVps {
    fn start(test: &str) -> SshVps {
        let mut build = Command::new("timeout")
            .args(["600", "docker", "build", "-q", "-t", VPS_IMAGE])
            .args(["--label", "io.rserve-desk.test=bootstrap", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("docker build");
        build
            .stdin
            .take()
            .unwrap()
            .write_all(VPS_DOCKERFILE.as_bytes())
            .unwrap();
        let out = build.wait_with_output().unwrap();
        assert!(out.status.success(), "docker build: {}", text(&out));

        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("id_ed25519");
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .output()
            .unwrap();
        assert!(out.status.success(), "ssh-keygen: {}", text(&out));
        let public = std::fs::read_to_string(dir.path().join("id_ed25519.pub")).unwrap();

        let name = format!("rdesk-bootstrap-vps-{test}-{}", std::process::id());
        let _ = Command::new("docker")
            .args(["rm", "--force", &name])
            .output();
        let out = Command::new("docker")
            .args(["run", "--detach", "--rm", "--name", &name])
            .args(["--label", "io.rserve-desk.test=bootstrap"])
            .args(["--publish", "127.0.0.1::22", VPS_IMAGE])
            .output()
            .unwrap();
        assert!(out.status.success(), "docker run: {}", text(&out));
        let container = Named(name.clone());
        let vps = SshVps {
            port: published(&name, 22),
            container,
            dir,
        };
        let out = vps.exec(
            "cat > /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys",
            Some(&public),
        );
        assert!(out.status.success(), "authorized_keys: {}", text(&out));
        vps
    }

    fn exec(&self, script: &str, stdin: Option<&str>) -> Output {
        let mut child = Command::new("docker")
            .args(["exec", "-i", &self.container.0, "sh", "-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut pipe = child.stdin.take().unwrap();
        if let Some(input) = stdin {
            pipe.write_all(input.as_bytes()).unwrap();
        }
        drop(pipe);
        child.wait_with_output().unwrap()
    }

    async fn connect(&self) -> (Store, Connection) {
        let store = Store::open(self.dir.path().join("rdesk.sqlite"))
            .await
            .unwrap();
        store
            .add_host(HostRecord {
                name: "vps".into(),
                kind: HostKind::Ssh,
                ssh_target: Some(format!("root@127.0.0.1:{}", self.port)),
                identity_file: Some(self.dir.path().join("id_ed25519").display().to_string()),
                public_url: "http://127.0.0.1:18880".into(),
                added_at: 0,
            })
            .await
            .unwrap();
        let record = store.host("vps").await.unwrap().unwrap();
        let target = HostTarget::from_record(&record).unwrap();
        let mut options = ConnectOptions::new(self.dir.path().join("run"));
        options.connect_timeout = Duration::from_secs(5);
        options.require_docker = false;
        // sshd may need a moment after the container starts; bounded.
        for attempt in 0..20 {
            match Connection::open("vps", target.clone(), &options, &store).await {
                Ok(connection) => return (store, connection),
                Err(e) if attempt < 19 => {
                    println!("ssh not ready yet: {e}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => panic!("ssh to the throwaway VPS: {e}"),
            }
        }
        unreachable!()
    }
}

async fn run_collecting(
    connection: &Connection,
    options: &BootstrapOptions,
) -> (
    Result<bootstrap::BootstrapReport, bootstrap::BootstrapError>,
    Vec<bootstrap::StepEvent>,
) {
    let events = std::sync::Mutex::new(Vec::new());
    let sink = |e: bootstrap::StepEvent| {
        println!("{e:?}");
        events.lock().unwrap().push(e);
    };
    let result = bootstrap::run(connection, options, &sink).await;
    (result, events.into_inner().unwrap())
}

/// A bootstrap against an unsupported OS, over real SSH: stops at the first
/// step with the clear message and changes nothing.
#[tokio::test]
async fn run_over_ssh_refuses_an_unsupported_os_and_changes_nothing() {
    if !enabled("run_over_ssh_refuses_an_unsupported_os_and_changes_nothing") {
        return;
    }
    let vps = SshVps::start("fedora");
    let out = vps.exec(
        "rm -f /etc/os-release && cat > /etc/os-release",
        Some("NAME=\"Fedora Linux\"\nID=fedora\nPRETTY_NAME=\"Fedora Linux 40\"\n"),
    );
    assert!(out.status.success(), "{}", text(&out));
    let (_store, connection) = vps.connect().await;
    let (result, events) = run_collecting(&connection, &BootstrapOptions::default()).await;
    connection.close().await.unwrap();
    let err = result.unwrap_err();
    assert_eq!(
        err.to_string(),
        "unsupported OS: Fedora Linux 40 (ID=fedora); Rserve Desk supports Debian and Ubuntu only, nothing was changed"
    );
    let states: Vec<(&str, bootstrap::StepState)> =
        events.iter().map(|e| (e.step.as_str(), e.state)).collect();
    assert_eq!(
        states,
        [
            ("check-host", bootstrap::StepState::Started),
            ("check-host", bootstrap::StepState::Failed)
        ]
    );
    let out = vps.exec(
        "command -v docker || ls /var/lib/dpkg/info/docker.io.list",
        None,
    );
    assert!(
        !out.status.success(),
        "something was installed: {}",
        text(&out)
    );
}

/// A bootstrap of a fresh Debian over real SSH: the host is checked, the
/// script goes over stdin and installs Docker's packages; this container may
/// not run dockerd, so the step then fails with the script's clear message.
#[tokio::test]
async fn run_over_ssh_installs_docker_on_a_fresh_debian() {
    if !enabled("run_over_ssh_installs_docker_on_a_fresh_debian") {
        return;
    }
    let vps = SshVps::start("debian");
    let (_store, connection) = vps.connect().await;
    let plan = bootstrap::plan(&connection, &BootstrapOptions::default(), Role::Host, None)
        .await
        .unwrap();
    assert!(plan.facts.root);
    assert!(plan.steps.iter().all(|s| s.to_do), "{plan:#?}");

    let (result, events) = run_collecting(&connection, &BootstrapOptions::default()).await;
    connection.close().await.unwrap();
    let finals: Vec<(&str, bootstrap::StepState)> = events
        .iter()
        .filter(|e| e.state != bootstrap::StepState::Started)
        .map(|e| (e.step.as_str(), e.state))
        .collect();
    let dpkg = vps.exec("dpkg-query -W -f='${Status}' docker.io", None);
    assert_eq!(
        String::from_utf8_lossy(&dpkg.stdout),
        "install ok installed",
        "{}",
        text(&dpkg)
    );
    match result {
        // A machine whose containers may run dockerd gets further.
        Ok(report) => assert!(report.changed()),
        Err(e) => {
            assert_eq!(
                finals,
                [
                    ("check-host", bootstrap::StepState::Skipped),
                    ("install-docker", bootstrap::StepState::Failed)
                ]
            );
            let message = e.to_string();
            assert!(
                message.starts_with("step install-docker failed: `sh -s < (")
                    && message.contains("exited with status 4")
                    && message
                        .contains("rserve-desk: the Docker daemon did not answer within 30 s"),
                "{message}"
            );
            assert_eq!(events.last().unwrap().output_tail, message);
        }
    }
}
