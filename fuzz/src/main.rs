//! `rdesk-fuzz`: runs one fuzz target and prints its figures, the last line
//! as JSON. Memory is counted by the global allocator, so the peak is the
//! most this process ever held: one target per process keeps each target's
//! peak its own. Exits non-zero on any panic, hang or peak over the cap.
//!
//! `rdesk-fuzz --target sexp|handshake|intake [--inputs N] [--seed S] [--first I]`
//! (`--first I --inputs 1` replays input I alone).

use std::alloc::System;
use std::process::ExitCode;

use anyhow::{Context, bail};
use cap::Cap;
use rdesk_fuzz::{Config, run, targets};

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// The fuzz loop runs on a thread with a tokio worker's stack (2 MiB), so
/// the decoders' recursion limits are checked against the smallest stack
/// they run on in the product.
const STACK_BYTES: usize = 2 << 20;

struct Args {
    target: String,
    config: Config,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut target = None;
    let mut config = Config {
        seed: 1,
        first: 0,
        inputs: 100_000,
        progress_every: 0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--target" => target = Some(value()?),
            "--inputs" => config.inputs = value()?.parse().context("--inputs")?,
            "--seed" => config.seed = value()?.parse().context("--seed")?,
            "--first" => config.first = value()?.parse().context("--first")?,
            "--progress" => config.progress_every = value()?.parse().context("--progress")?,
            other => bail!(
                "unknown argument {other:?}; usage: rdesk-fuzz --target {} [--inputs N] [--seed S] [--first I] [--progress N]",
                targets::NAMES.join("|")
            ),
        }
    }
    let target = target.context("--target is required")?;
    Ok(Args { target, config })
}

/// The process's peak resident memory (VmHWM), in bytes, when Linux says.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("rdesk-fuzz: {e:#}");
            return ExitCode::from(2);
        }
    };
    let worker = std::thread::Builder::new()
        .name(format!("fuzz-{}", args.target))
        .stack_size(STACK_BYTES)
        .spawn(move || -> anyhow::Result<rdesk_fuzz::Report> {
            let mut target = targets::by_name(&args.target)?;
            Ok(run(target.as_mut(), &args.config, &|| {
                ALLOCATOR.max_allocated()
            }))
        });
    let report = match worker.map(|w| w.join()) {
        Ok(Ok(Ok(report))) => report,
        Ok(Ok(Err(e))) => {
            eprintln!("rdesk-fuzz: {e:#}");
            return ExitCode::from(2);
        }
        _ => {
            eprintln!("rdesk-fuzz: the fuzz thread died");
            return ExitCode::FAILURE;
        }
    };
    for finding in &report.findings {
        eprintln!(
            "finding: {} input {} (seed {}): {}\n  input ({} bytes): {}\n  replay: rdesk-fuzz --target {} --seed {} --first {} --inputs 1",
            report.target,
            finding.index,
            report.seed,
            finding.what,
            finding.input.len(),
            finding
                .input
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
            report.target,
            report.seed,
            finding.index,
        );
    }
    let mut json = report.to_json();
    json["peak_rss_bytes"] = peak_rss_bytes().into();
    println!(
        "{}: {} inputs in {:.1} s ({:.0}/s), {} accepted, {} panics, {} other findings, peak {:.1} MiB of a {:.0} MiB cap",
        report.target,
        report.inputs,
        report.seconds,
        report.per_second(),
        report.accepted,
        report.panics,
        report.other_findings,
        report.peak_bytes as f64 / 1048576.0,
        report.cap_bytes as f64 / 1048576.0,
    );
    println!("{json}");
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
