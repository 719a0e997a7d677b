//! The log follows running for the window: at most one per app, so a page
//! shown again replaces its earlier follow, and leaving the page ends it.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::oneshot;

type Key = (String, String);

/// Each followed app's stop signal, with the number of the follow that owns it.
#[derive(Default)]
pub struct Follows(Mutex<HashMap<Key, (u64, oneshot::Sender<()>)>>);

/// One follow: resolves [`Follow::stopped`] when it is replaced or stopped.
pub struct Follow<'a> {
    follows: &'a Follows,
    key: Key,
    number: u64,
    stop: oneshot::Receiver<()>,
}

impl Follows {
    /// Starts following `slug` on `host`, ending the follow of it that ran.
    pub fn start(&self, host: &str, slug: &str) -> Follow<'_> {
        let key = (host.to_owned(), slug.to_owned());
        let (tx, stop) = oneshot::channel();
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let number = map.get(&key).map_or(0, |(n, _)| n + 1);
        // Dropping the earlier sender ends the earlier follow.
        map.insert(key.clone(), (number, tx));
        Follow {
            follows: self,
            key,
            number,
            stop,
        }
    }

    /// Ends the follow of `slug` on `host`, if one runs.
    pub fn stop(&self, host: &str, slug: &str) {
        let key = (host.to_owned(), slug.to_owned());
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        map.remove(&key);
    }

    #[cfg(test)]
    fn running(&self) -> usize {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }
}

impl Follow<'_> {
    /// Waits until this follow is replaced or stopped.
    pub async fn stopped(&mut self) {
        let _ = (&mut self.stop).await;
    }
}

impl Drop for Follow<'_> {
    fn drop(&mut self) {
        let mut map = self
            .follows
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if map.get(&self.key).is_some_and(|(n, _)| *n == self.number) {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_new_follow_of_an_app_ends_the_old_and_stop_ends_the_new() {
        let follows = Follows::default();
        let mut first = follows.start("vps", "web");
        let mut other = follows.start("vps", "api");
        let mut second = follows.start("vps", "web");
        first.stopped().await;
        drop(first);
        assert_eq!(follows.running(), 2, "the old one leaves the new in place");
        follows.stop("vps", "web");
        second.stopped().await;
        drop(second);
        assert_eq!(follows.running(), 1);
        let still = tokio::time::timeout(std::time::Duration::from_millis(50), other.stopped());
        assert!(still.await.is_err(), "another app's follow goes on");
        drop(other);
        assert_eq!(follows.running(), 0);
    }
}
