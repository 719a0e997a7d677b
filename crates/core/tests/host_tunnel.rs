//! End-to-end tests of host connections against the stand-in VPS that
//! `cargo xtask standin up` runs (sshd on 127.0.0.1:2222 in front of the
//! local dockerd): the forwarded socket, host key pinning, the errors, close
//! and the supervisor. They run only with `RDESK_E2E=1` and the variables of
//! `cargo xtask standin env`; otherwise each prints "skipped" and passes.
//!
//! Every test uses its own temporary store and runtime directory, never
//! `~/.ssh/known_hosts`, and signals only the ssh master it started, by pid.
// Test helpers: a panic is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::HashSet;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rdesk_core::host::{
    ConnectOptions, Connection, ConnectionState, HostError, HostTarget, Supervised, fingerprint_of,
};
use rdesk_core::store::{HostKind, HostRecord, Store};
use tempfile::TempDir;

/// The stand-in's coordinates, or `None` (and "skipped" printed) when the
/// end-to-end tests are off.
struct Standin {
    ssh: String,
    identity: PathBuf,
    dir: Option<PathBuf>,
}

fn standin(test: &str) -> Option<Standin> {
    if std::env::var("RDESK_E2E").as_deref() != Ok("1") {
        // Under CI a test never skips silently.
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: CI is set but RDESK_E2E=1 is not: run it through `cargo xtask test`"
        );
        println!("skipped {test}: set RDESK_E2E=1 and the variables of `cargo xtask standin env`");
        return None;
    }
    let var = |name: &str| {
        std::env::var(name)
            .unwrap_or_else(|_| panic!("RDESK_E2E=1 needs {name}; see `cargo xtask standin env`"))
    };
    Some(Standin {
        ssh: var("RDESK_STANDIN_SSH"),
        identity: PathBuf::from(var("RDESK_STANDIN_IDENTITY")),
        dir: std::env::var_os("RDESK_STANDIN_DIR").map(PathBuf::from),
    })
}

/// A temporary store holding one SSH host, and a runtime directory.
struct Fixture {
    dir: TempDir,
    store: Store,
    name: String,
    target: HostTarget,
    options: ConnectOptions,
}

impl Fixture {
    async fn new(standin: &Standin, ssh_target: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("rdesk.sqlite")).await.unwrap();
        let name = "standin".to_owned();
        store
            .add_host(HostRecord {
                name: name.clone(),
                kind: HostKind::Ssh,
                ssh_target: Some(ssh_target.to_owned()),
                identity_file: Some(standin.identity.display().to_string()),
                public_url: "http://127.0.0.1:18080".into(),
                added_at: 0,
            })
            .await
            .unwrap();
        let record = store.host(&name).await.unwrap().unwrap();
        let target = HostTarget::from_record(&record).unwrap();
        let mut options = ConnectOptions::new(dir.path().join("run"));
        options.connect_timeout = Duration::from_secs(5);
        options.docker_timeout = Duration::from_secs(10);
        Fixture {
            dir,
            store,
            name,
            target,
            options,
        }
    }

    fn runtime(&self) -> &Path {
        &self.options.runtime_dir
    }

    async fn open(&self) -> Result<Connection, HostError> {
        Connection::open(&self.name, self.target.clone(), &self.options, &self.store).await
    }

    /// Entries left in the runtime directory (none when it is missing).
    fn leftovers(&self) -> Vec<PathBuf> {
        match std::fs::read_dir(self.runtime()) {
            Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// ssh processes whose command line mentions this fixture's directory.
    fn ssh_processes(&self) -> Vec<u32> {
        let needle = self.dir.path().to_str().unwrap().to_owned();
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if !alive(pid) {
                continue;
            }
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if comm.trim() == "ssh" && String::from_utf8_lossy(&cmdline).contains(&needle) {
                found.push(pid);
            }
        }
        found
    }

    /// The ssh masters among [`Self::ssh_processes`] (the others are
    /// leases: mux clients through a master, no connection of their own).
    fn ssh_masters(&self) -> Vec<u32> {
        self.ssh_processes()
            .into_iter()
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .unwrap_or_default()
                    .split(|b| *b == 0)
                    .any(|arg| arg == b"-M")
            })
            .collect()
    }
}

/// Whether `pid` runs (zombies count as gone).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit_once(')').unwrap().1.trim_start().chars().next();
            !matches!(state, Some('Z' | 'X'))
        }
        Err(_) => false,
    }
}

async fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The inodes of TCP sockets in LISTEN state, IPv4 and IPv6.
fn listening_tcp_inodes() -> HashSet<String> {
    let mut inodes = HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.get(3) == Some(&"0A") {
                inodes.insert(fields[9].to_owned());
            }
        }
    }
    inodes
}

/// The inodes of the sockets `pid` holds open.
fn socket_inodes(pid: u32) -> HashSet<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|link| {
            let link = link.to_string_lossy().into_owned();
            link.strip_prefix("socket:[")
                .and_then(|rest| rest.strip_suffix(']'))
                .map(str::to_owned)
        })
        .collect()
}

/// The stand-in's host key fingerprint as `ssh-keygen -lf` prints it.
fn standin_fingerprint(standin: &Standin) -> Option<String> {
    let public = standin.dir.as_ref()?.join("sshd/ssh_host_ed25519_key.pub");
    let out = std::process::Command::new("ssh-keygen")
        .arg("-lf")
        .arg(public)
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .map(str::to_owned)
}

/// The pid of the master behind a control socket, from `ssh -O check`.
fn master_pid_of(control_socket: &Path) -> Option<u32> {
    let out = std::process::Command::new("ssh")
        .arg("-S")
        .arg(control_socket)
        .args(["-O", "check", "none"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stderr);
    text.split_once("(pid=")?.1.split_once(')')?.0.parse().ok()
}

/// The control sockets under a runtime directory.
fn control_sockets(runtime: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(runtime)
        .into_iter()
        .flatten()
        .flatten()
        .map(|private| private.path().join("master"))
        .filter(|master| master.exists())
        .collect()
}

#[tokio::test]
async fn the_tunnel_lists_containers_and_pins_the_key_on_first_contact() {
    let Some(standin) = standin("the_tunnel_lists_containers_and_pins_the_key_on_first_contact")
    else {
        return;
    };
    let fx = Fixture::new(&standin, &standin.ssh).await;
    assert_eq!(fx.store.pinned_host_key(&fx.name).await.unwrap(), None);

    let conn = fx.open().await.unwrap();

    // First contact pinned the key ssh accepted, and says so.
    assert!(conn.pinned_now());
    let pinned = fx.store.pinned_host_key(&fx.name).await.unwrap().unwrap();
    assert_eq!(conn.host_key_line(), Some(pinned.as_str()));
    let fingerprint = conn.host_key_fingerprint().unwrap().to_owned();
    assert_eq!(
        fingerprint_of(&pinned).as_deref(),
        Some(fingerprint.as_str())
    );
    if let Some(expected) = standin_fingerprint(&standin) {
        assert_eq!(
            fingerprint, expected,
            "same as ssh-keygen -lf on the server's key"
        );
    }

    // Docker answers through the tunnel.
    let containers = conn.docker().list_containers(None).await.unwrap();
    println!("{} running containers through the tunnel", containers.len());
    conn.check(Duration::from_secs(5)).await.unwrap();

    // The forwarded socket is a Unix socket in a 0700 directory of ours.
    let socket = conn.docker_socket().to_path_buf();
    let meta = std::fs::metadata(&socket).unwrap();
    assert!(meta.file_type().is_socket(), "{}", socket.display());
    let private = socket.parent().unwrap();
    assert_eq!(private.parent().unwrap(), fx.runtime());
    assert_eq!(
        std::fs::metadata(private).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert!(conn.control_socket().unwrap().starts_with(private));

    // The master listens on no TCP port.
    let pid = conn.master_pid().expect("the master's pid is known");
    assert!(alive(pid));
    let tcp = listening_tcp_inodes();
    let held = socket_inodes(pid);
    assert!(!held.is_empty(), "the master holds sockets");
    assert!(
        held.is_disjoint(&tcp),
        "the ssh master listens on a TCP port: {:?}",
        held.intersection(&tcp).collect::<Vec<_>>()
    );
    assert_eq!(fx.ssh_masters(), vec![pid], "exactly one ssh master");
    assert_eq!(
        fx.ssh_processes().len(),
        2,
        "the master and its lease (a mux client through it), no other ssh"
    );

    // A second connection checks against the pin instead of pinning again.
    let again = fx.open().await.unwrap();
    assert!(!again.pinned_now());
    assert_eq!(again.host_key_fingerprint(), Some(fingerprint.as_str()));
    assert_ne!(again.master_pid(), Some(pid));
    again.close().await.unwrap();
    assert_eq!(
        fx.store.pinned_host_key(&fx.name).await.unwrap().as_deref(),
        Some(pinned.as_str())
    );

    conn.close().await.unwrap();
    assert!(!alive(pid));
    assert!(fx.leftovers().is_empty(), "{:?}", fx.leftovers());
    assert!(fx.ssh_processes().is_empty());
}

#[tokio::test]
async fn close_leaves_no_ssh_process_behind() {
    let Some(standin) = standin("close_leaves_no_ssh_process_behind") else {
        return;
    };
    let fx = Fixture::new(&standin, &standin.ssh).await;
    let conn = fx.open().await.unwrap();
    let pid = conn.master_pid().unwrap();
    let control = conn.control_socket().unwrap().to_path_buf();
    assert_eq!(master_pid_of(&control), Some(pid));
    let started = Instant::now();
    conn.close().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(!alive(pid), "master {pid} still runs");
    assert!(!control.exists());
    assert!(fx.leftovers().is_empty(), "{:?}", fx.leftovers());
    assert!(fx.ssh_processes().is_empty());
}

#[tokio::test]
async fn a_changed_host_key_is_refused_and_creates_nothing() {
    let Some(standin) = standin("a_changed_host_key_is_refused_and_creates_nothing") else {
        return;
    };
    let fx = Fixture::new(&standin, &standin.ssh).await;

    // Pin another valid ed25519 key, as if the server had been replaced.
    let keys = tempfile::tempdir().unwrap();
    let other = keys.path().join("other");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", ""])
        .arg("-f")
        .arg(&other)
        .status()
        .unwrap();
    assert!(status.success());
    let public = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let mut fields = public.split_whitespace();
    let line = format!(
        "[127.0.0.1]:2222 {} {}",
        fields.next().unwrap(),
        fields.next().unwrap()
    );
    fx.store.pin_host_key(&fx.name, &line).await.unwrap();
    let pinned_fp = fingerprint_of(&line).unwrap();

    let started = Instant::now();
    let err = fx.open().await.unwrap_err();
    println!("{err}");
    let HostError::HostKeyChanged {
        host,
        pinned,
        offered,
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(host, "standin");
    assert_eq!(pinned.as_deref(), Some(pinned_fp.as_str()));
    let offered = offered.clone().expect("ssh names the offered key");
    if let Some(expected) = standin_fingerprint(&standin) {
        assert_eq!(offered, expected);
    }
    let text = err.to_string();
    assert!(text.contains("host \"standin\""), "{text}");
    assert!(
        text.contains("differs from the one pinned on first contact"),
        "{text}"
    );
    assert!(text.contains("re-pin"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(10));

    // Nothing was created or changed.
    assert!(fx.leftovers().is_empty(), "{:?}", fx.leftovers());
    assert!(fx.ssh_processes().is_empty());
    assert_eq!(
        fx.store.pinned_host_key(&fx.name).await.unwrap().as_deref(),
        Some(line.as_str())
    );

    // Re-pinning wants the fingerprint the user checked; a wrong one fails
    // and keeps the old pin.
    let wrong = Connection::repin(
        &fx.name,
        fx.target.clone(),
        &fx.options,
        &fx.store,
        "SHA256:notthekeyatall",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(wrong, HostError::HostKeyChanged { .. }),
        "{wrong:?}"
    );
    assert_eq!(
        fx.store.pinned_host_key(&fx.name).await.unwrap().as_deref(),
        Some(line.as_str())
    );
    assert!(fx.leftovers().is_empty(), "{:?}", fx.leftovers());
    assert!(fx.ssh_processes().is_empty());

    // The right one replaces the pin, and the next open uses it.
    let conn = Connection::repin(
        &fx.name,
        fx.target.clone(),
        &fx.options,
        &fx.store,
        &offered,
    )
    .await
    .unwrap();
    assert!(conn.pinned_now());
    assert_eq!(conn.host_key_fingerprint(), Some(offered.as_str()));
    conn.close().await.unwrap();
    let conn = fx.open().await.unwrap();
    assert!(!conn.pinned_now());
    conn.close().await.unwrap();
    assert!(fx.leftovers().is_empty());
}

#[tokio::test]
async fn an_unreachable_host_fails_quickly() {
    let Some(standin) = standin("an_unreachable_host_fails_quickly") else {
        return;
    };
    // A port nobody listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let fx = Fixture::new(&standin, &format!("root@127.0.0.1:{port}")).await;
    let started = Instant::now();
    let err = fx.open().await.unwrap_err();
    println!("{err}");
    assert!(
        matches!(&err, HostError::Unreachable { host, .. } if host == "standin"),
        "{err:?}"
    );
    assert!(err.to_string().contains("Connection refused"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(fx.leftovers().is_empty());
    assert!(fx.ssh_processes().is_empty());
    assert_eq!(fx.store.pinned_host_key(&fx.name).await.unwrap(), None);
}

#[tokio::test]
async fn a_missing_remote_socket_is_named() {
    let Some(standin) = standin("a_missing_remote_socket_is_named") else {
        return;
    };
    let mut fx = Fixture::new(&standin, &standin.ssh).await;
    fx.target = fx
        .target
        .with_remote_socket("/run/rdesk-no-such/docker.sock");
    let err = fx.open().await.unwrap_err();
    println!("{err}");
    assert!(
        matches!(&err, HostError::SocketMissing { path, .. } if path == "/run/rdesk-no-such/docker.sock"),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("is Docker installed and running"),
        "{err}"
    );
    assert!(fx.leftovers().is_empty());
    assert!(fx.ssh_processes().is_empty());

    // Without requiring Docker (as bootstrap will), the session stays open
    // and can run commands.
    fx.options.require_docker = false;
    let conn = fx.open().await.unwrap();
    assert!(!conn.docker_ready());
    let out = conn
        .session()
        .unwrap()
        .command("uname")
        .output()
        .await
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Linux");
    assert!(conn.check(Duration::from_secs(5)).await.is_err());
    conn.close().await.unwrap();
    assert!(fx.leftovers().is_empty());
    assert!(fx.ssh_processes().is_empty());
}

#[tokio::test]
async fn the_supervisor_reconnects_after_the_master_is_killed() {
    let Some(standin) = standin("the_supervisor_reconnects_after_the_master_is_killed") else {
        return;
    };
    let mut fx = Fixture::new(&standin, &standin.ssh).await;
    fx.options.health_interval = Duration::from_millis(300);
    fx.options.check_timeout = Duration::from_secs(3);
    fx.options.backoff_initial = Duration::from_millis(300);
    fx.options.backoff_max = Duration::from_secs(2);
    let handle = Supervised::spawn(
        fx.name.clone(),
        fx.target.clone(),
        fx.options.clone(),
        fx.store.clone(),
    );

    let connection = handle
        .wait_connected(Duration::from_secs(20))
        .await
        .unwrap();
    connection.docker().list_containers(None).await.unwrap();
    drop(connection);
    let ConnectionState::Connected { since: first_since } = handle.state() else {
        panic!("{:?}", handle.state());
    };
    let sockets = control_sockets(fx.runtime());
    assert_eq!(sockets.len(), 1, "{sockets:?}");
    let first_pid = master_pid_of(&sockets[0]).unwrap();
    assert_eq!(fx.ssh_masters(), vec![first_pid]);

    // Kill our master, by its pid.
    let mut states = handle.watch();
    states.borrow_and_update();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &first_pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    // The supervisor notices, says so, and re-opens.
    let mut saw_reconnecting = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        tokio::time::timeout_at(deadline, states.changed())
            .await
            .expect("the supervisor reconnects within 30 s")
            .unwrap();
        match states.borrow_and_update().clone() {
            ConnectionState::Reconnecting { last_error, .. } => {
                println!("reconnecting: {last_error}");
                saw_reconnecting = true;
            }
            ConnectionState::Connected { since } if since > first_since => break,
            other => println!("state: {other:?}"),
        }
    }
    assert!(saw_reconnecting);
    let docker = handle.docker().unwrap();
    docker.list_containers(None).await.unwrap();
    assert!(!alive(first_pid));
    let sockets = control_sockets(fx.runtime());
    assert_eq!(sockets.len(), 1, "the old private dir is gone: {sockets:?}");
    let second_pid = master_pid_of(&sockets[0]).unwrap();
    assert_ne!(second_pid, first_pid);

    tokio::time::timeout(Duration::from_secs(15), handle.shutdown())
        .await
        .unwrap();
    assert_eq!(handle.state(), ConnectionState::Closed);
    assert!(handle.docker().is_none());
    wait_until("the second master to exit", Duration::from_secs(5), || {
        !alive(second_pid)
    })
    .await;
    assert!(fx.leftovers().is_empty(), "{:?}", fx.leftovers());
    assert!(fx.ssh_processes().is_empty());
}
