//! The main window as the tray, a notification or a second start bring it
//! up: shown, unminimized, focused, and if asked, on one app's page.

use rdesk_ipc::events;
use tauri::{AppHandle, Emitter, Manager};

/// Shows, unminimizes and focuses the main window.
pub fn show(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}

/// Shows the main window on the page of `slug` on `host`.
pub fn show_app(app: &AppHandle, host: &str, slug: &str) {
    show(app);
    let _ = app.emit(
        events::SHOW_APP,
        events::ShowApp {
            host: host.to_owned(),
            slug: slug.to_owned(),
        },
    );
}
