//! An app's whole life in the window, end to end under Xvfb against the
//! stand-in: deployed by a drop with its containers' settings and a secret
//! chosen in the new-app dialog (a failed first try leaves no secret), a
//! second version chosen from the keyboard in the system's file dialog
//! (answered with xdotool), the console's form of named arguments, the lifecycle
//! buttons following its state, its versions listed with times in the
//! user's time zone and one rolled back to, a secret variable set (never
//! shown back) and unset after a question, and the app removed after a
//! question that Esc and Cancel leave unanswered. The window runs in a dark
//! desktop theme, and is narrowed to 640 px at the end.
// Test helpers: a panic is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fantoccini::Locator;
use rdesk_core::charts::UtcOffset;
use rdesk_e2e::{
    DockerKind, KeyringSession, Standin, app_folder, docker_inspect, docker_objects, docker_out,
    rdesk_binary, remove_leftovers, running_container,
};
use serde_json::json;

// Each test binary plays part of the panel and drives the window with
// part of the driver.
#[allow(dead_code)]
mod panel;
#[allow(dead_code)]
mod window_driver;
use window_driver::Desktop;

const SLUG: &str = "ui-life";
/// A time zone without summer time, 5 h 30 min east of UTC.
const TIME_ZONE: (&str, i32) = ("Asia/Kolkata", 330);
/// WebDriver's key codes.
const TAB: &str = "\u{e004}";
const ESCAPE: &str = "\u{e00c}";
const ENTER: &str = "\u{e007}";

fn main_r(version: &str) -> String {
    // The nonce makes each run's code new, so its images are built now.
    let nonce = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "# {nonce}\nversion <- function() \"{version}\"\nsecret <- function() Sys.getenv(\"API_KEY\")\n\
         greet <- function(name, ..., punctuation = \"!\") paste0(\"Hello, \", name, punctuation, length(list(...)))\n"
    )
}

/// The id of the element that has the focus.
async fn focused(ui: &Desktop) -> String {
    let id = ui
        .client
        .execute(
            "return document.activeElement && document.activeElement.id;",
            vec![],
        )
        .await
        .unwrap();
    id.as_str().unwrap_or_default().to_owned()
}

async fn press(ui: &Desktop, css: &str, key: &str) {
    let element = ui.client.find(Locator::Css(css)).await.unwrap();
    element.send_keys(key).await.unwrap();
}

