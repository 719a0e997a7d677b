//! The R tunnels the window opened: at most one per app, closed when its
//! page closes it, when another replaces it, and all of them at exit.

use std::collections::HashMap;

use rdesk_core::DeskError;
use rdesk_core::desk::{Desk, QapTunnel, TunnelView};
use tokio::sync::Mutex;

type Key = (String, String);

#[derive(Default)]
pub struct Tunnels(Mutex<HashMap<Key, QapTunnel>>);

impl Tunnels {
    /// Opens a tunnel to `slug` on `host` over the host's pooled session,
    /// closing the one the app had.
    pub async fn open(&self, desk: &Desk, host: &str, slug: &str) -> Result<TunnelView, DeskError> {
        self.close(host, slug).await;
        let tunnel = desk
            .with_session(host, async |s| s.open_tunnel(slug, None).await)
            .await?;
        let view = tunnel.view().clone();
        let mut open = self.0.lock().await;
        if let Some(raced) = open.insert((host.to_owned(), slug.to_owned()), tunnel) {
            raced.close().await;
        }
        Ok(view)
    }

    /// Closes the app's tunnel, if one is open.
    pub async fn close(&self, host: &str, slug: &str) {
        let tunnel = self
            .0
            .lock()
            .await
            .remove(&(host.to_owned(), slug.to_owned()));
        if let Some(tunnel) = tunnel {
            tunnel.close().await;
        }
    }

    /// Whether a tunnel is open (or the list is being changed right now).
    pub fn any_open(&self) -> bool {
        self.0.try_lock().map_or(true, |open| !open.is_empty())
    }

    /// Closes every tunnel: what the shell does before its sessions end.
    pub async fn close_all(&self) {
        let open: Vec<QapTunnel> = self.0.lock().await.drain().map(|(_, t)| t).collect();
        for tunnel in open {
            tunnel.close().await;
        }
    }
}
