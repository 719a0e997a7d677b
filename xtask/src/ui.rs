//! What `cargo xtask` prints: a line when a step starts, and one when it ends
//! saying what it did or that it was "already there", with its duration.

use std::time::Instant;

use anyhow::Result;

/// What a step found or did.
#[derive(Debug)]
pub enum Outcome {
    /// Nothing to do; the text says what was found.
    Already(String),
    /// The step changed something; the text says what.
    Done(String),
}

pub fn already(what: impl Into<String>) -> Result<Outcome> {
    Ok(Outcome::Already(what.into()))
}

pub fn done(what: impl Into<String>) -> Result<Outcome> {
    Ok(Outcome::Done(what.into()))
}

/// Runs one step, printing its name first and its outcome last.
pub fn step(name: &str, f: impl FnOnce() -> Result<Outcome>) -> Result<()> {
    println!("==> {name}");
    let started = Instant::now();
    let result = f();
    let secs = started.elapsed().as_secs_f64();
    match result {
        Ok(Outcome::Already(what)) => {
            println!("    {name}: already there: {what} ({secs:.1}s)");
            Ok(())
        }
        Ok(Outcome::Done(what)) => {
            println!("    {name}: {what} ({secs:.1}s)");
            Ok(())
        }
        Err(e) => {
            println!("    {name}: FAILED ({secs:.1}s)");
            Err(e.context(format!("step `{name}` failed")))
        }
    }
}

/// A line of progress inside a step.
pub fn note(what: impl AsRef<str>) {
    println!("    .. {}", what.as_ref());
}

/// A part's state for `standin status`.
#[derive(Debug)]
pub struct Health {
    pub ok: bool,
    pub text: String,
}

pub fn healthy(text: impl Into<String>) -> Health {
    Health {
        ok: true,
        text: text.into(),
    }
}

pub fn unhealthy(text: impl Into<String>) -> Health {
    Health {
        ok: false,
        text: text.into(),
    }
}
