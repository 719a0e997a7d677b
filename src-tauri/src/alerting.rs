//! What the shell does with an alert the watchers hand it: shows it as a
//! desktop notification and, when the user set a webhook, posts it there
//! (a failed delivery is logged; it never holds the notification back).

use rdesk_core::alerts::Notice;
use tauri::{AppHandle, Manager};

use crate::notify;
use crate::shell::Shell;

pub fn raise(app: &AppHandle, notice: Notice) {
    let shell = app.state::<Shell>();
    let webhook = shell.webhook.lock().ok().and_then(|w| w.clone());
    if let Some(webhook) = webhook {
        let (notice, at_ms) = (notice.clone(), rdesk_core::store::now_ms());
        tauri::async_runtime::spawn(async move {
            if let Err(e) = webhook.send(&notice, at_ms).await {
                tracing::warn!("posting the alert “{}”: {e}", notice.title);
            }
        });
    }
    notify::show(app, &shell.notifications, notice);
}
