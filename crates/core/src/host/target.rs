//! Where a host's Docker lives: [`HostTarget`], and the parser that turns
//! what the user typed (`USER@HOST[:PORT]`, `[IPv6]:PORT`, an
//! `~/.ssh/config` alias) into one. The parser is strict on purpose: the
//! destination ends up as an argument of the system `ssh`, so anything that
//! could read as an option (a leading `-`) or as shell syntax is refused with
//! a sentence saying why, before any process starts.

use std::fmt;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};

use super::HostError;
use crate::store::{HostKind, HostRecord};

/// Docker's socket on a Linux host, local or remote.
pub const DEFAULT_DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// How to reach one host's Docker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostTarget {
    /// This machine's Docker, through its Unix socket.
    Local { socket: PathBuf },
    /// A VPS reached over one multiplexed SSH session.
    Ssh {
        /// `user@host`, `host` or an `~/.ssh/config` alias; an IPv6 address
        /// is kept without its brackets. Never starts with `-`.
        destination: String,
        /// `None` lets `~/.ssh/config` (or 22) decide.
        port: Option<u16>,
        /// A private key file to use (and only that one); `None` uses the
        /// ssh-agent and `~/.ssh` as `ssh` would.
        identity: Option<PathBuf>,
        /// Docker's socket on the remote host.
        remote_socket: String,
    },
}

impl HostTarget {
    /// This machine's Docker at [`DEFAULT_DOCKER_SOCKET`].
    pub fn local() -> HostTarget {
        HostTarget::Local {
            socket: PathBuf::from(DEFAULT_DOCKER_SOCKET),
        }
    }

    /// Parses `USER@HOST[:PORT]`, `HOST[:PORT]`, `[IPV6][:PORT]` or an
    /// `~/.ssh/config` alias into an SSH target with no identity file and
    /// the default remote socket. Surrounding whitespace is ignored; spaces
    /// inside, a leading `-`, shell metacharacters, more than one `@`, a bad
    /// port or an IPv6 address without brackets are refused.
    pub fn parse_ssh(input: &str) -> Result<HostTarget, HostError> {
        let (destination, port) =
            parse_destination(input.trim()).map_err(|reason| HostError::InvalidTarget {
                input: input.to_owned(),
                reason,
            })?;
        Ok(HostTarget::Ssh {
            destination,
            port,
            identity: None,
            remote_socket: DEFAULT_DOCKER_SOCKET.to_owned(),
        })
    }

    /// The target of a host saved in the store: its SSH target and identity
    /// file for [`HostKind::Ssh`], the default socket for
    /// [`HostKind::Local`]. A `~/` in the identity file is expanded.
    pub fn from_record(record: &HostRecord) -> Result<HostTarget, HostError> {
        let invalid = |reason: String| HostError::InvalidRecord {
            host: record.name.clone(),
            reason,
        };
        match record.kind {
            HostKind::Local => Ok(HostTarget::local()),
            HostKind::Ssh => {
                let text = record
                    .ssh_target
                    .as_deref()
                    .filter(|t| !t.trim().is_empty())
                    .ok_or_else(|| invalid("it has no SSH target".to_owned()))?;
                let (destination, port) = parse_destination(text.trim())
                    .map_err(|reason| invalid(format!("its SSH target {text:?} {reason}")))?;
                let identity = match record.identity_file.as_deref().map(str::trim) {
                    None | Some("") => None,
                    Some(path) => Some(expand_home(path).ok_or_else(|| {
                        invalid(format!(
                            "its identity file {path:?} starts with ~ but no home directory is known"
                        ))
                    })?),
                };
                Ok(HostTarget::Ssh {
                    destination,
                    port,
                    identity,
                    remote_socket: DEFAULT_DOCKER_SOCKET.to_owned(),
                })
            }
        }
    }

    /// Where a host is, as the user gave it in either shell: over SSH at
    /// `ssh` (`USER@HOST[:PORT]`) with `identity` when given, else this
    /// machine's Docker. A blank `ssh` or an empty `identity` counts as not
    /// given.
    pub fn from_user(ssh: Option<&str>, identity: Option<&Path>) -> Result<HostTarget, HostError> {
        let identity = identity.filter(|i| !i.as_os_str().is_empty());
        Ok(match ssh.map(str::trim).filter(|s| !s.is_empty()) {
            None => HostTarget::local(),
            Some(ssh) => {
                let target = HostTarget::parse_ssh(ssh)?;
                match identity {
                    Some(identity) => target.with_identity(identity),
                    None => target,
                }
            }
        })
    }

