//! The operations that change a host (deploys, bootstraps, switches,
//! lifecycle actions, removals, tokens), counted while they run: a window
//! closed mid-deploy must not cut the deploy, so the process goes on as
//! the tray only once none is left.

use tokio::sync::watch;

/// How many operations run now.
pub struct Work(watch::Sender<usize>);

impl Default for Work {
    fn default() -> Self {
        Self(watch::channel(0).0)
    }
}

impl Work {
    /// Counts one operation until the guard drops.
    pub fn enter(&self) -> Running<'_> {
        self.0.send_modify(|n| *n += 1);
        Running(self)
    }

    /// Returns once no operation runs.
    pub async fn idle(&self) {
        let mut count = self.0.subscribe();
        let _ = count.wait_for(|n| *n == 0).await;
    }
}

/// One operation running; see [`Work::enter`].
pub struct Running<'a>(&'a Work);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn idle_waits_for_every_running_operation() {
        let work = Work::default();
        work.idle().await;
        let first = work.enter();
        let second = work.enter();
        drop(first);
        let waited = tokio::time::timeout(Duration::from_millis(50), work.idle()).await;
        assert!(waited.is_err(), "idle while one still runs");
        drop(second);
        work.idle().await;
    }
}
