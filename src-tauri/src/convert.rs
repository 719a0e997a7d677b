//! Core records into the IPC views, and every core error into the one
//! [`IpcError`] (its sentence as the CLI prints it, and a code).

use rdesk_core::DeskError;
use rdesk_core::desk::{CallArgument, Signature};
use rdesk_core::host::HostErrorKind;
use rdesk_core::preview::Preview;
use rdesk_core::spawner::AppStatus as Status;
use rdesk_core::store::{
    AppRecord, DeploymentAction as Action, DeploymentRecord, HostRecord, Outcome, StatusEvent,
};
use rdesk_ipc::{
    AppSettingsView, AppStatus, AppView, ArgumentView, DeploymentAction, DeploymentView,
    DropPreview, ErrorCode, FunctionView, HostView, IpcError, StatusView,
};

pub fn error(e: DeskError) -> IpcError {
    let code = match &e {
        DeskError::UnknownHost(_)
        | DeskError::UnknownApp { .. }
        | DeskError::UnknownToken { .. } => ErrorCode::NotFound,
        DeskError::InvalidHostName(_)
        | DeskError::Spec(_)
        | DeskError::Environment(_)
        | DeskError::Git(_)
        | DeskError::Intake(_)
        | DeskError::PublicUrl(_)
        | DeskError::NoRVersion(_)
        | DeskError::Chart(_)
        | DeskError::Settings(_)
        | DeskError::AlertSettings(_)
        | DeskError::InvalidHostChange(_)
        | DeskError::SecretRefusedOnAdd { .. }
        | DeskError::SecretNeedsConfirmedKey { .. }
        | DeskError::PathNotGranted { .. }
        | DeskError::PortInUse(_)
        | DeskError::AppNotRunning { .. }
        | DeskError::Cluster(_)
        | DeskError::Token(_) => ErrorCode::InvalidInput,
        DeskError::Host(h) if h.kind() == HostErrorKind::InvalidTarget => ErrorCode::InvalidInput,
        DeskError::Host(_) | DeskError::Forward { .. } | DeskError::HostKeyNotConfirmed { .. } => {
            ErrorCode::Unreachable
        }
        DeskError::Spawn { .. } | DeskError::Switch { .. } | DeskError::Bootstrap(_) => {
            ErrorCode::Failed
        }
        DeskError::Call { .. } | DeskError::RequestTooLarge { .. } => ErrorCode::Call,
        DeskError::Store(_)
        | DeskError::Io { .. }
        | DeskError::Secret { .. }
        | DeskError::AppSecret(_)
        | DeskError::AskpassMissing(_) => ErrorCode::Internal,
    };
    IpcError::new(code, rdesk_core::sentence(&e))
}

pub fn host(h: HostRecord) -> HostView {
    HostView {
        name: h.name,
        kind: h.kind.as_str().to_owned(),
        ssh_target: h.ssh_target,
        identity_file: h.identity_file,
        public_url: h.public_url,
        added_at: h.added_at,
    }
}

pub fn app(public_url: &str, a: AppRecord) -> AppView {
    let url = rdesk_core::desk::app_url(public_url, &a.slug)
        .unwrap_or_else(|_| format!("{public_url}/{}", a.slug));
    AppView {
        host: a.host,
        slug: a.slug,
        status: app_status(a.status),
        r_version: a.r_version,
        mode: a.mode,
        packages: a.packages,
        repo: a.repo,
        url,
        updated_at: a.updated_at,
    }
}

/// An app's settings, and on a cluster where its running replicas are.
pub fn app_settings(state: &rdesk_core::spawner::AppState) -> AppSettingsView {
    let s = &state.settings;
    AppSettingsView {
        memory_mb: s.memory_mb,
        millicpus: s.millicpus,
        replicas: s.replicas,
        domain: s.domain.as_ref().map(|d| d.as_str().to_owned()),
        env: s
            .env()
            .map(|(name, value)| (name.as_str().to_owned(), value.to_owned()))
            .collect(),
        secrets: s
            .secret_names()
            .iter()
            .map(|n| n.as_str().to_owned())
            .collect(),
        nodes: state
            .containers
            .iter()
            .filter(|c| c.status() == rdesk_core::spawner::AppStatus::Running)
            .filter_map(|c| c.node.clone())
            .collect(),
    }
}

pub fn deployment(d: DeploymentRecord) -> DeploymentView {
    let d = d.deployment;
    DeploymentView {
        action: action(d.action),
        outcome: outcome(d.outcome),
        message: d.message,
        code_hash: d.code_hash,
        started_at: d.started_at,
        duration_ms: d.duration_ms,
    }
}

pub fn status(s: StatusEvent) -> StatusView {
    StatusView {
        at: s.at,
        status: app_status(s.status),
        detail: s.detail,
    }
}

/// The spawner's status as the UI's mirror of it (the same word).
pub fn app_status(s: Status) -> AppStatus {
    match s {
        Status::Running => AppStatus::Running,
        Status::Starting => AppStatus::Starting,
        Status::Unhealthy => AppStatus::Unhealthy,
        Status::Created => AppStatus::Created,
        Status::Paused => AppStatus::Paused,
        Status::Restarting => AppStatus::Restarting,
        Status::Removing => AppStatus::Removing,
        Status::Exited => AppStatus::Exited,
        Status::Dead => AppStatus::Dead,
        Status::Crashed => AppStatus::Crashed,
        Status::OomKilled => AppStatus::OomKilled,
        Status::Removed => AppStatus::Removed,
        Status::Missing => AppStatus::Missing,
        Status::Unknown => AppStatus::Unknown,
    }
}

