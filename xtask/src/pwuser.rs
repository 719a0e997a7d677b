//! A user who logs in to the stand-in's sshd with a password, for the
//! keyring end-to-end test: the account `rdesk-pw` in the group `docker`,
//! its password random, made here and kept in `.standin/pw-user.password`
//! (0600, never committed: `.standin/` is ignored). sshd allows passwords
//! for this user only (a `Match User` block in its configuration).

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::facts::{PW_USER, Standin};
use crate::sh;
use crate::ui::{self, Outcome};

/// The password, made on first use: 16 random bytes as hex.
fn password(st: &Standin) -> Result<String> {
    let file = st.pw_user_password();
    if let Ok(text) = fs::read_to_string(&file)
        && text.trim().len() == 32
    {
        return Ok(text.trim().to_owned());
    }
    let mut bytes = [0u8; 16];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("cannot read /dev/urandom")?;
    let password = hex::encode(bytes);
    fs::create_dir_all(&st.dir)?;
    let mut out = fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&file)
        .with_context(|| format!("cannot write {}", file.display()))?;
    writeln!(out, "{password}")?;
    Ok(password)
}

fn user_exists() -> bool {
    sh::succeeds(Command::new("id").arg("-u").arg(PW_USER))
}

pub fn up(st: &Standin) -> Result<Outcome> {
    let password = password(st)?;
    let mut made = Vec::new();
    if !user_exists() {
        sh::capture(Command::new("useradd").args([
            "--create-home",
            "--shell",
            "/bin/sh",
            "--groups",
            "docker",
            PW_USER,
        ]))?;
        made.push("account");
    }
    let uid = sh::capture(Command::new("id").arg("-u").arg(PW_USER))?;
    // Set every time (a few ms): another checkout's stand-in, or a person,
    // may have changed it, and a stamp cannot tell.
    let mut chpasswd = Command::new("chpasswd")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run chpasswd")?;
    if let Some(mut stdin) = chpasswd.stdin.take() {
        writeln!(stdin, "{PW_USER}:{password}")?;
    }
    let out = chpasswd.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "chpasswd failed for {PW_USER}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    made.push("password set");
    ui::done(format!("user {PW_USER} (uid {uid}): {}", made.join(", ")))
}
