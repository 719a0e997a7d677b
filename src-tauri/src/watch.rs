//! One `rdesk_core::watcher` task per host, and what the shell does with
//! what it reports: notifications shown, the UI told to reload, the tray
//! redrawn. Throttling and wording are the core's.

use rdesk_core::watcher::{self, WatchUpdate};
use rdesk_ipc::events;
use tauri::{AppHandle, Emitter, Manager};

use crate::alerting;
use crate::shell::Shell;
use crate::tray;

/// Watches every known host.
pub async fn start_all(app: &AppHandle) {
    match app.state::<Shell>().desk.hosts().await {
        Ok(hosts) => {
            for host in hosts {
                start(app, host.name);
            }
        }
        Err(e) => tracing::warn!("listing hosts to watch: {e}"),
    }
    tray::refresh(app).await;
}

/// Starts watching `host` unless it is watched already.
pub fn start(app: &AppHandle, host: String) {
    let shell = app.state::<Shell>();
    let Ok(mut watchers) = shell.watchers.lock() else {
        return;
    };
    if watchers.contains_key(&host) {
        return;
    }
    let (desk, alerts, handle, name) = (
        shell.desk.clone(),
        shell.alerts.clone(),
        app.clone(),
        host.clone(),
    );
    let task = tauri::async_runtime::spawn(async move {
        let on_update = |update| show(&handle, &name, update);
        if let Err(e) = watcher::watch_host(&desk, &name, &alerts, &on_update).await {
            tracing::warn!("stopped watching {name}: {}", rdesk_core::sentence(&e));
        }
    });
    watchers.insert(host, task);
}

pub fn stop(shell: &Shell, host: &str) {
    if let Some(task) = shell.watchers.lock().ok().and_then(|mut w| w.remove(host)) {
        task.abort();
    }
}

fn show(app: &AppHandle, host: &str, update: WatchUpdate) {
    let shell = app.state::<Shell>();
    let emitted = match update {
        WatchUpdate::Connected | WatchUpdate::Offline { .. } => {
            let reason = match update {
                WatchUpdate::Offline { reason } => Some(reason),
                _ => None,
            };
            shell.set_offline(host, reason.clone());
            app.emit(
                events::HOST_CHANGED,
                events::HostChanged {
                    host: host.to_owned(),
                    offline_reason: reason,
                },
            )
        }
        WatchUpdate::Changed { event, status } => app.emit(
            events::APP_CHANGED,
            events::AppChanged {
                host: host.to_owned(),
                slug: event.slug,
                detail: event.kind.status().1,
                status: crate::convert::app_status(status),
            },
        ),
        WatchUpdate::Notice(notice) => return alerting::raise(app, notice),
        WatchUpdate::Sampled => {
            let sampled = events::Sampled {
                host: host.to_owned(),
            };
            if let Err(e) = app.emit(events::SAMPLED, sampled) {
                tracing::debug!("telling the window of a sample: {e}");
            }
            return;
        }
    };
    if let Err(e) = emitted {
        tracing::warn!("telling the window: {e}");
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move { tray::refresh(&app).await });
}
