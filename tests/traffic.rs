//! A client that keeps calling an app through Traefik while something else
//! happens (a redeploy, a rollback), one call at a time, each on a fresh
//! WebSocket connection as a browser page load would, and counts what failed.
//! Bounded: it stops when told, or after [`Traffic::MAX_RUN`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the client saw.
#[derive(Debug)]
pub struct Seen {
    /// When the client began calling.
    pub started: Instant,
    pub calls: usize,
    /// Each failure's error text.
    pub failures: Vec<String>,
    /// The answers in order, with the time since the client started.
    pub answers: Vec<(Duration, String)>,
}

impl Seen {
    /// The first time an answer equal to `value` came back.
    pub fn first(&self, value: &str) -> Option<Duration> {
        self.answers
            .iter()
            .find(|(_, a)| a == value)
            .map(|(t, _)| *t)
    }

    pub fn last(&self) -> Option<&str> {
        self.answers.last().map(|(_, a)| a.as_str())
    }
}

/// A running client; [`Traffic::stop`] ends it and says what it saw.
pub struct Traffic {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Seen>,
}

impl Traffic {
    /// Longest a client runs if nobody stops it.
    pub const MAX_RUN: Duration = Duration::from_secs(180);

    /// Calls `function()` of the app at `ws_url` (e.g. `ws://127.0.0.1:18080/slug`) until stopped.
    pub fn start(ws_url: &str, function: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (url, function, flag) = (ws_url.to_owned(), function.to_owned(), stop.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(run(&url, &function, &flag))
        });
        Self { stop, thread }
    }

    pub fn stop(self) -> Seen {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the client thread ends")
    }
}

async fn run(url: &str, function: &str, stop: &AtomicBool) -> Seen {
    let started = Instant::now();
    let mut seen = Seen {
        started,
        calls: 0,
        failures: Vec::new(),
        answers: Vec::new(),
    };
    while !stop.load(Ordering::Relaxed) && started.elapsed() < Traffic::MAX_RUN {
        seen.calls += 1;
        match call(url, function).await {
            Ok(answer) => seen.answers.push((started.elapsed(), answer)),
            Err(e) => seen.failures.push(format!("{:?}: {e}", started.elapsed())),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    seen
}

async fn call(url: &str, function: &str) -> Result<String, rserve_qap::Error> {
    let mut client = rserve_qap::Client::connect_ws(url).await?;
    let value = client.call_json(function, &[]).await;
    client.close().await;
    Ok(value?.to_string())
}
