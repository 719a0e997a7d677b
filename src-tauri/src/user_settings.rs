//! The Settings page's commands: launch at login (the autostart plugin)
//! and the alert settings (`rdesk_core::alert_settings`), applied to the
//! next alert as soon as they are kept.

use rdesk_core::alert_settings::AlertSettings;
use rdesk_ipc::{ErrorCode, IpcError, NoArgs, SettingsView};
use tauri::AppHandle;
use tauri_plugin_autostart::ManagerExt;

use crate::convert;
use crate::shell::Shell;

type Reply<T> = Result<T, IpcError>;

fn autostart_error(e: tauri_plugin_autostart::Error) -> IpcError {
    IpcError::new(
        ErrorCode::Internal,
        format!("changing launch at login: {e}"),
    )
}

pub async fn settings(app: &AppHandle, shell: &Shell, _: NoArgs) -> Reply<SettingsView> {
    let alerts = AlertSettings::load(&shell.about.data_dir).map_err(convert::error)?;
    Ok(SettingsView {
        launch_at_login: app.autolaunch().is_enabled().map_err(autostart_error)?,
        alert_throttle_secs: alerts.throttle_secs,
        webhook_url: alerts.webhook_url.unwrap_or_default(),
    })
}

/// Launch at login, then the alert settings: checked, kept, and applied to
/// the next alert.
pub async fn set_settings(
    app: &AppHandle,
    shell: &Shell,
    args: SettingsView,
) -> Reply<SettingsView> {
    let launcher = app.autolaunch();
    if args.launch_at_login != launcher.is_enabled().map_err(autostart_error)? {
        if args.launch_at_login {
            launcher.enable().map_err(autostart_error)?;
        } else {
            launcher.disable().map_err(autostart_error)?;
        }
    }
    let alerts = AlertSettings {
        throttle_secs: args.alert_throttle_secs,
        webhook_url: Some(args.webhook_url).filter(|u| !u.trim().is_empty()),
    };
    let webhook = alerts.save(&shell.about.data_dir).map_err(convert::error)?;
    if let Ok(mut kept) = shell.alerts.lock() {
        kept.set_throttle(alerts.throttle());
    }
    if let Ok(mut kept) = shell.webhook.lock() {
        *kept = webhook;
    }
    Ok(SettingsView {
        launch_at_login: launcher.is_enabled().map_err(autostart_error)?,
        alert_throttle_secs: alerts.throttle_secs,
        webhook_url: alerts
            .webhook_url
            .map(|u| u.trim().to_owned())
            .unwrap_or_default(),
    })
}
