//! Trust and local data, end to end with the real `rdesk` against the
//! stand-in's sshd: a password goes only to a host key the user confirmed
//! (the askpass helper is a recorder here, which must never run); a cache
//! written by a newer version, or damaged, is a sentence and
//! `rdesk repair-cache` moves it aside keeping the hosts; the cache stays
//! intact when `rdesk watch` is killed with SIGKILL while it writes; and a
//! killed run's ssh master ends on its own, while a live run's idle master
//! stays.
// Test helpers: a panic is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdesk_e2e::{
    Rdesk, Standin, app_folder, cache_scalar, rdesk_binary, remove_leftovers, ssh_master_under,
};

/// The fingerprint of the stand-in's sshd key, as `ssh-keygen -lf` prints it.
fn standin_fingerprint() -> String {
    let dir = PathBuf::from(std::env::var("RDESK_STANDIN_DIR").expect("RDESK_STANDIN_DIR"));
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(dir.join("sshd").join("ssh_host_ed25519_key.pub"))
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned()
}

/// A stand-in for `rdesk-askpass` that notes every time ssh asks it and
/// answers a password; `asked` is where it notes.
struct Recorder {
    dir: tempfile::TempDir,
}

impl Recorder {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("askpass");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho \"$*\" >> {}\necho recorded-password\n",
                dir.path().join("asked").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        Self { dir }
    }

    fn program(&self) -> PathBuf {
        self.dir.path().join("askpass")
    }

    fn asked(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.path().join("asked")).ok()
    }
}

/// `rdesk ARGS` with `desk`'s data, the recorder as every askpass, `input`
/// on stdin (not a terminal); returns (success, stdout + stderr).
fn rdesk_asking(desk: &Rdesk, recorder: &Recorder, args: &[&str], input: &str) -> (bool, String) {
    use std::io::Write;
    let mut child = Command::new(rdesk_binary())
        .args(args)
        .env("RDESK_DATA_DIR", desk.data_dir.path())
        .env("RDESK_ASKPASS", recorder.program())
        .env("SSH_ASKPASS", recorder.program())
        .env("SSH_ASKPASS_REQUIRE", "force")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn a_password_is_never_sent_to_a_host_key_nobody_confirmed() {
    let Some(vps) = Standin::from_env("a_password_is_never_sent_to_a_host_key_nobody_confirmed")
    else {
        return;
    };
    let pw_target = std::env::var("RDESK_STANDIN_PW_SSH").expect("RDESK_STANDIN_PW_SSH");
    let recorder = Recorder::new();
    let desk = Rdesk::new();
    let password = "tr-never-sent-7f3a\n";

    // No terminal to confirm on, no --fingerprint: refused before anything.
    let (ok, said) = rdesk_asking(
        &desk,
        &recorder,
        &["host", "add", "pw", "--ssh", &pw_target, "--ask-password"],
        password,
    );
    assert!(!ok, "{said}");
    assert!(
        said.contains("goes only to a host key you confirmed") && said.contains("--fingerprint"),
        "{said}"
    );
    assert_eq!(recorder.asked(), None, "the askpass helper was asked");

    // A fingerprint that is not the key the server offers: refused too.
    let wrong = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let (ok, said) = rdesk_asking(
        &desk,
        &recorder,
        &[
            "host",
            "add",
            "pw",
            "--ssh",
            &pw_target,
            "--ask-password",
            "--fingerprint",
            wrong,
        ],
        password,
    );
    assert!(!ok, "{said}");
    let real = standin_fingerprint();
    assert!(
        said.contains(&format!("is now {real}, not the {wrong} you confirmed")),
        "{said}"
    );
    assert_eq!(recorder.asked(), None, "the askpass helper was asked");
    assert!(desk.ok(&["host", "list"]).contains("no hosts yet"));

    // A host added with its key (first key trusted) gets no password either
    // until its pinned key is confirmed.
    vps.add_to(&desk);
    for extra in [&[][..], &["--fingerprint", wrong][..]] {
        let mut args = vec!["host", "set-secret", "vps", "--password"];
        args.extend_from_slice(extra);
        let (ok, said) = rdesk_asking(&desk, &recorder, &args, password);
        assert!(!ok, "{args:?}: {said}");
        assert!(
            said.contains("you confirmed"),
            "{args:?} is refused with a sentence: {said}"
        );
    }
    assert_eq!(recorder.asked(), None, "the askpass helper was asked");

    // Nothing was kept: only the key host is known, and no secret is noted.
    let hosts = desk.json(&["host", "list"]);
    assert_eq!(hosts.as_array().map(Vec::len), Some(1), "{hosts}");
    for entry in std::fs::read_dir(desk.data_dir.path()).unwrap().flatten() {
        let bytes = std::fs::read(entry.path()).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("tr-never-sent"));
    }
    let secrets = cache_scalar(desk.data_dir.path(), "SELECT COUNT(*) FROM host_secrets");
    assert_eq!(secrets, "0");
}

