//! `rdesk tunnel SLUG --host H [--port N]`: R over QAP to an app through the
//! host's SSH session. Prints where R connects and the R program (RSclient)
//! that calls the app, then keeps the tunnel until Ctrl-C or SIGTERM, which
//! cancel its forward.

use anyhow::Result;
use clap::Args;
use rdesk_core::desk::Desk;

use crate::output::Output;

#[derive(Args)]
pub struct TunnelArgs {
    slug: String,
    #[arg(long)]
    host: String,
    /// The port on this machine's 127.0.0.1 (default: a free one).
    #[arg(long)]
    port: Option<u16>,
}

pub async fn run(desk: &Desk, args: TunnelArgs, out: &Output) -> Result<()> {
    desk.with_session(&args.host, async |s| {
        let tunnel = s.open_tunnel(&args.slug, args.port).await?;
        let view = tunnel.view();
        out.message(
            &format!(
                "R over QAP to app {} of host {}: {}:{} (Ctrl-C closes the tunnel)\n\n{}",
                view.slug, view.host, view.address, view.port, view.r_snippet
            ),
            &serde_json::to_value(view)?,
        );
        let ended = until_signalled().await;
        tunnel.close().await;
        ended
    })
    .await
}

/// Waits for SIGINT (Ctrl-C) or SIGTERM.
async fn until_signalled() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        interrupted = tokio::signal::ctrl_c() => interrupted?,
        _ = terminate.recv() => {}
    }
    Ok(())
}
