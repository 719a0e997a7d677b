//! The app page's changes beyond deploys and container settings: its kept
//! versions and the rollback to one, and its secret variables (each a gated
//! switch, as settings are).

use rdesk_core::secrets::Secret;
use rdesk_ipc::{
    AppArgs, DeployProgress, OriginView, RollbackArgs, SecretNameArgs, SetSecretArgs, SwitchResult,
    VersionView,
};
use tauri::AppHandle;
use tauri::ipc::Channel;

use crate::convert;
use crate::handle::{deploy_progress, switch};
use crate::shell::Shell;

type Reply<T> = Result<T, rdesk_ipc::IpcError>;

pub async fn versions(_: &AppHandle, shell: &Shell, args: AppArgs) -> Reply<Vec<VersionView>> {
    let versions = shell
        .desk
        .with_session(&args.host, async |s| s.versions(&args.slug).await)
        .await
        .map_err(convert::error)?;
    Ok(versions
        .into_iter()
        .map(|v| VersionView {
            image: v.image,
            code_hash: v.code_hash,
            r_version: v.r_version,
            packages: v.packages,
            built_at: v.created.saturating_mul(1000),
            current: v.current,
            origin: v.origin.map(|o| OriginView {
                url: o.url().to_owned(),
                reference: o.reference().to_owned(),
                commit: o.commit().to_owned(),
            }),
        })
        .collect())
}

pub async fn rollback(
    app: &AppHandle,
    shell: &Shell,
    args: RollbackArgs,
    progress: Channel<DeployProgress>,
) -> Reply<SwitchResult> {
    switch(app, shell, &args.host, async |s| {
        s.rollback(&args.slug, Some(&args.version), &deploy_progress(&progress))
            .await
    })
    .await
}

pub async fn set_app_secret(
    app: &AppHandle,
    shell: &Shell,
    args: SetSecretArgs,
    progress: Channel<DeployProgress>,
) -> Reply<SwitchResult> {
    let value = Secret::new(args.value);
    switch(app, shell, &args.host, async |s| {
        s.set_secret(&args.slug, &args.name, value, &deploy_progress(&progress))
            .await
    })
    .await
}

pub async fn unset_app_secret(
    app: &AppHandle,
    shell: &Shell,
    args: SecretNameArgs,
    progress: Channel<DeployProgress>,
) -> Reply<SwitchResult> {
    switch(app, shell, &args.host, async |s| {
        s.unset_secret(&args.slug, &args.name, &deploy_progress(&progress))
            .await
    })
    .await
}
