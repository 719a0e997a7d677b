//! What the desktop shell needs from a watched host, from the monitor
//! ([`crate::monitor::run`]: status history, metrics, reconnects with
//! backoff): connected or not, which app changed, and the notices
//! [`Alerts`] lets through. The shell only shows what it is handed.

use std::sync::Mutex;
use std::time::Instant;

use rdesk_spawner::{AppEvent, AppStatus};

use crate::alerts::{Alerts, Notice};
use crate::desk::Desk;
use crate::error::DeskError;
use crate::monitor::{self, MonitorEvent, MonitorOptions};

/// What the watcher saw.
#[derive(Debug, Clone)]
pub enum WatchUpdate {
    /// The tunnel is open and events flow.
    Connected,
    /// The host cannot be reached (or the tunnel dropped); retrying.
    Offline { reason: String },
    /// An app's status changed (already recorded in the cache).
    Changed { event: AppEvent, status: AppStatus },
    /// Something to notify the user of.
    Notice(Notice),
    /// A new sample of the host's apps was recorded.
    Sampled,
}

/// The updates one monitor event makes, passing app events through `alerts`.
fn updates(host: &str, event: &MonitorEvent, alerts: &Mutex<Alerts>) -> Vec<WatchUpdate> {
    match event {
        MonitorEvent::Connected { .. } => connection(host, WatchUpdate::Connected, None, alerts),
        MonitorEvent::Disconnected { reason, .. } => connection(
            host,
            WatchUpdate::Offline {
                reason: reason.clone(),
            },
            Some(reason),
            alerts,
        ),
        MonitorEvent::Status { app, status, .. } => {
            let notice = alerts
                .lock()
                .ok()
                .and_then(|mut a| a.on_event(host, app, Instant::now()));
            let mut out = vec![WatchUpdate::Changed {
                event: app.clone(),
                status: *status,
            }];
            out.extend(notice.map(WatchUpdate::Notice));
            out
        }
        MonitorEvent::Sampled { .. } => vec![WatchUpdate::Sampled],
        MonitorEvent::RequestsUnavailable { .. } => Vec::new(),
    }
}

/// A change of the connection (`offline` says why it is lost), and the
/// notice `alerts` lets through for it.
fn connection(
    host: &str,
    update: WatchUpdate,
    offline: Option<&str>,
    alerts: &Mutex<Alerts>,
) -> Vec<WatchUpdate> {
    let notice = alerts
        .lock()
        .ok()
        .and_then(|mut a| a.on_connection(host, offline));
    std::iter::once(update)
        .chain(notice.map(WatchUpdate::Notice))
        .collect()
}

/// Watches `host` (and samples its metrics) until the future is dropped or
/// the monitor meets an error retrying cannot fix (an unknown host, a
/// changed host key, a failing database), which it returns. A cluster's
/// worker is not watched on its own: its cluster's monitor reads every
/// node's events.
pub async fn watch_host(
    desk: &Desk,
    host: &str,
    alerts: &Mutex<Alerts>,
    on_update: &(dyn Fn(WatchUpdate) + Send + Sync),
) -> Result<(), DeskError> {
    if let Some(cluster) = desk.cluster_of(host).await? {
        tracing::info!("{host} is a worker of {cluster}: watched as part of it");
        return Ok(());
    }
    let on_event = |event: &MonitorEvent| {
        for update in updates(host, event, alerts) {
            on_update(update);
        }
    };
    monitor::run(
        desk,
        desk.store(),
        host,
        &MonitorOptions::default(),
        &on_event,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdesk_spawner::AppEventKind;

    fn status(kind: AppEventKind, status: AppStatus) -> MonitorEvent {
        MonitorEvent::Status {
            app: AppEvent {
                slug: "calc".into(),
                app_id: "id".into(),
                container_id: "c".into(),
                kind,
                at_ms: 0,
            },
            status,
            detail: None,
            recorded: true,
        }
    }

    #[test]
    fn app_events_become_changes_and_throttled_notices() {
        let alerts = Mutex::new(Alerts::default());
        let died = || status(AppEventKind::Died { exit_code: 137 }, AppStatus::Crashed);
        let first = updates("vps", &died(), &alerts);
        assert!(
            matches!(&first[..], [WatchUpdate::Changed { .. }, WatchUpdate::Notice(n)] if n.title == "calc crashed (exit code 137)")
        );
        let again = updates("vps", &died(), &alerts);
        assert!(
            matches!(&again[..], [WatchUpdate::Changed { .. }]),
            "{again:?}"
        );
    }

    #[test]
    fn connection_changes_pass_with_one_notice_each_way_and_samples_too() {
        let alerts = Mutex::new(Alerts::default());
        let lost = MonitorEvent::Disconnected {
            reason: "refused".into(),
            retry_in_ms: 500,
        };
        assert!(
            matches!(&updates("h", &lost, &alerts)[..], [WatchUpdate::Offline { reason }, WatchUpdate::Notice(n)] if reason == "refused" && n.title == "h is not answering")
        );
        assert!(
            matches!(
                &updates("h", &lost, &alerts)[..],
                [WatchUpdate::Offline { .. }]
            ),
            "a retry that fails again is not announced again"
        );
        let back = MonitorEvent::Connected {
            host: "h".into(),
            replayed: 0,
        };
        assert!(matches!(
            &updates("h", &back, &alerts)[..],
            [WatchUpdate::Connected, WatchUpdate::Notice(n)] if n.title == "h is back"
        ));
        assert!(matches!(
            &updates("h", &back, &alerts)[..],
            [WatchUpdate::Connected]
        ));
        let sampled = MonitorEvent::Sampled {
            at_ms: 0,
            apps: 1,
            with_requests: false,
        };
        assert!(matches!(
            &updates("h", &sampled, &alerts)[..],
            [WatchUpdate::Sampled]
        ));
    }

    #[tokio::test]
    async fn a_removed_host_ends_the_watch() {
        let dir = tempfile::tempdir().unwrap();
        let desk = Desk::open(dir.path()).await.unwrap();
        let alerts = Mutex::new(Alerts::default());
        let end = watch_host(&desk, "gone", &alerts, &|_| {}).await;
        assert!(
            matches!(end, Err(DeskError::UnknownHost(ref h)) if h == "gone"),
            "{end:?}"
        );
    }
}
