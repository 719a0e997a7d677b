//! Runs one target over a range of inputs: makes each input from its seed
//! and index, feeds it with panics caught, watches the memory peak, and sums
//! it all up in a [`Report`].

use std::panic::{self, AssertUnwindSafe};
use std::sync::Mutex;
use std::time::Instant;

use serde_json::json;

use crate::rng::Rng;
use crate::targets::{Outcome, Target};

/// Findings kept in a report (the count goes on past it).
const MAX_FINDINGS: usize = 20;

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Seed of the whole run.
    pub seed: u64,
    /// First input index (to replay one input: `first = i`, `inputs = 1`).
    pub first: u64,
    /// How many inputs.
    pub inputs: u64,
    /// Print progress to stderr about this often (in inputs); 0 for never.
    pub progress_every: u64,
}

/// One input that broke the rules.
#[derive(Debug, Clone)]
pub struct Finding {
    pub index: u64,
    pub what: String,
    pub input: Vec<u8>,
}

/// The figures of a run of one target.
#[derive(Debug, Clone)]
pub struct Report {
    pub target: &'static str,
    pub seed: u64,
    pub inputs: u64,
    /// Inputs the code under test accepted (the rest it refused with an error).
    pub accepted: u64,
    pub panics: u64,
    /// Other broken rules: a hang, memory over the cap.
    pub other_findings: u64,
    pub findings: Vec<Finding>,
    pub seconds: f64,
    /// Most bytes the process held at once, as counted by the allocator.
    pub peak_bytes: usize,
    pub cap_bytes: usize,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.panics == 0 && self.other_findings == 0 && self.peak_bytes <= self.cap_bytes
    }

    pub fn per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.inputs as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// One line of JSON with every figure (the findings as index and message).
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "target": self.target,
            "seed": self.seed,
            "inputs": self.inputs,
            "accepted": self.accepted,
            "panics": self.panics,
            "other_findings": self.other_findings,
            "findings": self.findings.iter().map(|f| json!({"index": f.index, "what": f.what})).collect::<Vec<_>>(),
            "seconds": self.seconds,
            "per_second": self.per_second(),
            "peak_bytes": self.peak_bytes,
            "cap_bytes": self.cap_bytes,
        })
    }
}

/// The message of the last panic, kept by the hook [`run`] installs.
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Runs `target` over `config`'s inputs. `peak_bytes` reads the most bytes
/// the process has held so far (0 when nothing counts them).
pub fn run(target: &mut dyn Target, config: &Config, peak_bytes: &dyn Fn() -> usize) -> Report {
    let name = target.name();
    let cap = target.cap_bytes();
    let previous_hook = panic::take_hook();
    panic::set_hook(Box::new(|info| {
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = Some(info.to_string());
        }
    }));
    let mut report = Report {
        target: name,
        seed: config.seed,
        inputs: 0,
        accepted: 0,
        panics: 0,
        other_findings: 0,
        findings: Vec::new(),
        seconds: 0.0,
        peak_bytes: 0,
        cap_bytes: cap,
    };
    let started = Instant::now();
    let mut memory_reported = false;
    for index in config.first..config.first.saturating_add(config.inputs) {
        let mut rng = Rng::for_input(config.seed, name, index);
        let input = target.input(&mut rng);
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| target.feed(&input)));
        report.inputs += 1;
        let finding = match outcome {
            Ok(Outcome::Accepted) => {
                report.accepted += 1;
                None
            }
            Ok(Outcome::Refused) => None,
            Ok(Outcome::Broken(what)) => {
                report.other_findings += 1;
                Some(what)
            }
            Err(_) => {
                report.panics += 1;
                target.recover();
                let message = LAST_PANIC
                    .lock()
                    .ok()
                    .and_then(|mut last| last.take())
                    .unwrap_or_else(|| "panic".to_string());
                Some(format!("panic: {message}"))
            }
        };
        let finding = finding.or_else(|| {
            let peak = peak_bytes();
            (peak > cap && !memory_reported).then(|| {
                memory_reported = true;
                report.other_findings += 1;
                format!("memory peak {peak} bytes, over the cap of {cap} bytes")
            })
        });
        if let Some(what) = finding {
            eprintln!("{name}: input {index} (seed {}): {what}", config.seed);
            if report.findings.len() < MAX_FINDINGS {
                report.findings.push(Finding { index, what, input });
            }
        }
        if config.progress_every > 0 && report.inputs.is_multiple_of(config.progress_every) {
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "{name}: {} inputs in {secs:.0} s ({:.0}/s), {} panics, peak {} bytes",
                report.inputs,
                report.inputs as f64 / secs,
                report.panics,
                peak_bytes()
            );
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    report.peak_bytes = peak_bytes();
    panic::set_hook(previous_hook);
    report
}
