//! The spawner: builds, starts, stops, restarts, removes, inspects and lists
//! Rserve app containers through the Docker API and nothing else.
//!
//! **Architecture invariant:** this crate knows nothing of SSH, SQLite, the UI
//! or Traefik beyond labels, and never calls back into its caller. It is handed
//! a Docker client and a validated [`AppSpec`]; everything it needs to know
//! about an app afterwards it reads back from labels. Two backends implement
//! the [`Spawner`] trait: [`DockerSpawner`] on one Docker Engine and
//! [`SwarmSpawner`] on a swarm of several.

mod backend;
mod build;
mod context;
mod docker;
mod environment;
mod error;
mod events;
pub mod labels;
mod origin;
mod retry;
mod rollout;
mod settings;
mod spec;
mod state;
mod stats;
mod status;
mod swarm;
mod time;
mod tokens;

use futures_util::stream::BoxStream;

pub use docker::{DockerConfig, DockerSpawner};
pub use environment::{
    DebPackage, Environment, PackageVersion, Repository, Requirement, bioconductor_release,
    bioconductor_repositories,
};
pub use error::{SpawnError, TokenError};
pub use events::{AppEvent, AppEventKind};
pub use origin::Origin;
pub use rollout::APP_USER;
pub use settings::access::{self, AccessMode, Cidr, MAX_ALLOW, parse_allow_list};
pub use settings::{
    Domain, EnvName, MAX_REPLICAS, SecretEnv, Settings, SettingsError, is_dns_name,
    parse_memory_mb, parse_millicpus, parse_replicas,
};
pub use spec::{
    AppFile, AppSpec, MAX_SLUG_LEN, Mode, PackageName, RVersion, RepoUrl, Slug, SpecError,
    check_mode,
};
pub use state::{
    AppState, ContainerRef, ContainerState, DeployEvent, Deployed, LogLine, LogStream, Removed,
    Version,
};
pub use stats::StatsReading;
pub use status::{AppStatus, HealthCheck, Severity};
pub use swarm::{SwarmNode, SwarmSpawner, replace_service, service_name};
pub use tokens::{TokenKeeper, TokenRecord, check_token_id, check_token_name};

/// Runs apps on one host. Every operation is idempotent where that makes sense:
/// deploying an unchanged app rebuilds nothing, starting a running app is fine.
#[async_trait::async_trait]
pub trait Spawner: Send + Sync {
    /// Builds what is missing and starts this version beside the previous one,
    /// under the same router service, until it is healthy: its first replica
    /// while the previous one serves, else all of them. It does not retire
    /// the previous containers (listed in [`Deployed::previous`]): the caller
    /// does, with [`Spawner::drain`] and [`Spawner::retire`], once it has seen
    /// the router reach the new ones. A failure removes what it started and
    /// leaves the previous version serving.
    async fn deploy(
        &self,
        spec: &AppSpec,
        progress: &(dyn Fn(DeployEvent) + Send + Sync),
    ) -> Result<Deployed, SpawnError>;
    /// Like [`Spawner::deploy`] for a kept image of the app, without building.
    async fn rollback(
        &self,
        slug: &Slug,
        image: &str,
        settings: &Settings,
        secrets: &SecretEnv,
        progress: &(dyn Fn(DeployEvent) + Send + Sync),
    ) -> Result<Deployed, SpawnError>;
    /// Starts the next replica of a version [`Spawner::deploy`] or
    /// [`Spawner::rollback`] started (its `containers.len() + 1`-th) and
    /// waits until it is healthy; an unhealthy one is removed again.
    async fn add_replica(
        &self,
        slug: &Slug,
        deployed: &Deployed,
        settings: &Settings,
        secrets: &SecretEnv,
        progress: &(dyn Fn(DeployEvent) + Send + Sync),
    ) -> Result<ContainerRef, SpawnError>;
    /// The app's kept images, newest first.
    async fn versions(&self, slug: &Slug) -> Result<Vec<Version>, SpawnError>;
    /// Takes a container out of the router's rotation (its health check fails from now on).
    async fn drain(&self, container: &ContainerRef) -> Result<(), SpawnError>;
    /// Removes a container once its open connections have ended, waiting at most `grace`.
    async fn retire(
        &self,
        container: &ContainerRef,
        grace: std::time::Duration,
    ) -> Result<(), SpawnError>;
    /// Removes the app's images beyond the newest N kept for rollbacks; returns their tags.
    async fn prune(&self, slug: &Slug) -> Result<Vec<String>, SpawnError>;
    /// Starts the app's existing container; never builds.
    async fn start(&self, slug: &Slug) -> Result<(), SpawnError>;
    async fn stop(&self, slug: &Slug) -> Result<(), SpawnError>;
    async fn restart(&self, slug: &Slug) -> Result<(), SpawnError>;
    /// Removes the app's containers and images, and packages layers no other
    /// app uses (one built in the last hour stays: a deploy may be about to use it).
    async fn remove(&self, slug: &Slug) -> Result<Removed, SpawnError>;
    async fn status(&self, slug: &Slug) -> Result<AppState, SpawnError>;
    /// Every app on the host, read from container labels alone.
    async fn list(&self) -> Result<Vec<AppState>, SpawnError>;
    /// What happens to the host's app containers (start, death with its
    /// exit code, OOM kill, health changes, removal) from `since_ms` (unix
    /// milliseconds by [`Spawner::host_time_ms`]) on: those Docker still
    /// keeps first (to catch up after a lost connection), then new ones as
    /// they happen, until dropped; with `until_ms` the stream ends there.
    fn events(
        &self,
        since_ms: i64,
        until_ms: Option<i64>,
    ) -> BoxStream<'static, Result<AppEvent, SpawnError>>;
    /// A reading of a container's CPU, memory and network counters (within
    /// a second; many reads at once take no longer); `None` when it does not
    /// run. Two readings give the CPU use in between
    /// ([`StatsReading::cpu_percent_since`]).
    async fn stats(&self, container_id: &str) -> Result<Option<StatsReading>, SpawnError>;
    /// The host's clock (Docker's), in unix milliseconds: what
    /// [`Spawner::events_since`] takes, whatever this machine's clock says.
    async fn host_time_ms(&self) -> Result<i64, SpawnError>;
    /// The host's memory in bytes, as Docker reports it (`info`'s `MemTotal`).
    async fn host_memory_bytes(&self) -> Result<u64, SpawnError>;
    /// The newest container's output: the last `tail` lines, then new ones if `follow`.
    async fn logs(
        &self,
        slug: &Slug,
        tail: usize,
        follow: bool,
    ) -> Result<BoxStream<'static, Result<LogLine, SpawnError>>, SpawnError>;
}