/// One value of `sql` over the cache in `data_dir`, through SQLite itself.
fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_newer_or_damaged_cache_is_a_sentence_and_repair_keeps_the_hosts() {
    let Some(vps) = Standin::from_env("a_newer_or_damaged_cache_is_a_sentence") else {
        return;
    };
    let desk = vps.desk();
    let data = desk.data_dir.path();
    let db = rdesk_core::paths::database(data);
    assert_eq!(mode(data), 0o700, "the data directory is private");
    assert_eq!(mode(&db), 0o600, "the database is private");

    // A migration this build does not know, as a newer version leaves.
    cache_scalar(
        data,
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (99990001, 'from a newer rdesk', 1, x'00', 0) RETURNING version",
    );
    let err = desk.fails(&["host", "list"]);
    assert!(
        err.contains("was written by a newer Rserve Desk") && err.contains("rdesk repair-cache"),
        "{err}"
    );
    let repaired = desk.json(&["repair-cache"]);
    assert_eq!(repaired["repaired"], true, "{repaired}");
    assert_eq!(repaired["hosts"], serde_json::json!(["vps"]), "{repaired}");
    assert!(repaired["unreadable"].is_null(), "{repaired}");
    let rebuilt = &repaired["rebuilt"][0];
    assert_eq!(rebuilt["host"], "vps");
    assert!(
        rebuilt["apps"].is_u64(),
        "its apps came from labels: {repaired}"
    );
    let moved = PathBuf::from(repaired["moved_to"].as_str().unwrap());
    assert!(
        moved.is_file(),
        "the old file is kept at {}",
        moved.display()
    );
    assert!(desk.ok(&["host", "list"]).contains("vps"));
    desk.ok(&["apps", "--host", "vps"]);
    // The pinned key came along: the host is reached without trusting anew.
    assert_eq!(
        cache_scalar(data, "SELECT COUNT(*) FROM host_keys WHERE host = 'vps'"),
        "1"
    );
    // A sound cache is not moved.
    let again = desk.json(&["repair-cache"]);
    assert_eq!(again["repaired"], false, "{again}");

    // Not a database at all: nothing can be kept, and it says so.
    std::fs::write(&db, "not a database, just text\n".repeat(400)).unwrap();
    for companion in ["-wal", "-shm"] {
        let mut path = db.clone().into_os_string();
        path.push(companion);
        let _ = std::fs::remove_file(path);
    }
    let err = desk.fails(&["apps", "--host", "vps"]);
    assert!(err.contains("is not a SQLite database"), "{err}");
    let repaired = desk.json(&["repair-cache"]);
    assert_eq!(repaired["hosts"], serde_json::json!([]), "{repaired}");
    assert!(repaired["unreadable"].is_string(), "{repaired}");
    let moved_junk = PathBuf::from(repaired["moved_to"].as_str().unwrap());
    assert!(
        std::fs::read_to_string(&moved_junk)
            .unwrap()
            .starts_with("not a database")
    );
    assert!(desk.ok(&["host", "list"]).contains("no hosts yet"));
    assert!(moved.is_file(), "the first moved file is still there");
}

