//! [`HostSession`]: a host's connection and the spawner over it, from the
//! pool ([`super::sessions`]) or, for adding, bootstrapping and re-pinning
//! a host, of its own; how the desk gets one, and what a session checks.

use std::sync::Arc;
use std::time::Instant;

use rdesk_spawner::{
    AppState, DockerConfig, DockerSpawner, SpawnError, Spawner, SwarmNode, SwarmSpawner,
    TokenKeeper,
};
use serde::Serialize;

use super::hosts::public_host;
use super::{CERT_RESOLVER, Desk, NETWORK, sessions};
use crate::bootstrap;
use crate::error::DeskError;
use crate::host::{ConnectOptions, Connection, HostTarget};
use crate::monitor;
use crate::paths;
use crate::secrets::askpass::AskpassEnv;
use crate::store::{HostRecord, Store};

/// The result of checking a host.
#[derive(Debug, Clone, Serialize)]
pub struct HostCheck {
    pub host: String,
    pub host_key_fingerprint: Option<String>,
    pub docker_version: String,
    pub r_versions: Vec<String>,
    pub round_trip_ms: f64,
}

impl Desk {
    /// The host's session from the pool: its live connection, re-opened
    /// when it was lost, or a new one.
    pub(super) async fn connect(&self, record: &HostRecord) -> Result<HostSession, DeskError> {
        let connection = self.pooled(record).await?;
        let mut session = self.session_over(record, connection, None);
        let workers = self.store.cluster_nodes(&record.name).await?;
        if !workers.is_empty() {
            let mut nodes = Vec::new();
            for name in workers {
                let worker = self.host(&name).await?;
                // A lost worker is left out: the swarm moves its tasks, and
                // the others still build, list and answer.
                match self.pooled(&worker).await {
                    Ok(connection) => nodes.push((name, connection)),
                    Err(e) => tracing::warn!(
                        node = name,
                        "left out of the session of cluster {}: {e}",
                        record.name
                    ),
                }
            }
            session.spawner = HostSpawner::Swarm(self.swarm_over(record, &session, &nodes));
            session.workers = nodes;
        }
        Ok(session)
    }

    /// The host's live connection from the pool (each worker of a cluster
    /// has its own there too).
    async fn pooled(&self, record: &HostRecord) -> Result<Arc<Connection>, DeskError> {
        self.sessions
            .connection(&record.name, &self.store, async || {
                self.open_connection(record, None, true).await
            })
            .await
    }

    /// A cluster's spawner: each app's service on a network of its own
    /// that the manager's Traefik joins, builds on every node (`session` is
    /// the manager's).
    fn swarm_over(
        &self,
        record: &HostRecord,
        session: &HostSession,
        workers: &[(String, Arc<Connection>)],
    ) -> SwarmSpawner {
        let config = self.docker_config(record, NETWORK);
        let node = |name: &str, connection: &Connection| SwarmNode {
            name: name.to_owned(),
            docker: connection.docker(),
        };
        SwarmSpawner::new(
            node(&record.name, &session.connection),
            workers.iter().map(|(n, c)| node(n, c)).collect(),
            config,
            bootstrap::TRAEFIK_CONTAINER,
        )
    }

    /// A session of its own, outside the pool, closed by its user: with
    /// `repin`, a new host key with that fingerprint replaces the pin;
    /// without `require_docker`, a host without Docker is fine (adding and
    /// bootstrapping a host).
    pub(super) async fn connect_with(
        &self,
        record: &HostRecord,
        repin: Option<&str>,
        require_docker: bool,
    ) -> Result<HostSession, DeskError> {
        let opened = self.open_connection(record, repin, require_docker).await?;
        Ok(self.session_over(record, Arc::new(opened.connection), Some(opened.runtime)))
    }

    /// Opens a connection to the host in a new private directory.
    async fn open_connection(
        &self,
        record: &HostRecord,
        repin: Option<&str>,
        require_docker: bool,
    ) -> Result<sessions::Opened, DeskError> {
        let runtime = paths::private_runtime_dir().map_err(|source| DeskError::Io {
            what: "creating a private directory for the host's socket".to_owned(),
            source,
        })?;
        let target = HostTarget::from_record(record)?;
        let mut options = ConnectOptions::new(runtime.path().to_owned());
        options.require_docker = require_docker;
        if !self.store.secret_kinds(&record.name).await?.is_empty() {
            options.askpass = Some(
                AskpassEnv::locate(&record.name)
                    .ok_or_else(|| DeskError::AskpassMissing(record.name.clone()))?,
            );
        }
        let connection = match repin {
            None => Connection::open(&record.name, target.clone(), &options, &self.store).await?,
            Some(fp) => {
                Connection::repin(&record.name, target.clone(), &options, &self.store, fp).await?
            }
        };
        Ok(sessions::Opened {
            connection,
            target,
            options,
            runtime,
        })
    }

    /// How the host's apps run: on `network`, built on its build network,
    /// routed under its public name.
    fn docker_config(&self, record: &HostRecord, network: &str) -> DockerConfig {
        let mut config = DockerConfig::new(network);
        config.build_network = Some(bootstrap::BUILD_NETWORK.to_owned());
        config.public_host = public_host(&record.public_url);
        // Hosts served over https were bootstrapped with Let's Encrypt.
        if record.public_url.starts_with("https://") {
            config.cert_resolver = Some(CERT_RESOLVER.to_owned());
        }
        config
    }

