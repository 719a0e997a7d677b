//! What each command does: translate its arguments for `rdesk_core`, call it,
//! translate the answer back. Nothing here decides anything the CLI would
//! need too.

use std::path::Path;

use futures_util::StreamExt;
use rdesk_core::DeskError;
use rdesk_core::app_settings::SettingsRequest;
use rdesk_core::desk::{DeployRequest, Lifecycle, NewHost, SwitchReport};
use rdesk_core::host::HostTarget;
use rdesk_core::preview::AppFiles;
use rdesk_core::secrets::{Secret, SecretKind};
use rdesk_core::spawner::{DeployEvent, LogStream};
use rdesk_ipc::{
    AccessView, CreateTokenArgs, NewTokenView, SetAccessArgs, TokenArgs, TokenInfo, TunnelInfo,
};
use rdesk_ipc::{
    Action, AddHostArgs, AddedHost, AppArgs, AppSettingsView, AppView, AppsList, CacheRepairView,
    CallArgs, ChartArgs, ChartView, DeployArgs, DeployProgress, DeployResult, DropPreview,
    FunctionView, GitSource, HistoryView, HostArgs, HostKeyArgs, HostView, IpcError, LifecycleArgs,
    LogLineView, LogsArgs, NoArgs, OverviewView, PathsArgs, SetAppSettingsArgs, SummaryArgs,
    SummaryView, SwitchResult,
};
use tauri::AppHandle;
use tauri::ipc::Channel;

pub use crate::about::{about, diagnostics, last_view, remember_view};
pub use crate::app_changes::{rollback, set_app_secret, unset_app_secret, versions};
pub use crate::bootstrapping::{bootstrap, bootstrap_history};
pub use crate::host_changes::change_host;
pub use crate::picking::pick_app;
use crate::shell::Shell;
pub use crate::user_settings::{set_settings, settings};
use crate::{convert, tray, watch};

type Reply<T> = Result<T, IpcError>;

/// How many history entries of each kind the app detail shows.
const HISTORY: u32 = 50;

/// Sends a progress message; a closed window just stops listening.
pub(crate) fn send<T: serde::Serialize + Clone>(channel: &Channel<T>, message: T) {
    if let Err(e) = channel.send(message) {
        tracing::debug!("progress channel closed: {e}");
    }
}

pub async fn hosts(_: &AppHandle, shell: &Shell, _: NoArgs) -> Reply<Vec<HostView>> {
    let hosts = shell.desk.hosts().await.map_err(convert::error)?;
    Ok(hosts.into_iter().map(convert::host).collect())
}

pub async fn host_key(_: &AppHandle, shell: &Shell, args: HostKeyArgs) -> Reply<Option<String>> {
    let target =
        HostTarget::from_user(args.ssh.as_deref(), None).map_err(|e| convert::error(e.into()))?;
    shell
        .desk
        .host_key(&args.name, &target)
        .await
        .map_err(convert::error)
}

pub async fn add_host(app: &AppHandle, shell: &Shell, args: AddHostArgs) -> Reply<AddedHost> {
    let _running = shell.work.enter();
    let identity = args.identity.as_deref().map(str::trim).map(Path::new);
    let target = HostTarget::from_user(args.ssh.as_deref(), identity)
        .map_err(|e| convert::error(e.into()))?;
    let given = |s: Option<String>| s.filter(|s| !s.is_empty()).map(Secret::new);
    let secret = match (given(args.password), given(args.passphrase)) {
        (Some(password), _) => Some((SecretKind::SshPassword, password)),
        (None, Some(passphrase)) => Some((SecretKind::KeyPassphrase, passphrase)),
        (None, None) => None,
    };
    let added = shell
        .desk
        .add_host(NewHost {
            name: args.name,
            target,
            public_url: args.public_url.filter(|u| !u.trim().is_empty()),
            secret,
            confirmed_fingerprint: args.host_key_fingerprint.filter(|f| !f.trim().is_empty()),
        })
        .await
        .map_err(convert::error)?;
    watch::start(app, added.record.name.clone());
    tray::refresh(app).await;
    Ok(AddedHost {
        host: convert::host(added.record),
        host_key_fingerprint: added.host_key_fingerprint,
    })
}