/// Answers the system's file dialog titled `title` (GTK's, on the window's
/// display, which WebDriver cannot reach) as a user does from the
/// keyboard: Ctrl+L, the path typed into the location box, Return.
fn answer_file_dialog(ui: &Desktop, title: &str, path: &Path) {
    let xdotool = |args: &[&str]| {
        let out = ui
            .on_display(&mut Command::new("xdotool"))
            .args(args)
            .output()
            .expect("xdotool runs (cargo xtask test installs it)");
        assert!(
            out.status.success() || args[0] == "search",
            "xdotool {args:?}: {out:?}"
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let dialog = loop {
        let found = xdotool(&["search", "--name", title]);
        if let Some(id) = found.lines().next() {
            break id.to_owned();
        }
        assert!(Instant::now() < deadline, "no file dialog titled {title:?}");
        std::thread::sleep(Duration::from_millis(200));
    };
    xdotool(&["windowfocus", "--sync", &dialog]);
    // The dialog takes keys once it has drawn itself.
    std::thread::sleep(Duration::from_millis(500));
    xdotool(&["key", "--clearmodifiers", "ctrl+l"]);
    std::thread::sleep(Duration::from_millis(300));
    xdotool(&["type", "--delay", "15", &path.display().to_string()]);
    std::thread::sleep(Duration::from_millis(300));
    xdotool(&["key", "Return"]);
}

/// Whether the button `css` is disabled, read in one script turn (the row
/// it is in may be drawn anew at any moment).
async fn is_disabled(ui: &Desktop, css: &str) -> bool {
    let disabled = ui
        .client
        .execute(
            "return document.querySelector(arguments[0]).disabled;",
            vec![json!(css)],
        )
        .await
        .unwrap();
    disabled == json!(true)
}

/// Calls `function` from the console; its answer differs from `before`,
/// the console's last one.
async fn call(ui: &Desktop, function: &str, before: &str) -> String {
    pick(ui, function).await;
    ui.click("#console-call").await;
    ui.wait_text("#console-result", |t| !t.is_empty() && t != before)
        .await
}

/// Picks `function` from the console's list of the app's functions (asked
/// of the app) and returns how the list shows it.
async fn pick(ui: &Desktop, function: &str) -> String {
    ui.click("#tab-clients").await;
    let button = format!("#console-functions button.function[data-function=\"{function}\"]");
    let shown = ui.wait_text(&button, |t| !t.is_empty()).await;
    ui.click(&button).await;
    ui.wait_value("#console-fn", |v| v == function).await;
    shown
}

/// The outcome a gated switch shows once it is over.
fn switched(text: &str) -> bool {
    !text.is_empty() && !text.contains("applying")
}

/// When the sample the page's cards show was taken, once it is later than `after`.
async fn sampled_at(ui: &Desktop, after: i64) -> i64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let at = ui
            .client
            .execute(
                "return Number(document.querySelector('#summary').dataset.sampled);",
                vec![],
            )
            .await
            .unwrap()
            .as_i64()
            .unwrap_or_default();
        if at > after {
            return at;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no sample after {after} in 60 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

async fn dialog_open(ui: &Desktop) -> bool {
    ui.client
        .find_all(Locator::Css("[role=dialog][aria-modal=true]"))
        .await
        .unwrap()
        .len()
        == 1
}

#[tokio::test]
async fn an_apps_whole_life_in_the_window() {
    let Some(vps) = Standin::from_env("window: an app's whole life") else {
        return;
    };
    remove_leftovers(SLUG);
    let data = tempfile::tempdir().unwrap();
    let (_dir, app) = app_folder(SLUG, &[("main.R", &main_r("one"))]);
    let ui = Desktop::open_with(
        data.path(),
        "app-life",
        &[&app],
        &[("TZ", TIME_ZONE.0), ("GTK_THEME", "Adwaita:dark")],
    )
    .await;
    let keyring = KeyringSession::on_bus(ui.bus_address());
    ui.add_standin(&vps).await;
    ui.wait_text("#apps", |_| true).await;

    // A dark desktop: the window follows it.
    let background = ui
        .client
        .execute(
            "return getComputedStyle(document.body).backgroundColor;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        background,
        json!("rgb(27, 30, 35)"),
        "the dark theme's background"
    );

    // The new-app dialog: a real dialog, with the containers' settings.
    ui.drop_onto(".hint", &[&app]).await;
    ui.wait_text("#new-files", |t| t.contains("main.R")).await;
    assert!(dialog_open(&ui).await);
    assert_eq!(focused(&ui).await, "new-slug", "focus starts in the dialog");
    press(&ui, "#new-slug", ESCAPE).await;
    ui.wait_gone("#new-app").await;
    // Secret variables at drop time: kept in the keyring before the deploy,
    // and put back as they were (here: none) when the deploy fails.
    ui.drop_onto(".hint", &[&app]).await;
    ui.wait_text("#new-files", |t| t.contains("main.R")).await;
    ui.click(".new-settings summary").await;
    ui.type_into("#new-memory", "lots").await;
    ui.type_into("#new-secrets", "API_KEY=not-kept").await;
    ui.click("#new-deploy").await;
    let refused = ui.wait_text("#deploy-done", |t| !t.is_empty()).await;
    assert!(refused.contains("lots"), "{refused}");
    ui.click("#deploy button").await;
    let cli = keyring
        .command(rdesk_binary())
        .args(["deploy", app.to_str().unwrap(), "--host", "vps"])
        .args(["--slug", SLUG, "--secret", "API_KEY"])
        .env("RDESK_DATA_DIR", data.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&cli.stderr);
    assert!(
        said.contains(
            "the secret `API_KEY` of app `ui-life` on `vps` is not in this workstation's keyring"
        ),
        "a failed deploy leaves no secret behind: {said}"
    );
    ui.drop_onto(".hint", &[&app]).await;
    ui.wait_text("#new-files", |t| t.contains("main.R")).await;
    ui.click(".new-settings summary").await;
    ui.type_into("#new-memory", "256m").await;
    ui.type_into("#new-env", "GREETING=dropped").await;
    ui.type_into("#new-secrets", "hunter2").await;
    ui.click("#new-deploy").await;
    let refused = ui.wait_text("#new-refused", |t| !t.is_empty()).await;
    assert_eq!(
        refused,
        "line 1 of the secret variables has no `=`: write NAME=value"
    );
    ui.type_into("#new-secrets", "API_KEY=from-the-drop").await;
    ui.shot("01-new-app-dialog");
    ui.click("#new-deploy").await;
    let done = ui.wait_text("#deploy-done", |t| !t.is_empty()).await;
    assert!(done.starts_with("Deployed ui-life"), "{done}");
    assert!(
        !ui.client.source().await.unwrap().contains("from-the-drop"),
        "the secret given at drop time is never shown back"
    );
    let inspected = docker_inspect(&running_container(SLUG));
    assert_eq!(inspected["HostConfig"]["Memory"], 256 * 1024 * 1024);
    assert!(
        inspected["Config"]["Env"]
            .as_array()
            .unwrap()
            .contains(&json!("GREETING=dropped")),
        "{}",
        inspected["Config"]["Env"]
    );

    // A second version, chosen from the keyboard in the system's own file
    // dialog: Enter on a picker button, the path typed into the dialog.
    std::fs::write(app.join("main.R"), main_r("two")).unwrap();
    ui.click("#deploy button").await;
    press(&ui, "#pick-folder", ENTER).await;
    answer_file_dialog(&ui, "Choose the app's folder", &app);
    ui.wait_text("#new-files", |t| t.contains("main.R")).await;
    ui.wait_value("#new-slug", |v| v == SLUG).await;
    press(&ui, "#new-slug", ESCAPE).await;
    ui.wait_gone("#new-app").await;
    press(&ui, "#pick-files", ENTER).await;
    answer_file_dialog(&ui, "Choose the app's files", &app.join("main.R"));
    ui.wait_text("#new-files", |t| t.contains("main.R")).await;
    ui.type_into("#new-slug", SLUG).await;
    press(&ui, "#new-deploy", ENTER).await;
    let again = ui.wait_text("#deploy-done", |t| !t.is_empty()).await;
    assert!(again.starts_with("Deployed ui-life"), "{again}");
    ui.click("#deploy button").await;
    let row = format!("tr[data-drop-slug={SLUG}]");

    // The buttons follow the state: a running app can be stopped, not started.
    ui.wait_text(&format!("{row} .badge"), |t| t == "running")
        .await;
    assert!(is_disabled(&ui, &format!("{row} button.start")).await);
    assert!(!is_disabled(&ui, &format!("{row} button.stop")).await);

    // The host's numbers: its apps' memory of the host's own, as its Docker says.
    let total: f64 = docker_out(&["info", "--format", "{{.MemTotal}}"])
        .trim()
        .parse()
        .unwrap();
    let of_total = format!(" of {:.1} GiB", total / 1_073_741_824.0);
    ui.wait_text("[data-card=memory] .value", |t| t.ends_with(&of_total))
        .await;

    // Versions, times in the user's own time zone, and a rollback.
    ui.click(&format!("{row} a.open")).await;
    ui.wait_text("#versions tr.version:nth-of-type(2)", |_| true)
        .await;
    let rows = ui
        .client
        .find_all(Locator::Css("#versions tr.version"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "two kept versions");
    let current = ui
        .wait_text("#versions tr.current .built", |t| !t.is_empty())
        .await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let recent: Vec<String> = (0..=10)
        .map(|m| UtcOffset(TIME_ZONE.1).date_time((now - 60 * m) * 1000))
        .collect();
    assert!(
        recent.contains(&current),
        "built at {current}, not within 10 min of now in {} ({recent:?})",
        TIME_ZONE.0
    );
    let ran = ui
        .wait_text("#versions tr.current .ran", |t| t != "—")
        .await;
    assert!(recent.contains(&ran), "last ran {ran}");
    assert!(is_disabled(&ui, "#versions tr.current button.rollback").await);
    let chart = ui.wait_html("#chart", |h| h.contains("%3Csvg")).await;
    assert!(
        chart.contains("time%20(UTC%2B05%3A30)"),
        "the chart's time axis is on the user's clock: {chart:.400}"
    );
    // The numbers at a glance, redrawn with each sample, without a click.
    ui.wait_text("[data-card=memory] .value", |t| {
        t.ends_with(" of 256.0 MiB")
    })
    .await;
    ui.wait_text("[data-card=up] .value", |t| t.starts_with("for "))
        .await;
    let first = sampled_at(&ui, 0).await;
    let next = sampled_at(&ui, first).await;
    assert!(next > first);
    let redrawn = ui.wait_html("#chart", |h| h != chart).await;
    assert!(redrawn.contains("%3Csvg"), "{redrawn:.200}");
    ui.shot("02-versions");
    ui.click("#versions tr.version:not(.current) button.rollback")
        .await;
    let rolled = ui.wait_text("#rollback-outcome", switched).await;
    assert!(rolled.starts_with("Applied in"), "{rolled}");
    assert_eq!(call(&ui, "version", "").await, "\"one\"");

    // The console shows each function's arguments, as the app says them,
    // with a field per named one; an empty field is left out.
    let shown = pick(&ui, "greet").await;
    assert_eq!(shown, "greet(name, ..., punctuation = \"!\")");
    let form = "#console-form";
    let placeholder = ui
        .client
        .find(Locator::Css(&format!(
            "{form} input[data-argument=punctuation]"
        )))
        .await
        .unwrap()
        .attr("placeholder")
        .await
        .unwrap();
    assert_eq!(placeholder.as_deref(), Some("default: \"!\""));
    ui.type_into(&format!("{form} input[data-argument=name]"), "\"R\"")
        .await;
    ui.type_into("#console-args", "[7, 8]").await;
    ui.click("#console-call").await;
    let answer = ui
        .wait_text("#console-result", |t| !t.is_empty() && t != "\"one\"")
        .await;
    assert_eq!(
        answer, "\"Hello, R!2\"",
        "the default, and two more by position"
    );
    ui.type_into(&format!("{form} input[data-argument=punctuation]"), "\"?\"")
        .await;
    ui.type_into("#console-args", "[]").await;
    ui.click("#console-call").await;
    let answer = ui
        .wait_text("#console-result", |t| t.ends_with("?0\""))
        .await;
    assert_eq!(answer, "\"Hello, R?0\"");
    ui.type_into(&format!("{form} input[data-argument=name]"), "R")
        .await;
    ui.click("#console-call").await;
    let bad = ui
        .wait_text("#console-result", |t| t.starts_with("the value"))
        .await;
    assert!(bad.starts_with("the value of name is not JSON"), "{bad}");
    ui.click("#tab-overview").await;
    ui.wait_text("#versions tr.current", |t| !t.is_empty())
        .await;

    let dropped = call(&ui, "secret", &bad).await;
    assert_eq!(
        dropped, "\"from-the-drop\"",
        "the secret given at drop time"
    );

    // A secret variable: kept in the keyring, passed to the app, never shown back.
    ui.click("#tab-settings").await;
    ui.type_into("#secret-name", "API_KEY").await;
    ui.type_into("#secret-value", "s3cret-value").await;
    ui.click("#secret-set").await;
    let set = ui.wait_text("#secret-outcome", switched).await;
    assert!(set.starts_with("Applied in"), "{set}");
    ui.wait_text("#secret-names", |t| t.contains("API_KEY"))
        .await;
    let page = ui.client.source().await.unwrap();
    assert!(
        !page.contains("s3cret-value"),
        "the value is never shown back"
    );
    assert_eq!(call(&ui, "secret", &dropped).await, "\"s3cret-value\"");

    // Unsetting asks first: Esc leaves it; Tab keeps the focus inside.
    ui.click("#tab-settings").await;
    ui.click("li[data-secret=API_KEY] button.unset").await;
    ui.wait_text("#dialog-title", |t| t == "Unset the secret API_KEY?")
        .await;
    assert!(dialog_open(&ui).await);
    assert_eq!(focused(&ui).await, "dialog-cancel", "Cancel has the focus");
    press(&ui, "#dialog-cancel", TAB).await;
    assert_eq!(focused(&ui).await, "dialog-confirm");
    press(&ui, "#dialog-confirm", TAB).await;
    assert_eq!(
        focused(&ui).await,
        "dialog-cancel",
        "the focus stays in the dialog"
    );
    press(&ui, "#dialog-cancel", ESCAPE).await;
    ui.wait_gone("#confirm").await;
    let outcome = ui.wait_text("#secret-outcome", |_| true).await;
    assert_eq!(outcome, set, "Esc ran nothing");
    ui.wait_text("#secret-names", |t| t.contains("API_KEY"))
        .await;
    ui.click("li[data-secret=API_KEY] button.unset").await;
    ui.click("#dialog-confirm").await;
    ui.wait_text("#secret-names", |t| t.contains("None yet"))
        .await;
    assert_eq!(call(&ui, "secret", "\"s3cret-value\"").await, "\"\"");

    // How the host is reached: a bad port or one where nothing answers is
    // a sentence and changes nothing; the slow link's port (the same sshd,
    // the same pinned key) is kept, and the host still answers through it.
    ui.click("#nav-hosts").await;
    ui.click(".host-change-open").await;
    let form = ".host-change[data-host=vps]";
    let port = vps.ssh.rsplit_once(':').unwrap().1.to_owned();
    ui.wait_value(&format!("{form} .port"), |v| v == port).await;
    let mut before = String::new();
    for (typed, said) in [("ssh", "from 1 to 65535"), ("1", "vps")] {
        ui.type_into(&format!("{form} .port"), typed).await;
        ui.click(&format!("{form} .save")).await;
        before = ui
            .wait_text(&format!("{form} .outcome.bad"), |t| {
                !t.is_empty() && t != before
            })
            .await;
        assert!(before.contains(said), "{before}");
    }
    let listed = ui.wait_text(".host-list", |_| true).await;
    assert!(listed.contains(&vps.ssh), "nothing changed: {listed}");
    let slow = vps.over_the_slow_link().ssh;
    ui.type_into(&format!("{form} .port"), slow.rsplit_once(':').unwrap().1)
        .await;
    ui.click(&format!("{form} .save")).await;
    ui.wait_text(&format!("{form} .outcome"), |t| t == "Saved.")
        .await;
    ui.wait_text(".host-list", |t| t.contains(&slow)).await;
    // Stopping and starting the app go through the new port; two clicks
    // in a row send one operation.
    ui.click("a.host[data-host=vps]").await;
    ui.wait_text(&format!("{row} .badge"), |t| t == "running")
        .await;
    ui.client
        .execute(
            "const b = document.querySelector(arguments[0]); b.click(); b.click();",
            vec![json!(format!("{row} button.stop"))],
        )
        .await
        .unwrap();
    ui.wait_text(&format!("{row} .badge"), |t| t == "exited")
        .await;
    // The badge may turn from the host's event before the stop's answer
    // frees the buttons: the click waits for them.
    ui.click(&format!("{row} button.start")).await;
    ui.wait_text(&format!("{row} .badge"), |t| t == "running")
        .await;
    ui.click(&format!("{row} a.open")).await;
    ui.wait_text("table.history", |t| t.contains("start")).await;
    let stops = ui
        .client
        .execute(
            "return Array.from(document.querySelectorAll('table.history td')).filter(td => td.textContent === 'stop').length;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(stops, json!(1), "one stop for two clicks");

    // Removing asks first, naming the app and what goes.
    ui.click("#tab-settings").await;
    ui.click("#app-remove").await;
    let body = ui.wait_text("#dialog-body", |t| !t.is_empty()).await;
    let title = ui.wait_text("#dialog-title", |_| true).await;
    assert_eq!(title, "Remove ui-life from vps?");
    assert!(
        body.contains("kept versions") && body.contains("history and charts stay"),
        "{body}"
    );
    ui.shot("03-remove-dialog");
    ui.click("#dialog-cancel").await;
    ui.wait_gone("#confirm").await;
    running_container(SLUG);
    ui.click("#app-remove").await;
    ui.click("#dialog-confirm").await;
    // Back on the host's page once it is gone, its row with it.
    ui.wait_text("#apps", |_| true).await;
    ui.wait_gone(&row).await;
    let filter = format!("io.rserve-desk.slug={SLUG}");
    assert!(docker_objects(DockerKind::Containers, &filter).is_empty());
    assert!(docker_objects(DockerKind::Images, &filter).is_empty());

    // 640 px wide: nothing runs off the side.
    ui.client.set_window_size(640, 720).await.unwrap();
    let overflow = ui
        .client
        .execute(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(overflow, json!(0), "no horizontal scrolling at 640 px");
    ui.shot("04-narrow-dark");

    // Forgetting the host asks first, saying that nothing on it changes.
    ui.click("#nav-hosts").await;
    ui.click(".host-forget").await;
    let said = ui.wait_text("#dialog-body", |t| !t.is_empty()).await;
    assert!(said.starts_with("Nothing on vps changes"), "{said}");
    press(&ui, "#dialog-cancel", ESCAPE).await;
    ui.wait_gone("#confirm").await;
    ui.wait_text("a.host[data-host=vps]", |_| true).await;
    ui.click(".host-forget").await;
    ui.click("#dialog-confirm").await;
    ui.wait_gone("a.host[data-host=vps]").await;
    ui.close().await;
}