    /// The spawner over `connection`, configured for the host.
    fn session_over(
        &self,
        record: &HostRecord,
        connection: Arc<Connection>,
        runtime: Option<tempfile::TempDir>,
    ) -> HostSession {
        let config = self.docker_config(record, NETWORK);
        let spawner = HostSpawner::Docker(DockerSpawner::new(connection.docker(), config));
        HostSession {
            record: record.clone(),
            connection,
            workers: Vec::new(),
            spawner,
            store: self.store.clone(),
            _runtime: runtime,
        }
    }

    /// Opens the host's tunnel for a series of operations on its apps
    /// (refused for a cluster's worker: its apps are the cluster's).
    pub async fn session(&self, host: &str) -> Result<HostSession, DeskError> {
        let record = self.host(host).await?;
        self.refuse_worker(host).await?;
        self.connect(&record).await
    }

    /// Checks the host itself (a cluster's worker too): its Docker, R
    /// versions and round trip.
    pub async fn check_host(&self, host: &str) -> Result<HostCheck, DeskError> {
        let record = self.host(host).await?;
        let session = self.connect(&record).await?;
        let checked = session.check().await;
        session.close().await;
        checked
    }

    /// Runs `op` in the session of `host`: what each shell's one-shot
    /// commands do.
    pub async fn with_session<T, E: From<DeskError>>(
        &self,
        host: &str,
        op: impl AsyncFnOnce(&HostSession) -> Result<T, E>,
    ) -> Result<T, E> {
        let session = self.session(host).await?;
        let result = op(&session).await;
        session.close().await;
        result
    }
}

/// The spawner a host has: one Docker Engine's, or a cluster's swarm's.
pub(crate) enum HostSpawner {
    Docker(DockerSpawner),
    Swarm(SwarmSpawner),
}

impl HostSpawner {
    /// Where this backend keeps an app's tokens.
    pub(super) fn token_keeper(&self) -> &dyn TokenKeeper {
        match self {
            HostSpawner::Docker(one) => one,
            HostSpawner::Swarm(swarm) => swarm,
        }
    }
}

impl std::ops::Deref for HostSpawner {
    type Target = dyn Spawner;

    fn deref(&self) -> &(dyn Spawner + 'static) {
        match self {
            HostSpawner::Docker(one) => one,
            HostSpawner::Swarm(swarm) => swarm,
        }
    }
}

/// A host's connection and the spawner over it: the pool's shared one, or
/// (adding, bootstrapping, re-pinning a host) one of its own, in its own
/// private directory, that [`HostSession::close`] closes.
pub struct HostSession {
    pub(super) record: HostRecord,
    pub(super) connection: Arc<Connection>,
    /// A cluster's workers' connections (from the pool) by node name, kept
    /// open while its spawner uses them.
    pub(super) workers: Vec<(String, Arc<Connection>)>,
    pub(super) spawner: HostSpawner,
    pub(super) store: Store,
    _runtime: Option<tempfile::TempDir>,
}

impl HostSession {
    pub fn host(&self) -> &HostRecord {
        &self.record
    }

    /// Done with the session. A connection of its own is closed, leaving
    /// no ssh process behind (a failure to close gently is logged: the
    /// operation itself is done by then); the pool's stays open for the
    /// next operation.
    pub async fn close(self) {
        if let Ok(connection) = Arc::try_unwrap(self.connection)
            && let Err(e) = connection.close().await
        {
            tracing::warn!("closing the connection to {}: {e}", self.record.name);
        }
    }

    /// The host's memory in bytes, as its Docker reports it.
    pub async fn memory_total(&self) -> Result<u64, DeskError> {
        self.spawner
            .host_memory_bytes()
            .await
            .map_err(DeskError::spawn(self.name()))
    }

    pub(super) fn name(&self) -> &str {
        &self.record.name
    }

    /// Checks the connection and what the host offers.
    async fn check(&self) -> Result<HostCheck, DeskError> {
        let docker = self.connection.docker();
        let started = Instant::now();
        docker
            .list_containers(None::<bollard::query_parameters::ListContainersOptions>)
            .await
            .map_err(|e| {
                DeskError::spawn(self.name())(SpawnError::Docker {
                    action: "list containers".to_owned(),
                    source: e,
                })
            })?;
        let round_trip_ms = started.elapsed().as_secs_f64() * 1000.0;
        let version = docker.version().await.map_err(|e| {
            DeskError::spawn(self.name())(SpawnError::Docker {
                action: "report its version".to_owned(),
                source: e,
            })
        })?;
        Ok(HostCheck {
            host: self.record.name.clone(),
            host_key_fingerprint: self.connection.host_key_fingerprint().map(str::to_owned),
            docker_version: version.version.unwrap_or_default(),
            r_versions: self.r_versions().await?,
            round_trip_ms,
        })
    }

    pub(super) async fn r_versions(&self) -> Result<Vec<String>, DeskError> {
        match &self.spawner {
            HostSpawner::Docker(one) => one.r_versions().await,
            HostSpawner::Swarm(swarm) => swarm.r_versions().await,
        }
        .map_err(DeskError::spawn(self.name()))
    }

    pub(crate) fn spawner(&self) -> &dyn Spawner {
        &*self.spawner
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.connection
    }
}

impl monitor::SessionSource for Desk {
    type Session = HostSession;

    fn session(&self, host: &str) -> impl Future<Output = Result<HostSession, DeskError>> + Send {
        Desk::session(self, host)
    }
}

impl monitor::HostLink for HostSession {
    fn spawner(&self) -> &dyn Spawner {
        &*self.spawner
    }

    fn connection(&self) -> &Connection {
        &self.connection
    }

    fn refresh_apps(&self) -> impl Future<Output = Result<Vec<AppState>, DeskError>> + Send {
        self.refresh_apps_live()
    }
}
