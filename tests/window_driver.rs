//! The window as the desktop tests drive it: Xvfb and a D-Bus session where
//! the test plays the panel (notifications, the tray's watcher),
//! tauri-driver and WebKitWebDriver over fantoccini, and the waits, clicks
//! and screenshots the tests are written in.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use rdesk_e2e::SshCounter;
use rdesk_e2e::display::{Proc, VirtualDesktop, desktop_binary, processes_named, target_dir};
use rdesk_e2e::vps::{BASE_IMAGE, TRAEFIK_IMAGE};
use serde_json::{Value, json};

use crate::panel::{self, Notifications, Tray, Watcher};

/// How much of the app's log a timed-out wait prints.
const LOG_TAIL: usize = 60;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The stand-in VPS's SSH host key, as the add-host form pins it.
fn standin_host_key() -> PathBuf {
    PathBuf::from(std::env::var("RDESK_STANDIN_DIR").expect("RDESK_STANDIN_DIR"))
        .join("sshd")
        .join("ssh_host_ed25519_key.pub")
}

/// Xvfb, a D-Bus session with our notification daemon and tray watcher,
/// tauri-driver, and the window.
pub struct Desktop {
    pub client: Client,
    pub notifications: Notifications,
    pub watcher: Watcher,
    pub shots: PathBuf,
    pub bus: zbus::Connection,
    /// Counts every ssh process the app starts (it is first on the app's PATH).
    pub ssh: SshCounter,
    /// The app's `XDG_RUNTIME_DIR`: its ssh control sockets are in here.
    pub runtime: tempfile::TempDir,
    /// The app's log folder, printed from when a wait times out.
    logs: PathBuf,
    /// A second WebKitWebDriver, attached to the app after it ran itself
    /// again (see [`Desktop::attach_after_relaunch`]).
    attached: Option<Proc>,
    /// The first session, kept open: ending it makes the first
    /// WebKitWebDriver stop its browser's pid, which the app still has.
    first_session: Option<Client>,
    // Dropped in this order: the driver (and the app) before the bus and the display.
    driver: Proc,
    desktop: VirtualDesktop,
}

impl Desktop {
    /// The window over `data_dir`, started with `granted` on its command line.
    pub async fn open(data_dir: &Path, name: &str, granted: &[&Path]) -> Desktop {
        Desktop::open_with(data_dir, name, granted, &[]).await
    }

