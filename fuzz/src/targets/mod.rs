//! The fuzz targets: what one input is, where it goes, and what the target
//! may hold in memory.

mod handshake;
mod intake;
mod sexp;

pub use handshake::Handshake;
pub use intake::Intake;
pub use sexp::Sexp;

use crate::mutate::mutate;
use crate::rng::Rng;

/// What feeding one input gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The code under test took the input in.
    Accepted,
    /// The code under test refused it with an error, as it should garbage.
    Refused,
    /// A rule broken without a panic (a hang, an impossible result).
    Broken(String),
}

/// One kind of untrusted input.
pub trait Target {
    fn name(&self) -> &'static str;
    /// Most bytes the process may hold while this target runs.
    fn cap_bytes(&self) -> usize;
    /// Makes one input.
    fn input(&self, rng: &mut Rng) -> Vec<u8>;
    /// Feeds one input to the code under test.
    fn feed(&mut self, input: &[u8]) -> Outcome;
    /// Called after a panic, to rebuild whatever the panic may have left broken.
    fn recover(&mut self) {}
}

/// The targets by name, in the order a full run takes them.
pub const NAMES: [&str; 3] = ["sexp", "handshake", "intake"];

/// Makes the target called `name`.
pub fn by_name(name: &str) -> anyhow::Result<Box<dyn Target>> {
    Ok(match name {
        "sexp" => Box::new(Sexp::new()?),
        "handshake" => Box::new(Handshake::new()?),
        "intake" => Box::new(Intake::new()?),
        other => anyhow::bail!(
            "no fuzz target {other:?}; the targets are {}",
            NAMES.join(", ")
        ),
    })
}

/// An input made from `seeds`: mostly a mutated seed, sometimes random bytes.
pub(crate) fn from_seeds(rng: &mut Rng, seeds: &[Vec<u8>], max_len: usize) -> Vec<u8> {
    if seeds.is_empty() || rng.one_in(16) {
        let n = rng.below(max_len.min(512) + 1);
        return rng.bytes(n);
    }
    let mut data = rng.pick(seeds).clone();
    mutate(rng, &mut data, seeds, max_len);
    data
}
