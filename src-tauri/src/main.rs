//! Rserve Desk's desktop shell: one window (the Leptos UI in `app/`), a tray
//! icon, notifications. Single instance (a second start shows the first
//! one's window); closing the window keeps the tray running; the window's
//! size and position are remembered; launch at login is a setting. All it
//! does is translate between the UI and `rdesk_core`.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod convert;
mod follows;
mod handle;
mod notify;
mod shell;
mod tray;
mod watch;
mod window;

use rdesk_core::desk::Desk;
use tauri::{Manager, WindowEvent};
use tauri_plugin_autostart::MacosLauncher;

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let data_dir = rdesk_core::paths::data_dir();
    let desk = match tauri::async_runtime::block_on(Desk::open(&data_dir)) {
        Ok(desk) => desk,
        Err(e) => {
            eprintln!("rserve-desk: {}", rdesk_core::sentence(&e));
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            window::show(app)
        }))
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_autostart::init(
            MacosLauncher::LaunchAgent,
            None,
        ))
        .manage(shell::Shell::new(desk))
        .invoke_handler(commands::handler())
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event {
                api.prevent_close();
                let _ = window.hide();
            }
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
        .run(tauri::generate_context!());
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rserve-desk: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
