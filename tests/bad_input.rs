//! Bad input through every way in: each gets a clear error, and nothing is
//! created on the stand-in VPS. The checks compare everything we own on the
//! host before and after, so the cases run one at a time.
// Test helpers: a panic is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use rdesk_e2e::{DockerKind, Rdesk, Standin, app_folder, docker_objects};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const OURS: &str = "io.rserve-desk.owner=rserve-desk";

fn everything_ours() -> Vec<String> {
    let mut all = docker_objects(DockerKind::Containers, OURS);
    all.extend(docker_objects(DockerKind::Images, OURS));
    all.sort();
    all
}

/// Runs `rdesk deploy` with extra arguments, insists it fails with `expected`
/// in its message, and that the host gained nothing.
fn refused(desk: &Rdesk, path: &Path, extra: &[&str], expected: &str) {
    let before = everything_ours();
    let path = path.display().to_string();
    let mut args = vec!["deploy", path.as_str(), "--host", "vps"];
    args.extend_from_slice(extra);
    let err = desk.fails(&args);
    assert!(
        err.contains(expected),
        "deploy {extra:?}: expected {expected:?} in:\n{err}"
    );
    assert_eq!(
        everything_ours(),
        before,
        "deploy {extra:?} created something"
    );
}

fn good_app() -> (tempfile::TempDir, std::path::PathBuf) {
    app_folder("good", &[("main.R", "f <- function() 1\n")])
}

#[test]
fn invalid_slugs_are_refused() {
    let Some(vps) = Standin::from_env("invalid_slugs") else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let desk = vps.desk();
    let (_dir, app) = good_app();
    let too_long = "a".repeat(41);
    for slug in [
        "MyApp",
        "my app",
        "a`b",
        "a/b",
        too_long.as_str(),
        "x`) || Host(`evil.example",
        "x) || PathPrefix(`/",
        "-x",
        "../x",
    ] {
        refused(
            &desk,
            &app,
            &[&format!("--slug={slug}")],
            &format!("the slug `{slug}` is not valid"),
        );
    }
}

#[test]
fn invalid_package_names_and_r_versions_are_refused() {
    let Some(vps) = Standin::from_env("invalid_packages") else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let desk = vps.desk();
    let (_dir, app) = good_app();
    for package in ["a;b", "x\"y", "f()", "pkg'); system('id", "1abc", "a b"] {
        refused(
            &desk,
            &app,
            &["--slug", "e2e-bad", "--package", package],
            "is not a valid R package name",
        );
    }
    for version in ["latest", "4.2", "4.2.2; rm -rf /"] {
        refused(
            &desk,
            &app,
            &["--slug", "e2e-bad", "--r-version", version],
            &format!("the R version `{version}` is not valid"),
        );
    }
    refused(
        &desk,
        &app,
        &["--slug", "e2e-bad", "--r-version", "9.9.9"],
        "R 9.9.9 is not available on this host",
    );
    refused(
        &desk,
        &app,
        &["--slug", "e2e-bad", "--repo", "http://x\"); system(\"id"],
        "repository",
    );
}

fn tar_gz(
    dir: &Path,
    name: &str,
    build: impl FnOnce(&mut tar::Builder<Vec<u8>>),
) -> std::path::PathBuf {
    let mut builder = tar::Builder::new(Vec::new());
    build(&mut builder);
    let raw = builder.into_inner().unwrap();
    let path = dir.join(name);
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(&raw).unwrap();
    gz.finish().unwrap();
    path
}

/// A tar entry whose path is written raw, so `../` and absolute paths survive.
fn raw_entry(
    builder: &mut tar::Builder<Vec<u8>>,
    path: &str,
    kind: tar::EntryType,
    link: Option<&str>,
    data: &[u8],
) {
    let mut header = tar::Header::new_old();
    header.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(kind);
    if let Some(link) = link {
        header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    header.set_cksum();
    builder.append(&header, data).unwrap();
}

#[test]
fn hostile_archives_are_refused() {
    let Some(vps) = Standin::from_env("hostile_archives") else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let desk = vps.desk();
    let dir = tempfile::tempdir().unwrap();
    let ok = b"f <- function() 1\n";
    let regular = tar::EntryType::Regular;

    let dotdot = tar_gz(dir.path(), "dotdot.tar.gz", |b| {
        raw_entry(b, "app/main.R", regular, None, ok);
        raw_entry(b, "../evil.R", regular, None, ok);
    });
    refused(&desk, &dotdot, &["--slug", "e2e-arch"], "evil.R");

    let absolute = tar_gz(dir.path(), "absolute.tar.gz", |b| {
        raw_entry(b, "main.R", regular, None, ok);
        raw_entry(b, "/etc/evil.R", regular, None, ok);
    });
    refused(&desk, &absolute, &["--slug", "e2e-arch"], "/etc/evil.R");

    let symlink = tar_gz(dir.path(), "symlink.tar.gz", |b| {
        raw_entry(b, "main.R", regular, None, ok);
        raw_entry(
            b,
            "passwd.R",
            tar::EntryType::Symlink,
            Some("/etc/passwd"),
            b"",
        );
    });
    refused(&desk, &symlink, &["--slug", "e2e-arch"], "passwd.R");

    let hardlink = tar_gz(dir.path(), "hardlink.tar.gz", |b| {
        raw_entry(b, "main.R", regular, None, ok);
        raw_entry(
            b,
            "shadow.R",
            tar::EntryType::Link,
            Some("../../etc/shadow"),
            b"",
        );
    });
    refused(&desk, &hardlink, &["--slug", "e2e-arch"], "shadow.R");

    let bomb = dir.path().join("bomb.tar.gz");
    {
        let file = std::fs::File::create(&bomb).unwrap();
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            file,
            flate2::Compression::best(),
        ));
        let size: u64 = 80 << 20;
        let mut header = tar::Header::new_gnu();
        header.set_size(size);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(
                &mut header,
                "zeros.R",
                std::io::Read::take(std::io::repeat(0), size),
            )
            .unwrap();
        builder.into_inner().unwrap().finish().unwrap();
    }
    assert!(
        std::fs::metadata(&bomb).unwrap().len() < 1 << 20,
        "the bomb is small on disk"
    );
    refused(&desk, &bomb, &["--slug", "e2e-arch"], "limit");

    let zip_path = dir.path().join("dotdot.zip");
    {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        let options = zip::write::SimpleFileOptions::default();
        zip.start_file("main.R", options).unwrap();
        zip.write_all(ok).unwrap();
        zip.start_file("../../outside.R", options).unwrap();
        zip.write_all(ok).unwrap();
        zip.finish().unwrap();
    }
    refused(&desk, &zip_path, &["--slug", "e2e-arch"], "outside.R");

    let (_keep, no_r) = app_folder("notes", &[("README.md", "no code here")]);
    refused(&desk, &no_r, &["--slug", "e2e-arch"], ".R");
}

