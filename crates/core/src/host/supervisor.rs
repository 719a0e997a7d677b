//! [`Supervised`]: a host connection kept open for as long as its owner
//! (the session pool) wants it. An actor (one tokio task) owns the
//! [`Connection`], checks it every `health_interval` under `check_timeout`
//! (without starting a process), re-opens it when it drops (at once, then
//! with capped exponential backoff while opening fails), and publishes
//! [`ConnectionState`] and the current connection on `watch` channels. A
//! healthy master is never recycled: a dead master means re-open at once,
//! but Docker failing to answer while the master lives (a busy daemon
//! during a build) must happen three checks in a row first. Errors that
//! need the user (a changed host key, a refused login, a denied socket)
//! stop the retries in [`ConnectionState::Failed`] until
//! [`SupervisedHandle::reconnect`].

use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, sleep};

use super::{ConnectOptions, Connection, HostError, HostErrorKind, HostTarget};
use crate::store::{Store, now_ms};

/// Docker failing this many health checks in a row, with the master alive,
/// re-opens the connection.
const DOCKER_FAILURES_BEFORE_REOPEN: u32 = 3;

/// What a supervised connection is doing, for the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectionState {
    /// The first attempt is under way.
    Connecting,
    /// Open and healthy since this time (unix milliseconds).
    Connected { since: i64 },
    /// The connection failed or dropped; attempt `attempt` of re-opening
    /// is waiting for its backoff delay or under way.
    Reconnecting {
        attempt: u32,
        kind: HostErrorKind,
        last_error: String,
    },
    /// Retrying cannot help until the user acts; see
    /// [`SupervisedHandle::reconnect`].
    Failed { kind: HostErrorKind, error: String },
    /// Shut down; the connection is closed.
    Closed,
}

enum Command {
    Reconnect,
    Shutdown(oneshot::Sender<()>),
}

/// Spawns supervised connections.
pub struct Supervised;

impl Supervised {
    /// Starts the actor for host `name` on the current tokio runtime. It
    /// connects at once; watch [`SupervisedHandle::state`].
    pub fn spawn(
        name: impl Into<String>,
        target: HostTarget,
        options: ConnectOptions,
        store: Store,
    ) -> SupervisedHandle {
        Self::start(name.into(), target, options, store, None)
    }

    /// Starts the actor with a connection the caller has just opened (so
    /// the caller saw the first attempt's own error, if any); it is
    /// `Connected` from the start.
    pub fn adopt(
        connection: Connection,
        target: HostTarget,
        options: ConnectOptions,
        store: Store,
    ) -> SupervisedHandle {
        let name = connection.name().to_owned();
        Self::start(name, target, options, store, Some(connection))
    }

    fn start(
        name: String,
        target: HostTarget,
        options: ConnectOptions,
        store: Store,
        opened: Option<Connection>,
    ) -> SupervisedHandle {
        let name: Arc<str> = Arc::from(name);
        let first = match &opened {
            Some(_) => ConnectionState::Connected { since: now_ms() },
            None => ConnectionState::Connecting,
        };
        let opened = opened.map(Arc::new);
        let (state_tx, state) = watch::channel(first);
        let (connection_tx, connection) = watch::channel(opened.clone());
        let (commands_tx, commands) = mpsc::channel(8);
        let actor = Actor {
            name: name.clone(),
            target,
            options,
            store,
            state: state_tx,
            connection: connection_tx,
            commands,
        };
        tokio::spawn(actor.run(opened));
        SupervisedHandle {
            name,
            state,
            connection,
            commands: commands_tx,
        }
    }
}

/// A handle on a supervised connection. Cheap to clone; when the last one
/// is dropped, the actor closes the connection and ends.
#[derive(Debug, Clone)]
pub struct SupervisedHandle {
    name: Arc<str>,
    state: watch::Receiver<ConnectionState>,
    connection: watch::Receiver<Option<Arc<Connection>>>,
    commands: mpsc::Sender<Command>,
}

impl SupervisedHandle {
    /// The host's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The current state.
    pub fn state(&self) -> ConnectionState {
        self.state.borrow().clone()
    }

    /// A receiver of every state change, for the UI.
    pub fn watch(&self) -> watch::Receiver<ConnectionState> {
        self.state.clone()
    }

    /// The current connection, while connected.
    pub fn connection(&self) -> Option<Arc<Connection>> {
        self.connection.borrow().clone()
    }

    /// The Docker client of the current connection, while connected.
    pub fn docker(&self) -> Option<Docker> {
        self.connection().map(|c| c.docker())
    }

