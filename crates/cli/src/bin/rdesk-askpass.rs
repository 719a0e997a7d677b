//! `rdesk-askpass`: the program ssh runs as `SSH_ASKPASS` for Rserve Desk.
//!
//! ssh calls it with its prompt as the only argument; the host comes from
//! `RDESK_ASKPASS_HOST`. A password or key-passphrase prompt is answered from
//! the OS keyring on stdout (exit 0); a host-key confirmation, an unknown
//! prompt or a missing secret exits 1 with the reason on stderr. The secret
//! is never on a command line and never on stderr.

use std::io::Write;
use std::process::ExitCode;

use rdesk_core::secrets::askpass::{self, HOST_VAR};

fn main() -> ExitCode {
    let prompt = std::env::args_os()
        .nth(1)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let host = std::env::var(HOST_VAR).ok();
    let askpass_prompt = std::env::var("SSH_ASKPASS_PROMPT").ok();
    match askpass::answer(host.as_deref(), &prompt, askpass_prompt.as_deref()) {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(secret)) => {
            let mut out = std::io::stdout().lock();
            let written = out
                .write_all(secret.expose().as_bytes())
                .and_then(|()| out.write_all(b"\n"))
                .and_then(|()| out.flush());
            match written {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("rdesk-askpass: could not hand the secret to ssh: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            eprintln!("rdesk-askpass: {e}");
            ExitCode::FAILURE
        }
    }
}