pub async fn remove_host(app: &AppHandle, shell: &Shell, args: HostArgs) -> Reply<()> {
    let _running = shell.work.enter();
    watch::stop(shell, &args.host);
    shell
        .desk
        .remove_host(&args.host)
        .await
        .map_err(convert::error)?;
    shell.set_offline(&args.host, None);
    tray::refresh(app).await;
    Ok(())
}

pub async fn cached_apps(_: &AppHandle, shell: &Shell, args: HostArgs) -> Reply<AppsList> {
    shell.cached_apps(&args.host).await.map_err(convert::error)
}

pub async fn apps(app: &AppHandle, shell: &Shell, args: HostArgs) -> Reply<AppsList> {
    let record = shell.desk.host(&args.host).await.map_err(convert::error)?;
    let view = shell.desk.apps(&args.host).await.map_err(convert::error)?;
    shell.set_offline(&args.host, view.offline_reason.clone());
    tray::refresh(app).await;
    Ok(AppsList {
        host: view.host,
        apps: view
            .apps
            .into_iter()
            .map(|a| convert::app(&record.public_url, a))
            .collect(),
        live: view.offline_reason.is_none(),
        offline_reason: view.offline_reason,
        worker_of: view.worker_of,
    })
}

pub async fn lifecycle(app: &AppHandle, shell: &Shell, args: LifecycleArgs) -> Reply<AppView> {
    let _running = shell.work.enter();
    let action = match args.action {
        Action::Start => Lifecycle::Start,
        Action::Stop => Lifecycle::Stop,
        Action::Restart => Lifecycle::Restart,
    };
    let (public_url, acted) = shell
        .desk
        .with_session(&args.host, async |s| {
            let acted = s.act(&args.slug, action).await?;
            Ok::<_, DeskError>((s.host().public_url.clone(), acted))
        })
        .await
        .map_err(convert::error)?;
    tray::refresh(app).await;
    Ok(convert::app(&public_url, acted.record))
}

pub async fn remove_app(app: &AppHandle, shell: &Shell, args: AppArgs) -> Reply<()> {
    let _running = shell.work.enter();
    shell
        .desk
        .with_session(&args.host, async |s| s.remove(&args.slug).await)
        .await
        .map_err(convert::error)?;
    tray::refresh(app).await;
    Ok(())
}

pub async fn preview(_: &AppHandle, shell: &Shell, args: PathsArgs) -> Reply<DropPreview> {
    let granted = shell.grants.check(&args.paths).map_err(convert::error)?;
    let p = rdesk_core::preview::preview(granted)
        .await
        .map_err(convert::error)?;
    Ok(convert::preview(p))
}

/// What a git repository would deploy as: cloned on this workstation (the
/// user's SSH agent and keys) and read as a folder.
pub async fn preview_git(_: &AppHandle, _: &Shell, args: GitSource) -> Reply<DropPreview> {
    let files = AppFiles::from_git(&args.url, args.reference.as_deref(), &|_| {})
        .await
        .map_err(convert::error)?;
    Ok(convert::preview(files.preview()))
}

pub async fn call(_: &AppHandle, shell: &Shell, args: CallArgs) -> Reply<serde_json::Value> {
    shell
        .desk
        .call(
            &args.host,
            &args.slug,
            &args.function,
            &convert::call_arguments(args.args, args.named),
        )
        .await
        .map_err(convert::error)
}

pub async fn functions(_: &AppHandle, shell: &Shell, args: AppArgs) -> Reply<Vec<FunctionView>> {
    let signatures = shell
        .desk
        .functions(&args.host, &args.slug)
        .await
        .map_err(convert::error)?;
    Ok(signatures.into_iter().map(convert::function).collect())
}