    /// Waits up to `within` for the connection to be up and returns it; on
    /// timeout, or once `Failed` or `Closed`, returns the state instead.
    pub async fn wait_connected(
        &self,
        within: Duration,
    ) -> Result<Arc<Connection>, ConnectionState> {
        let deadline = Instant::now() + within;
        let mut state = self.state.clone();
        loop {
            let current = state.borrow_and_update().clone();
            match current {
                ConnectionState::Connected { .. } => {
                    if let Some(connection) = self.connection() {
                        return Ok(connection);
                    }
                }
                ConnectionState::Failed { .. } | ConnectionState::Closed => return Err(current),
                _ => {}
            }
            match tokio::time::timeout_at(deadline, state.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return Err(self.state()),
            }
        }
    }

    /// Re-opens at once: skips a pending backoff delay, or leaves `Failed`
    /// (e.g. after the user re-pinned the key or fixed the docker group).
    /// While connected, checks the master now and re-opens if it is gone,
    /// instead of at the next health check.
    pub fn reconnect(&self) {
        let _ = self.commands.try_send(Command::Reconnect);
    }

    /// Closes the connection and ends the actor; returns once done. An
    /// attempt under way is finished first (it is bounded by the connect
    /// timeouts), so no half-started ssh process is left behind.
    pub async fn shutdown(&self) {
        let (reply, done) = oneshot::channel();
        if self.commands.send(Command::Shutdown(reply)).await.is_ok() {
            let _ = done.await;
        }
    }
}

struct Actor {
    name: Arc<str>,
    target: HostTarget,
    options: ConnectOptions,
    store: Store,
    state: watch::Sender<ConnectionState>,
    connection: watch::Sender<Option<Arc<Connection>>>,
    commands: mpsc::Receiver<Command>,
}

/// What ended a wait or a connected period.
enum Next {
    Retry,
    Stop(Option<oneshot::Sender<()>>),
}

impl Actor {
    async fn run(mut self, mut opened: Option<Arc<Connection>>) {
        let mut attempt: u32 = 0;
        let reply = loop {
            let result = match opened.take() {
                Some(connection) => Ok(connection),
                None => {
                    Connection::open(&self.name, self.target.clone(), &self.options, &self.store)
                        .await
                        .map(Arc::new)
                }
            };
            let delay = match result {
                Ok(connection) => {
                    tracing::info!(host = %self.name, "connected");
                    self.connection.send_replace(Some(connection.clone()));
                    if !matches!(*self.state.borrow(), ConnectionState::Connected { .. }) {
                        self.state
                            .send_replace(ConnectionState::Connected { since: now_ms() });
                    }
                    let outcome = self.serve(&connection).await;
                    self.connection.send_replace(None);
                    self.close(connection).await;
                    match outcome {
                        Err(reply) => break reply,
                        Ok(lost) => {
                            // A lost connection is re-opened at once; the
                            // backoff is for attempts that fail.
                            attempt = 1;
                            self.reconnecting(attempt, &lost);
                            Some(Duration::ZERO)
                        }
                    }
                }
                Err(e) if e.needs_user() => {
                    tracing::warn!(host = %self.name, error = %e, "connection failed; waiting for the user");
                    self.state.send_replace(ConnectionState::Failed {
                        kind: e.kind(),
                        error: e.to_string(),
                    });
                    None
                }
                Err(e) => {
                    attempt = attempt.saturating_add(1);
                    self.reconnecting(attempt, &e);
                    Some(self.options.backoff(attempt))
                }
            };
            match self.wait(delay).await {
                Next::Retry => {
                    if delay.is_none() {
                        attempt = 0;
                        self.state.send_replace(ConnectionState::Connecting);
                    }
                }
                Next::Stop(reply) => break reply,
            }
        };
        self.state.send_replace(ConnectionState::Closed);
        tracing::info!(host = %self.name, "supervisor stopped");
        if let Some(reply) = reply {
            let _ = reply.send(());
        }
    }

    /// Closes a connection nobody uses any more, gently; one still in use
    /// (an operation in flight holds it) closes when its last user drops it.
    async fn close(&self, connection: Arc<Connection>) {
        if let Ok(connection) = Arc::try_unwrap(connection)
            && let Err(e) = connection.close().await
        {
            tracing::warn!(host = %self.name, error = %e, "closing the connection");
        }
    }

    fn reconnecting(&self, attempt: u32, error: &HostError) {
        tracing::warn!(host = %self.name, attempt, error = %error, "connection lost or failed; retrying");
        self.state.send_replace(ConnectionState::Reconnecting {
            attempt,
            kind: error.kind(),
            last_error: error.to_string(),
        });
    }

