//! Rserve Desk's desktop shell: one window (the Leptos UI in `app/`), a tray
//! icon, notifications. Single instance (a second start shows the first
//! one's window); closing the window ends the process's run and starts it
//! again as a tray that never held a webview (`relaunch`; `--tray` starts
//! in the tray); the window's size, position, page and scroll are
//! remembered; launch at login is a setting. All it does is translate
//! between the UI and `rdesk_core`.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod about;
mod alerting;
mod app_changes;
mod bootstrapping;
mod commands;
mod convert;
mod follows;
mod grants;
mod handle;
mod host_changes;
mod logs;
mod notify;
mod picking;
mod relaunch;
mod rendering;
mod shell;
mod tray;
mod tunnels;
mod user_settings;
mod watch;
mod window;
mod work;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rdesk_core::DeskError;
use rdesk_core::desk::Desk;
use tauri::{DragDropEvent, Manager, WindowEvent};
use tauri_plugin_autostart::MacosLauncher;

/// Starts in the tray, without the window (how launch at login starts it).
const TRAY_FLAG: &str = "--tray";
/// `--place=JSON`: the page and scroll a window opened later starts at
/// (what a closed window hands to the tray process it becomes).
const PLACE_FLAG: &str = "--place=";

const USAGE: &str = "Usage: rserve-desk [--tray [--place=JSON]] [PATH...]

Rserve Desk: serve R functions from your own VPS.
  --tray        start in the tray, without opening the window
  --place=JSON  the page and scroll the window opens at (what a closed
                window hands to the tray process it becomes)
  PATH...       folders, .R files or archives to deploy (as if dropped)
  -V, --version print the version
  -h, --help    print this help

The command-line tool is `rdesk` (see `rdesk --help`).";

fn main() -> std::process::ExitCode {
    rendering::choose();
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match args.first().and_then(|a| a.to_str()) {
        Some("-V" | "--version") => {
            println!("rserve-desk {}", env!("CARGO_PKG_VERSION"));
            return std::process::ExitCode::SUCCESS;
        }
        Some("-h" | "--help") => {
            println!("{USAGE}");
            return std::process::ExitCode::SUCCESS;
        }
        _ => {}
    }
    let in_tray = args.iter().any(|a| a == TRAY_FLAG);
    if in_tray {
        // A window's process goes on as the tray with `--tray`.
        relaunch::reap_inherited();
    }
    let place = args
        .iter()
        .filter_map(|a| a.to_str()?.strip_prefix(PLACE_FLAG))
        .find_map(|json| serde_json::from_str(json).ok());
    let paths: Vec<PathBuf> = args
        .into_iter()
        .filter(|a| a != TRAY_FLAG && !a.to_string_lossy().starts_with(PLACE_FLAG))
        .map(PathBuf::from)
        .collect();
    let about = about::describe();
    let flush_logs = logs::init(&about.log_dir);
    tracing::info!("{} starting", about.program);
    let data_dir = about.data_dir.clone();
    let (desk, cache_problem) = match tauri::async_runtime::block_on(open_desk(&data_dir)) {
        Ok(opened) => opened,
        Err(e) => {
            eprintln!("rserve-desk: {}", rdesk_core::sentence(&e));
            return std::process::ExitCode::FAILURE;
        }
    };
    let shell = shell::Shell::new(desk, cache_problem, about, place);
    // Paths given on the command line were chosen by the user, as a drop is.
    if let Ok(cwd) = std::env::current_dir() {
        shell.grants.grant(paths, &cwd);
    }
    // Where the window was, for the tray process this one may become.
    let last_place = Arc::new(Mutex::new(None));
    let kept_place = last_place.clone();
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, argv, cwd| {
            let paths = argv
                .into_iter()
                .skip(1)
                .filter(|a| a != TRAY_FLAG && !a.starts_with(PLACE_FLAG));
            app.state::<shell::Shell>()
                .grants
                .grant(paths.map(PathBuf::from), Path::new(&cwd));
            window::show(app)
        }))
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_autostart::init(
            MacosLauncher::LaunchAgent,
            Some(vec![TRAY_FLAG]),
        ))
        .manage(shell)
        .invoke_handler(commands::handler())
        .on_window_event(|window, event| match event {
            WindowEvent::Destroyed => {
                tracing::info!("window closed; Rserve Desk stays in the tray")
            }
            WindowEvent::DragDrop(DragDropEvent::Drop { paths, .. }) => window
                .state::<shell::Shell>()
                .grants
                .grant(paths.iter().cloned(), Path::new("/")),
            _ => {}
        })
        .setup(move |app| {
            tray::create(app.handle())?;
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move { watch::start_all(&handle).await });
            if !in_tray {
                window::show(app.handle());
            }
            Ok(())
        })
        .build(tauri::generate_context!())
        .map(|app| {
            app.run_return(move |app, event| match event {
                // The last window closed: the tray keeps running, in a
                // process started again without the webview's weight once
                // the operations under way have ended, unless an R tunnel
                // the window opened is still in use. Quitting from the
                // tray asks with an exit code, and is let through.
                tauri::RunEvent::ExitRequested {
                    code: None, api, ..
                } if !relaunch::quit_asked() => {
                    api.prevent_exit();
                    if app.state::<shell::Shell>().tunnels.any_open() {
                        tracing::info!("window closed; an R tunnel is open, so this process stays");
                    } else {
                        let app = app.clone();
                        tauri::async_runtime::spawn(async move {
                            app.state::<shell::Shell>().work.idle().await;
                            if app.webview_windows().is_empty() {
                                app.exit(relaunch::INTO_TRAY);
                            }
                        });
                    }
                }
                tauri::RunEvent::ExitRequested {
                    code: Some(code), ..
                } if code != relaunch::INTO_TRAY => relaunch::quitting(),
                tauri::RunEvent::Exit => {
                    // No ssh master or forward outlives the run.
                    let shell = app.state::<shell::Shell>();
                    if let Ok(mut place) = kept_place.lock() {
                        *place = shell.last_view();
                    }
                    let desk = shell.desk.clone();
                    tauri::async_runtime::block_on(async move {
                        shell.tunnels.close_all().await;
                        desk.shutdown().await
                    });
                }
                _ => {}
            })
        });
    match result {
        Ok(relaunch::INTO_TRAY) => {
            tracing::info!("window closed; going on as the tray");
            drop(flush_logs);
            let mut args = vec![OsString::from(TRAY_FLAG)];
            if let Some(place) = last_place.lock().ok().and_then(|p| p.clone())
                && let Ok(json) = serde_json::to_string(&place)
            {
                args.push(format!("{PLACE_FLAG}{json}").into());
            }
            let e = relaunch::again(&args);
            eprintln!("rserve-desk: cannot go on in the tray: {e}");
            std::process::ExitCode::FAILURE
        }
        Ok(_) => std::process::ExitCode::SUCCESS,
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