/// A small deterministic generator for the kill moments (the seed is printed).
struct Moments(u64);

impl Moments {
    fn next_ms(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

#[test]
fn the_cache_survives_sigkill_while_the_monitor_writes() {
    let Some(vps) = Standin::from_env("the_cache_survives_sigkill_while_the_monitor_writes") else {
        return;
    };
    let desk = vps.desk();
    // An app of its own, so there is something to write: its start replayed as
    // a status event, then its samples every 5 s. Without one (a fresh VPS)
    // the monitor has nothing to record.
    let slug = "e2e-trust-kill";
    remove_leftovers(slug);
    let (_dir, app) = app_folder("trustkill", &[("main.R", "alive <- function() TRUE\n")]);
    desk.deploy(&app, slug, &["--access", "public"]);
    let runtime = tempfile::Builder::new()
        .prefix("trk")
        .tempdir_in("/tmp")
        .unwrap();
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    println!("kill moments seed: {seed}");
    let mut moments = Moments(seed);
    let mut written = 0;
    for round in 1..=20 {
        let mut watch = Command::new(rdesk_binary())
            .args(["watch", "--host", "vps", "--json"])
            .env("RDESK_DATA_DIR", desk.data_dir.path())
            .env("XDG_RUNTIME_DIR", runtime.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // From before it opens the cache to well into its 5 s sampling.
        let after = Duration::from_millis(300 + moments.next_ms(7_000));
        std::thread::sleep(after);
        assert!(
            watch.try_wait().unwrap().is_none(),
            "round {round}: rdesk watch ended by itself"
        );
        watch.kill().unwrap(); // SIGKILL
        watch.wait().unwrap();
        let check = cache_scalar(desk.data_dir.path(), "PRAGMA integrity_check");
        assert_eq!(check, "ok", "round {round}, killed after {after:?}");
        written = cache_scalar(
            desk.data_dir.path(),
            "SELECT (SELECT COUNT(*) FROM status_events) + (SELECT COUNT(*) FROM samples_raw)",
        )
        .parse::<i64>()
        .unwrap();
    }
    println!("status events and samples written over the 20 rounds: {written}");
    assert!(
        written > 0,
        "the monitor wrote nothing to kill it in the middle of"
    );
    // The next run cleans up after the last killed one.
    desk.ok(&["host", "list"]);
    desk.ok(&["rm", slug, "--host", "vps"]);
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit_once(')')
            .is_some_and(|(_, s)| s.trim_start().starts_with('Z'))
    })
}

#[test]
fn an_idle_master_stays_with_its_run_and_ends_after_it_is_killed() {
    let Some(vps) = Standin::from_env("an_idle_master_stays_with_its_run") else {
        return;
    };
    let desk = vps.desk();
    let runtime = tempfile::Builder::new()
        .prefix("trm")
        .tempdir_in("/tmp")
        .unwrap();
    // The dashboard forward is a listener only: no channel is open while
    // nobody uses it, which is when ControlPersist's timer would run.
    let mut dashboard = Command::new(rdesk_binary())
        .args(["host", "dashboard", "vps"])
        .env("RDESK_DATA_DIR", desk.data_dir.path())
        .env("XDG_RUNTIME_DIR", runtime.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let master = loop {
        if let Some(pid) = ssh_master_under(runtime.path()) {
            break pid;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no master came up"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    // Idle for longer than the master's linger (30 s): still there.
    std::thread::sleep(Duration::from_secs(40));
    let stayed = alive(master);
    dashboard.kill().unwrap(); // SIGKILL: no chance to close anything
    dashboard.wait().unwrap();
    assert!(stayed, "the master of a live run ended while idle");
    let killed_at = Instant::now();
    while alive(master) && killed_at.elapsed() < Duration::from_secs(50) {
        std::thread::sleep(Duration::from_millis(250));
    }
    let ended_in = killed_at.elapsed();
    if alive(master) {
        let _ = Command::new("kill").arg(master.to_string()).status();
        panic!("the killed run's master was still running after {ended_in:?}");
    }
    println!("the killed run's master ended {ended_in:?} after it");
}
