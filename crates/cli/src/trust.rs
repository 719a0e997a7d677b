//! Which host key a password or key passphrase may go to: the fingerprint
//! given with `--fingerprint`, or the one the user confirms on the terminal
//! after seeing it. Without a terminal and without `--fingerprint` nothing
//! is asked or sent.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Result, bail};
use rdesk_core::DeskError;
use rdesk_core::desk::Desk;
use rdesk_core::host::HostTarget;
use rdesk_core::secrets::SecretKind;

/// The fingerprint of the key a new host offers, as the user confirmed it.
pub async fn confirm_offered(
    desk: &Desk,
    host: &str,
    target: &HostTarget,
    kind: SecretKind,
    given: Option<String>,
) -> Result<String> {
    if let Some(fingerprint) = given {
        return Ok(fingerprint);
    }
    ensure_terminal(host, kind)?;
    let Some(offered) = desk.host_key(host, target).await? else {
        bail!("host {host} is this machine's Docker: it takes no {kind}");
    };
    ask(host, kind, &offered, "offers")
}

/// The fingerprint of the key pinned for an existing host, as the user
/// confirmed it.
pub async fn confirm_pinned(
    desk: &Desk,
    host: &str,
    kind: SecretKind,
    given: Option<String>,
) -> Result<String> {
    if let Some(fingerprint) = given {
        return Ok(fingerprint);
    }
    ensure_terminal(host, kind)?;
    let Some(pinned) = desk.pinned_fingerprint(host).await? else {
        desk.host(host).await?;
        bail!("no host key is pinned for host {host} yet: run `rdesk host check {host}` first");
    };
    ask(host, kind, &pinned, "is pinned to")
}

fn ensure_terminal(host: &str, kind: SecretKind) -> Result<()> {
    if std::io::stdin().is_terminal() {
        Ok(())
    } else {
        Err(DeskError::SecretNeedsConfirmedKey {
            host: host.to_owned(),
            kind,
        }
        .into())
    }
}

/// Shows `fingerprint` and asks whether the secret may go to it.
fn ask(host: &str, kind: SecretKind, fingerprint: &str, verb: &str) -> Result<String> {
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "Host {host} {verb} the key {fingerprint}.\n\
         Compare it with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the server."
    )?;
    write!(err, "Send the {kind} to this key? [y/N] ")?;
    err.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim().to_lowercase().as_str(), "y" | "yes") {
        Ok(fingerprint.to_owned())
    } else {
        bail!("the key of host {host} was not confirmed: no {kind} was sent or kept")
    }
}