#[test]
fn an_unreachable_host_is_not_added() {
    let Some(vps) = Standin::from_env("unreachable_host") else {
        return;
    };
    let desk = Rdesk::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = listener.local_addr().unwrap().port();
    drop(listener);
    let err = desk.fails(&[
        "host",
        "add",
        "dead",
        "--ssh",
        &format!("root@127.0.0.1:{dead_port}"),
        "--identity",
        &vps.identity,
    ]);
    assert!(
        err.contains("host \"dead\" is unreachable") && err.contains("Connection refused"),
        "{err}"
    );
    assert!(desk.ok(&["host", "list"]).contains("no hosts yet"));
    for bad in ["root@host;id", "-oProxyCommand=id", "root@ho st"] {
        let err = desk.fails(&["host", "add", "x", &format!("--ssh={bad}")]);
        assert!(err.contains("is not a valid SSH target"), "{bad}: {err}");
    }
    vps.add_to(&desk);
    let err = desk.fails(&["host", "add", "vps", "--ssh", "root@127.0.0.1:1"]);
    assert!(err.contains("a host named \"vps\" already exists"), "{err}");
    assert!(
        desk.ok(&["host", "list"]).contains(&vps.ssh),
        "the first vps stays"
    );
}

#[test]
fn a_changed_host_key_is_refused() {
    let Some(vps) = Standin::from_env("changed_host_key") else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let desk = vps.desk();
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("other");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(status.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (real_fingerprint, forged_fingerprint) = runtime.block_on(async {
        let store =
            rdesk_core::store::Store::open(rdesk_core::paths::database(desk.data_dir.path()))
                .await
                .unwrap();
        let pinned = store
            .pinned_host_key("vps")
            .await
            .unwrap()
            .expect("pinned on add");
        let host_pattern = pinned.split_whitespace().next().unwrap().to_owned();
        let mut parts = public.split_whitespace();
        let forged = format!(
            "{host_pattern} {} {}",
            parts.next().unwrap(),
            parts.next().unwrap()
        );
        store.pin_host_key("vps", &forged).await.unwrap();
        store.close().await;
        let fingerprint = |line: &str| rdesk_core::host::fingerprint_of(line).expect("a key line");
        (fingerprint(&pinned), fingerprint(&forged))
    });
    let (_dir, app) = good_app();
    refused(&desk, &app, &["--slug", "e2e-key"], "host key");

    let err = desk.fails(&["host", "repin", "vps", "--fingerprint", &forged_fingerprint]);
    assert!(
        err.contains("host key"),
        "a fingerprint the server does not offer is refused: {err}"
    );
    let repinned = desk.ok(&["host", "repin", "vps", "--fingerprint", &real_fingerprint]);
    assert!(repinned.contains(&real_fingerprint), "{repinned}");
    desk.ok(&["apps", "--host", "vps"]);
    assert!(!desk.ok(&["host", "check", "vps"]).contains("offline"));
}

#[test]
fn only_the_confirmed_host_key_is_accepted_on_add() {
    let Some(vps) = Standin::from_env("confirmed_host_key") else {
        return;
    };
    let desk = Rdesk::new();
    let dir = std::path::PathBuf::from(std::env::var("RDESK_STANDIN_DIR").unwrap());
    let out = std::process::Command::new("ssh-keygen")
        .arg("-lf")
        .arg(dir.join("sshd").join("ssh_host_ed25519_key.pub"))
        .output()
        .unwrap();
    let real = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned();
    let add = |fingerprint: &str| -> Vec<String> {
        [
            "host",
            "add",
            "vps",
            "--ssh",
            &vps.ssh,
            "--identity",
            &vps.identity,
            "--public-url",
            &vps.public_url,
            "--fingerprint",
            fingerprint,
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let wrong = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let args = add(wrong);
    let err = desk.fails(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        err.contains(&format!("is now {real}, not the {wrong} you confirmed")),
        "{err}"
    );
    assert!(
        desk.ok(&["host", "list"]).contains("no hosts yet"),
        "nothing kept"
    );

    let args = add(&real);
    let added = desk.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(added.contains(&real), "{added}");
    desk.ok(&["apps", "--host", "vps"]);
}
