//! Asking the user for a secret: without echo on a terminal, else one line
//! of standard input (for scripts and tests). The answer goes straight into
//! a redacting [`Secret`].

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, Result, bail};
use rdesk_core::secrets::{Secret, SecretKind};

/// The `kind` secret of `host`, asked for once.
pub fn ask(kind: SecretKind, host: &str) -> Result<(SecretKind, Secret)> {
    let secret = if std::io::stdin().is_terminal() {
        Secret::from(
            rpassword::prompt_password(format!("{kind} for host {host}: "))
                .with_context(|| format!("reading the {kind} for host {host}"))?,
        )
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .with_context(|| format!("reading the {kind} for host {host} from standard input"))?;
        let kept = line.trim_end_matches(['\n', '\r']).len();
        line.truncate(kept);
        // Moved, not copied: the one copy is zeroed when the Secret drops.
        Secret::from(line)
    };
    if secret.is_empty() {
        bail!("no {kind} given for host {host}: nothing was stored");
    }
    Ok((kind, secret))
}