    /// The same target with another identity file.
    pub fn with_identity(self, path: impl Into<PathBuf>) -> HostTarget {
        match self {
            HostTarget::Ssh {
                destination,
                port,
                remote_socket,
                ..
            } => HostTarget::Ssh {
                destination,
                port,
                identity: Some(path.into()),
                remote_socket,
            },
            local => local,
        }
    }

    /// The same target with Docker's socket at another remote path.
    pub fn with_remote_socket(self, path: impl Into<String>) -> HostTarget {
        match self {
            HostTarget::Ssh {
                destination,
                port,
                identity,
                ..
            } => HostTarget::Ssh {
                destination,
                port,
                identity,
                remote_socket: path.into(),
            },
            local => local,
        }
    }
}

/// `user@host:port` (brackets around IPv6), or `local Docker at PATH`.
impl fmt::Display for HostTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostTarget::Local { socket } => write!(f, "local Docker at {}", socket.display()),
            HostTarget::Ssh {
                destination, port, ..
            } => {
                let (user, host) = match destination.rsplit_once('@') {
                    Some((user, host)) => (Some(user), host),
                    None => (None, destination.as_str()),
                };
                if let Some(user) = user {
                    write!(f, "{user}@")?;
                }
                match (host.contains(':'), port) {
                    (true, Some(port)) => write!(f, "[{host}]:{port}"),
                    (true, None) => write!(f, "[{host}]"),
                    (false, Some(port)) => write!(f, "{host}:{port}"),
                    (false, None) => write!(f, "{host}"),
                }
            }
        }
    }
}

/// Splits a trimmed target into the `ssh` destination and the port. The
/// error is the end of a sentence starting with the input.
fn parse_destination(input: &str) -> Result<(String, Option<u16>), String> {
    if input.is_empty() {
        return Err("is empty".to_owned());
    }
    if let Some(c) = input.chars().find(|c| c.is_whitespace() || c.is_control()) {
        let what = if c == ' ' {
            "a space".to_owned()
        } else {
            format!("the character {c:?}")
        };
        return Err(format!("contains {what}, which an SSH target cannot have"));
    }
    if input.starts_with('-') {
        return Err("starts with '-', which ssh would read as an option".to_owned());
    }
    if let Some(c) = input
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "._-@:[]%".contains(*c)))
    {
        return Err(format!(
            "contains {c:?}; an SSH target may only hold letters, digits, '.', '_', '-', \
             one '@', a ':' before the port and brackets around an IPv6 address"
        ));
    }
    let (user, rest) = match input.split_once('@') {
        Some((user, rest)) => {
            if rest.contains('@') {
                return Err("contains more than one '@'".to_owned());
            }
            (Some(user), rest)
        }
        None => (None, input),
    };
    if let Some(user) = user {
        if user.is_empty() {
            return Err("has an empty user name before '@'".to_owned());
        }
        if user.starts_with('-') {
            return Err("has a user name starting with '-'".to_owned());
        }
        if user.contains([':', '[', ']', '%']) {
            return Err("has a user name with ':', '[', ']' or '%' in it".to_owned());
        }
    }

    let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
        let (inside, after) = bracketed
            .split_once(']')
            .ok_or_else(|| "opens '[' without closing ']'".to_owned())?;
        let address = inside.split_once('%').map_or(inside, |(addr, _)| addr);
        if address.parse::<Ipv6Addr>().is_err() {
            return Err(format!(
                "has {inside:?} in brackets, which is not an IPv6 address"
            ));
        }
        if let Some((_, zone)) = inside.split_once('%')
            && (zone.is_empty() || !zone.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            return Err(format!(
                "has an IPv6 zone {zone:?} that is not a plain name"
            ));
        }
        let port = match after {
            "" => None,
            _ => Some(parse_port(after.strip_prefix(':').ok_or_else(|| {
                format!("has {after:?} after the IPv6 address, where only ':PORT' may follow")
            })?)?),
        };
        (inside, port)
    } else {
        if rest.contains(['[', ']', '%']) {
            return Err("has '[', ']' or '%' outside an IPv6 address in brackets".to_owned());
        }
        let (host, port) = match rest.matches(':').count() {
            0 => (rest, None),
            1 => {
                let (host, port) = rest.split_once(':').unwrap_or((rest, ""));
                (host, Some(parse_port(port)?))
            }
            _ => {
                return Err(
                    "looks like an IPv6 address; put it in brackets, like [2001:db8::1]:22"
                        .to_owned(),
                );
            }
        };
        if host.is_empty() {
            return Err("has no host name".to_owned());
        }
        if host.starts_with(['-', '.']) {
            return Err(format!("has a host name {host:?} starting with '-' or '.'"));
        }
        (host, port)
    };

    let destination = match user {
        Some(user) => format!("{user}@{host}"),
        None => host.to_owned(),
    };
    Ok((destination, port))
}

