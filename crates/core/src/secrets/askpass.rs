//! The askpass side of the keyring: how ssh is told to ask `rdesk-askpass`
//! ([`AskpassEnv`]), what ssh's prompt asks for ([`classify`]), and the
//! answer from the keyring ([`answer`]).
//!
//! ssh runs `$SSH_ASKPASS "<prompt>"` (with `SSH_ASKPASS_REQUIRE=force`, even
//! without a display) and reads the secret from the helper's stdout, so the
//! secret goes keyring -> pipe -> ssh and is never on a command line or in
//! an environment variable. Host keys are pinned by the host module, so a
//! host-key confirmation is always refused here.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{Secret, SecretError, SecretKind, SecretStore};

/// Names the host whose secret the helper hands out.
pub const HOST_VAR: &str = "RDESK_ASKPASS_HOST";
/// Overrides where the helper program is (default: beside the running
/// executable).
pub const PROGRAM_VAR: &str = "RDESK_ASKPASS";
/// The helper's file name.
pub const PROGRAM_NAME: &str = "rdesk-askpass";

/// `-o` options the ssh master needs for askpass to be used at all: the
/// `openssh` crate's `BatchMode=yes` disables every prompt, askpass
/// included. One prompt per method, so a wrong password fails at once
/// instead of being offered again.
pub const SSH_OPTIONS: [&str; 2] = ["BatchMode=no", "NumberOfPasswordPrompts=1"];

/// What ssh asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// A secret we may hold.
    Secret(SecretKind),
    /// "Are you sure you want to continue connecting": refused, host keys are
    /// pinned elsewhere.
    HostKey,
    /// Any other yes/no confirmation (`SSH_ASKPASS_PROMPT=confirm`):
    /// refused.
    Confirm,
    /// A notice only (`SSH_ASKPASS_PROMPT=none`, e.g. "touch your security
    /// key"): nothing to answer.
    Notice,
    /// Something we hold no secret for (a new password, a one-time code, a
    /// PIN, ...): refused.
    Other,
}

/// What `prompt` (ssh's argv\[1\]) asks for; `askpass_prompt` is ssh's
/// `SSH_ASKPASS_PROMPT` variable when set.
pub fn classify(prompt: &str, askpass_prompt: Option<&str>) -> Prompt {
    let p = prompt.to_lowercase();
    if p.contains("continue connecting") || p.contains("authenticity of host") {
        return Prompt::HostKey;
    }
    match askpass_prompt {
        Some("none") => return Prompt::Notice,
        Some("confirm") => return Prompt::Confirm,
        _ => {}
    }
    let last = p.lines().last().unwrap_or("").trim_end();
    if last.contains("passphrase for") && last.ends_with(':') {
        return Prompt::Secret(SecretKind::KeyPassphrase);
    }
    let refused = [
        "new", "retype", "again", "one-time", "otp", "code", "pin", "token",
    ];
    if last.ends_with("password:")
        && !last
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '-')
            .any(|word| refused.contains(&word))
    {
        return Prompt::Secret(SecretKind::SshPassword);
    }
    Prompt::Other
}

/// Why the helper gives ssh nothing. Never holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum AskpassError {
    #[error("{HOST_VAR} is not set: rdesk-askpass is meant to be run by ssh for Rserve Desk")]
    NoHost,
    #[error("refusing to confirm a host key: Rserve Desk pins host keys itself")]
    HostKey,
    #[error("refusing a confirmation request from ssh")]
    Confirm,
    #[error("no stored secret answers ssh's prompt `{0}`")]
    UnknownPrompt(String),
    #[error(
        "no {kind} is stored for host `{host}`; store one with `rdesk host add` or `rdesk host set-secret`"
    )]
    NotStored { host: String, kind: SecretKind },
    #[error(transparent)]
    Keyring(#[from] SecretError),
}

/// The answer to `prompt` for `host`: `Ok(None)` when ssh only shows a
/// notice, `Ok(Some(secret))` to print, or why there is none.
pub fn answer(
    host: Option<&str>,
    prompt: &str,
    askpass_prompt: Option<&str>,
) -> Result<Option<Secret>, AskpassError> {
    let kind = match classify(prompt, askpass_prompt) {
        Prompt::Secret(kind) => kind,
        Prompt::Notice => return Ok(None),
        Prompt::HostKey => return Err(AskpassError::HostKey),
        Prompt::Confirm => return Err(AskpassError::Confirm),
        Prompt::Other => {
            let short: String = prompt.trim().chars().take(120).collect();
            return Err(AskpassError::UnknownPrompt(short));
        }
    };
    let host = host.filter(|h| !h.is_empty()).ok_or(AskpassError::NoHost)?;
    let store = SecretStore::open()?;
    match store.get(host, kind)? {
        Some(secret) => Ok(Some(secret)),
        None => Err(AskpassError::NotStored {
            host: host.to_owned(),
            kind,
        }),
    }
}

