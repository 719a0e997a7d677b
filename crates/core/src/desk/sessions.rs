//! The session pool: one live connection per host, shared by everything
//! the process does on that host (window commands, the monitor, log
//! follows, charts, the settings form; the CLI's one action). The first
//! connection to a host is opened by the caller, so a failure is that
//! attempt's own error; from then on a [`Supervised`] actor keeps it,
//! checks it without starting a process and re-opens it when it drops.
//!
//! A caller gets the live connection, or waits (at most [`RECONNECT_WAIT`])
//! while it is being re-opened, or gets a sentence; never a hang. A master
//! found dead at the moment of use is re-opened at once rather than at the
//! next health check. [`SessionPool::shutdown`] closes every connection;
//! what a killed process leaves ends with its master's lease.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Mutex as AsyncMutex;
use tokio::time::{Instant, timeout_at};

use crate::error::DeskError;
use crate::host::{
    ConnectOptions, Connection, ConnectionState, HostError, HostTarget, Supervised,
    SupervisedHandle,
};
use crate::store::Store;

/// How long a caller waits for a connection being re-opened.
pub const RECONNECT_WAIT: Duration = Duration::from_secs(20);

/// What the pool keeps of one host.
struct Live {
    handle: SupervisedHandle,
    /// The private directory the connections are made in; it goes with them.
    _runtime: tempfile::TempDir,
}

/// A newly opened connection and what the supervisor needs to re-open it.
pub(crate) struct Opened {
    pub connection: Connection,
    pub target: HostTarget,
    pub options: ConnectOptions,
    pub runtime: tempfile::TempDir,
}

/// One supervised connection per host name.
#[derive(Default)]
pub(crate) struct SessionPool {
    hosts: Mutex<HashMap<String, Arc<AsyncMutex<Option<Live>>>>>,
}

impl SessionPool {
    /// The live connection to `host`: the pool's, re-opened first when its
    /// master is gone, or a new one from `open`. Callers for one host queue
    /// behind one opening, so a host is never connected twice.
    pub async fn connection(
        &self,
        host: &str,
        store: &Store,
        open: impl AsyncFnOnce() -> Result<Opened, DeskError>,
    ) -> Result<Arc<Connection>, DeskError> {
        let slot = self.slot(host);
        let mut live = slot.lock().await;
        if let Some(kept) = live.as_ref() {
            match reuse(host, &kept.handle).await {
                Reuse::Ready(connection) => return Ok(connection),
                Reuse::NotBack(error) => return Err(error),
                Reuse::Replace => {
                    if let Some(old) = live.take() {
                        old.handle.shutdown().await;
                    }
                }
            }
        }
        let opened = open().await?;
        let handle = Supervised::adopt(
            opened.connection,
            opened.target,
            opened.options,
            store.clone(),
        );
        let connection = handle.connection().ok_or_else(|| HostError::Disconnected {
            host: host.to_owned(),
            reason: "it closed as soon as it opened".to_owned(),
        })?;
        *live = Some(Live {
            handle,
            _runtime: opened.runtime,
        });
        Ok(connection)
    }

    /// Closes `host`'s connection, if the pool has one (the host was
    /// removed, or its key re-pinned).
    pub async fn forget(&self, host: &str) {
        let slot = self.hosts.lock().ok().and_then(|mut h| h.remove(host));
        if let Some(slot) = slot
            && let Some(live) = slot.lock().await.take()
        {
            live.handle.shutdown().await;
        }
    }

    /// Closes every connection, waiting until each master is gone.
    pub async fn shutdown(&self) {
        let hosts: Vec<String> = match self.hosts.lock() {
            Ok(hosts) => hosts.keys().cloned().collect(),
            Err(_) => return,
        };
        for host in hosts {
            self.forget(&host).await;
        }
    }

    fn slot(&self, host: &str) -> Arc<AsyncMutex<Option<Live>>> {
        let mut hosts = match self.hosts.lock() {
            Ok(hosts) => hosts,
            Err(poisoned) => poisoned.into_inner(),
        };
        hosts.entry(host.to_owned()).or_default().clone()
    }
}

/// What to do with a kept connection.
enum Reuse {
    Ready(Arc<Connection>),
    /// It is being re-opened and did not come back in time.
    NotBack(DeskError),
    /// It stopped (it needs the user, or was closed): open a new one, whose
    /// own error says what is wrong.
    Replace,
}

async fn reuse(host: &str, handle: &SupervisedHandle) -> Reuse {
    let deadline = Instant::now() + RECONNECT_WAIT;
    if let Some(connection) = handle.connection() {
        if connection.master_alive().await {
            return Reuse::Ready(connection);
        }
        handle.reconnect();
        let dead = Arc::downgrade(&connection);
        drop(connection);
        // Until the actor has let go of the dead connection.
        let mut states = handle.watch();
        while handle
            .connection()
            .is_some_and(|c| dead.upgrade().is_some_and(|d| Arc::ptr_eq(&c, &d)))
        {
            if !matches!(timeout_at(deadline, states.changed()).await, Ok(Ok(()))) {
                break;
            }
        }
    }
    match handle
        .wait_connected(deadline.saturating_duration_since(Instant::now()))
        .await
    {
        Ok(connection) => Reuse::Ready(connection),
        Err(ConnectionState::Failed { .. } | ConnectionState::Closed) => Reuse::Replace,
        Err(state) => {
            let why = match state {
                ConnectionState::Reconnecting { last_error, .. } => last_error,
                _ => "it is still being opened".to_owned(),
            };
            Reuse::NotBack(DeskError::Host(HostError::Disconnected {
                host: host.to_owned(),
                reason: format!(
                    "it was lost and is not back after {} s ({why}); it keeps trying",
                    RECONNECT_WAIT.as_secs()
                ),
            }))
        }
    }
}
