//! The file picker next to the drop zone: the system's own dialog (GTK's on
//! Linux, through the Tauri dialog plugin), opened over the window, so an
//! app can be deployed from the keyboard. What the user chooses is granted
//! as a drop is; the webview never names a path the shell did not receive.

use std::path::{Path, PathBuf};

use rdesk_ipc::{IpcError, PickArgs};
use tauri::{AppHandle, Manager};
use tauri_plugin_dialog::{DialogExt, FilePath};

use crate::shell::Shell;
use crate::window::MAIN;

pub async fn pick_app(
    app: &AppHandle,
    shell: &Shell,
    args: PickArgs,
) -> Result<Vec<String>, IpcError> {
    let (answer, chosen) = tokio::sync::oneshot::channel();
    let mut dialog = app.dialog().file();
    if let Some(window) = app.get_webview_window(MAIN) {
        dialog = dialog.set_parent(&window);
    }
    // A folder to start in, rather than GTK's list of recent files.
    if let Ok(home) = app.path().home_dir() {
        dialog = dialog.set_directory(home);
    }
    match args {
        PickArgs::Files => dialog
            .set_title("Choose the app's files: .R files, data, or an archive")
            .pick_files(move |files| {
                let _ = answer.send(files.unwrap_or_default());
            }),
        PickArgs::Folder => {
            dialog
                .set_title("Choose the app's folder")
                .pick_folder(move |folder| {
                    let _ = answer.send(folder.into_iter().collect());
                })
        }
    }
    let paths: Vec<PathBuf> = chosen
        .await
        .unwrap_or_default()
        .into_iter()
        .filter_map(|file| match file {
            FilePath::Path(path) => Some(path),
            FilePath::Url(_) => None,
        })
        .collect();
    shell.grants.grant(paths.iter().cloned(), Path::new("/"));
    Ok(paths.iter().map(|p| p.display().to_string()).collect())
}