pub async fn history(_: &AppHandle, shell: &Shell, args: AppArgs) -> Reply<HistoryView> {
    let history = shell
        .desk
        .history(&args.host, &args.slug, HISTORY)
        .await
        .map_err(convert::error)?;
    Ok(HistoryView {
        deployments: history
            .deployments
            .into_iter()
            .map(convert::deployment)
            .collect(),
        status_events: history
            .status_events
            .into_iter()
            .map(convert::status)
            .collect(),
    })
}

/// Streams the app's last `tail` log lines, then (when following) its new
/// ones until the follow is stopped or replaced, or the container goes.
pub async fn logs(
    _: &AppHandle,
    shell: &Shell,
    args: LogsArgs,
    progress: Channel<LogLineView>,
) -> Reply<()> {
    let mut follow = shell.follows.start(&args.host, &args.slug);
    shell
        .desk
        .with_session(&args.host, async |s| {
            let mut lines = s.logs(&args.slug, args.tail, args.follow).await?;
            let forward = async {
                while let Some(line) = lines.next().await {
                    let line = line.map_err(|source| DeskError::Spawn {
                        host: args.host.clone(),
                        source,
                    })?;
                    send(
                        &progress,
                        LogLineView {
                            stderr: line.stream == LogStream::Stderr,
                            text: line.text,
                        },
                    );
                }
                Ok(())
            };
            tokio::select! {
                done = forward => done,
                () = follow.stopped() => Ok(()),
            }
        })
        .await
        .map_err(convert::error)
}

pub async fn stop_logs(_: &AppHandle, shell: &Shell, args: AppArgs) -> Reply<()> {
    shell.follows.stop(&args.host, &args.slug);
    Ok(())
}

pub async fn chart(_: &AppHandle, shell: &Shell, args: ChartArgs) -> Reply<ChartView> {
    use rdesk_core::charts::{Metric, parse_range};
    let metric = Metric::parse(&args.metric).map_err(convert::error)?;
    let range_ms = parse_range(&args.range).map_err(convert::error)?;
    let now_ms = rdesk_core::store::now_ms();
    shell
        .desk
        .chart(
            &args.host,
            args.slug.as_deref(),
            metric,
            range_ms,
            now_ms,
            rdesk_core::charts::UtcOffset(args.utc_offset_min),
        )
        .await
        .map(|chart| ChartView {
            svg: chart.svg,
            description: chart.description,
        })
        .map_err(convert::error)
}

pub async fn summary(_: &AppHandle, shell: &Shell, args: SummaryArgs) -> Reply<SummaryView> {
    let s = shell
        .desk
        .summary(
            &args.host,
            args.slug.as_deref(),
            rdesk_core::store::now_ms(),
        )
        .await
        .map_err(convert::error)?;
    Ok(SummaryView {
        sampled_at_ms: s.sampled_at_ms,
        cpu_percent: s.cpu_percent,
        memory_bytes: s.memory_bytes,
        memory_limit_bytes: s.memory_limit_bytes,
        memory_total_bytes: s.memory_total_bytes,
        net_rx_bytes_per_s: s.net_rx_bytes_per_s,
        net_tx_bytes_per_s: s.net_tx_bytes_per_s,
        requests_per_minute: s.requests_per_minute,
        up_since_ms: s.up_since_ms,
    })
}

pub async fn overview(_: &AppHandle, shell: &Shell, _: NoArgs) -> Reply<OverviewView> {
    shell.overview().await.map_err(convert::error)
}

/// The core's deploy events as progress messages on `progress`.
pub(crate) fn deploy_progress(
    progress: &Channel<DeployProgress>,
) -> impl Fn(DeployEvent) + Send + Sync + '_ {
    move |event| {
        send(
            progress,
            match event {
                DeployEvent::Step(text) => DeployProgress::Step { text },
                DeployEvent::BuildLog(text) => DeployProgress::BuildLog { text },
            },
        )
    }
}

pub async fn app_settings(_: &AppHandle, shell: &Shell, args: AppArgs) -> Reply<AppSettingsView> {
    let state = shell
        .desk
        .with_session(&args.host, async |s| s.status(&args.slug).await)
        .await
        .map_err(convert::error)?;
    Ok(convert::app_settings(&state))
}