fn parse_port(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(port) if port > 0 && text.bytes().all(|b| b.is_ascii_digit()) => Ok(port),
        _ => Err(format!(
            "has the port {text:?}; a port is a number from 1 to 65535"
        )),
    }
}

/// `~` and `~/x` relative to the home directory; anything else unchanged.
fn expand_home(path: &str) -> Option<PathBuf> {
    if path == "~" {
        return dirs::home_dir();
    }
    match path.strip_prefix("~/") {
        Some(rest) => dirs::home_dir().map(|home| home.join(rest)),
        None => Some(Path::new(path).to_path_buf()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_user_typed_becomes_a_target_blank_meaning_not_given() {
        let key = Path::new("/k/id");
        assert_eq!(
            HostTarget::from_user(None, Some(key)).unwrap(),
            HostTarget::local()
        );
        assert_eq!(
            HostTarget::from_user(Some("  "), None).unwrap(),
            HostTarget::local()
        );
        let ssh = HostTarget::from_user(Some(" root@vps:2222 "), Some(Path::new(""))).unwrap();
        assert_eq!(ssh, HostTarget::parse_ssh("root@vps:2222").unwrap());
        let keyed = HostTarget::from_user(Some("root@vps"), Some(key)).unwrap();
        assert_eq!(
            keyed,
            HostTarget::parse_ssh("root@vps")
                .unwrap()
                .with_identity("/k/id")
        );
        assert!(HostTarget::from_user(Some("-oProxyCommand=x"), None).is_err());
    }

    fn ssh(destination: &str, port: Option<u16>) -> HostTarget {
        HostTarget::Ssh {
            destination: destination.to_owned(),
            port,
            identity: None,
            remote_socket: DEFAULT_DOCKER_SOCKET.to_owned(),
        }
    }

    #[test]
    fn parses_the_usual_forms() {
        let cases = [
            ("root@127.0.0.1:2222", ssh("root@127.0.0.1", Some(2222))),
            (
                "deploy@vps.example.com",
                ssh("deploy@vps.example.com", None),
            ),
            ("vps.example.com:22", ssh("vps.example.com", Some(22))),
            ("my-vps", ssh("my-vps", None)),
            ("my_vps.prod", ssh("my_vps.prod", None)),
            ("first.last@host", ssh("first.last@host", None)),
            ("  root@host:2200\n", ssh("root@host", Some(2200))),
            ("[::1]", ssh("::1", None)),
            ("[::1]:2222", ssh("::1", Some(2222))),
            (
                "admin@[2001:db8::7]:65535",
                ssh("admin@2001:db8::7", Some(65535)),
            ),
            ("[fe80::1%eth0]:22", ssh("fe80::1%eth0", Some(22))),
        ];
        for (input, want) in cases {
            assert_eq!(HostTarget::parse_ssh(input).unwrap(), want, "{input:?}");
        }
    }

    #[test]
    fn display_round_trips() {
        for input in [
            "root@127.0.0.1:2222",
            "vps",
            "admin@[2001:db8::7]:22",
            "[::1]",
            "u@h",
        ] {
            let target = HostTarget::parse_ssh(input).unwrap();
            assert_eq!(target.to_string(), input);
            assert_eq!(HostTarget::parse_ssh(&target.to_string()).unwrap(), target);
        }
        assert_eq!(
            HostTarget::local().to_string(),
            "local Docker at /var/run/docker.sock"
        );
    }

    #[test]
    fn refuses_dangerous_or_malformed_input_with_a_reason() {
        let cases = [
            ("", "is empty"),
            ("   ", "is empty"),
            ("root@host name", "a space"),
            ("root@host\tx", "'\\t'"),
            ("-oProxyCommand=sh", "starts with '-'"),
            ("root@-oProxyCommand=x", "'='"),
            ("root@-oProxyCommand", "starting with '-'"),
            ("-root@host", "starts with '-'"),
            ("host;rm", "';'"),
            ("host|cat", "'|'"),
            ("host&", "'&'"),
            ("$(id)@host", "'$'"),
            ("`id`@host", "'`'"),
            ("host'", "'\\''"),
            ("host\"", "'\"'"),
            ("host>x", "'>'"),
            ("host\\x", "'\\\\'"),
            ("ho*st", "'*'"),
            ("~host", "'~'"),
            ("a@b@c", "more than one '@'"),
            ("@host", "empty user"),
            ("root@", "no host"),
            ("root@:22", "no host"),
            ("host:", "port \"\""),
            ("host:0", "port \"0\""),
            ("host:65536", "port \"65536\""),
            ("host:+22", "'+'"),
            ("host:22x", "port \"22x\""),
            ("::1", "brackets"),
            ("2001:db8::1:22", "brackets"),
            ("[::1", "without closing"),
            ("[nothost]:22", "not an IPv6"),
            ("[::1]22", "only ':PORT'"),
            ("[::1]:", "port \"\""),
            ("[fe80::1%]:22", "zone"),
            ("host%x", "outside an IPv6"),
            (".hidden", "starting with '-' or '.'"),
            ("ro:ot@host", "user name with"),
        ];
        for (input, needle) in cases {
            let err = HostTarget::parse_ssh(input).unwrap_err();
            let text = err.to_string();
            assert!(
                matches!(&err, HostError::InvalidTarget { input: i, .. } if i == input),
                "{input:?}: {err:?}"
            );
            assert!(text.contains(needle), "{input:?}: {text}");
            assert!(text.contains("not a valid SSH target"), "{text}");
        }
    }

    fn record(kind: HostKind, target: Option<&str>, identity: Option<&str>) -> HostRecord {
        HostRecord {
            name: "vps1".into(),
            kind,
            ssh_target: target.map(str::to_owned),
            identity_file: identity.map(str::to_owned),
            public_url: "https://vps1.example".into(),
            added_at: 0,
        }
    }

    #[test]
    fn from_record_reads_target_and_identity() {
        let target = HostTarget::from_record(&record(
            HostKind::Ssh,
            Some("root@127.0.0.1:2222"),
            Some("/keys/id_ed25519"),
        ))
        .unwrap();
        assert_eq!(
            target,
            ssh("root@127.0.0.1", Some(2222)).with_identity("/keys/id_ed25519")
        );

        if let Some(home) = dirs::home_dir() {
            let target =
                HostTarget::from_record(&record(HostKind::Ssh, Some("vps"), Some("~/.ssh/id_vps")))
                    .unwrap();
            assert_eq!(
                target,
                ssh("vps", None).with_identity(home.join(".ssh/id_vps"))
            );
        }

        let blank_identity =
            HostTarget::from_record(&record(HostKind::Ssh, Some("vps"), Some(" "))).unwrap();
        assert_eq!(blank_identity, ssh("vps", None));

        let local =
            HostTarget::from_record(&record(HostKind::Local, None, Some("/ignored"))).unwrap();
        assert_eq!(local, HostTarget::local());
    }

    #[test]
    fn from_record_names_the_host_when_the_target_is_bad() {
        let err = HostTarget::from_record(&record(HostKind::Ssh, None, None)).unwrap_err();
        assert!(matches!(err, HostError::InvalidRecord { .. }), "{err:?}");
        assert!(err.to_string().contains("\"vps1\""), "{err}");
        assert!(err.to_string().contains("no SSH target"), "{err}");

        let err = HostTarget::from_record(&record(HostKind::Ssh, Some("root@h;reboot"), None))
            .unwrap_err();
        assert!(err.to_string().contains("\"vps1\""), "{err}");
        assert!(err.to_string().contains("';'"), "{err}");
    }

    #[test]
    fn builders_change_only_ssh_targets() {
        let t = ssh("h", None).with_remote_socket("/run/user/1000/docker.sock");
        assert!(matches!(
            t,
            HostTarget::Ssh { ref remote_socket, .. } if remote_socket == "/run/user/1000/docker.sock"
        ));
        assert_eq!(HostTarget::local().with_identity("/k"), HostTarget::local());
    }
}
