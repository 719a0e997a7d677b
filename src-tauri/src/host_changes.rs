//! Changing how a host is reached from the hosts page: its SSH port and
//! identity file, and its public URL. The core reaches the host once with
//! the change before keeping it; the host's watcher then starts again on
//! the new settings.

use rdesk_core::desk::HostChange;
use rdesk_ipc::{ChangeHostArgs, ErrorCode, HostView, IpcError};
use tauri::AppHandle;

use crate::shell::Shell;
use crate::{convert, tray, watch};

/// `"2222"` as a port; a sentence for anything else.
fn port(text: &str) -> Result<u16, IpcError> {
    text.trim()
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| {
            IpcError::new(
                ErrorCode::InvalidInput,
                format!(
                    "the SSH port must be a number from 1 to 65535, not “{}”",
                    text.trim()
                ),
            )
        })
}

pub async fn change_host(
    app: &AppHandle,
    shell: &Shell,
    args: ChangeHostArgs,
) -> Result<HostView, IpcError> {
    let _running = shell.work.enter();
    let change = HostChange {
        public_url: args.public_url,
        identity_file: args.identity_file,
        port: args
            .port
            .as_deref()
            .filter(|p| !p.trim().is_empty())
            .map(port)
            .transpose()?,
    };
    let record = shell
        .desk
        .change_host(&args.host, &change)
        .await
        .map_err(convert::error)?;
    watch::stop(shell, &args.host);
    watch::start(app, args.host);
    tray::refresh(app).await;
    Ok(convert::host(record))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_is_a_number_from_1_to_65535() {
        assert_eq!(port(" 2222 ").unwrap(), 2222);
        for bad in ["0", "65536", "ssh", "-1"] {
            assert!(
                port(bad).unwrap_err().message.contains("from 1 to 65535"),
                "{bad}"
            );
        }
    }
}
