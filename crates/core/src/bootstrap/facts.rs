//! What the bootstrap learns of a host before it changes anything: the OS
//! (from `/etc/os-release`), the architecture (`uname -m`) and the user's
//! privileges. [`probe_command`] is the one command that asks; the parsers
//! are pure and refuse what Rserve Desk does not support.

use super::commands::RemoteCommand;

/// Separates the parts of the probe's output.
const MARK: &str = "--rserve-desk--";

/// A supported Linux distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Distro {
    Debian,
    Ubuntu,
}

/// A supported CPU architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    Amd64,
    Arm64,
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        })
    }
}

/// The fields of `/etc/os-release` that matter.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OsRelease {
    pub distro: Distro,
    /// `VERSION_ID`, e.g. `12` or `24.04` (empty on testing/unstable).
    pub version_id: String,
    /// `PRETTY_NAME`, for messages.
    pub pretty_name: String,
}

/// Everything [`probe_command`] found out.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HostFacts {
    pub os: OsRelease,
    pub arch: Arch,
    /// The SSH user's name.
    pub user: String,
    pub root: bool,
    /// `sudo -n true` succeeds (password-less sudo).
    pub sudo: bool,
}

impl HostFacts {
    /// Root, or password-less sudo: needed to install anything.
    pub fn privileged(&self) -> bool {
        self.root || self.sudo
    }
}

/// The host is not one Rserve Desk can bootstrap, or the probe made no sense.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactsError {
    #[error(
        "unsupported OS: {name} (ID={id}); Rserve Desk supports Debian and Ubuntu only, nothing was changed"
    )]
    UnsupportedOs { id: String, name: String },
    #[error(
        "unsupported architecture '{0}'; Rserve Desk supports x86-64 (amd64) and arm64 only, nothing was changed"
    )]
    UnsupportedArch(String),
    #[error("the host's answer to the probe is not understood ({0})")]
    Garbled(&'static str),
}

/// One shell command printing `/etc/os-release`, `uname -m`, `id -u`,
/// `id -un` and whether password-less sudo works, separated by a marker.
pub fn probe_command() -> RemoteCommand {
    let script = format!(
        "cat /etc/os-release 2>/dev/null; echo {MARK}; uname -m; id -u; id -un; \
         if [ \"$(id -u)\" != 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; \
         then echo sudo; else echo nosudo; fi"
    );
    RemoteCommand::new(["sh", "-c", script.as_str()])
}

/// Parses the whole output of [`probe_command`].
pub fn parse_probe(output: &str) -> Result<HostFacts, FactsError> {
    let (os_release, rest) = output
        .split_once(MARK)
        .ok_or(FactsError::Garbled("no marker"))?;
    let mut lines = rest.lines().map(str::trim).filter(|l| !l.is_empty());
    let arch = lines.next().ok_or(FactsError::Garbled("no uname -m"))?;
    let uid = lines.next().ok_or(FactsError::Garbled("no id -u"))?;
    let user = lines.next().ok_or(FactsError::Garbled("no id -un"))?;
    let sudo = lines.next().ok_or(FactsError::Garbled("no sudo line"))?;
    if uid.parse::<u32>().is_err() {
        return Err(FactsError::Garbled("id -u is not a number"));
    }
    Ok(HostFacts {
        os: parse_os_release(os_release)?,
        arch: parse_arch(arch)?,
        user: user.to_owned(),
        root: uid == "0",
        sudo: sudo == "sudo",
    })
}

/// Parses `/etc/os-release` (KEY=value lines, values optionally quoted);
/// Debian and Ubuntu only.
pub fn parse_os_release(text: &str) -> Result<OsRelease, FactsError> {
    let field = |key: &str| {
        text.lines()
            .filter_map(|l| l.trim().strip_prefix(key)?.strip_prefix('='))
            .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\'').to_owned())
            .next()
    };
    let id = field("ID").unwrap_or_default();
    let pretty_name = field("PRETTY_NAME")
        .or_else(|| field("NAME"))
        .unwrap_or_else(|| {
            if id.is_empty() {
                "unknown".into()
            } else {
                id.clone()
            }
        });
    let distro = match id.as_str() {
        "debian" => Distro::Debian,
        "ubuntu" => Distro::Ubuntu,
        _ => {
            return Err(FactsError::UnsupportedOs {
                id: if id.is_empty() { "none".into() } else { id },
                name: pretty_name,
            });
        }
    };
    Ok(OsRelease {
        distro,
        version_id: field("VERSION_ID").unwrap_or_default(),
        pretty_name,
    })
}

