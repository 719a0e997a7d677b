//! The desktop app end to end: the real `rserve-desk` window under Xvfb in
//! its own D-Bus session, driven through tauri-driver and WebKitWebDriver
//! (fantoccini), against the stand-in VPS (and the bare VPS, bootstrapped
//! from the window). On that bus the test plays the desktop panel
//! (`panel.rs`): notifications and the tray are observed, and clicked, as a
//! desktop would. Screenshots go to `target/desktop-e2e/`.
//!
//! The drop zone is fed a synthetic `tauri://drag-drop` event from inside the
//! webview (there is no mouse to drag with under Xvfb); it takes the same
//! path in the UI as a native drop, whose paths reach the same `preview` and
//! `deploy` commands. Those deploy only paths the shell itself received, so
//! the app folders are given to the window on its command line (as "Open
//! with" would); a synthetic drop of any other path is refused.
// Test helpers: a panic is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use rdesk_e2e::display::{Proc, VirtualDesktop, desktop_binary, target_dir};
use rdesk_e2e::vps::{BASE_IMAGE, TRAEFIK_IMAGE, Vps};
use rdesk_e2e::{
    Rdesk, SshCounter, Standin, app_folder, docker_inspect, remove_leftovers, running_container,
    ssh_master_under, ssh_processes_under, terminate,
};
use serde_json::{Value, json};

mod panel;
use panel::{Notifications, Tray, Watcher};

/// One window at a time: the tests share two cores and the stand-in.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The tray icon's colours (src-tauri/src/tray.rs).
const GREEN: &str = "#2f9e44";
const RED: &str = "#e03131";
const GREY: &str = "#868e96";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Xvfb, a D-Bus session with our notification daemon and tray watcher,
/// tauri-driver, and the window.
struct Desktop {
    client: Client,
    notifications: Notifications,
    watcher: Watcher,
    shots: PathBuf,
    bus: zbus::Connection,
    /// Counts every ssh process the app starts (it is first on the app's PATH).
    ssh: SshCounter,
    /// The app's `XDG_RUNTIME_DIR`: its ssh control sockets are in here.
    runtime: tempfile::TempDir,
    // Dropped in this order: the driver (and the app) before the bus and the display.
    _driver: Proc,
    _desktop: VirtualDesktop,
}

