//! `cargo xtask fuzz`: the fuzz harness (crate `rdesk-fuzz`, stable Rust)
//! built with optimizations and run over every target, one process each;
//! then one table of the figures. Fails when a target panicked, hung or held
//! more memory than its cap.

use std::process::Stdio;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::facts::Standin;
use crate::sh;

/// The targets, as `rdesk-fuzz --target` names them.
const TARGETS: [&str; 3] = ["sexp", "handshake", "intake"];

#[derive(Debug, clap::Args)]
pub struct FuzzArgs {
    /// Inputs for each target.
    #[arg(long, default_value_t = 10_000_000)]
    inputs: u64,
    /// Seed of the run (default: the current time, printed to replay the run).
    #[arg(long)]
    seed: Option<u64>,
    /// Run only this target (sexp, handshake or intake).
    #[arg(long)]
    target: Option<String>,
}

pub fn run(st: &Standin, args: &FuzzArgs) -> Result<()> {
    let seed = args.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_secs())
    });
    let targets: Vec<&str> = match &args.target {
        Some(t) if TARGETS.contains(&t.as_str()) => vec![t.as_str()],
        Some(t) => bail!(
            "no fuzz target {t:?}; the targets are {}",
            TARGETS.join(", ")
        ),
        None => TARGETS.to_vec(),
    };
    println!(
        "fuzz: {} inputs for each of {}, seed {seed}",
        args.inputs,
        targets.join(", ")
    );
    let mut reports = Vec::new();
    for target in &targets {
        reports.push(run_target(st, target, args.inputs, seed)?);
    }
    print_table(&reports);
    let failed: Vec<&str> = reports
        .iter()
        .filter(|r| !passed(r))
        .filter_map(|r| r["target"].as_str())
        .collect();
    if !failed.is_empty() {
        bail!(
            "fuzzing found problems in {} (seed {seed}; the findings above say how to replay each)",
            failed.join(", ")
        );
    }
    Ok(())
}

fn run_target(st: &Standin, target: &str, inputs: u64, seed: u64) -> Result<Value> {
    let progress = (inputs / 10).max(1);
    let out = sh::cargo()
        .args(["run", "--release", "--quiet", "-p", "rdesk-fuzz", "--"])
        .args(["--target", target, "--inputs", &inputs.to_string()])
        .args([
            "--seed",
            &seed.to_string(),
            "--progress",
            &progress.to_string(),
        ])
        .current_dir(&st.repo)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let report: Value = serde_json::from_str(last).with_context(|| {
        format!(
            "rdesk-fuzz --target {target} ended ({}) without its figures: {stdout}",
            out.status
        )
    })?;
    Ok(report)
}

fn passed(report: &Value) -> bool {
    let n = |key: &str| report[key].as_u64().unwrap_or(u64::MAX);
    n("panics") == 0 && n("other_findings") == 0 && n("peak_bytes") <= n("cap_bytes")
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| "?".into(), |b| format!("{:.2}", b as f64 / 1_048_576.0))
}

fn print_table(reports: &[Value]) {
    println!(
        "{:<10} {:>11} {:>9} {:>10} {:>10} {:>7} {:>9} {:>10} {:>8} {:>9}",
        "target",
        "inputs",
        "seconds",
        "inputs/s",
        "accepted",
        "panics",
        "findings",
        "peak MiB",
        "cap MiB",
        "RSS MiB"
    );
    let mut total = 0;
    for r in reports {
        let n = |key: &str| r[key].as_u64().unwrap_or(0);
        total += n("inputs");
        println!(
            "{:<10} {:>11} {:>9.1} {:>10.0} {:>10} {:>7} {:>9} {:>10} {:>8} {:>9}",
            r["target"].as_str().unwrap_or("?"),
            n("inputs"),
            r["seconds"].as_f64().unwrap_or(0.0),
            r["per_second"].as_f64().unwrap_or(0.0),
            n("accepted"),
            n("panics"),
            n("other_findings"),
            mib(r["peak_bytes"].as_u64()),
            mib(r["cap_bytes"].as_u64()),
            mib(r["peak_rss_bytes"].as_u64()),
        );
    }
    println!("total: {total} inputs");
}
