//! Desktop notifications for the watchers' notices, through the desktop's
//! notification service (notify-rust; `org.freedesktop.Notifications` on
//! Linux). Where the service reports clicks, clicking a notification opens
//! the app (or host) it names.

use std::collections::VecDeque;
use std::sync::Mutex;

use rdesk_core::alerts::Notice;
use rdesk_ipc::Page;
use tauri::AppHandle;
use tauri::async_runtime::JoinHandle;

/// The action key a notification service invokes when the notification itself is clicked.
#[cfg(all(unix, not(target_os = "macos")))]
const CLICKED: &str = "default";
/// Notifications still waiting for their click; older ones stop waiting, so
/// an app that keeps crashing for days does not pile up D-Bus connections.
const WAITING_AT_MOST: usize = 16;

/// The notifications shown that may still be clicked.
#[derive(Default)]
pub struct Waiting(Mutex<VecDeque<JoinHandle<()>>>);

impl Waiting {
    fn push(&self, task: JoinHandle<()>) {
        let Ok(mut waiting) = self.0.lock() else {
            return;
        };
        waiting.retain(|t| !t.inner().is_finished());
        waiting.push_back(task);
        while waiting.len() > WAITING_AT_MOST {
            if let Some(oldest) = waiting.pop_front() {
                oldest.abort();
            }
        }
    }
}

/// Shows `notice`; a click on it shows the window on the app's page.
pub fn show(app: &AppHandle, waiting: &Waiting, notice: Notice) {
    let mut notification = notify_rust::Notification::new();
    notification
        .appname("Rserve Desk")
        .summary(&notice.title)
        .body(&notice.body);
    let app = app.clone();
    waiting.push(tauri::async_runtime::spawn(async move {
        shown(&app, notification, notice).await
    }));
}

#[cfg(all(unix, not(target_os = "macos")))]
async fn shown(app: &AppHandle, mut notification: notify_rust::Notification, notice: Notice) {
    notification.action(CLICKED, "Open");
    match notification.show_async().await {
        Ok(handle) => {
            handle
                .wait_for_action_async(|action| {
                    if action.is_default_action() {
                        let page = match &notice.slug {
                            Some(slug) => Page::App(notice.host.clone(), slug.clone()),
                            None => Page::Host(notice.host.clone()),
                        };
                        crate::window::show_page(app, page);
                    }
                })
                .await
        }
        Err(e) => tracing::warn!("showing a notification: {e}"),
    }
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
async fn shown(_app: &AppHandle, notification: notify_rust::Notification, _notice: Notice) {
    if let Err(e) = notification.show() {
        tracing::warn!("showing a notification: {e}");
    }
}