pub async fn set_app_settings(
    app: &AppHandle,
    shell: &Shell,
    args: SetAppSettingsArgs,
    progress: Channel<DeployProgress>,
) -> Reply<SwitchResult> {
    let request = SettingsRequest {
        memory: args.memory.filter(|m| !m.is_empty()),
        cpus: args.cpus.filter(|c| !c.is_empty()),
        replicas: args.replicas.filter(|r| !r.is_empty()),
        domain: args.domain,
        env: args.env,
        unset_env: args.unset_env,
        ..SettingsRequest::default()
    };
    apply_settings(app, shell, &args.host, &args.slug, &request, &progress).await
}

pub async fn deploy(
    app: &AppHandle,
    shell: &Shell,
    args: DeployArgs,
    progress: Channel<DeployProgress>,
) -> Reply<DeployResult> {
    let _running = shell.work.enter();
    let paths = shell.grants.check(&args.paths).map_err(convert::error)?;
    let request = DeployRequest {
        slug: args.slug.filter(|s| !s.is_empty()),
        r_version: args.r_version.filter(|v| !v.is_empty()),
        packages: args.packages,
        repo: args.repo.filter(|r| !r.is_empty()),
        mode: args.mode.filter(|m| !m.is_empty()),
        settings: SettingsRequest {
            memory: args.memory.filter(|m| !m.is_empty()),
            cpus: args.cpus.filter(|c| !c.is_empty()),
            replicas: args.replicas.filter(|r| !r.is_empty()),
            domain: args.domain.filter(|d| !d.is_empty()),
            env: args.env,
            ..SettingsRequest::default()
        },
    };
    let secrets = args
        .secrets
        .into_iter()
        .map(|(name, value)| (name, Secret::from(value)))
        .collect();
    let files = match &args.git {
        Some(git) => {
            AppFiles::from_git(
                &git.url,
                git.reference.as_deref(),
                &deploy_progress(&progress),
            )
            .await
        }
        None => AppFiles::read(paths).await,
    }
    .map_err(convert::error)?;
    let received = files.preview();
    send(
        &progress,
        DeployProgress::Received {
            files: received.files,
            total_bytes: received.total_bytes,
        },
    );
    let report = shell
        .desk
        .with_session(&args.host, async |s| {
            s.deploy_with_secrets(&request, &files, secrets, &deploy_progress(&progress))
                .await
        })
        .await
        .map_err(convert::error)?;
    tray::refresh(app).await;
    Ok(DeployResult {
        slug: report.slug,
        url: report.url,
        r_version: report.r_version,
        packages: report.packages,
        files: report.files,
        built: report.deployed.built,
        answering: report.answering,
        duration_ms: report.duration_ms,
    })
}

pub async fn app_access(_: &AppHandle, shell: &Shell, args: AppArgs) -> Reply<AccessView> {
    let access = shell
        .desk
        .app_access(&args.host, &args.slug)
        .await
        .map_err(convert::error)?;
    Ok(convert::access(access))
}

/// Opens a tunnel for R over QAP to the app, kept until the page closes it
/// (or the window exits).
pub async fn open_tunnel(_: &AppHandle, shell: &Shell, args: AppArgs) -> Reply<TunnelInfo> {
    let view = shell
        .tunnels
        .open(&shell.desk, &args.host, &args.slug)
        .await
        .map_err(convert::error)?;
    Ok(TunnelInfo {
        address: view.address,
        port: view.port,
        r_qap: view.r_snippet,
    })
}

pub async fn close_tunnel(_: &AppHandle, shell: &Shell, args: AppArgs) -> Reply<()> {
    shell.tunnels.close(&args.host, &args.slug).await;
    Ok(())
}