impl Desktop {
    /// The window over `data_dir`, started with `granted` on its command line.
    async fn open(data_dir: &Path, name: &str, granted: &[&Path]) -> Desktop {
        let binary = desktop_binary();
        let desktop = VirtualDesktop::start();
        let notifications = Notifications::default();
        let watcher = Watcher::default();
        let bus = zbus::connection::Builder::address(desktop.bus_address.as_str())
            .name("org.freedesktop.Notifications")
            .serve_at("/org/freedesktop/Notifications", notifications.clone())
            .name("org.kde.StatusNotifierWatcher")
            .serve_at("/StatusNotifierWatcher", watcher.clone())
            .build()
            .await
            .expect(
                "owning the notification daemon's and the tray watcher's names on the test's bus",
            );
        let (port, native_port) = (free_port(), free_port());
        let ssh = SshCounter::new();
        let runtime = tempfile::Builder::new()
            .prefix("trw")
            .tempdir_in("/tmp")
            .unwrap();
        let driver = Proc(
            desktop
                .env(&mut Command::new(home_bin("tauri-driver")))
                .args([
                    "--port",
                    &port.to_string(),
                    "--native-port",
                    &native_port.to_string(),
                ])
                .env("RDESK_DATA_DIR", data_dir)
                .env("XDG_RUNTIME_DIR", runtime.path())
                .env("PATH", ssh.path())
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("tauri-driver runs (cargo xtask ui installs it)"),
        );
        let capabilities: serde_json::Map<String, Value> = serde_json::from_value(json!({
            "browserName": "wry",
            "tauri:options": {"application": binary, "args": granted},
        }))
        .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            match ClientBuilder::native()
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if Instant::now() > deadline => panic!("no WebDriver session: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
            }
        };
        let shots = target_dir().join("desktop-e2e").join(name);
        std::fs::create_dir_all(&shots).unwrap();
        Desktop {
            client,
            notifications,
            watcher,
            shots,
            bus,
            ssh,
            runtime,
            _driver: driver,
            _desktop: desktop,
        }
    }

    async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    /// Polls the text of the first element matching `css` until `wanted` holds (60 s at most).
    async fn wait_text(&self, css: &str, wanted: impl Fn(&str) -> bool) -> String {
        self.wait_text_for(css, Duration::from_secs(60), wanted)
            .await
    }

    /// Polls the text of the first element matching `css` until `wanted` holds (`within` at most).
    async fn wait_text_for(
        &self,
        css: &str,
        within: Duration,
        wanted: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + within;
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(el) = self.client.find(Locator::Css(css)).await
                && let Ok(text) = el.text().await
            {
                if wanted(&text) {
                    return text;
                }
                last = text;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        self.shot(&format!(
            "timeout-{}",
            css.replace(|c: char| !c.is_alphanumeric(), "_")
        ))
        .await;
        panic!("`{css}` never matched; last text: {last:?}");
    }

    /// Polls the HTML of the first element matching `css`, the element
    /// itself included, until `wanted` holds (60 s at most).
    async fn wait_html(&self, css: &str, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        let script = "const e = document.querySelector(arguments[0]); return e ? e.outerHTML : '';";
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(Value::String(html)) =
                self.client.execute(script, vec![Value::from(css)]).await
            {
                if wanted(&html) {
                    return html;
                }
                last = html;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        self.shot("timeout-html").await;
        panic!("`{css}` never held the expected HTML; last: {:.300}", last);
    }

    /// Polls the value of the first input matching `css` until `wanted` holds (60 s at most).
    async fn wait_value(&self, css: &str, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last = None;
        while Instant::now() < deadline {
            if let Ok(el) = self.client.find(Locator::Css(css)).await
                && let Ok(Some(value)) = el.prop("value").await
            {
                if wanted(&value) {
                    return value;
                }
                last = Some(value);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("the value of `{css}` never matched; last: {last:?}");
    }

    async fn click(&self, css: &str) {
        self.wait_text(css, |_| true).await;
        let clicked = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await;
        if let Err(e) = clicked {
            self.shot("click-failed").await;
            panic!("clicking `{css}`: {e}");
        }
    }

    async fn type_into(&self, css: &str, text: &str) {
        let el = self.client.find(Locator::Css(css)).await.unwrap();
        el.clear().await.unwrap();
        el.send_keys(text).await.unwrap();
    }

    /// A drop of `paths` at the centre of the first element matching `css`, as Tauri reports one.
    async fn drop_onto(&self, css: &str, paths: &[&Path]) {
        let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        self.client
            .execute(
                "const r = document.querySelector(arguments[0]).getBoundingClientRect();
                 const s = window.devicePixelRatio;
                 return window.__TAURI__.event.emit('tauri://drag-drop',
                   {paths: arguments[1], position: {x: (r.left + r.width / 2) * s, y: (r.top + r.height / 2) * s}});",
                vec![json!(css), json!(paths)],
            )
            .await
            .unwrap();
    }

    /// Adds host `vps` through the form: the window shows the key the host
    /// offers, which must be the one its sshd has (`host_key`, a `.pub`
    /// file), before the user trusts it.
    async fn add_host(&self, ssh: &str, identity: &str, public_url: &str, host_key: &Path) {
        self.wait_text("#host-add", |t| t == "Add host").await;
        self.type_into("#host-name", "vps").await;
        self.type_into("#host-ssh", ssh).await;
        self.type_into("#host-identity", identity).await;
        self.type_into("#host-url", public_url).await;
        self.shot("01-add-host").await;
        self.click("#host-add").await;
        let offered = self.wait_text("#host-key", |t| t.contains("SHA256:")).await;
        let expected = fingerprint(host_key);
        assert!(
            offered.contains(&expected),
            "{offered} (the server has {expected})"
        );
        self.shot("01b-host-key").await;
        self.click("#host-trust").await;
        let added = self
            .wait_text("#host-added", |t| t.contains("SHA256:"))
            .await;
        assert_eq!(
            added,
            format!("Added vps. Its host key {expected} is pinned.")
        );
    }

    /// The tray icon, once it has registered with the test's watcher (30 s at most).
    async fn tray(&self) -> Tray<'_> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(tray) = self.watcher.tray(&self.bus) {
                return tray;
            }
            assert!(
                Instant::now() < deadline,
                "the tray never registered with the StatusNotifierWatcher"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Polls the tray until its icon shows `colour` and a menu entry's label
    /// contains `entry` (30 s at most); returns that entry.
    async fn wait_tray(
        &self,
        colour: &str,
        entry: &str,
        wanted: impl Fn(&str) -> bool,
    ) -> panel::Entry {
        let tray = self.tray().await;
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut last = String::new();
        while Instant::now() < deadline {
            match (tray.icon_centre().await, tray.menu().await) {
                (Ok(centre), Ok(menu)) => {
                    let found = menu.iter().find(|e| wanted(&e.label)).cloned();
                    if let (true, Some(found)) = (centre == colour, found) {
                        return found;
                    }
                    last = format!("{centre} {menu:?}");
                }
                (centre, menu) => last = format!("{centre:?} {menu:?}"),
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("the tray never showed {colour} with an entry `{entry}`; last: {last:?}");
    }

    async fn close(self) {
        let Desktop { client, .. } = self;
        let _ = client.close().await;
    }
}

fn home_bin(program: &str) -> PathBuf {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .expect("HOME is set");
    let installed = cargo_home.join("bin").join(program);
    if installed.is_file() {
        installed
    } else {
        PathBuf::from(program)
    }
}

/// Whether a tray entry says every app of host `vps` runs (`vps: 2/2
/// running`): other test binaries may have left an app of their own there.
fn all_running(label: &str) -> bool {
    label
        .strip_prefix("vps: ")
        .and_then(|rest| rest.strip_suffix(" running"))
        .and_then(|counts| counts.split_once('/'))
        .is_some_and(|(running, total)| running == total && running != "0")
}

/// The fingerprint of a public key file, as `ssh-keygen -lf` prints it.
fn fingerprint(public_key: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(public_key)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("no fingerprint of {}: {text}", public_key.display()))
        .to_owned()
}

/// The public host key of the stand-in's sshd, or (`vps`) of the bare VPS's.
fn sshd_key(vps: bool) -> PathBuf {
    let dir = PathBuf::from(std::env::var("RDESK_STANDIN_DIR").expect("RDESK_STANDIN_DIR"));
    let sshd = if vps {
        dir.join("vps").join("sshd")
    } else {
        dir.join("sshd")
    };
    sshd.join("ssh_host_ed25519_key.pub")
}

/// Removes what failed runs of these tests left on the stand-in: the tray
/// counts every app of the host.
fn remove_desktop_leftovers() {
    for slug in ["ui-hello", "ui-crash", "sl-ui-crash", "ui-offline"] {
        remove_leftovers(slug);
    }
}

/// Kills the app's container and keeps it down: Docker would restart it at
/// once (`unless-stopped`), and a state that lasts a few milliseconds cannot
/// be looked at deterministically.
fn docker_kill(slug: &str) {
    let id = running_container(slug);
    for args in [&["update", "--restart", "no", &id][..], &["kill", &id]] {
        let status = Command::new("docker")
            .args(args)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "docker {args:?}");
    }
    let inspect = || {
        let c = docker_inspect(&id);
        format!(
            "{} restarts={} policy={}",
            c["State"]["Status"].as_str().unwrap_or_default(),
            c["RestartCount"],
            c["HostConfig"]["RestartPolicy"]["Name"]
                .as_str()
                .unwrap_or_default()
        )
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut state = inspect();
    while !state.starts_with("exited") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        state = inspect();
    }
    assert_eq!(
        state, "exited restarts=0 policy=no",
        "the killed container stays down"
    );
}

#[tokio::test]
async fn add_a_host_deploy_by_drop_call_and_stop() {
    let Some(vps) = Standin::from_env("desktop add/deploy/call/stop") else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let slug = "ui-hello";
    remove_desktop_leftovers();
    let data = tempfile::tempdir().unwrap();
    let (_dir, app) = app_folder(
        slug,
        &[(
            "main.R",
            "hello <- function(name) {\n  message(\"hello called for \", name)\n  paste0(\"Hello, \", name, \"!\")\n}\n",
        )],
    );
    let ui = Desktop::open(data.path(), "deploy", &[&app]).await;
    ui.add_host(&vps.ssh, &vps.identity, &vps.public_url, &sshd_key(false))
        .await;

    ui.click("a.host[data-host=vps]").await;
    ui.wait_text("#apps", |_| true).await;
    // A path the window was never given, as a page's script could name it.
    let (_other, not_given) = app_folder("ui-not-given", &[("main.R", "f <- function() 1\n")]);
    ui.drop_onto(".hint", &[&not_given]).await;
    let refused = ui.wait_text("#error", |t| t.contains("was neither")).await;
    assert!(refused.contains("ui-not-given"), "{refused}");
    ui.click("#error button").await;
    ui.drop_onto(".hint", &[&app]).await;
    ui.wait_text("#new-files", |t| t.contains("main.R")).await;
    let proposed = ui
        .client
        .find(Locator::Css("#new-slug"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(proposed.as_deref(), Some(slug), "slug from the folder name");
    ui.shot("02-new-app-form").await;
    ui.click("#new-deploy").await;
    let done = ui.wait_text("#deploy-done", |t| !t.is_empty()).await;
    assert!(done.starts_with("Deployed ui-hello"), "{done}");
    assert!(!done.contains("not answering"), "{done}");
    let files = ui.wait_text("#deploy-files", |_| true).await;
    assert_eq!(files, "Received: main.R");
    let row = format!("tr[data-drop-slug={slug}]");
    ui.wait_text(&format!("{row} .badge"), |t| t == "running")
        .await;
    ui.shot("03-deployed").await;

    // Dropping onto the app's row deploys a new version of it.
    std::fs::write(
        app.join("main.R"),
        "hello <- function(name) {\n  message(\"hello called for \", name)\n  paste0(\"Hello again, \", name, \"!\")\n}\n",
    )
    .unwrap();
    ui.client
        .execute("document.querySelector('#deploy button').click()", vec![])
        .await
        .unwrap();
    ui.drop_onto(&row, &[&app]).await;
    let again = ui.wait_text("#deploy-done", |t| !t.is_empty()).await;
    assert!(again.starts_with("Deployed ui-hello"), "{again}");

    ui.click(&format!("{row} a.open")).await;
    // The logs follow live: what the call below writes shows up.
    ui.click("#logs-follow").await;
    ui.wait_text("#logs-follow", |t| t == "Stop following")
        .await;
    ui.type_into("#console-fn", "hello").await;
    ui.type_into("#console-args", "\"UI\"").await;
    ui.click("#console-call").await;
    let answer = ui.wait_text("#console-result", |t| !t.is_empty()).await;
    assert_eq!(answer, "\"Hello again, UI!\"");
    ui.wait_text("pre.logs", |t| t.contains("hello called for UI"))
        .await;
    ui.shot("04-console").await;

    ui.type_into("#console-fn", "system").await;
    ui.type_into("#console-args", "[1,").await;
    ui.click("#console-call").await;
    let bad = ui.wait_text("#console-result", |t| !t.is_empty()).await;
    assert!(bad.starts_with("the arguments are not JSON"), "{bad}");

    // Container settings, as the host has them; a bad one is refused with
    // a sentence, good ones apply without a build.
    let form = ".app-settings";
    ui.wait_value(&format!("{form} .memory"), |v| v == "512m")
        .await;
    ui.type_into(&format!("{form} .memory"), "lots").await;
    ui.click(&format!("{form} .apply")).await;
    let refused = ui
        .wait_text(&format!("{form} .outcome.bad"), |t| !t.is_empty())
        .await;
    assert!(refused.contains("lots"), "{refused}");
    ui.type_into(&format!("{form} .memory"), "256m").await;
    ui.type_into(&format!("{form} .env"), "GREETING=hi").await;
    ui.click(&format!("{form} .apply")).await;
    ui.wait_text(&format!("{form} .outcome"), |t| t.starts_with("Applied in"))
        .await;
    let inspected = docker_inspect(&running_container(slug));
    assert_eq!(inspected["HostConfig"]["Memory"], 256 * 1024 * 1024);
    assert!(
        inspected["Config"]["Env"]
            .as_array()
            .unwrap()
            .contains(&json!("GREETING=hi")),
        "{}",
        inspected["Config"]["Env"]
    );
    ui.shot("04a-settings").await;

    // The app's charts, drawn by the core as SVG, one metric at a time: an
    // image (a data: URL, never markup in the page) described in words.
    let cpu = ui.wait_html("#chart", is_chart_image).await;
    assert!(
        cpu.contains("alt=\"ui-hello: CPU; latest cpu "),
        "{cpu:.300}"
    );
    assert!(cpu.contains("%3Csvg"), "{cpu:.300}");
    ui.click("#chart-memory").await;
    ui.wait_html("#chart", |h| {
        is_chart_image(h) && h.contains("alt=\"ui-hello: memory; latest used ")
    })
    .await;
    ui.click("#chart-uptime").await;
    ui.wait_html("#chart", |h| {
        is_chart_image(h) && h.contains("alt=\"vps: uptime") && h.contains("ui-hello")
    })
    .await;
    ui.shot("04b-charts").await;

    ui.click("a.host[data-host=vps]").await;
    // The host's overview: its totals.
    ui.wait_html("#chart", |h| {
        is_chart_image(h) && h.contains("(all apps): CPU")
    })
    .await;
    ui.click(&format!("{row} button.stop")).await;
    ui.wait_text(&format!("{row} .badge"), |t| t == "exited")
        .await;
    ui.shot("05-stopped").await;
    ui.close().await;

    let cli = Rdesk::new();
    vps.add_to(&cli);
    cli.ok(&["rm", slug, "--host", "vps"]);
}

#[tokio::test]
async fn bootstrap_an_empty_vps_from_the_window_then_deploy_to_it() {
    let Some(vps) = Vps::from_env("desktop bootstrap") else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    vps.reset();
    let data = tempfile::tempdir().unwrap();
    let slug = "ui-vps";
    let (_dir, app) = app_folder(slug, &[("main.R", "where <- function() \"vps\"\n")]);
    let ui = Desktop::open(data.path(), "bootstrap", &[&app]).await;
    ui.add_host(&vps.ssh, &vps.identity, &vps.public_url, &sshd_key(true))
        .await;

    // Nothing can be pulled there: the images go from this machine.
    ui.click(".bootstrap-open").await;
    let form = ".bootstrap[data-host=vps]";
    ui.type_into(&format!("{form} .r-versions"), &vps.r_version)
        .await;
    ui.click(&format!("{form} .send-images")).await;
    ui.click(&format!("{form} summary")).await;
    ui.type_into(&format!("{form} .traefik-image"), TRAEFIK_IMAGE)
        .await;
    ui.type_into(&format!("{form} .base-image"), BASE_IMAGE)
        .await;
    ui.click(&format!("{form} button.run")).await;
    // The step list is live: a step shows as started while it runs.
    ui.wait_text(&format!("{form} .step.started"), |_| true)
        .await;
    ui.shot("01-bootstrapping").await;
    let outcome = ui
        .wait_text_for(&format!("{form} .outcome"), Duration::from_secs(300), |t| {
            !t.is_empty() && t != "running…"
        })
        .await;
    assert_eq!(outcome, "Bootstrapped.");
    let progress = ui
        .wait_text(&format!("{form} .progress-text"), |_| true)
        .await;
    let counts: Vec<&str> = progress.split(" of ").collect();
    assert!(
        counts.len() == 2 && counts[1] == format!("{} steps", counts[0]),
        "the progress bar ends full: {progress}"
    );
    let steps = ui.wait_text(&format!("{form} .steps"), |_| true).await;
    assert!(
        ui.client
            .find(Locator::Css(&format!("{form} .step.failed")))
            .await
            .is_err(),
        "{steps}"
    );
    assert!(steps.contains("install-docker"), "{steps}");
    ui.shot("02-bootstrapped").await;

    ui.click("a.host[data-host=vps]").await;
    ui.wait_text("#apps", |_| true).await;
    ui.drop_onto(".hint", &[&app]).await;
    ui.wait_text("#new-files", |t| t.contains("main.R")).await;
    ui.click("#new-deploy").await;
    let done = ui
        .wait_text_for("#deploy-done", Duration::from_secs(180), |t| !t.is_empty())
        .await;
    assert!(done.starts_with(&format!("Deployed {slug}")), "{done}");
    assert!(!done.contains("not answering"), "{done}");
    ui.wait_text(&format!("tr[data-drop-slug={slug}] .badge"), |t| {
        t == "running"
    })
    .await;
    ui.shot("03-deployed-on-the-vps").await;
    let running = vps.sh_ok("docker ps --format '{{.Names}}'");
    assert!(
        running.contains(&format!("rserve-desk-{slug}-")),
        "{running}"
    );
    ui.close().await;
}

#[tokio::test]
async fn a_killed_app_raises_one_notification_within_the_throttle_window() {
    let Some(vps) = Standin::from_env("desktop crash notification") else {
        return;
    };
    one_notification_for_a_killed_app(&vps, "ui-crash").await;
}

#[tokio::test]
async fn over_the_slow_link_a_killed_app_raises_one_notification() {
    let Some(vps) = Standin::from_env("desktop crash notification over the slow link") else {
        return;
    };
    one_notification_for_a_killed_app(&vps.over_the_slow_link(), "sl-ui-crash").await;
}

async fn one_notification_for_a_killed_app(vps: &Standin, slug: &str) {
    let _turn = ONE_AT_A_TIME.lock().await;
    remove_desktop_leftovers();
    let cli = vps.desk();
    let (_dir, app) = app_folder(slug, &[("main.R", "alive <- function() TRUE\n")]);
    cli.deploy(&app, slug, &[]);

    let ui = Desktop::open(cli.data_dir.path(), &format!("notify-{slug}"), &[]).await;
    let row = format!("tr[data-drop-slug={slug}] .badge");
    ui.wait_text(&row, |t| t == "running").await;
    // The watcher subscribes right after the window opens; Docker replays from then on.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let killed = Instant::now();
    docker_kill(slug);
    let crashed = format!("{slug} crashed (exit code 137)");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ui.notifications.titles().contains(&crashed) {
        assert!(
            Instant::now() < deadline,
            "no notification: {:?}",
            ui.notifications.titles()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    ui.wait_text(&row, |t| t == "crashed" || t == "exited")
        .await;
    ui.shot("01-crashed").await;
    let page = "section.page h2";
    let on_the_app = |t: &str| t.ends_with(&format!("/ {slug}"));

    // Clicking the notification opens the app.
    let shown = ui.notifications.shown();
    let notification = shown.iter().find(|s| s.title == crashed).unwrap();
    assert!(
        notification.body.contains("on host `vps`") && notification.at > killed,
        "the notification names the host and follows the kill: {notification:?}"
    );
    assert!(
        notification.actions.iter().any(|a| a == "default"),
        "the notification offers no click: {notification:?}"
    );
    ui.notifications.click(&ui.bus, notification.id).await;
    ui.wait_text(page, on_the_app).await;

    // The tray turns red and lists the app; its entry opens the app too.
    ui.click("a.host[data-host=vps]").await;
    ui.wait_text(page, |t| !on_the_app(t)).await;
    let problem = ui.wait_tray(RED, slug, |label| label.contains(slug)).await;
    ui.tray().await.click(&problem).await.unwrap();
    ui.wait_text(page, on_the_app).await;
    ui.click("a.host[data-host=vps]").await;

    cli.ok(&["start", slug, "--host", "vps"]);
    let recovered = format!("{slug} recovered");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ui.notifications.titles().contains(&recovered) {
        assert!(
            Instant::now() < deadline,
            "no recovery: {:?}",
            ui.notifications.titles()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    ui.wait_tray(GREEN, "vps: N/N running", all_running).await;
    docker_kill(slug);
    ui.click("a.host[data-host=vps]").await;
    ui.wait_text(&row, |t| t != "running").await;
    cli.ok(&["start", slug, "--host", "vps"]);
    docker_kill(slug);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let titles = ui.notifications.titles();
    let count = |t: &str| titles.iter().filter(|x| *x == t).count();
    assert_eq!(
        count(&crashed),
        1,
        "three kills within a minute: {titles:?}"
    );
    assert_eq!(count(&recovered), 1, "{titles:?}");
    ui.close().await;
    cli.ok(&["rm", slug, "--host", "vps"]);
}

/// sshd of the stand-in's configuration on a port of its own, so that this
/// test can stop and start "the VPS" without touching the shared one.
fn own_sshd(port: u16) -> Proc {
    let dir = std::env::var("RDESK_STANDIN_DIR").expect("RDESK_STANDIN_DIR");
    let child = Command::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-f"])
        .arg(Path::new(&dir).join("sshd").join("sshd_config"))
        .args(["-o", &format!("Port={port}"), "-o", "PidFile=none"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sshd starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "sshd never listened on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
    Proc(child)
}

#[tokio::test]
async fn offline_the_window_shows_cached_apps_with_their_age_then_recovers() {
    let Some(vps) = Standin::from_env("desktop offline") else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let slug = "ui-offline";
    remove_desktop_leftovers();
    let port = free_port();
    let sshd = own_sshd(port);
    let cli = Rdesk::new();
    cli.ok(&[
        "host",
        "add",
        "vps",
        "--ssh",
        &format!("root@127.0.0.1:{port}"),
        "--identity",
        &vps.identity,
        "--public-url",
        &vps.public_url,
    ]);
    let (_dir, app) = app_folder(slug, &[("main.R", "up <- function() 1\n")]);
    cli.deploy(&app, slug, &[]);
    drop(sshd);
    // Long enough for the cached state to have an age to show.
    std::thread::sleep(Duration::from_secs(6));

    let ui = Desktop::open(cli.data_dir.path(), "offline", &[]).await;
    let offline = ui
        .wait_text(".offline", |t| t.starts_with("Offline:"))
        .await;
    assert!(offline.contains("vps"), "{offline}");
    let row = format!("tr[data-drop-slug={slug}]");
    ui.wait_text(&format!("{row} .badge"), |t| t == "running")
        .await;
    let seen = ui
        .wait_text(&format!("{row} .seen"), |t| t.starts_with("last seen "))
        .await;
    assert!(
        seen.ends_with(" ago") || seen == "last seen just now",
        "{seen}"
    );
    ui.shot("01-offline").await;
    ui.wait_tray(GREY, "vps: offline", |label| label == "vps: offline")
        .await;

    let _back = own_sshd(port);
    // The watcher retries with backoff (at most 30 s between tries).
    let deadline = Instant::now() + Duration::from_secs(60);
    while ui.client.find(Locator::Css(".offline")).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "the window never saw the host come back"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    ui.wait_text(&format!("{row} .seen"), |t| t == "now").await;
    ui.wait_tray(GREEN, "vps: N/N running", all_running).await;
    ui.shot("02-back").await;
    ui.close().await;
    cli.ok(&["rm", slug, "--host", "vps"]);
}

#[tokio::test]
async fn twenty_window_actions_share_one_ssh_session_that_comes_back_when_killed() {
    let Some(vps) = Standin::from_env("desktop one session per host") else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let slug = "ui-session";
    remove_desktop_leftovers();
    let cli = Rdesk::new();
    vps.add_to(&cli);
    let (_dir, app) = app_folder(slug, &[("main.R", "up <- function() 1\n")]);
    cli.deploy(&app, slug, &["--access", "public"]);

    let ui = Desktop::open(cli.data_dir.path(), "session", &[]).await;
    ui.click("a.host[data-host=vps]").await;
    let row = format!("tr[data-drop-slug={slug}]");
    let badge = format!("{row} .badge");
    ui.wait_text(&badge, |t| t == "running").await;
    // Settled: the session, its monitor and the monitor's forward to
    // Traefik's metrics (at its first 5 s sample) are all open, and
    // nothing has started an ssh process for 8 s.
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut settled = (ui.ssh.starts(), Instant::now());
    while settled.1.elapsed() < Duration::from_secs(8) {
        assert!(
            Instant::now() < deadline,
            "the window never stopped starting ssh processes: {:?}",
            ui.ssh.started()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        if ui.ssh.starts() != settled.0 {
            settled = (ui.ssh.starts(), Instant::now());
        }
    }
    let before = ui.ssh.starts();
    let master = ssh_master_under(ui.runtime.path()).expect("the window's ssh master runs");

    // Twenty actions: pages, charts, the app's lifecycle, a refresh.
    for round in 0..2 {
        ui.click(&format!("{row} a.open")).await;
        ui.wait_text("#console-fn", |_| true).await;
        ui.click("#chart-memory").await;
        ui.wait_html("#chart", |h| h.contains(": memory")).await;
        ui.click("#chart-uptime").await;
        ui.wait_html("#chart", |h| h.contains(": uptime")).await;
        ui.click("#chart-cpu").await;
        ui.wait_html("#chart", |h| h.contains(": CPU")).await;
        ui.click("a.host[data-host=vps]").await;
        ui.wait_text(&badge, |_| true).await;
        ui.click(&format!("{row} button.stop")).await;
        ui.wait_text(&badge, |t| t == "exited").await;
        ui.click(&format!("{row} button.start")).await;
        ui.wait_text(&badge, |t| t == "running").await;
        ui.click(&format!("{row} button.restart")).await;
        ui.wait_text(&badge, |t| t == "running").await;
        ui.click("h2 button.small").await;
        ui.wait_text(&badge, |t| t == "running").await;
        ui.click(&format!("{row} a.open")).await;
        ui.wait_text("#console-fn", |_| true).await;
        ui.click("a.host[data-host=vps]").await;
        ui.wait_text(&badge, |_| true).await;
        println!("round {round}: {} ssh starts so far", ui.ssh.starts());
    }
    let started: Vec<String> = ui.ssh.started().split_off(before);
    assert!(
        started.is_empty(),
        "20 window actions started ssh processes: {started:?}"
    );
    assert_eq!(
        ssh_master_under(ui.runtime.path()),
        Some(master),
        "the same master throughout"
    );
    ui.shot("01-twenty-actions").await;

    // Its master killed, the next action opens a new session and succeeds.
    terminate(master);
    ui.click(&format!("{row} button.stop")).await;
    ui.wait_text(&badge, |t| t == "exited").await;
    let again = ssh_master_under(ui.runtime.path()).expect("a new master");
    assert_ne!(again, master);
    ui.shot("02-after-the-master-was-killed").await;
    let runtime = ui.runtime.path().to_owned();
    ui.close().await;

    // Nothing outlives the window: its master ends with it (at once when
    // it exits, at most the master's 30 s linger when it is killed).
    let deadline = Instant::now() + Duration::from_secs(45);
    while !ssh_processes_under(&runtime).is_empty() {
        assert!(
            Instant::now() < deadline,
            "ssh processes outlived the window"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    cli.ok(&["rm", slug, "--host", "vps"]);
}

/// A chart shown as an `<img>` of an SVG `data:` URL.
fn is_chart_image(html: &str) -> bool {
    html.starts_with("<img") && html.contains("src=\"data:image/svg+xml;charset=utf-8,%3C")
}
