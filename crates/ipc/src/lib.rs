//! What crosses IPC between the desktop shell (`src-tauri`) and its UI
//! (`app`, wasm32): one descriptor per command ([`Command`]: its name, its
//! argument type and its result type), the types they carry, the events the
//! shell emits, and [`IpcError`], the one error that crosses, as
//! `{code, message}`. Both sides name commands only through the descriptors,
//! and the shell's handlers are generated from [`for_each_command!`], so a
//! renamed or retyped command breaks the build on both sides.

mod app_changes;
mod console;
mod error;
pub mod events;
mod numbers;
mod overview;
mod status;
mod types;
mod window;

pub use app_changes::{OriginView, RollbackArgs, SecretNameArgs, SetSecretArgs, VersionView};
pub use console::{ArgumentView, CallArgs, FunctionView};
pub use error::{ErrorCode, IpcError};
pub use numbers::{SummaryArgs, SummaryView};
pub use overview::{Health, HostSummary, OverviewView};
pub use status::{Action, AppStatus, DeploymentAction, Outcome, Severity};
pub use types::*;
pub use window::{AboutView, Page, PartVersion, PickArgs, ViewPlace};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// One command: the UI calls `invoke(NAME, {args})` and gets `Output` or an [`IpcError`].
pub trait Command {
    const NAME: &'static str;
    type Args: Serialize + DeserializeOwned + Send + 'static;
    type Output: Serialize + DeserializeOwned + Send + 'static;
}

/// A command that also streams `Progress` messages over a channel (the `progress` argument).
pub trait Streaming: Command {
    type Progress: Serialize + DeserializeOwned + Clone + Send + 'static;
}

/// The list of every command, handed to `$callback` as
/// `plain { name: Type(Args) -> Output, ... } streaming { name: Type(Args) -> Output, Progress, ... }`.
/// This crate makes the descriptors from it; the shell makes its handlers from it.
#[macro_export]
macro_rules! for_each_command {
    ($callback:ident) => {
        $callback! {
            plain {
                hosts: Hosts($crate::NoArgs) -> Vec<$crate::HostView>,
                host_key: HostKey($crate::HostKeyArgs) -> Option<String>,
                add_host: AddHost($crate::AddHostArgs) -> $crate::AddedHost,
                remove_host: RemoveHost($crate::HostArgs) -> (),
                change_host: ChangeHost($crate::ChangeHostArgs) -> $crate::HostView,
                bootstrap_history: BootstrapHistory($crate::HostArgs) -> Vec<$crate::BootstrapRunView>,
                cached_apps: CachedApps($crate::HostArgs) -> $crate::AppsList,
                apps: Apps($crate::HostArgs) -> $crate::AppsList,
                lifecycle: Lifecycle($crate::LifecycleArgs) -> $crate::AppView,
                remove_app: RemoveApp($crate::AppArgs) -> (),
                versions: Versions($crate::AppArgs) -> Vec<$crate::VersionView>,
                preview: Preview($crate::PathsArgs) -> $crate::DropPreview,
                preview_git: PreviewGit($crate::GitSource) -> $crate::DropPreview,
                call: Call($crate::CallArgs) -> serde_json::Value,
                functions: Functions($crate::AppArgs) -> Vec<$crate::FunctionView>,
                history: History($crate::AppArgs) -> $crate::HistoryView,
                stop_logs: StopLogs($crate::AppArgs) -> (),
                app_settings: AppSettings($crate::AppArgs) -> $crate::AppSettingsView,
                chart: Chart($crate::ChartArgs) -> $crate::ChartView,
                overview: Overview($crate::NoArgs) -> $crate::OverviewView,
                summary: Summary($crate::SummaryArgs) -> $crate::SummaryView,
                settings: Settings($crate::NoArgs) -> $crate::SettingsView,
                set_settings: SetSettings($crate::SettingsView) -> $crate::SettingsView,
                app_access: AppAccess($crate::AppArgs) -> $crate::AccessView,
                tokens: Tokens($crate::AppArgs) -> Vec<$crate::TokenInfo>,
                create_token: CreateToken($crate::CreateTokenArgs) -> $crate::NewTokenView,
                revoke_token: RevokeToken($crate::TokenArgs) -> $crate::TokenInfo,
                open_tunnel: OpenTunnel($crate::AppArgs) -> $crate::TunnelInfo,
                close_tunnel: CloseTunnel($crate::AppArgs) -> (),
                cache_problem: CacheProblem($crate::NoArgs) -> Option<String>,
                repair_cache: RepairCache($crate::NoArgs) -> $crate::CacheRepairView,
                remember_view: RememberView($crate::ViewPlace) -> (),
                last_view: LastView($crate::NoArgs) -> Option<$crate::ViewPlace>,
                about: About($crate::NoArgs) -> $crate::AboutView,
                pick_app: PickApp($crate::PickArgs) -> Vec<String>,
                diagnostics: Diagnostics($crate::NoArgs) -> String,
            }
            streaming {
                bootstrap: Bootstrap($crate::BootstrapArgs) -> $crate::BootstrapSummary, $crate::BootstrapStep,
                deploy: Deploy($crate::DeployArgs) -> $crate::DeployResult, $crate::DeployProgress,
                logs: Logs($crate::LogsArgs) -> (), $crate::LogLineView,
                set_app_settings: SetAppSettings($crate::SetAppSettingsArgs) -> $crate::SwitchResult, $crate::DeployProgress,
                set_app_access: SetAppAccess($crate::SetAccessArgs) -> $crate::SwitchResult, $crate::DeployProgress,
                rollback: Rollback($crate::RollbackArgs) -> $crate::SwitchResult, $crate::DeployProgress,
                set_app_secret: SetAppSecret($crate::SetSecretArgs) -> $crate::SwitchResult, $crate::DeployProgress,
                unset_app_secret: UnsetAppSecret($crate::SecretNameArgs) -> $crate::SwitchResult, $crate::DeployProgress,
            }
        }
    };
}

macro_rules! descriptors {
    (
        plain { $($name:ident: $ty:ident($args:ty) -> $out:ty,)* }
        streaming { $($sname:ident: $sty:ident($sargs:ty) -> $sout:ty, $sprogress:ty,)* }
    ) => {
        /// One type per command; see [`Command`].
        pub mod cmd {
            use super::*;
            $(
                #[doc = concat!("The `", stringify!($name), "` command.")]
                pub struct $ty;
                impl Command for $ty {
                    const NAME: &'static str = stringify!($name);
                    type Args = $args;
                    type Output = $out;
                }
            )*
            $(
                #[doc = concat!("The `", stringify!($sname), "` command, with progress.")]
                pub struct $sty;
                impl Command for $sty {
                    const NAME: &'static str = stringify!($sname);
                    type Args = $sargs;
                    type Output = $sout;
                }
                impl Streaming for $sty {
                    type Progress = $sprogress;
                }
            )*
            /// Every command's name, in the list's order.
            pub const NAMES: &[&str] = &[$(stringify!($name),)* $(stringify!($sname),)*];
        }
    };
}

for_each_command!(descriptors);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_snake_case() {
        let mut names = cmd::NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), cmd::NAMES.len());
        assert!(
            cmd::NAMES
                .iter()
                .all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        );
        assert_eq!(<cmd::Deploy as Command>::NAME, "deploy");
    }
}
