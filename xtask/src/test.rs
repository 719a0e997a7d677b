//! `cargo xtask test`: makes room in the target directory when the disk is short of it, brings
//! the stand-in up, builds the desktop UI, then runs `cargo fmt --check`, `cargo xtask tidy`,
//! `cargo clippy -D warnings`, builds the binaries and packages the debug build as a `.deb` (for
//! tests/package.rs, given its path in [`PACKAGE_VAR`]), then `cargo test --workspace` with the
//! stand-in's variables set, and ends with a summary; fails if any step did.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::facts::Standin;
use crate::{desktop, dist, sh, standin, ui};

/// The variable naming the `.deb` the package test installs.
pub const PACKAGE_VAR: &str = "RDESK_PACKAGE_DEB";

/// Test counts summed over cargo's `test result:` lines.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub passed: u64,
    pub failed: u64,
    pub ignored: u64,
}

impl Counts {
    /// Adds the counts of one `test result: ok. 3 passed; 0 failed; 1 ignored; ...` line.
    pub fn add_line(&mut self, line: &str) -> bool {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return false;
        };
        let Some((_, counts)) = rest.split_once(". ") else {
            return false;
        };
        for part in counts.split(';') {
            let mut words = part.split_whitespace();
            let (Some(n), Some(what)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = n.parse::<u64>() else { continue };
            match what {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
        true
    }
}

struct StepResult {
    name: &'static str,
    outcome: Result<String, String>,
    secs: f64,
}

fn timed(name: &'static str, f: impl FnOnce() -> Result<String>) -> StepResult {
    println!("\n=== {name}");
    let started = Instant::now();
    let outcome = f().map_err(|e| format!("{e:#}"));
    if let Err(e) = &outcome {
        println!("=== {name} FAILED: {e}");
    }
    StepResult {
        name,
        outcome,
        secs: started.elapsed().as_secs_f64(),
    }
}

fn run_status(cmd: &mut Command) -> Result<String> {
    let status = cmd.status().context("cannot run cargo")?;
    if status.success() {
        Ok(String::new())
    } else {
        bail!("exited with {status}")
    }
}

/// Runs `cargo test`, showing its output and summing its counts.
fn cargo_test(
    st: &Standin,
    extra: &[String],
    package: &[(&str, String)],
    counts: &mut Counts,
) -> Result<String> {
    let mut cmd = sh::cargo();
    cmd.current_dir(&st.repo)
        .args(["test", "--workspace", "--no-fail-fast"])
        .args(extra)
        .envs(st.env())
        .envs(package.iter().map(|(k, v)| (*k, v)))
        .stdout(Stdio::piped());
    let mut child = cmd.spawn().context("cannot run cargo test")?;
    let stdout = child.stdout.take().context("no stdout")?;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        counts.add_line(&line);
    }
    let status = child.wait()?;
    let summary = format!(
        "{} passed, {} failed, {} ignored",
        counts.passed, counts.failed, counts.ignored
    );
    if status.success() {
        Ok(summary)
    } else {
        bail!("exited with {status} ({summary})")
    }
}

pub fn run(st: &Standin, extra: &[String]) -> Result<()> {
    let mut results = Vec::new();
    results.push(timed("target directory", || {
        crate::housekeeping::tidy_target(&desktop::target_dir(st))
    }));
    let standin_up = timed("standin up", || standin::up(st).map(|()| String::new()));
    let standin_ok = standin_up.outcome.is_ok();
    results.push(standin_up);
    results.push(timed("cargo fmt --check", || {
        run_status(
            sh::cargo()
                .current_dir(&st.repo)
                .args(["fmt", "--all", "--", "--check"]),
        )
    }));
    results.push(timed("cargo xtask tidy", || {
        crate::tidy::run(&st.repo).map(|()| String::new())
    }));
    // The shell embeds app/dist when it compiles, so the real UI is built before clippy and the tests.
    results.push(timed("desktop UI", || {
        desktop::tools(st)?;
        ui::step("desktop UI (app/dist)", || desktop::build_ui(st))?;
        Ok(String::new())
    }));
    results.push(timed("cargo clippy", || {
        run_status(sh::cargo().current_dir(&st.repo).args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))
    }));
    // Tests run `rdesk`, `rdesk-askpass` and the desktop binary from the
    // target directory: build every binary first, not only test harnesses.
    results.push(timed("cargo build --bins", || {
        run_status(
            sh::cargo()
                .current_dir(&st.repo)
                .args(["build", "--workspace", "--bins"]),
        )
    }));
    // The package test installs the debug build, packaged by `cargo xtask
    // dist`'s code: a release build would not fit CI's time.
    let mut package = Vec::new();
    results.push(timed("package (debug build)", || {
        let made = dist::package(st, dist::Build::Debug, &[tauri_bundler::PackageType::Deb])?;
        let deb = made.first().context("the bundler made no .deb")?;
        package.push((PACKAGE_VAR, deb.display().to_string()));
        Ok(deb.display().to_string())
    }));
    let mut counts = Counts::default();
    if standin_ok {
        results.push(timed("cargo test", || {
            cargo_test(st, extra, &package, &mut counts)
        }));
    } else {
        results.push(StepResult {
            name: "cargo test",
            outcome: Err("not run: the stand-in VPS is not up".to_string()),
            secs: 0.0,
        });
    }

    println!("\n=== summary");
    let mut failed = Vec::new();
    for r in &results {
        let (word, detail) = match &r.outcome {
            Ok(d) => ("ok", d.as_str()),
            Err(e) => {
                failed.push(r.name);
                ("FAILED", e.lines().next().unwrap_or(""))
            }
        };
        println!("{:<22} {word:<6} {:>7.1}s  {detail}", r.name, r.secs);
    }
    if standin_ok {
        println!(
            "tests: {} passed, {} failed, {} skipped",
            counts.passed, counts.failed, counts.ignored
        );
    }
    if failed.is_empty() {
        Ok(())
    } else {
        bail!("failed: {}", failed.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_cargo_test_results() {
        let mut c = Counts::default();
        assert!(c.add_line(
            "test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s"
        ));
        assert!(c.add_line(
            "test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.00s"
        ));
        assert!(!c.add_line("running 3 tests"));
        assert_eq!(
            c,
            Counts {
                passed: 5,
                failed: 1,
                ignored: 1
            }
        );
    }
}