/// Parses `uname -m`.
pub fn parse_arch(uname_m: &str) -> Result<Arch, FactsError> {
    match uname_m.trim() {
        "x86_64" | "amd64" => Ok(Arch::Amd64),
        "aarch64" | "arm64" | "armv8l" => Ok(Arch::Arm64),
        other => Err(FactsError::UnsupportedArch(other.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOOKWORM: &str = r#"PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
"#;

    const NOBLE: &str = "PRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"24.04\"\nID=ubuntu\nID_LIKE=debian\n";

    #[test]
    fn probe_is_one_sh_command() {
        let cmd = probe_command();
        assert_eq!(cmd.argv[..2], ["sh", "-c"]);
        assert_eq!(
            cmd.argv[2],
            "cat /etc/os-release 2>/dev/null; echo --rserve-desk--; uname -m; id -u; id -un; \
             if [ \"$(id -u)\" != 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; \
             then echo sudo; else echo nosudo; fi"
        );
        assert_eq!(cmd.stdin, None);
    }

    #[test]
    fn debian_and_ubuntu() {
        let os = parse_os_release(BOOKWORM).unwrap();
        assert_eq!(os.distro, Distro::Debian);
        assert_eq!(os.version_id, "12");
        assert_eq!(os.pretty_name, "Debian GNU/Linux 12 (bookworm)");
        let os = parse_os_release(NOBLE).unwrap();
        assert_eq!(os.distro, Distro::Ubuntu);
        assert_eq!(os.version_id, "24.04");
    }

    #[test]
    fn others_are_refused_clearly() {
        let err = parse_os_release(
            "ID=fedora\nID_LIKE=\"rhel centos\"\nPRETTY_NAME=\"Fedora Linux 40\"\n",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported OS: Fedora Linux 40 (ID=fedora); Rserve Desk supports Debian and Ubuntu only, nothing was changed"
        );
        // ID_LIKE=debian alone is not enough: only what we test is supported.
        assert!(parse_os_release("ID=linuxmint\nID_LIKE=ubuntu\n").is_err());
        assert_eq!(
            parse_os_release("").unwrap_err(),
            FactsError::UnsupportedOs {
                id: "none".into(),
                name: "unknown".into()
            }
        );
    }

    #[test]
    fn architectures() {
        assert_eq!(parse_arch("x86_64\n"), Ok(Arch::Amd64));
        assert_eq!(parse_arch("aarch64"), Ok(Arch::Arm64));
        assert_eq!(Arch::Arm64.to_string(), "arm64");
        assert_eq!(
            parse_arch("riscv64").unwrap_err().to_string(),
            "unsupported architecture 'riscv64'; Rserve Desk supports x86-64 (amd64) and arm64 only, nothing was changed"
        );
    }

    #[test]
    fn whole_probe() {
        let out = format!("{BOOKWORM}--rserve-desk--\nx86_64\n1000\ndeploy\nsudo\n");
        let facts = parse_probe(&out).unwrap();
        assert_eq!(facts.os.distro, Distro::Debian);
        assert_eq!(facts.arch, Arch::Amd64);
        assert_eq!(facts.user, "deploy");
        assert!(!facts.root && facts.sudo && facts.privileged());
        let out = format!("{NOBLE}--rserve-desk--\naarch64\n0\nroot\nnosudo\n");
        let facts = parse_probe(&out).unwrap();
        assert!(facts.root && !facts.sudo && facts.privileged());
        assert_eq!(
            parse_probe("x86_64\n"),
            Err(FactsError::Garbled("no marker"))
        );
        assert_eq!(
            parse_probe(&format!("{BOOKWORM}--rserve-desk--\nx86_64\n")),
            Err(FactsError::Garbled("no id -u"))
        );
    }
}
