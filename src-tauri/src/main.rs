//! Rserve Desk's desktop shell: one window (the Leptos UI in `app/`), a tray
//! icon, notifications. Single instance (a second start shows the first
//! one's window); closing the window keeps the tray running; the window's
//! size and position are remembered; launch at login is a setting. All it
//! does is translate between the UI and `rdesk_core`.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod convert;
mod follows;
mod grants;
mod handle;
mod notify;
mod shell;
mod tray;
mod tunnels;
mod watch;
mod window;

use std::path::{Path, PathBuf};

use rdesk_core::DeskError;
use rdesk_core::desk::Desk;
use tauri::{DragDropEvent, Manager, WindowEvent};
use tauri_plugin_autostart::MacosLauncher;

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let data_dir = rdesk_core::paths::data_dir();
    let (desk, cache_problem) = match tauri::async_runtime::block_on(open_desk(&data_dir)) {
        Ok(opened) => opened,
        Err(e) => {
            eprintln!("rserve-desk: {}", rdesk_core::sentence(&e));
            return std::process::ExitCode::FAILURE;
        }
    };
    let shell = shell::Shell::new(desk, cache_problem);
    // Paths given on the command line were chosen by the user, as a drop is.
    if let Ok(cwd) = std::env::current_dir() {
        shell
            .grants
            .grant(std::env::args_os().skip(1).map(PathBuf::from), &cwd);
    }
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, argv, cwd| {
            app.state::<shell::Shell>()
                .grants
                .grant(argv.into_iter().skip(1).map(PathBuf::from), Path::new(&cwd));
            window::show(app)
        }))
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_autostart::init(
            MacosLauncher::LaunchAgent,
            None,
        ))
        .manage(shell)
        .invoke_handler(commands::handler())
        .on_window_event(|window, event| match event {
            WindowEvent::CloseRequested { api, .. } => {
                api.prevent_close();
                let _ = window.hide();
            }
            WindowEvent::DragDrop(DragDropEvent::Drop { paths, .. }) => window
                .state::<shell::Shell>()
                .grants
                .grant(paths.iter().cloned(), Path::new("/")),
            _ => {}
        })
        .setup(|app| {
            tray::create(app.handle())?;
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move { watch::start_all(&handle).await });
            if let Some(window) = app.get_webview_window("main") {
                window.show()?;
            }
            Ok(())
        })
        .build(tauri::generate_context!())
        .map(|app| {
            app.run(|app, event| {
                if let tauri::RunEvent::Exit = event {
                    // No ssh master or forward outlives the window.
                    let shell = app.state::<shell::Shell>();
                    let desk = shell.desk.clone();
                    tauri::async_runtime::block_on(async move {
                        shell.tunnels.close_all().await;
                        desk.shutdown().await
                    });
                }
            })
        });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rserve-desk: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The engine over the cache in `data_dir`; when that cache is unusable,
/// over an empty in-memory one, with the sentence saying why, so the window
/// can show it and offer the repair instead of failing to start.
async fn open_desk(data_dir: &Path) -> Result<(Desk, Option<String>), DeskError> {
    match Desk::open(data_dir).await {
        Ok(desk) => Ok((desk, None)),
        Err(e) if e.cache_problem().is_some() => {
            let why = rdesk_core::sentence(&e);
            tracing::error!("{why}");
            Ok((Desk::without_cache().await?, Some(why)))
        }
        Err(e) => Err(e),
    }
}
