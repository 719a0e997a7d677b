//! The tray icon: the app's icon coloured by the worst state across hosts
//! (red: something down, even on an offline host; grey: a host offline;
//! green: all running), a tooltip naming every state at once, and a menu listing
//! each host with its counts and problem apps (the worst first), opening the
//! window, quitting.

use rdesk_ipc::{Health, OverviewView, Page};
use tauri::image::Image;
use tauri::menu::{Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};

use crate::shell::Shell;
use crate::window;

const TRAY_ID: &str = "main";
const OPEN: &str = "open";
const QUIT: &str = "quit";
/// Menu ids of problem apps: `app:HOST/SLUG`.
const APP_PREFIX: &str = "app:";

/// The tray's icon per state: the app icon with its tile in the state's
/// colour (green #2f9e44, red #e03131, grey #868e96), made with every other
/// icon from icons/source.png by `cargo xtask icons`.
fn icon_png(health: Health) -> &'static [u8] {
    match health {
        Health::AllRunning => include_bytes!("../../icons/tray-running.png"),
        Health::SomethingDown => include_bytes!("../../icons/tray-down.png"),
        Health::HostOffline => include_bytes!("../../icons/tray-offline.png"),
    }
}

fn icon(health: Health) -> tauri::Result<Image<'static>> {
    Image::from_bytes(icon_png(health))
}

/// Every state at once: "Rserve Desk: 1 app down; offline: vps".
fn tooltip(overview: &OverviewView) -> String {
    let mut states = Vec::new();
    match overview.problem_count() {
        0 => {}
        1 => states.push("1 app down".to_owned()),
        n => states.push(format!("{n} apps down")),
    }
    let offline = overview.offline_hosts();
    if !offline.is_empty() {
        states.push(format!("offline: {}", offline.join(", ")));
    }
    if states.is_empty() {
        states.push("all running".to_owned());
    }
    format!("Rserve Desk: {}", states.join("; "))
}

fn menu(app: &AppHandle, overview: &OverviewView) -> tauri::Result<Menu<tauri::Wry>> {
    let menu = Menu::new(app)?;
    for host in &overview.hosts {
        let text = match &host.offline_reason {
            Some(_) => format!("{}: offline", host.host),
            None => format!("{}: {}/{} running", host.host, host.running, host.total),
        };
        menu.append(&MenuItem::with_id(
            app,
            format!("host:{}", host.host),
            text,
            false,
            None::<&str>,
        )?)?;
        for problem in &host.problems {
            let slug = problem.split(' ').next().unwrap_or(problem);
            menu.append(&MenuItem::with_id(
                app,
                format!("{APP_PREFIX}{}/{slug}", host.host),
                format!("   {problem}"),
                true,
                None::<&str>,
            )?)?;
        }
    }
    if !overview.hosts.is_empty() {
        menu.append(&PredefinedMenuItem::separator(app)?)?;
    }
    menu.append(&MenuItem::with_id(
        app,
        OPEN,
        "Open Rserve Desk",
        true,
        None::<&str>,
    )?)?;
    menu.append(&MenuItem::with_id(app, QUIT, "Quit", true, None::<&str>)?)?;
    Ok(menu)
}

fn on_menu(app: &AppHandle, event: MenuEvent) {
    let id = event.id().as_ref();
    if id == QUIT {
        app.exit(0);
    } else if id == OPEN {
        window::show(app);
    } else if let Some((host, slug)) = id.strip_prefix(APP_PREFIX).and_then(|r| r.split_once('/')) {
        window::show_page(app, Page::App(host.to_owned(), slug.to_owned()));
    }
}

/// Makes the tray icon; the state fills in on the first [`refresh`].
pub fn create(app: &AppHandle) -> tauri::Result<()> {
    let empty = OverviewView {
        health: Health::AllRunning,
        hosts: Vec::new(),
    };
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon(empty.health)?)
        .tooltip(tooltip(&empty))
        .menu(&menu(app, &empty)?)
        .on_menu_event(on_menu)
        .build(app)?;
    Ok(())
}

/// Redraws the icon, tooltip and menu from the cache and the watchers' state.
pub async fn refresh(app: &AppHandle) {
    let overview = match app.state::<Shell>().overview().await {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!("reading the overview for the tray: {e}");
            return;
        }
    };
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return;
    };
    let updated = icon(overview.health)
        .and_then(|i| tray.set_icon(Some(i)))
        .and_then(|()| tray.set_tooltip(Some(tooltip(&overview))))
        .and_then(|()| menu(app, &overview).and_then(|m| tray.set_menu(Some(m))));
    if let Err(e) = updated {
        tracing::warn!("updating the tray: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str, problems: &[&str], offline: bool) -> rdesk_ipc::HostSummary {
        rdesk_ipc::HostSummary {
            host: name.into(),
            running: 1,
            total: 1 + problems.len(),
            problems: problems.iter().map(|p| p.to_string()).collect(),
            offline_reason: offline.then(|| "connection refused".into()),
        }
    }

    #[test]
    fn the_tooltip_names_every_state_at_once() {
        let overview = |hosts| OverviewView {
            health: Health::SomethingDown,
            hosts,
        };
        assert_eq!(
            tooltip(&overview(vec![
                host("a", &["x (crashed)"], false),
                host("b", &[], true)
            ])),
            "Rserve Desk: 1 app down; offline: b"
        );
        assert_eq!(
            tooltip(&overview(vec![host(
                "a",
                &["x (crashed)", "y (oom-killed)"],
                false
            )])),
            "Rserve Desk: 2 apps down"
        );
        assert_eq!(
            tooltip(&overview(vec![host("a", &[], false)])),
            "Rserve Desk: all running"
        );
    }

    #[test]
    fn each_state_shows_its_colour_at_the_centre() {
        for (health, colour) in [
            (Health::AllRunning, [0x2f, 0x9e, 0x44, 255]),
            (Health::SomethingDown, [0xe0, 0x31, 0x31, 255]),
            (Health::HostOffline, [0x86, 0x8e, 0x96, 255]),
        ] {
            let image = icon(health).unwrap();
            let (w, h) = (image.width(), image.height());
            let at = |x: u32, y: u32| &image.rgba()[((y * w + x) * 4) as usize..][..4];
            assert_eq!(at(w / 2, h / 2), colour, "{health:?}");
            assert_eq!(at(0, 0)[3], 0, "corners are transparent");
        }
    }
}