pub async fn set_app_access(
    app: &AppHandle,
    shell: &Shell,
    args: SetAccessArgs,
    progress: Channel<DeployProgress>,
) -> Reply<SwitchResult> {
    let request = SettingsRequest {
        access: args.access.filter(|a| !a.is_empty()),
        no_allow: args.allow.as_ref().is_some_and(Vec::is_empty),
        allow: args.allow.unwrap_or_default(),
        ..SettingsRequest::default()
    };
    apply_settings(app, shell, &args.host, &args.slug, &request, &progress).await
}

pub async fn tokens(_: &AppHandle, shell: &Shell, args: AppArgs) -> Reply<Vec<TokenInfo>> {
    let tokens = shell
        .desk
        .tokens(&args.host, &args.slug)
        .await
        .map_err(convert::error)?;
    Ok(tokens.iter().map(convert::token).collect())
}

pub async fn create_token(
    _: &AppHandle,
    shell: &Shell,
    args: CreateTokenArgs,
) -> Reply<NewTokenView> {
    let _running = shell.work.enter();
    let made = shell
        .desk
        .create_token(&args.host, &args.slug, &args.name)
        .await
        .map_err(convert::error)?;
    Ok(NewTokenView {
        info: TokenInfo {
            prefix: format!("rdt_{}_", made.id),
            id: made.id,
            name: made.name,
            created_ms: made.created_ms,
        },
        token: made.token,
    })
}

pub async fn revoke_token(_: &AppHandle, shell: &Shell, args: TokenArgs) -> Reply<TokenInfo> {
    let _running = shell.work.enter();
    let revoked = shell
        .desk
        .revoke_token(&args.host, &args.slug, &args.id)
        .await
        .map_err(convert::error)?;
    Ok(convert::token(&revoked))
}

pub async fn cache_problem(_: &AppHandle, shell: &Shell, _: NoArgs) -> Reply<Option<String>> {
    Ok(shell.cache_problem.clone())
}

/// Repairs the unusable cache as `rdesk repair-cache` does, then restarts
/// the shell on the new one (this one runs on an in-memory stand-in).
pub async fn repair_cache(app: &AppHandle, _: &Shell, _: NoArgs) -> Reply<CacheRepairView> {
    let data_dir = rdesk_core::paths::data_dir();
    let repaired = rdesk_core::desk::Desk::repair_cache(&data_dir)
        .await
        .map_err(convert::error)?;
    let view = match repaired {
        Some((desk, report)) => {
            desk.store().close().await;
            CacheRepairView {
                moved_to: report.repaired.moved_to.display().to_string(),
                hosts: report.repaired.hosts,
                unreadable: report.repaired.unreadable,
            }
        }
        None => CacheRepairView {
            moved_to: String::new(),
            hosts: Vec::new(),
            unreadable: None,
        },
    };
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        // Time for the answer to reach the window first.
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        tauri_plugin_single_instance::destroy(&app);
        app.request_restart();
    });
    Ok(view)
}

/// Runs the app's current image with `request` applied through the gated
/// switch (no build), as container settings and access changes both do.
async fn apply_settings(
    app: &AppHandle,
    shell: &Shell,
    host: &str,
    slug: &str,
    request: &SettingsRequest,
    progress: &Channel<DeployProgress>,
) -> Reply<SwitchResult> {
    switch(app, shell, host, async |s| {
        s.apply_settings(slug, request, &deploy_progress(progress))
            .await
    })
    .await
}

/// Runs one gated switch of an app on `host`'s session (settings, access, a
/// rollback, a secret), then redraws the tray.
pub(crate) async fn switch(
    app: &AppHandle,
    shell: &Shell,
    host: &str,
    run: impl AsyncFnOnce(&rdesk_core::desk::HostSession) -> Result<SwitchReport, DeskError>,
) -> Reply<SwitchResult> {
    let _running = shell.work.enter();
    let report = shell
        .desk
        .with_session(host, run)
        .await
        .map_err(convert::error)?;
    tray::refresh(app).await;
    Ok(SwitchResult {
        slug: report.slug,
        image: report.deployed.image,
        url: report.url,
        answering: report.answering,
        duration_ms: report.duration_ms,
    })
}
