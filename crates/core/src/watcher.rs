//! Keeps one host watched for as long as the caller wants: opens its tunnel,
//! follows its app events (which [`HostSession::watch`] records in the
//! cache), turns them into notices through [`Alerts`], and when the host
//! goes away says so and tries again with backoff. The desktop shell only
//! shows what it is handed.
//!
//! [`HostSession::watch`]: crate::desk::HostSession::watch

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdesk_spawner::AppEvent;

use crate::alerts::{Alerts, Notice};
use crate::desk::Desk;
use crate::error::DeskError;

/// What the watcher saw.
#[derive(Debug, Clone)]
pub enum WatchUpdate {
    /// The tunnel is open and events flow.
    Connected,
    /// The host cannot be reached (or the tunnel dropped); retrying.
    Offline { reason: String },
    /// An app's status changed (already recorded in the cache).
    Changed { event: AppEvent, status: String },
    /// Something to notify the user of.
    Notice(Notice),
}

const FIRST_RETRY: Duration = Duration::from_secs(1);
const LONGEST_RETRY: Duration = Duration::from_secs(30);

/// The wait after `previous`: doubled, at most [`LONGEST_RETRY`].
fn next_retry(previous: Duration) -> Duration {
    (previous * 2).min(LONGEST_RETRY)
}

/// Watches `host` until it is removed from the cache (then returns the
/// unknown-host error) or the future is dropped.
pub async fn watch_host(
    desk: &Desk,
    host: &str,
    alerts: &Mutex<Alerts>,
    on_update: &(dyn Fn(WatchUpdate) + Send + Sync),
) -> DeskError {
    let mut retry = FIRST_RETRY;
    loop {
        let outcome = match desk.session(host).await {
            Ok(session) => {
                on_update(WatchUpdate::Connected);
                retry = FIRST_RETRY;
                let on_event = |event: &AppEvent, status: &str| {
                    let notice = alerts
                        .lock()
                        .ok()
                        .and_then(|mut a| a.on_event(host, event, Instant::now()));
                    on_update(WatchUpdate::Changed {
                        event: event.clone(),
                        status: status.to_owned(),
                    });
                    if let Some(notice) = notice {
                        on_update(WatchUpdate::Notice(notice));
                    }
                };
                let watched = session.watch(&on_event).await;
                session.close().await;
                watched
            }
            Err(e) => Err(e),
        };
        let reason = match outcome {
            Err(e @ DeskError::UnknownHost(_)) => return e,
            Err(e) => crate::sentence(&e),
            Ok(()) => "the host's event stream ended".to_owned(),
        };
        on_update(WatchUpdate::Offline { reason });
        tokio::time::sleep(retry).await;
        retry = next_retry(retry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_a_ceiling() {
        let mut waits = vec![FIRST_RETRY];
        for _ in 0..7 {
            waits.push(next_retry(*waits.last().unwrap()));
        }
        let secs: Vec<u64> = waits.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 30, 30, 30]);
    }

    #[tokio::test]
    async fn a_removed_host_ends_the_watch() {
        let dir = tempfile::tempdir().unwrap();
        let desk = Desk::open(dir.path()).await.unwrap();
        let alerts = Mutex::new(Alerts::default());
        let seen = Mutex::new(Vec::new());
        let end = watch_host(&desk, "gone", &alerts, &|u| {
            seen.lock().unwrap().push(format!("{u:?}"))
        })
        .await;
        assert!(
            matches!(end, DeskError::UnknownHost(ref h) if h == "gone"),
            "{end}"
        );
        assert!(seen.lock().unwrap().is_empty());
    }
}
