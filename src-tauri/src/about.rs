//! The About panel's commands (versions, folders, the diagnostics report)
//! and the window's place, kept while the window is closed to the tray.

use rdesk_core::diagnostics::{self, About};
use rdesk_ipc::{AboutView, IpcError, NoArgs, PartVersion, ViewPlace};
use tauri::AppHandle;

use crate::convert;
use crate::shell::Shell;

/// What the desktop app is made of: its own parts, then Tauri's and the webview's.
pub fn describe() -> About {
    let about = About::new(
        "rserve-desk",
        env!("CARGO_PKG_VERSION"),
        rdesk_core::paths::data_dir(),
        rdesk_core::paths::log_dir(),
    )
    .with("Tauri", tauri::VERSION);
    let webview = tauri::webview_version().unwrap_or_else(|e| format!("unknown ({e})"));
    about.with("WebKitGTK", webview)
}

pub async fn about(_: &AppHandle, shell: &Shell, _: NoArgs) -> Result<AboutView, IpcError> {
    let about = &shell.about;
    Ok(AboutView {
        program: about.program.clone(),
        versions: about
            .versions()
            .into_iter()
            .map(|(part, version)| PartVersion { part, version })
            .collect(),
        data_dir: about.data_dir.display().to_string(),
        log_dir: about.log_dir.display().to_string(),
    })
}

pub async fn diagnostics(_: &AppHandle, shell: &Shell, _: NoArgs) -> Result<String, IpcError> {
    diagnostics::report(&shell.desk, &shell.about)
        .await
        .map_err(convert::error)
}

pub async fn remember_view(_: &AppHandle, shell: &Shell, place: ViewPlace) -> Result<(), IpcError> {
    shell.remember_view(place);
    Ok(())
}

pub async fn last_view(
    _: &AppHandle,
    shell: &Shell,
    _: NoArgs,
) -> Result<Option<ViewPlace>, IpcError> {
    Ok(shell.last_view())
}
