//! The main window. Closing it destroys it, webview and all, so the tray
//! costs no web process; the tray, a notification or a second start
//! re-create it from the config, and the UI then opens on the page and
//! scroll it last reported (`Shell::last_view`).

use rdesk_ipc::{Page, ViewPlace, events};
use tauri::{AppHandle, Emitter, Manager, WebviewWindow, WebviewWindowBuilder};

use crate::shell::Shell;

/// The window's label in `tauri.conf.json`.
pub const MAIN: &str = "main";

/// The main window, created from its config when it is not open.
fn open(app: &AppHandle) -> tauri::Result<WebviewWindow> {
    if let Some(window) = app.get_webview_window(MAIN) {
        return Ok(window);
    }
    let config = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == MAIN)
        .cloned()
        .unwrap_or_default();
    WebviewWindowBuilder::from_config(app, &config)?.build()
}

/// Shows, unminimizes and focuses the main window, re-creating it if it
/// was closed.
pub fn show(app: &AppHandle) {
    match open(app) {
        Ok(window) => {
            let _ = window.show();
            let _ = window.unminimize();
            let _ = window.set_focus();
        }
        Err(e) => tracing::error!("cannot open the window: {e}"),
    }
}

/// Shows the main window on `page`.
pub fn show_page(app: &AppHandle, page: Page) {
    if app.get_webview_window(MAIN).is_none() {
        // A new window asks where to open when it starts.
        app.state::<Shell>().remember_view(ViewPlace {
            page,
            scroll_top: 0.0,
        });
        return show(app);
    }
    show(app);
    let _ = app.emit(events::SHOW_PAGE, events::ShowPage { page });
}