/// The environment that makes an ssh process ask `rdesk-askpass` for
/// `host`'s secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AskpassEnv {
    program: PathBuf,
    host: String,
}

impl AskpassEnv {
    pub fn new(program: impl Into<PathBuf>, host: impl Into<String>) -> Self {
        Self {
            program: program.into(),
            host: host.into(),
        }
    }

    /// The helper named by `$RDESK_ASKPASS`, else `rdesk-askpass` beside the
    /// running executable (`rdesk`, the desktop app). `None` when neither
    /// exists.
    pub fn locate(host: impl Into<String>) -> Option<Self> {
        let program = match std::env::var_os(PROGRAM_VAR) {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => std::env::current_exe().ok()?.parent()?.join(PROGRAM_NAME),
        };
        program.is_file().then(|| Self::new(program, host))
    }

    pub fn program(&self) -> &Path {
        &self.program
    }

    /// `SSH_ASKPASS`, `SSH_ASKPASS_REQUIRE=force` and [`HOST_VAR`].
    pub fn vars(&self) -> [(&'static str, OsString); 3] {
        [
            ("SSH_ASKPASS", self.program.clone().into_os_string()),
            ("SSH_ASKPASS_REQUIRE", OsString::from("force")),
            (HOST_VAR, OsString::from(&self.host)),
        ]
    }

    /// Sets [`Self::vars`] on `cmd` and adds [`SSH_OPTIONS`].
    pub fn apply(&self, cmd: &mut std::process::Command) {
        cmd.envs(self.vars());
        for option in SSH_OPTIONS {
            cmd.arg("-o").arg(option);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PW: Prompt = Prompt::Secret(SecretKind::SshPassword);
    const PP: Prompt = Prompt::Secret(SecretKind::KeyPassphrase);

    #[test]
    fn password_prompts() {
        assert_eq!(classify("root@127.0.0.1's password: ", None), PW);
        assert_eq!(classify("Password: ", None), PW);
        assert_eq!(classify("(deploy@vps.example.org) Password: ", None), PW);
        assert_eq!(classify("deploy@vps's password:", Some("")), PW);
    }

    #[test]
    fn passphrase_prompts() {
        assert_eq!(
            classify("Enter passphrase for key '/home/u/.ssh/id_ed25519': ", None),
            PP
        );
        assert_eq!(
            classify("Enter passphrase for /home/u/.ssh/id_rsa:", None),
            PP
        );
    }

    #[test]
    fn host_key_confirmation_is_refused() {
        let prompt = "The authenticity of host '[127.0.0.1]:2222 ([127.0.0.1]:2222)' can't be established.\n\
             ED25519 key fingerprint is SHA256:abc.\n\
             Are you sure you want to continue connecting (yes/no/[fingerprint])? ";
        assert_eq!(classify(prompt, None), Prompt::HostKey);
        assert_eq!(classify(prompt, Some("confirm")), Prompt::HostKey);
        assert!(matches!(
            answer(Some("h"), prompt, None),
            Err(AskpassError::HostKey)
        ));
    }

    #[test]
    fn other_prompts_are_refused_without_the_keyring() {
        for prompt in [
            "New password: ",
            "Retype new password: ",
            "Verification code: ",
            "One-time password: ",
            "Enter PIN for ECDSA-SK key /k: ",
            "Allow use of key /k?",
        ] {
            assert_eq!(classify(prompt, None), Prompt::Other, "{prompt}");
            assert!(matches!(
                answer(Some("h"), prompt, None),
                Err(AskpassError::UnknownPrompt(_))
            ));
        }
        assert_eq!(
            classify("Allow use of key?", Some("confirm")),
            Prompt::Confirm
        );
        assert_eq!(
            classify("Confirm user presence for key ED25519-SK", Some("none")),
            Prompt::Notice
        );
        assert!(matches!(answer(None, "x", Some("none")), Ok(None)));
    }

    #[test]
    fn a_missing_host_is_an_error() {
        assert!(matches!(
            answer(None, "Password: ", None),
            Err(AskpassError::NoHost)
        ));
        assert!(matches!(
            answer(Some(""), "Password: ", None),
            Err(AskpassError::NoHost)
        ));
    }

    #[test]
    fn env_for_ssh() {
        let env = AskpassEnv::new("/opt/rdesk/rdesk-askpass", "vps1");
        let vars = env.vars();
        assert_eq!(vars[0], ("SSH_ASKPASS", "/opt/rdesk/rdesk-askpass".into()));
        assert_eq!(vars[1], ("SSH_ASKPASS_REQUIRE", "force".into()));
        assert_eq!(vars[2], ("RDESK_ASKPASS_HOST", "vps1".into()));
        let mut cmd = std::process::Command::new("ssh");
        env.apply(&mut cmd);
        let args: Vec<_> = cmd.get_args().collect();
        assert_eq!(
            args,
            ["-o", "BatchMode=no", "-o", "NumberOfPasswordPrompts=1"]
        );
        assert_eq!(cmd.get_envs().count(), 3);
    }
}
