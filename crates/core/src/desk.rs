//! The engine's front door: hosts, deploys and app operations as the desktop
//! shell and `rdesk` use them. It joins the pieces (store, host connection,
//! intake, spawner, QAP client) and records what happened in the cache; the
//! host's labels stay the source of truth.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::BoxStream;
use rdesk_spawner::{
    AppFile, AppSpec, AppState, DeployEvent, Deployed, DockerConfig, DockerSpawner, LogLine, Mode,
    PackageName, RVersion, Removed, RepoUrl, Slug, SpawnError, Spawner,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::app_settings::SettingsRequest;
use crate::bootstrap::{self, BootstrapOptions, BootstrapPlan, BootstrapReport, StepEvent};
use crate::error::DeskError;
use crate::host::{ConnectOptions, Connection, HostError, HostTarget, fingerprint_of};
use crate::intake::{self, Limits};
use crate::monitor;
use crate::paths;
use crate::secrets::askpass::AskpassEnv;
use crate::secrets::{Secret, SecretKind, SecretStore};
use crate::store::{
    AppRecord, BootstrapRecord, HostKind, HostRecord, NewDeployment, Store, now_ms,
};
use crate::switch::Switched;

mod access;
mod app_secrets;
mod cache_repair;
mod rollout;
mod sessions;

pub use sessions::RECONNECT_WAIT;

pub use access::{NewToken, TokenView};
pub use cache_repair::{CacheRepair, HostRebuilt};
pub use rollout::SwitchReport;

/// The Docker network apps join on every host (no traffic between its containers).
pub const NETWORK: &str = bootstrap::NETWORK;
/// Traefik's certificate resolver, as `remote-bootstrap/traefik.yml` names it.
const CERT_RESOLVER: &str = "letsencrypt";

/// How to reach a new host.
#[derive(Debug, Clone)]
pub struct NewHost {
    pub name: String,
    pub target: HostTarget,
    /// Where the host's Traefik answers; defaults to `http://HOST` for SSH hosts
    /// and `http://127.0.0.1` for the local Docker.
    pub public_url: Option<String>,
    /// An SSH password or key passphrase to keep in the OS keyring for it.
    pub secret: Option<(SecretKind, Secret)>,
    /// The fingerprint (`SHA256:...`) of the host key the user confirmed
    /// ([`Desk::host_key`]): only that key is accepted, before anything is
    /// sent to the host. Without it the first key seen is pinned.
    pub confirmed_fingerprint: Option<String>,
}

/// A host just added, with the fingerprint of the host key pinned on first contact.
#[derive(Debug, Clone, Serialize)]
pub struct AddedHost {
    pub record: HostRecord,
    pub host_key_fingerprint: Option<String>,
}

/// What the user asks to deploy.
#[derive(Debug, Clone, Default)]
pub struct DeployRequest {
    /// A folder, an archive, or `.R` files.
    pub paths: Vec<PathBuf>,
    /// Defaults to a slug made from the folder, archive or file name.
    pub slug: Option<String>,
    /// Defaults to the app's current version, else the newest on the host.
    pub r_version: Option<String>,
    /// Added to the packages detected in the code.
    pub packages: Vec<String>,
    /// Defaults to the app's current repository, else CRAN.
    pub repo: Option<String>,
    /// Defaults to the app's current mode, else OCAP.
    pub mode: Option<String>,
    /// Limits, replicas, domain, variables; what is left open stays as it is.
    pub settings: SettingsRequest,
}

/// What a deploy did, for the user.
#[derive(Debug, Clone, Serialize)]
pub struct DeployReport {
    pub host: String,
    pub slug: String,
    pub url: String,
    pub r_version: String,
    pub packages: Vec<String>,
    pub files: Vec<String>,
    pub deployed: Deployed,
    /// What the health-gated switch did: whether the router reached the new
    /// containers, and which old ones were retired.
    pub switched: Switched,
    /// Whether the app answered a QAP handshake at its URL before the deploy returned.
    pub answering: bool,
    pub duration_ms: i64,
}

/// The apps of a host: live from its labels, or the cached list when it cannot be reached.
#[derive(Debug, Clone, Serialize)]
pub struct AppsView {
    pub host: String,
    pub apps: Vec<AppRecord>,
    /// Why the host could not be reached, when it could not; `None` when the
    /// list was read from the host just now.
    pub offline_reason: Option<String>,
}

/// The result of checking a host.
#[derive(Debug, Clone, Serialize)]
pub struct HostCheck {
    pub host: String,
    pub host_key_fingerprint: Option<String>,
    pub docker_version: String,
    pub r_versions: Vec<String>,
    pub round_trip_ms: f64,
}

/// The engine, over one data directory, with one live session per host.
pub struct Desk {
    store: Store,
    sessions: sessions::SessionPool,
}

impl Desk {
    /// Opens (creating if needed) the cache in `data_dir`, after cleaning up
    /// what killed runs left (ssh masters still logged in to a host).
    pub async fn open(data_dir: &Path) -> Result<Self, DeskError> {
        crate::host::reap_abandoned(&paths::runtime_base()).await;
        let store = Store::open(paths::database(data_dir)).await?;
        Ok(Self::over(store))
    }

    fn over(store: Store) -> Self {
        Self {
            store,
            sessions: sessions::SessionPool::default(),
        }
    }

    /// Closes every host's session, waiting until its ssh master is gone:
    /// what a shell does last.
    pub async fn shutdown(&self) {
        self.sessions.shutdown().await;
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Adds a host after connecting to it once, which pins its host key.
    /// A secret given with it goes to the OS keyring first, so ssh can ask
    /// for it. Nothing is kept, in the store or the keyring, if the host
    /// cannot be reached or refuses the login. A VPS without Docker yet is
    /// fine: the bootstrap installs it.
    pub async fn add_host(&self, new: NewHost) -> Result<AddedHost, DeskError> {
        validate_host_name(&new.name)?;
        let public_url = match new.public_url {
            Some(url) => validate_public_url(&url)?,
            None => default_public_url(&new.target),
        };
        let record = host_record(&new.name, &new.target, &public_url)?;
        let confirmed_key = match (&new.confirmed_fingerprint, &new.secret) {
            (Some(fp), _) => confirmed_key(&new.name, &new.target, fp).await?,
            // Trust on first use only for key authentication.
            (None, Some((kind, _))) if matches!(new.target, HostTarget::Ssh { .. }) => {
                return Err(DeskError::SecretNeedsConfirmedKey {
                    host: new.name,
                    kind: *kind,
                });
            }
            (None, _) => None,
        };
        self.store.add_host(record.clone()).await?;
        let connected = async {
            if let Some(line) = &confirmed_key {
                self.store.pin_host_key(&new.name, line).await?;
            }
            if let Some((kind, secret)) = &new.secret {
                self.keep_secret(&new.name, *kind, secret).await?;
            }
            self.connect_with(&record, None, false).await
        }
        .await;
        match connected {
            Ok(session) => {
                let host_key_fingerprint =
                    session.connection.host_key_fingerprint().map(str::to_owned);
                session.close().await;
                Ok(AddedHost {
                    record,
                    host_key_fingerprint,
                })
            }
            Err(e) => {
                if let Err(cleanup) = self.remove_host(&new.name).await {
                    tracing::warn!("undoing the half-added host {}: {cleanup}", new.name);
                }
                Err(match (e, &new.secret) {
                    (
                        DeskError::Host(HostError::SecretRefused { host, reason }),
                        Some((kind, _)),
                    ) => DeskError::SecretRefusedOnAdd {
                        host,
                        kind: *kind,
                        reason,
                    },
                    (e, _) => e,
                })
            }
        }
    }

    /// The fingerprint of the key an SSH host offers now, learned without
    /// logging in, for the user to confirm before adding it; `None` for
    /// this machine's Docker.
    pub async fn host_key(
        &self,
        name: &str,
        target: &HostTarget,
    ) -> Result<Option<String>, DeskError> {
        Ok(offered_key(name, target)
            .await?
            .and_then(|l| fingerprint_of(&l)))
    }

    /// Keeps `secret` in the OS keyring as the host's SSH password or key
    /// passphrase (replacing one kept before) and notes that it is there.
    /// `confirmed_fingerprint` is the pinned key's fingerprint as the user
    /// confirmed it ([`Desk::pinned_fingerprint`]): the pin may date from a
    /// key login that nobody checked, and the secret goes only to that key.
    pub async fn set_secret(
        &self,
        host: &str,
        kind: SecretKind,
        secret: &Secret,
        confirmed_fingerprint: &str,
    ) -> Result<(), DeskError> {
        self.host(host).await?;
        match self.pinned_fingerprint(host).await? {
            Some(pinned) if pinned == confirmed_fingerprint.trim() => {}
            pinned => {
                return Err(DeskError::HostKeyNotConfirmed {
                    host: host.to_owned(),
                    confirmed: confirmed_fingerprint.trim().to_owned(),
                    offered: pinned.unwrap_or_else(|| "not pinned".to_owned()),
                });
            }
        }
        self.keep_secret(host, kind, secret).await
    }

    /// The fingerprint (`SHA256:...`) of the host key pinned for `host`, if any.
    pub async fn pinned_fingerprint(&self, host: &str) -> Result<Option<String>, DeskError> {
        Ok(self
            .store
            .pinned_host_key(host)
            .await?
            .and_then(|line| fingerprint_of(&line)))
    }

    async fn keep_secret(
        &self,
        host: &str,
        kind: SecretKind,
        secret: &Secret,
    ) -> Result<(), DeskError> {
        let keyring = |source| DeskError::Secret {
            host: host.to_owned(),
            source,
        };
        SecretStore::open()
            .and_then(|keyring| keyring.set(host, kind, secret))
            .map_err(keyring)?;
        self.store.note_secret(host, kind).await?;
        Ok(())
    }

    pub async fn hosts(&self) -> Result<Vec<HostRecord>, DeskError> {
        Ok(self.store.hosts().await?)
    }

    /// Forgets a host, its cached apps and history, and the secrets kept for
    /// it in the keyring; nothing on the host changes. When the keyring
    /// cannot delete them, the host stays, so no secret is left unaccounted for.
    pub async fn remove_host(&self, name: &str) -> Result<(), DeskError> {
        if !self.store.secret_kinds(name).await?.is_empty() {
            SecretStore::open()
                .and_then(|keyring| keyring.delete_all_for_host(name))
                .map_err(|source| DeskError::Secret {
                    host: name.to_owned(),
                    source,
                })?;
        }
        self.sessions.forget(name).await;
        if self.store.remove_host(name).await? {
            Ok(())
        } else {
            Err(DeskError::UnknownHost(name.to_owned()))
        }
    }

    pub async fn host(&self, name: &str) -> Result<HostRecord, DeskError> {
        self.store
            .host(name)
            .await?
            .ok_or_else(|| DeskError::UnknownHost(name.to_owned()))
    }

    /// Accepts a host's new key after the user has checked its fingerprint
    /// (`SHA256:...`) on the server itself; any other key is still refused.
    pub async fn repin_host(&self, name: &str, fingerprint: &str) -> Result<String, DeskError> {
        let record = self.host(name).await?;
        self.sessions.forget(name).await;
        let session = self.connect_with(&record, Some(fingerprint), true).await?;
        let pinned = session
            .connection
            .host_key_fingerprint()
            .unwrap_or(fingerprint)
            .to_owned();
        session.close().await;
        Ok(pinned)
    }

    /// The host's session from the pool: its live connection, re-opened
    /// when it was lost, or a new one.
    async fn connect(&self, record: &HostRecord) -> Result<HostSession, DeskError> {
        let connection = self
            .sessions
            .connection(&record.name, &self.store, async || {
                self.open_connection(record, None, true).await
            })
            .await?;
        Ok(self.session_over(record, connection, None))
    }

    /// What a bootstrap of the host would do, changing nothing. The host may
    /// have no Docker yet.
    pub async fn bootstrap_plan(
        &self,
        host: &str,
        options: &BootstrapOptions,
    ) -> Result<BootstrapPlan, DeskError> {
        let record = self.host(host).await?;
        let session = self.connect_with(&record, None, false).await?;
        let plan = bootstrap::plan(&session.connection, options).await;
        session.close().await;
        Ok(plan?)
    }

    /// Bootstraps the host: each step checks first and is skipped when done,
    /// so this can run again at any time, also after an interruption. With
    /// `send_images`, the images the host cannot pull (Traefik's, a ready-made
    /// `rserve-base:<R>` or else its base) are sent from this workstation's
    /// Docker (the local socket) through the tunnel.
    pub async fn bootstrap(
        &self,
        host: &str,
        options: &BootstrapOptions,
        send_images: bool,
        progress: &(dyn Fn(StepEvent) + Send + Sync),
    ) -> Result<BootstrapReport, DeskError> {
        let record = self.host(host).await?;
        let started_at = now_ms();
        let clock = Instant::now();
        let events = std::sync::Mutex::new(Vec::new());
        let recording = |event: StepEvent| {
            if let Ok(mut events) = events.lock() {
                events.push(event.clone());
            }
            progress(event);
        };
        let outcome = match self.connect_with(&record, None, false).await {
            Ok(session) => {
                let report = if send_images {
                    match self.workstation_docker().await {
                        Ok(here) => bootstrap::run_sending_images(
                            &session.connection,
                            options,
                            &here,
                            &recording,
                        )
                        .await
                        .map_err(DeskError::from),
                        Err(e) => Err(e),
                    }
                } else {
                    bootstrap::run(&session.connection, options, &recording)
                        .await
                        .map_err(DeskError::from)
                };
                session.close().await;
                report
            }
            Err(e) => Err(e),
        };
        let steps = events.into_inner().unwrap_or_default();
        self.store
            .record_bootstrap(&BootstrapRecord {
                host: host.to_owned(),
                started_at,
                duration_ms: clock.elapsed().as_millis() as i64,
                outcome: if outcome.is_ok() { "ok" } else { "failed" }.to_owned(),
                message: outcome.as_ref().err().map(ToString::to_string),
                steps: serde_json::to_value(&steps).unwrap_or_default(),
            })
            .await?;
        outcome
    }

    /// This workstation's own Docker, where images are sent from.
    async fn workstation_docker(&self) -> Result<bollard::Docker, DeskError> {
        let target = HostTarget::Local {
            socket: crate::host::DEFAULT_DOCKER_SOCKET.into(),
        };
        let options = ConnectOptions::new(std::env::temp_dir());
        let local = Connection::open("this workstation", target, &options, &self.store).await?;
        Ok(local.docker())
    }

    /// A session of its own, outside the pool, closed by its user: with
    /// `repin`, a new host key with that fingerprint replaces the pin;
    /// without `require_docker`, a host without Docker is fine (adding and
    /// bootstrapping a host).
    async fn connect_with(
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

    /// The spawner over `connection`, configured for the host.
    fn session_over(
        &self,
        record: &HostRecord,
        connection: Arc<Connection>,
        runtime: Option<tempfile::TempDir>,
    ) -> HostSession {
        let mut config = DockerConfig::new(NETWORK);
        config.build_network = Some(bootstrap::BUILD_NETWORK.to_owned());
        config.public_host = public_host(&record.public_url);
        // Hosts served over https were bootstrapped with Let's Encrypt.
        if record.public_url.starts_with("https://") {
            config.cert_resolver = Some(CERT_RESOLVER.to_owned());
        }
        let spawner = DockerSpawner::new(connection.docker(), config);
        HostSession {
            record: record.clone(),
            connection,
            spawner,
            store: self.store.clone(),
            _runtime: runtime,
        }
    }

    /// Opens the host's tunnel for a series of operations.
    pub async fn session(&self, host: &str) -> Result<HostSession, DeskError> {
        let record = self.host(host).await?;
        self.connect(&record).await
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

    /// The host's apps, rebuilding the cache from its labels; the cached list
    /// (marked not live) when the host cannot be reached.
    pub async fn apps(&self, host: &str) -> Result<AppsView, DeskError> {
        let record = self.host(host).await?;
        match self.connect(&record).await {
            Ok(session) => {
                let result = session.refresh_apps().await;
                session.close().await;
                Ok(AppsView {
                    host: host.to_owned(),
                    apps: result?,
                    offline_reason: None,
                })
            }
            Err(DeskError::Host(e)) => Ok(AppsView {
                host: host.to_owned(),
                apps: self.store.apps(host).await?,
                offline_reason: Some(e.to_string()),
            }),
            Err(e) => Err(e),
        }
    }

    /// Calls a function of an app through the host's Traefik over WebSocket,
    /// as a browser would, with this workstation's token for the app.
    pub async fn call(
        &self,
        host: &str,
        slug: &str,
        function: &str,
        args: &[serde_json::Value],
    ) -> Result<serde_json::Value, DeskError> {
        self.call_with(host, slug, function, args, None).await
    }

    /// [`Desk::call`] with `token` when given; else with this workstation's
    /// token from the keyring, and when the app refuses that (or there is
    /// none), with a new one made through the host's session (kept in the
    /// keyring; without a keyring made for this call and revoked after it).
    pub async fn call_with(
        &self,
        host: &str,
        slug: &str,
        function: &str,
        args: &[serde_json::Value],
        token: Option<Secret>,
    ) -> Result<serde_json::Value, DeskError> {
        let record = self.host(host).await?;
        let slug = Slug::parse(slug)?;
        let url = websocket_url(&record.public_url, &slug);
        let call_error = |source| DeskError::Call {
            slug: slug.to_string(),
            function: function.to_owned(),
            url: url.clone(),
            source: Box::new(source),
        };
        let explicit = token.is_some();
        let token = match token {
            Some(t) => Some(t),
            None => self.stored_token(host, &slug).await,
        };
        match call_once(&url, function, args, token.as_ref()).await {
            Err(rserve_qap::Error::AccessRefused { .. }) if !explicit => {}
            other => return other.map_err(call_error),
        }
        let fresh = self.new_workstation_token(host, &slug).await?;
        let result = call_once(&url, function, args, Some(&fresh.token))
            .await
            .map_err(call_error);
        if let Some(id) = fresh.one_call_id {
            self.revoke_token(host, slug.as_str(), &id).await?;
        }
        result
    }
}

/// One connection, one call, with `token` if any.
async fn call_once(
    url: &str,
    function: &str,
    args: &[serde_json::Value],
    token: Option<&Secret>,
) -> Result<serde_json::Value, rserve_qap::Error> {
    let options = rserve_qap::ClientOptions {
        token: token.map(|t| rserve_qap::AccessToken::new(t.expose())),
        ..rserve_qap::ClientOptions::default()
    };
    let mut client = rserve_qap::Client::connect_ws_with(url, options).await?;
    let result = client.call_json(function, args).await;
    client.close().await;
    result
}

/// A host's connection and the spawner over it: the pool's shared one, or
/// (adding, bootstrapping, re-pinning a host) one of its own, in its own
/// private directory, that [`HostSession::close`] closes.
pub struct HostSession {
    record: HostRecord,
    connection: Arc<Connection>,
    spawner: DockerSpawner,
    store: Store,
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

    fn name(&self) -> &str {
        &self.record.name
    }

    /// Checks the connection and what the host offers.
    pub async fn check(&self) -> Result<HostCheck, DeskError> {
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

    async fn r_versions(&self) -> Result<Vec<String>, DeskError> {
        self.spawner
            .r_versions()
            .await
            .map_err(DeskError::spawn(self.name()))
    }

    /// Rebuilds the cached app list of this host from its containers' labels.
    pub async fn refresh_apps(&self) -> Result<Vec<AppRecord>, DeskError> {
        Ok(self.refresh().await?.1)
    }

    /// [`HostSession::refresh_apps`], returning what the host listed.
    pub(crate) async fn refresh_apps_live(&self) -> Result<Vec<AppState>, DeskError> {
        Ok(self.refresh().await?.0)
    }

    /// Lists the apps and caches them. A status is recorded only where the
    /// listing disagrees with the last one recorded ([`monitor::agrees`]), so
    /// a listing never invents a change; the status cached is the one to
    /// show ([`monitor::shown`]), so an app that crashed and stayed down is
    /// not taken for one that was stopped.
    async fn refresh(&self) -> Result<(Vec<AppState>, Vec<AppRecord>), DeskError> {
        let live = self
            .spawner
            .list()
            .await
            .map_err(DeskError::spawn(self.name()))?;
        let mut records = Vec::with_capacity(live.len());
        for app in &live {
            let last = self.store.status_events(self.name(), &app.slug, 1).await?;
            let recorded = last.first().map(|e| e.status.as_str());
            let listed = app.status();
            if !monitor::agrees(&listed, recorded) {
                self.store
                    .record_status(self.name(), &app.slug, &listed, None)
                    .await?;
            }
            let mut record = app_record(self.name(), app);
            record.status = monitor::shown(&listed, recorded).to_owned();
            records.push(record);
        }
        self.store
            .replace_apps(self.name(), records.clone())
            .await?;
        Ok((live, records))
    }

    pub(crate) fn spawner(&self) -> &DockerSpawner {
        &self.spawner
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Takes the user's files, builds what changed and switches the app to the new version.
    /// The attempt is recorded in the deployment history whatever its outcome.
    pub async fn deploy(
        &self,
        request: &DeployRequest,
        progress: &(dyn Fn(DeployEvent) + Send + Sync),
    ) -> Result<DeployReport, DeskError> {
        let started_at = now_ms();
        let clock = Instant::now();
        let paths = request.paths.clone();
        let source =
            tokio::task::spawn_blocking(move || intake::collect(&paths, &Limits::default()))
                .await
                .map_err(|e| DeskError::Io {
                    what: "reading the app's files".to_owned(),
                    source: std::io::Error::other(e),
                })??;
        let slug = match &request.slug {
            Some(s) => Slug::parse(s)?,
            None => Slug::suggest(&source.name_hint)
                .ok_or_else(|| rdesk_spawner::SpecError::Slug(source.name_hint.clone()))?,
        };
        let current = match self.spawner.status(&slug).await {
            Ok(state) => Some(state),
            Err(SpawnError::NotFound(_)) => None,
            Err(e) => return Err(DeskError::spawn(self.name())(e)),
        };
        let spec = self.spec(request, &source, &slug, current.as_ref()).await?;
        progress(DeployEvent::Step(format!(
            "deploying {} file(s) as `{slug}` with R {}{}",
            spec.files().len(),
            spec.r_version,
            if spec.packages().is_empty() {
                String::new()
            } else {
                format!(
                    " and packages {}",
                    spec.packages()
                        .iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        )));
        let outcome = self
            .roll_out(
                &slug,
                self.spawner.deploy(&spec, progress).await,
                &spec.settings,
                &spec.secrets,
                progress,
            )
            .await;
        let duration_ms = clock.elapsed().as_millis() as i64;
        self.store
            .record_deployment(NewDeployment {
                host: self.name().to_owned(),
                slug: slug.to_string(),
                app_id: spec.app_id.clone(),
                action: "build".to_owned(),
                code_hash: spec.code_hash(),
                image_id: outcome.as_ref().ok().map(|(d, _)| d.image_id.clone()),
                outcome: if outcome.is_ok() { "ok" } else { "failed" }.to_owned(),
                message: outcome.as_ref().err().map(ToString::to_string),
                started_at,
                duration_ms,
            })
            .await?;
        let (deployed, switched) = outcome?;
        let (url, answering) = self.answering(&slug, &switched, progress).await?;
        Ok(DeployReport {
            host: self.name().to_owned(),
            answering,
            url,
            slug: slug.to_string(),
            r_version: spec.r_version.to_string(),
            packages: spec
                .packages()
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
            files: spec.files().iter().map(|f| f.path.clone()).collect(),
            deployed,
            switched,
            duration_ms,
        })
    }

    /// Turns the request and the collected files into a validated spec; what the
    /// request leaves open comes from the app's current version, then defaults.
    async fn spec(
        &self,
        request: &DeployRequest,
        source: &intake::AppSource,
        slug: &Slug,
        current: Option<&AppState>,
    ) -> Result<AppSpec, DeskError> {
        let r_version = match (&request.r_version, current) {
            (Some(v), _) => RVersion::parse(v)?,
            (None, Some(app)) => RVersion::parse(&app.r_version)?,
            (None, None) => {
                let newest = self
                    .r_versions()
                    .await?
                    .into_iter()
                    .max_by(|a, b| version_key(a).cmp(&version_key(b)));
                RVersion::parse(
                    &newest.ok_or_else(|| DeskError::NoRVersion(self.name().to_owned()))?,
                )?
            }
        };
        let mut packages = request
            .packages
            .iter()
            .map(|p| PackageName::parse(p))
            .collect::<Result<Vec<_>, _>>()?;
        packages.extend(
            intake::detect_packages(source)
                .iter()
                .filter_map(|p| PackageName::parse(p).ok()),
        );
        let repo = match (&request.repo, current) {
            (Some(r), _) => RepoUrl::parse(r)?,
            (None, Some(app)) if !app.repo.is_empty() => RepoUrl::parse(&app.repo)?,
            _ => RepoUrl::default(),
        };
        let mode = match (&request.mode, current) {
            (Some(m), _) => Mode::parse(m)?,
            (None, Some(app)) => Mode::parse(&app.mode).unwrap_or_default(),
            _ => Mode::default(),
        };
        let files = source
            .files
            .iter()
            .map(|f| AppFile::new(&f.path, f.contents.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let app_id = current
            .map(|a| a.app_id.clone())
            .unwrap_or_else(|| new_app_id(self.name(), slug));
        let mut spec = AppSpec::new(slug.clone(), app_id, r_version, packages, repo, mode, files)?;
        spec.settings =
            crate::app_settings::resolve(&request.settings, current.map(|a| &a.settings))?;
        rdesk_spawner::check_mode(mode, spec.settings.access)?;
        spec.secrets = self.secret_env(slug, &spec.settings).await?;
        Ok(spec)
    }

    /// Adds a lifecycle action (start, stop, restart, remove) to the app's history.
    async fn record(
        &self,
        slug: &Slug,
        action: &str,
        failure: Option<String>,
        clock: Instant,
    ) -> Result<(), DeskError> {
        let app_id = self
            .store
            .app(self.name(), slug.as_str())
            .await?
            .map(|a| a.app_id)
            .unwrap_or_default();
        self.store
            .record_deployment(NewDeployment {
                host: self.name().to_owned(),
                slug: slug.to_string(),
                app_id,
                action: action.to_owned(),
                code_hash: String::new(),
                image_id: None,
                outcome: if failure.is_none() { "ok" } else { "failed" }.to_owned(),
                message: failure,
                started_at: now_ms() - clock.elapsed().as_millis() as i64,
                duration_ms: clock.elapsed().as_millis() as i64,
            })
            .await?;
        Ok(())
    }

    /// Runs start, stop or restart, records it, and refreshes the app's cached state.
    async fn lifecycle(&self, slug: &str, action: Lifecycle) -> Result<AppState, DeskError> {
        let slug = Slug::parse(slug)?;
        let clock = Instant::now();
        let outcome = match action {
            Lifecycle::Start => self.spawner.start(&slug).await,
            Lifecycle::Stop => self.spawner.stop(&slug).await,
            Lifecycle::Restart => self.spawner.restart(&slug).await,
        }
        .map_err(DeskError::spawn(self.name()));
        if !matches!(outcome, Err(DeskError::UnknownApp { .. })) {
            let failure = outcome.as_ref().err().map(ToString::to_string);
            self.record(&slug, action.as_str(), failure, clock).await?;
        }
        outcome?;
        self.refresh_apps().await?;
        self.status(slug.as_str()).await
    }

    pub async fn start(&self, slug: &str) -> Result<AppState, DeskError> {
        self.lifecycle(slug, Lifecycle::Start).await
    }

    pub async fn stop(&self, slug: &str) -> Result<AppState, DeskError> {
        self.lifecycle(slug, Lifecycle::Stop).await
    }

    pub async fn restart(&self, slug: &str) -> Result<AppState, DeskError> {
        self.lifecycle(slug, Lifecycle::Restart).await
    }

    pub async fn status(&self, slug: &str) -> Result<AppState, DeskError> {
        self.spawner
            .status(&Slug::parse(slug)?)
            .await
            .map_err(DeskError::spawn(self.name()))
    }

    /// Removes the app's containers and images from the host, it from the
    /// cache, and its secret variables from the keyring.
    pub async fn remove(&self, slug: &str) -> Result<Removed, DeskError> {
        let slug = Slug::parse(slug)?;
        let clock = Instant::now();
        let settings = self
            .spawner
            .status(&slug)
            .await
            .map(|app| app.settings)
            .unwrap_or_default();
        let removed = self
            .spawner
            .remove(&slug)
            .await
            .map_err(DeskError::spawn(self.name()));
        if !matches!(removed, Err(DeskError::UnknownApp { .. })) {
            let failure = removed.as_ref().err().map(ToString::to_string);
            self.record(&slug, "remove", failure, clock).await?;
        }
        let removed = removed?;
        self.store.remove_app(self.name(), slug.as_str()).await?;
        self.forget_secrets(&slug, &settings).await?;
        Ok(removed)
    }

    pub async fn logs(
        &self,
        slug: &str,
        tail: usize,
        follow: bool,
    ) -> Result<BoxStream<'static, Result<LogLine, SpawnError>>, DeskError> {
        self.spawner
            .logs(&Slug::parse(slug)?, tail, follow)
            .await
            .map_err(DeskError::spawn(self.name()))
    }
}

/// How long learning a host's key may take.
const HOST_KEY_TIMEOUT: Duration = Duration::from_secs(10);

/// The key line the host offers, if its fingerprint is `confirmed`.
async fn confirmed_key(
    name: &str,
    target: &HostTarget,
    confirmed: &str,
) -> Result<Option<String>, DeskError> {
    let Some(line) = offered_key(name, target).await? else {
        return Ok(None);
    };
    let offered = fingerprint_of(&line).unwrap_or_default();
    if offered == confirmed.trim() {
        Ok(Some(line))
    } else {
        Err(DeskError::HostKeyNotConfirmed {
            host: name.to_owned(),
            confirmed: confirmed.trim().to_owned(),
            offered,
        })
    }
}

/// The known_hosts line of the key an SSH host offers, learned without
/// logging in; `None` for this machine's Docker.
async fn offered_key(name: &str, target: &HostTarget) -> Result<Option<String>, DeskError> {
    let HostTarget::Ssh {
        destination, port, ..
    } = target
    else {
        return Ok(None);
    };
    let runtime = paths::private_runtime_dir().map_err(|source| DeskError::Io {
        what: "creating a private directory for the host's key".to_owned(),
        source,
    })?;
    let line =
        crate::host::scan_host_key(name, destination, *port, runtime.path(), HOST_KEY_TIMEOUT)
            .await?;
    Ok(Some(line))
}

/// How long a deploy waits for the router to reach a new app.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);

/// Waits until a QAP handshake succeeds at `url`, trying every quarter second.
async fn wait_until_answering(url: &str, within: Duration) -> Result<(), rserve_qap::Error> {
    let deadline = Instant::now() + within;
    loop {
        match rserve_qap::Client::connect_ws(url).await {
            Ok(client) => {
                client.close().await;
                return Ok(());
            }
            Err(e) if crate::switch::answered(&e) => return Ok(()),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Lifecycle {
    Start,
    Stop,
    Restart,
}

impl Lifecycle {
    fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Restart => "restart",
        }
    }
}

fn app_record(host: &str, app: &AppState) -> AppRecord {
    let current = app.current();
    AppRecord {
        host: host.to_owned(),
        slug: app.slug.clone(),
        app_id: app.app_id.clone(),
        r_version: app.r_version.clone(),
        mode: app.mode.clone(),
        packages: app.packages.clone(),
        repo: Some(app.repo.clone()).filter(|r| !r.is_empty()),
        code_hash: app.code_hash.clone(),
        config_hash: app.config_hash.clone(),
        image_id: current.map(|c| c.image.clone()),
        container_id: current.map(|c| c.id.clone()),
        status: app.status(),
        updated_at: now_ms(),
    }
}

/// A fresh, practically unique app id.
fn new_app_id(host: &str, slug: &Slug) -> String {
    let mut h = Sha256::new();
    h.update(host.as_bytes());
    h.update(slug.as_str().as_bytes());
    h.update(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_nanos()
            .to_le_bytes(),
    );
    h.update(std::process::id().to_le_bytes());
    hex::encode(&h.finalize()[..8])
}

fn version_key(v: &str) -> Vec<u32> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

fn validate_host_name(name: &str) -> Result<(), DeskError> {
    let ok = (1..=40).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && !name.starts_with(['-', '.']);
    if ok {
        Ok(())
    } else {
        Err(DeskError::InvalidHostName(name.to_owned()))
    }
}

fn validate_public_url(url: &str) -> Result<String, DeskError> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| DeskError::PublicUrl(url.to_owned()))?;
    let host_port = rest.trim_end_matches('/');
    let ok = !host_port.is_empty()
        && host_port
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    if ok {
        Ok(url.trim_end_matches('/').to_owned())
    } else {
        Err(DeskError::PublicUrl(url.to_owned()))
    }
}

/// The name in a (validated) public URL that apps' path routes answer under:
/// a DNS name or an IPv4 address, lower-cased; `None` for anything else
/// (an IPv6 literal), which leaves the routes on the path alone.
fn public_host(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    let host_port = rest.split('/').next()?;
    let host = host_port.split(':').next()?.to_ascii_lowercase();
    let named = rdesk_spawner::is_dns_name(&host) || host.parse::<std::net::Ipv4Addr>().is_ok();
    (named && !host_port.starts_with('[')).then_some(host)
}

/// `http://HOST` for an SSH target (its Traefik on port 80), `http://127.0.0.1` for the local Docker.
fn default_public_url(target: &HostTarget) -> String {
    match target {
        HostTarget::Ssh { destination, .. } => {
            let host = destination.rsplit('@').next().unwrap_or(destination);
            if host.contains(':') {
                format!("http://[{host}]")
            } else {
                format!("http://{host}")
            }
        }
        HostTarget::Local { .. } => "http://127.0.0.1".to_owned(),
    }
}

/// The record that keeps a host: `USER@HOST[:PORT]` and an absolute identity path.
fn host_record(name: &str, target: &HostTarget, public_url: &str) -> Result<HostRecord, DeskError> {
    let (kind, ssh_target, identity_file) = match target {
        HostTarget::Local { .. } => (HostKind::Local, None, None),
        HostTarget::Ssh {
            destination,
            port,
            identity,
            ..
        } => {
            let ssh_target = match port {
                Some(port) if destination.contains(':') => {
                    let (user, host) = destination
                        .rsplit_once('@')
                        .map_or((None, destination.as_str()), |(u, h)| (Some(u), h));
                    let user = user.map(|u| format!("{u}@")).unwrap_or_default();
                    format!("{user}[{host}]:{port}")
                }
                Some(port) => format!("{destination}:{port}"),
                None => destination.clone(),
            };
            let identity_file = identity
                .as_ref()
                .map(|path| {
                    std::path::absolute(path).map_err(|source| DeskError::Io {
                        what: format!("finding the identity file {}", path.display()),
                        source,
                    })
                })
                .transpose()?
                .map(|p| p.display().to_string());
            (HostKind::Ssh, Some(ssh_target), identity_file)
        }
    };
    Ok(HostRecord {
        name: name.to_owned(),
        kind,
        ssh_target,
        identity_file,
        public_url: public_url.to_owned(),
        added_at: now_ms(),
    })
}

/// Where clients reach app `slug` of a host served at `public_url`.
pub fn app_url(public_url: &str, slug: &str) -> Result<String, DeskError> {
    Ok(websocket_url(public_url, &Slug::parse(slug)?))
}

/// `ws://HOST/slug` for `http://HOST`, `wss://` for `https://`.
fn websocket_url(public_url: &str, slug: &Slug) -> String {
    format!("{}/{slug}", crate::switch::websocket_origin(public_url))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_public_host_is_the_name_of_the_public_url() {
        use super::public_host;
        assert_eq!(
            public_host("https://R.example.org").as_deref(),
            Some("r.example.org")
        );
        assert_eq!(
            public_host("http://127.0.0.1:18080").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(
            public_host("http://10.213.7.2:8880/").as_deref(),
            Some("10.213.7.2")
        );
        assert_eq!(public_host("http://[::1]:18080"), None);
        assert_eq!(public_host("ftp://x"), None);
    }

    use super::*;

    #[test]
    fn host_names_are_short_and_plain() {
        for good in ["vps1", "my.vps", "prod_eu-1"] {
            assert!(validate_host_name(good).is_ok(), "{good}");
        }
        for bad in ["", "-x", ".x", "a b", "a;b", "a/b", &"x".repeat(41)] {
            assert!(validate_host_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn public_urls_are_plain_origins() {
        assert_eq!(
            validate_public_url("http://127.0.0.1:18080/").unwrap(),
            "http://127.0.0.1:18080"
        );
        for bad in [
            "127.0.0.1",
            "ftp://x",
            "http://",
            "http://a/b?c",
            "http://a b",
        ] {
            assert!(validate_public_url(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn websocket_urls_follow_the_scheme() {
        let slug = Slug::parse("demo").unwrap();
        assert_eq!(websocket_url("http://h:8080", &slug), "ws://h:8080/demo");
        assert_eq!(websocket_url("https://h", &slug), "wss://h/demo");
    }

    #[test]
    fn newest_r_version_compares_numerically() {
        let newest = ["4.2.2", "4.10.0", "4.9.1"]
            .into_iter()
            .max_by(|a, b| version_key(a).cmp(&version_key(b)));
        assert_eq!(newest, Some("4.10.0"));
    }

    #[test]
    fn app_ids_differ_between_calls() {
        let slug = Slug::parse("demo").unwrap();
        assert_ne!(new_app_id("h", &slug), new_app_id("h", &slug));
    }
}