    /// Waits `delay` (or, with `None`, until told), answering commands.
    async fn wait(&mut self, delay: Option<Duration>) -> Next {
        let command = match delay {
            Some(delay) => match tokio::time::timeout(delay, self.commands.recv()).await {
                Ok(command) => command,
                Err(_) => return Next::Retry,
            },
            None => self.commands.recv().await,
        };
        match command {
            Some(Command::Reconnect) => Next::Retry,
            Some(Command::Shutdown(reply)) => Next::Stop(Some(reply)),
            None => Next::Stop(None),
        }
    }

    /// Watches an open connection. `Ok` with the error that ended it, or
    /// `Err` when told to stop.
    async fn serve(&mut self, conn: &Connection) -> Result<HostError, Option<oneshot::Sender<()>>> {
        let mut docker_failures = 0;
        loop {
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown(reply)) => return Err(Some(reply)),
                    None => return Err(None),
                    Some(Command::Reconnect) => {
                        if let Err(gone) = conn.check_master().await {
                            return Ok(gone);
                        }
                    }
                },
                () = sleep(self.options.health_interval) => {
                    match conn.check(self.options.check_timeout).await {
                        Ok(()) => docker_failures = 0,
                        Err(e @ HostError::Disconnected { .. }) => return Ok(e),
                        Err(e) => {
                            docker_failures += 1;
                            tracing::warn!(host = %self.name, failures = docker_failures, error = %e, "health check failed");
                            if docker_failures >= DOCKER_FAILURES_BEFORE_REOPEN {
                                return Ok(e);
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast_options(dir: &std::path::Path) -> ConnectOptions {
        let mut o = ConnectOptions::new(dir);
        o.backoff_initial = Duration::from_millis(20);
        o.backoff_max = Duration::from_millis(80);
        o.health_interval = Duration::from_millis(50);
        o
    }

    #[tokio::test]
    async fn retries_with_backoff_then_shuts_down() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in_memory().await.unwrap();
        // Docker's socket is missing: worth retrying (it may be starting).
        let target = HostTarget::Local {
            socket: dir.path().join("docker.sock"),
        };
        let handle = Supervised::spawn("laptop", target, fast_options(dir.path()), store);
        let mut states = handle.watch();
        let mut seen = Vec::new();
        while seen.len() < 3 {
            tokio::time::timeout(Duration::from_secs(5), states.changed())
                .await
                .unwrap()
                .unwrap();
            if let ConnectionState::Reconnecting {
                attempt,
                kind,
                last_error,
            } = states.borrow_and_update().clone()
            {
                assert_eq!(kind, HostErrorKind::SocketMissing);
                assert!(last_error.contains("\"laptop\""), "{last_error}");
                seen.push(attempt);
            }
        }
        assert!(seen.windows(2).all(|w| w[1] > w[0]), "{seen:?}");
        assert!(handle.docker().is_none());
        assert!(matches!(
            handle.wait_connected(Duration::from_millis(10)).await,
            Err(ConnectionState::Reconnecting { .. })
        ));

        tokio::time::timeout(Duration::from_secs(5), handle.shutdown())
            .await
            .unwrap();
        assert_eq!(handle.state(), ConnectionState::Closed);
        // Shutting down twice is harmless.
        handle.shutdown().await;
    }

    #[tokio::test]
    async fn errors_that_need_the_user_stop_in_failed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in_memory().await.unwrap();
        let target = HostTarget::parse_ssh("root@127.0.0.1:1")
            .unwrap()
            .with_identity(dir.path().join("missing_key"));
        let handle = Supervised::spawn("vps1", target, fast_options(dir.path()), store);
        let state = handle
            .wait_connected(Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(
            matches!(&state, ConnectionState::Failed { kind: HostErrorKind::AuthFailed, error } if error.contains("missing_key")),
            "{state:?}"
        );
        // Asked to retry, it tries again and fails the same way.
        let mut states = handle.watch();
        states.borrow_and_update();
        handle.reconnect();
        loop {
            tokio::time::timeout(Duration::from_secs(5), states.changed())
                .await
                .unwrap()
                .unwrap();
            if matches!(*states.borrow_and_update(), ConnectionState::Failed { .. }) {
                break;
            }
        }
        drop(states);
        handle.shutdown().await;
        assert_eq!(handle.state(), ConnectionState::Closed);
    }

    #[test]
    fn states_serialize_for_the_ui() {
        let json = serde_json::to_string(&ConnectionState::Reconnecting {
            attempt: 2,
            kind: HostErrorKind::Unreachable,
            last_error: "x".into(),
        })
        .unwrap();
        assert_eq!(
            json,
            r#"{"state":"reconnecting","attempt":2,"kind":"unreachable","last_error":"x"}"#
        );
        assert_eq!(
            serde_json::to_string(&ConnectionState::Connected { since: 5 }).unwrap(),
            r#"{"state":"connected","since":5}"#
        );
    }
}
