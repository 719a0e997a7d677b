//! A fuzz harness that runs on stable Rust (cargo-fuzz needs nightly): it
//! feeds generated and mutated inputs to the code that reads bytes from
//! outside, catches panics, and checks the memory the process ever held
//! stays under a cap.
//!
//! Targets ([`targets`]): the QAP1 SEXP decoder, the Rserve greeting and the
//! answers after it (through a real [`rserve_qap::Client`] on an in-memory
//! stream), and intake of archives and folders. Inputs come from seeds the
//! real encoders produce, mutated ([`mutate`]), and from random bytes, by a
//! deterministic generator ([`rng`]): input `i` of seed `s` is the same on
//! every machine. [`run`] drives one target; the `rdesk-fuzz` binary counts
//! memory with a global allocator and runs one target per process, so each
//! target's peak is its own.

pub mod mutate;
pub mod rng;
pub mod run;
pub mod targets;

pub use run::{Config, Finding, Report, run};
pub use targets::Target;
