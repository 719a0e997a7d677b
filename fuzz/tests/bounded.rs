//! The bounded fuzz run of `cargo test`: each target for a few seconds with
//! a fixed seed, through the `rdesk-fuzz` binary (one process per target, so
//! each peak is its own). `cargo xtask fuzz` runs the same for millions.

use std::process::Command;

fn fuzz(target: &str, inputs: u64, seed: u64) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_rdesk-fuzz"))
        .args(["--target", target, "--inputs", &inputs.to_string()])
        .args(["--seed", &seed.to_string()])
        .output()
        .unwrap_or_else(|e| panic!("cannot run rdesk-fuzz: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{target}: {}\n{stdout}\n{stderr}",
        out.status
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{target}: {e}: {stdout}"))
}

fn check(target: &str, inputs: u64) {
    let report = fuzz(target, inputs, 20_261_203);
    let count = |key: &str| report[key].as_u64().unwrap_or(u64::MAX);
    assert_eq!(count("inputs"), inputs, "{report}");
    assert_eq!(count("panics"), 0, "{report}");
    assert_eq!(count("other_findings"), 0, "{report}");
    assert!(count("peak_bytes") <= count("cap_bytes"), "{report}");
    // The inputs reach both sides: some taken in, most refused.
    let accepted = count("accepted");
    assert!(accepted > 0 && accepted < inputs, "{report}");
}

#[test]
fn sexp_decoder_survives_a_bounded_run() {
    check("sexp", 200_000);
}

#[test]
fn handshake_survives_a_bounded_run() {
    check("handshake", 30_000);
}

#[test]
fn intake_survives_a_bounded_run() {
    check("intake", 20_000);
}

#[test]
fn a_seed_gives_the_same_run_again() {
    let first = fuzz("sexp", 2_000, 7);
    let again = fuzz("sexp", 2_000, 7);
    let other = fuzz("sexp", 2_000, 8);
    assert_eq!(first["accepted"], again["accepted"]);
    assert_ne!(first["accepted"], other["accepted"]);
}

#[test]
fn an_unknown_target_is_refused_with_the_list() {
    let out = Command::new(env!("CARGO_BIN_EXE_rdesk-fuzz"))
        .args(["--target", "nope", "--inputs", "1"])
        .output()
        .expect("rdesk-fuzz runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sexp, handshake, intake"), "{stderr}");
}
