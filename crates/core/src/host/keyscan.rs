//! Learning a host's SSH key without logging in, so the user can confirm
//! its fingerprint before anything (a password, say) is sent to it: ssh
//! with every way of authenticating turned off, into a throwaway
//! known_hosts file; the key exchange records the key, the login then fails.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use super::error::{HostError, classify_connect_failure};
use super::known_hosts::first_key_line;
use super::tunnel::private_dir;

/// ssh's arguments: no authentication method at all, accept and record the key.
fn argv(
    destination: &str,
    port: Option<u16>,
    known_hosts: &Path,
    timeout: Duration,
) -> Vec<String> {
    let mut args = vec!["-T".to_owned()];
    for option in [
        "BatchMode=yes",
        "StrictHostKeyChecking=accept-new",
        "PubkeyAuthentication=no",
        "PasswordAuthentication=no",
        "KbdInteractiveAuthentication=no",
        "GSSAPIAuthentication=no",
        "HostbasedAuthentication=no",
        "NumberOfPasswordPrompts=0",
    ] {
        args.extend(["-o".to_owned(), option.to_owned()]);
    }
    args.extend([
        "-o".to_owned(),
        format!("ConnectTimeout={}", timeout.as_secs().max(1)),
        "-o".to_owned(),
        format!("UserKnownHostsFile={}", known_hosts.display()),
    ]);
    if let Some(port) = port {
        args.extend(["-p".to_owned(), port.to_string()]);
    }
    // The destination was validated (no leading `-`); `--` makes sure.
    args.extend(["--".to_owned(), destination.to_owned(), "true".to_owned()]);
    args
}

/// The known_hosts line of the key `destination` offers.
pub async fn scan(
    host: &str,
    destination: &str,
    port: Option<u16>,
    runtime_dir: &Path,
    timeout: Duration,
) -> Result<String, HostError> {
    let dir = private_dir(host, runtime_dir)?;
    let known_hosts = dir.path().join("known_hosts");
    let run = tokio::process::Command::new("ssh")
        .args(argv(destination, port, &known_hosts, timeout))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(timeout + Duration::from_secs(5), run)
        .await
        .map_err(|_| HostError::Ssh {
            host: host.to_owned(),
            reason: format!("no answer within {} s", timeout.as_secs()),
        })?
        .map_err(|e| HostError::Ssh {
            host: host.to_owned(),
            reason: format!("could not run ssh: {e}"),
        })?;
    let contents = std::fs::read_to_string(&known_hosts).unwrap_or_default();
    match first_key_line(&contents) {
        Some(line) => Ok(line.to_owned()),
        None => Err(classify_connect_failure(
            host,
            None,
            &String::from_utf8_lossy(&output.stderr),
            false,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_way_of_logging_in_is_left_on() {
        let args = argv(
            "root@vps.example",
            Some(2222),
            Path::new("/run/x/known_hosts"),
            Duration::from_secs(10),
        )
        .join(" ");
        for off in [
            "PubkeyAuthentication=no",
            "PasswordAuthentication=no",
            "KbdInteractiveAuthentication=no",
            "BatchMode=yes",
        ] {
            assert!(args.contains(off), "{args}");
        }
        assert!(
            args.contains("UserKnownHostsFile=/run/x/known_hosts"),
            "{args}"
        );
        assert!(args.ends_with("-p 2222 -- root@vps.example true"), "{args}");
    }
}