    /// [`Desktop::open`], the app's environment also holding `env` (a time
    /// zone, a GTK theme).
    pub async fn open_with(
        data_dir: &Path,
        name: &str,
        granted: &[&Path],
        env: &[(&str, &str)],
    ) -> Desktop {
        let binary = desktop_binary();
        let desktop = VirtualDesktop::start();
        let notifications = Notifications::default();
        let watcher = Watcher::default();
        let bus = panel::serve(&desktop.bus_address, notifications.clone(), watcher.clone())
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
        let logs = data_dir.join("logs");
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
                .env("RDESK_LOG_DIR", &logs)
                .env("XDG_RUNTIME_DIR", runtime.path())
                .env("PATH", ssh.path())
                .env("RUST_LOG", "warn")
                .envs(env.iter().copied())
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
            logs,
            attached: None,
            first_session: None,
            driver,
            desktop,
        }
    }

    pub fn shot(&self, name: &str) {
        self.desktop
            .screenshot(&self.shots.join(format!("{name}.png")));
    }

    /// What a wait that timed out leaves to explain it: a screenshot named
    /// `shot`, and the end of the app's log on the test's output.
    async fn timed_out(&self, shot: &str) {
        self.shot(shot);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.logs)
            .map(|dir| dir.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        let text = files
            .last()
            .and_then(|f| std::fs::read_to_string(f).ok())
            .unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        println!(
            "--- the app's log, last {} lines of {}:",
            lines.len().min(LOG_TAIL),
            files
                .last()
                .map_or("(none)".into(), |f| f.display().to_string())
        );
        for line in &lines[lines.len().saturating_sub(LOG_TAIL)..] {
            println!("{line}");
        }
    }

    /// Polls the text of the first element matching `css` until `wanted` holds (60 s at most).
    pub async fn wait_text(&self, css: &str, wanted: impl Fn(&str) -> bool) -> String {
        self.wait_text_for(css, Duration::from_secs(60), wanted)
            .await
    }

    /// Polls the text of the first element matching `css` until `wanted` holds (`within` at most).
    pub async fn wait_text_for(
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
        self.timed_out(&format!(
            "timeout-{}",
            css.replace(|c: char| !c.is_alphanumeric(), "_")
        ))
        .await;
        panic!("`{css}` never matched; last text: {last:?}");
    }

    /// Polls the HTML of the first element matching `css`, the element
    /// itself included, until `wanted` holds (60 s at most).
    pub async fn wait_html(&self, css: &str, wanted: impl Fn(&str) -> bool) -> String {
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
        self.timed_out("timeout-html").await;
        panic!("`{css}` never held the expected HTML; last: {:.300}", last);
    }

    /// Polls the value of the first input matching `css` until `wanted` holds (60 s at most).
    pub async fn wait_value(&self, css: &str, wanted: impl Fn(&str) -> bool) -> String {
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
        self.timed_out("timeout-value").await;
        panic!("the value of `{css}` never matched; last: {last:?}");
    }

    /// Waits until no element matches `css` (60 s at most).
    pub async fn wait_gone(&self, css: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let found = self.client.find_all(Locator::Css(css)).await;
            if found.is_ok_and(|f| f.is_empty()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.shot("wait-gone-failed");
        panic!("`{css}` is still there after 60 s");
    }

    /// Starts a bootstrap of host `vps` from the hosts page with R
    /// `r_version`, the images sent from this machine (the bare VPS cannot
    /// pull); returns the form's selector.
    pub async fn start_bootstrap(&self, r_version: &str) -> &'static str {
        self.click(".bootstrap-open").await;
        let form = ".bootstrap[data-host=vps]";
        self.type_into(&format!("{form} .r-versions"), r_version)
            .await;
        self.click(&format!("{form} .send-images")).await;
        self.click(&format!("{form} summary")).await;
        self.type_into(&format!("{form} .traefik-image"), TRAEFIK_IMAGE)
            .await;
        self.type_into(&format!("{form} .base-image"), BASE_IMAGE)
            .await;
        self.click(&format!("{form} summary")).await;
        self.click(&format!("{form} button.run")).await;
        form
    }

    /// Waits (60 s at most) until a notification titled `title` was shown.
    pub async fn wait_notification(&self, title: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.notifications.titles().iter().any(|t| t == title) {
            assert!(
                Instant::now() < deadline,
                "no notification “{title}”: {:?}",
                self.notifications.titles()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The session bus the app is on (its notifications, tray and keyring).
    pub fn bus_address(&self) -> &str {
        &self.desktop.bus_address
    }

    /// `cmd` on the window's display and bus (for a program that works
    /// another window of the app, such as xdotool on a file dialog).
    pub fn on_display<'c>(
        &self,
        cmd: &'c mut std::process::Command,
    ) -> &'c mut std::process::Command {
        self.desktop.env(cmd)
    }

    /// Clicks the first element matching `css` once it is there and
    /// enabled (60 s at most). A button stays disabled while its app is
    /// busy, and a click on it then would be lost, as a user's would be; a
    /// row drawn anew under the click is found again.
    pub async fn click(&self, css: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last = String::from("not there");
        while Instant::now() < deadline {
            match self.client.find(Locator::Css(css)).await {
                Ok(el) => match el.is_enabled().await {
                    Ok(true) => match el.click().await {
                        Ok(()) => return,
                        Err(e) => last = e.to_string(),
                    },
                    Ok(false) => last = "disabled".into(),
                    Err(e) => last = e.to_string(),
                },
                Err(_) => last = "not there".into(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.timed_out("click-failed").await;
        panic!("clicking `{css}`: {last}");
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let el = self.client.find(Locator::Css(css)).await.unwrap();
        el.clear().await.unwrap();
        if !text.is_empty() {
            el.send_keys(text).await.unwrap();
        }
    }

    /// A drop of `paths` at the centre of the first element matching `css`, as Tauri reports one.
    pub async fn drop_onto(&self, css: &str, paths: &[&Path]) {
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

    /// Adds host `vps` through the hosts page's form: the window shows the key the host
    /// offers, which must be the one its sshd has (`host_key`, a `.pub`
    /// file), before the user trusts it.
    /// Adds the stand-in VPS as host `vps` and opens its page.
    pub async fn add_standin(&self, vps: &rdesk_e2e::Standin) {
        self.add_host(
            &vps.ssh,
            &vps.identity,
            &vps.public_url,
            &standin_host_key(),
        )
        .await;
        self.click("a.host[data-host=vps]").await;
    }

    pub async fn add_host(&self, ssh: &str, identity: &str, public_url: &str, host_key: &Path) {
        // From the hosts page: the welcome page's form goes on to the new
        // host's page (tests/window_life.rs).
        self.click("#nav-hosts").await;
        self.wait_text("main h2", |t| t == "Hosts").await;
        self.wait_text("#host-add", |t| t == "Add host").await;
        self.type_into("#host-name", "vps").await;
        self.type_into("#host-ssh", ssh).await;
        self.type_into("#host-identity", identity).await;
        self.type_into("#host-url", public_url).await;
        self.shot("01-add-host");
        self.click("#host-add").await;
        let offered = self.wait_text("#host-key", |t| t.contains("SHA256:")).await;
        let expected = fingerprint(host_key);
        assert!(
            offered.contains(&expected),
            "{offered} (the server has {expected})"
        );
        self.shot("01b-host-key");
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
    pub async fn tray(&self) -> Tray<'_> {
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
    pub async fn wait_tray(
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

    /// The app's processes named `name` (`rserve-desk`, `WebKitWebProces`).
    pub fn app_processes(&self, name: &str) -> Vec<u32> {
        processes_named(self.driver.0.id(), name)
    }

    /// Closes the window as its close button does.
    pub fn close_window(&self) {
        assert!(
            self.desktop.close_window("Rserve Desk"),
            "no window titled Rserve Desk is mapped"
        );
    }

    /// Drives the window of the app after it ran itself again (same pid,
    /// new program image): the first session's browser connection ended
    /// with the old image, so a second WebKitWebDriver connects to the
    /// inspector server the app opens again at the address the first one
    /// gave it (`WEBKIT_INSPECTOR_SERVER`, kept across `exec`). 30 s at most.
    pub async fn attach_after_relaunch(&mut self) {
        let app = self.app_processes("rserve-desk");
        let app = *app.first().expect("the app runs");
        let environ = std::fs::read(format!("/proc/{app}/environ")).unwrap();
        let inspector = environ
            .split(|b| *b == 0)
            .filter_map(|v| std::str::from_utf8(v).ok())
            .find_map(|v| v.strip_prefix("WEBKIT_INSPECTOR_SERVER="))
            .expect("WebKitWebDriver gave the app an inspector address")
            .to_owned();
        let port = free_port();
        let driver = Proc(
            self.desktop
                .env(&mut Command::new("WebKitWebDriver"))
                .arg(format!("--port={port}"))
                .arg(format!("--target={inspector}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("WebKitWebDriver runs"),
        );
        self.attached = Some(driver);
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let capabilities: serde_json::Map<String, Value> =
            serde_json::from_value(json!({"browserName": "wry"})).unwrap();
        let client = loop {
            match ClientBuilder::native()
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => match client.find(Locator::Css("main")).await {
                    Ok(_) => break client,
                    Err(_) => {
                        let _ = client.close().await;
                    }
                },
                Err(e) if Instant::now() > deadline => {
                    panic!("no WebDriver session on the relaunched app at {inspector}: {e}")
                }
                Err(_) => {}
            }
            assert!(
                Instant::now() < deadline,
                "the relaunched app's window never showed its page"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        };
        self.first_session = Some(std::mem::replace(&mut self.client, client));
    }

    pub async fn close(self) {
        let Desktop { client, .. } = self;
        let _ = client.close().await;
    }
}

pub fn home_bin(program: &str) -> PathBuf {
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

/// The fingerprint of a public key file, as `ssh-keygen -lf` prints it.
pub fn fingerprint(public_key: &Path) -> String {
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