fn action(a: Action) -> DeploymentAction {
    match a {
        Action::Build => DeploymentAction::Build,
        Action::Start => DeploymentAction::Start,
        Action::Stop => DeploymentAction::Stop,
        Action::Restart => DeploymentAction::Restart,
        Action::Remove => DeploymentAction::Remove,
        Action::Rollback => DeploymentAction::Rollback,
        Action::Settings => DeploymentAction::Settings,
        Action::Unknown => DeploymentAction::Unknown,
    }
}

pub fn outcome(o: Outcome) -> rdesk_ipc::Outcome {
    match o {
        Outcome::Ok => rdesk_ipc::Outcome::Ok,
        Outcome::Failed => rdesk_ipc::Outcome::Failed,
        Outcome::Unknown => rdesk_ipc::Outcome::Unknown,
    }
}

pub fn access(a: rdesk_core::snippets::AppAccess) -> rdesk_ipc::AccessView {
    rdesk_ipc::AccessView {
        access: a.access.as_str().to_owned(),
        allow: a.allow.iter().map(ToString::to_string).collect(),
        rserve_js: a.rserve_js,
        rdesk_call: a.rdesk_call,
        r_qap: a.r_qap,
    }
}

pub fn token(t: &rdesk_core::desk::TokenView) -> rdesk_ipc::TokenInfo {
    rdesk_ipc::TokenInfo {
        id: t.id.clone(),
        prefix: t.prefix.clone(),
        name: t.name.clone(),
        created_ms: t.created_ms,
    }
}

/// What dropped, picked or cloned files would deploy as.
pub fn preview(p: Preview) -> DropPreview {
    DropPreview {
        slug: p.slug,
        files: p.files,
        skipped: p.skipped,
        packages: p.packages,
        total_bytes: p.total_bytes,
    }
}

/// A function the app offers, with its arguments when it says them.
pub fn function(signature: Signature) -> FunctionView {
    FunctionView {
        name: signature.name,
        arguments: signature.arguments.map(|arguments| {
            arguments
                .into_iter()
                .map(|a| ArgumentView {
                    name: a.name,
                    default: a.default,
                })
                .collect()
        }),
    }
}

/// A call's positional arguments, then its named ones.
pub fn call_arguments(
    positional: Vec<serde_json::Value>,
    named: Vec<(String, serde_json::Value)>,
) -> Vec<CallArgument> {
    let positional = positional.into_iter().map(|value| (None, value));
    let named = named.into_iter().map(|(name, value)| (Some(name), value));
    positional.chain(named).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clusters_settings_say_where_the_running_replicas_are() {
        use rdesk_core::spawner::{AppState, AppStatus, ContainerState, Settings};
        let container = |node: Option<&str>, state| ContainerState {
            id: "c".into(),
            name: "c".into(),
            image: "i".into(),
            state,
            health: None,
            detail: String::new(),
            created: 0,
            node: node.map(str::to_owned),
        };
        let app = AppState {
            slug: "sales".into(),
            app_id: "a".into(),
            r_version: "4.4.1".into(),
            mode: "ocap".into(),
            packages: Vec::new(),
            repo: String::new(),
            code_hash: String::new(),
            config_hash: String::new(),
            settings: Settings::default(),
            containers: vec![
                container(Some("node2"), AppStatus::Running),
                container(Some("node3"), AppStatus::Exited),
                container(Some("node1"), AppStatus::Running),
            ],
        };
        assert_eq!(app_settings(&app).nodes, ["node2", "node1"]);
        let one_host = AppState {
            containers: vec![container(None, AppStatus::Running)],
            ..app
        };
        assert!(app_settings(&one_host).nodes.is_empty());
    }

    #[test]
    fn errors_cross_as_their_sentence_with_a_code() {
        let e = error(DeskError::UnknownHost("vps".into()));
        assert_eq!(e.code, ErrorCode::NotFound);
        assert_eq!(
            e.message,
            "there is no host named `vps`; `rdesk host list` shows the hosts"
        );
        assert_eq!(
            error(DeskError::PublicUrl("x".into())).code,
            ErrorCode::InvalidInput
        );
    }

    /// The mirror in `rdesk-ipc` says the same as the spawner: every word,
    /// what is up, what is a problem, and which of two is worse.
    #[test]
    fn the_uis_statuses_mirror_the_spawners() {
        assert_eq!(Status::ALL.len(), AppStatus::ALL.len());
        for s in Status::ALL {
            let mirror = app_status(s);
            assert_eq!(mirror.as_str(), s.as_str());
            assert_eq!(
                serde_json::to_value(mirror).unwrap(),
                serde_json::to_value(s).unwrap()
            );
            assert_eq!(mirror.is_up(), s.is_up(), "{s}");
            assert_eq!(mirror.is_problem(), s.is_problem(), "{s}");
            for t in Status::ALL {
                assert_eq!(
                    mirror.severity().cmp(&app_status(t).severity()),
                    s.severity().cmp(&t.severity()),
                    "{s} against {t}"
                );
            }
        }
        assert_eq!(Action::ALL.len(), DeploymentAction::ALL.len());
        for a in Action::ALL {
            assert_eq!(action(a).as_str(), a.as_str());
        }
        assert_eq!(Outcome::ALL.len(), rdesk_ipc::Outcome::ALL.len());
        for o in Outcome::ALL {
            assert_eq!(outcome(o).as_str(), o.as_str());
        }
    }
}
