//! How an app's containers run, beyond what its image holds: memory and CPU
//! limits, the number of replicas, a domain of its own, who may call it
//! ([`access`]), plain environment variables and the names of its
//! secret ones. All of it is validated here and
//! recorded in labels, so a redeploy or a rollback reads it back from the host;
//! secret values ([`SecretEnv`]) only ever reach the container's environment.

pub mod access;

use std::collections::BTreeMap;
use std::fmt;

use sha2::{Digest, Sha256};

use access::{AccessMode, Cidr};

/// Why a container setting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "the memory limit `{0}` is not valid: give megabytes or gigabytes like 512m or 2g, between {MIN_MEMORY_MB}m and {MAX_MEMORY_MB}m"
    )]
    Memory(String),
    #[error(
        "the CPU limit `{0}` is not valid: give a number of CPUs like 0.5 or 2, between 0.05 and 64"
    )]
    Cpus(String),
    #[error("the replica count `{0}` is not valid: give a whole number from 1 to {MAX_REPLICAS}")]
    Replicas(String),
    #[error(
        "the domain `{0}` is not valid: give a host name like app.example.com (lower-case letters, digits, dashes and dots)"
    )]
    Domain(String),
    #[error(
        "the environment variable name `{0}` is not valid: use letters, digits and `_`, not starting with a digit, at most 64 characters, and none of the names the platform sets (APP_DIR, RSERVE_MODE, QAP_PORT, WS_PORT, HOME, PATH, RDESK_ACCESS, RDESK_TOKENS, RDESK_MEMORY_MB)"
    )]
    EnvName(String),
    #[error(
        "the access mode `{0}` is not valid: give `token` (callers present a token) or `public`"
    )]
    Access(String),
    #[error(
        "`{0}` is not a network: give an IP address or a CIDR like 203.0.113.0/24 or 2001:db8::/32"
    )]
    Cidr(String),
    #[error("`{given}` has host bits set: did you mean {network}?")]
    CidrHostBits { given: String, network: String },
    #[error("the allow-list has {0} networks; at most 32 are taken (merge them into wider CIDRs)")]
    AllowTooLong(usize),
    #[error(
        "an eval-mode app cannot be public: it lets every caller run any R code, and so shell commands, on the VPS; keep `--access token` (the default) and call it with a token, or deploy it in ocap mode"
    )]
    EvalNeedsToken,
    #[error(
        "the value of the environment variable `{0}` is not valid: at most 4096 bytes, without NUL"
    )]
    EnvValue(String),
    #[error("the environment variable `{0}` is given twice")]
    EnvTwice(String),
}

pub const MIN_MEMORY_MB: u32 = 64;
pub const MAX_MEMORY_MB: u32 = 1 << 20;
pub const MAX_REPLICAS: u8 = 10;
/// Variables the platform sets itself; an app may not override them.
pub const RESERVED_ENV: [&str; 9] = [
    "APP_DIR",
    "RSERVE_MODE",
    "QAP_PORT",
    "WS_PORT",
    "HOME",
    "PATH",
    "RDESK_ACCESS",
    "RDESK_TOKENS",
    "RDESK_MEMORY_MB",
];

/// Parses `512m`, `2g` or a plain number of megabytes.
pub fn parse_memory_mb(raw: &str) -> Result<u32, SettingsError> {
    let bad = || SettingsError::Memory(raw.to_owned());
    let lower = raw.trim().to_ascii_lowercase();
    let (digits, factor) = match lower.strip_suffix('g') {
        Some(d) => (d, 1024),
        None => (lower.strip_suffix('m').unwrap_or(&lower), 1),
    };
    let value: u32 = digits.parse().map_err(|_| bad())?;
    let mb = value.checked_mul(factor).ok_or_else(bad)?;
    if (MIN_MEMORY_MB..=MAX_MEMORY_MB).contains(&mb) {
        Ok(mb)
    } else {
        Err(bad())
    }
}

/// Parses a number of CPUs (`0.5`, `2`) into thousandths of a CPU.
pub fn parse_millicpus(raw: &str) -> Result<u32, SettingsError> {
    let bad = || SettingsError::Cpus(raw.to_owned());
    let (whole, frac) = raw.trim().split_once('.').unwrap_or((raw.trim(), ""));
    let plain = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !plain(whole) || !plain(frac) || frac.len() > 3 {
        return Err(bad());
    }
    let whole: u32 = whole.parse().map_err(|_| bad())?;
    let frac: u32 = format!("{frac:0<3}").parse().map_err(|_| bad())?;
    let milli = whole.checked_mul(1000).ok_or_else(bad)? + frac;
    if (50..=64_000).contains(&milli) {
        Ok(milli)
    } else {
        Err(bad())
    }
}

pub fn parse_replicas(raw: &str) -> Result<u8, SettingsError> {
    match raw.trim().parse::<u8>() {
        Ok(n) if (1..=MAX_REPLICAS).contains(&n) => Ok(n),
        _ => Err(SettingsError::Replicas(raw.to_owned())),
    }
}

/// A DNS name of at least two labels: `[a-z0-9-]`, 1..=63 per label, no
/// leading or trailing hyphen, an alphabetic top-level label, 253 at most.
/// The one rule for every domain we put in a Traefik rule or a certificate.
pub fn is_dns_name(name: &str) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    name.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_lowercase()))
}

/// A host name an app answers at besides its path (a Traefik `Host` rule).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Domain(String);

impl Domain {
    pub fn parse(raw: &str) -> Result<Self, SettingsError> {
        let lower = raw.to_ascii_lowercase();
        let ok = is_dns_name(&lower);
        if ok {
            Ok(Self(lower))
        } else {
            Err(SettingsError::Domain(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The name of an environment variable an app may set.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct EnvName(String);

impl EnvName {
    pub fn parse(raw: &str) -> Result<Self, SettingsError> {
        let bytes = raw.as_bytes();
        let ok = (1..=64).contains(&bytes.len())
            && !bytes[0].is_ascii_digit()
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
            && !RESERVED_ENV.contains(&raw);
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(SettingsError::EnvName(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_value(name: &EnvName, value: &str) -> Result<(), SettingsError> {
    if value.len() <= 4096 && !value.contains('\0') {
        Ok(())
    } else {
        Err(SettingsError::EnvValue(name.0.clone()))
    }
}

/// How an app's containers run; recorded in their labels.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Settings {
    pub memory_mb: u32,
    pub millicpus: u32,
    pub replicas: u8,
    pub domain: Option<Domain>,
    /// Whether callers present a token.
    pub access: AccessMode,
    /// Networks callers must come from (Traefik's `ipAllowList`); empty: any.
    pub allow: Vec<Cidr>,
    /// Plain variables, by name; they are visible in labels and `docker inspect`.
    env: BTreeMap<EnvName, String>,
    /// Names of the secret variables; their values come from [`SecretEnv`].
    #[serde(rename = "secrets")]
    secret_names: Vec<EnvName>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            memory_mb: 512,
            millicpus: 1000,
            replicas: 1,
            domain: None,
            access: AccessMode::default(),
            allow: Vec::new(),
            env: BTreeMap::new(),
            secret_names: Vec::new(),
        }
    }
}

impl Settings {
    /// Sets the plain variables and the names of the secret ones; a name may appear once.
    pub fn set_env(
        &mut self,
        plain: Vec<(EnvName, String)>,
        mut secret_names: Vec<EnvName>,
    ) -> Result<(), SettingsError> {
        let mut env = BTreeMap::new();
        for (name, value) in plain {
            check_value(&name, &value)?;
            if env.insert(name.clone(), value).is_some() || secret_names.contains(&name) {
                return Err(SettingsError::EnvTwice(name.0));
            }
        }
        secret_names.sort();
        if let Some(twice) = secret_names.windows(2).find(|w| w[0] == w[1]) {
            return Err(SettingsError::EnvTwice(twice[0].0.clone()));
        }
        self.env = env;
        self.secret_names = secret_names;
        Ok(())
    }

    pub fn env(&self) -> impl Iterator<Item = (&EnvName, &str)> {
        self.env.iter().map(|(k, v)| (k, v.as_str()))
    }

    pub fn secret_names(&self) -> &[EnvName] {
        &self.secret_names
    }

    /// Identifies these settings: containers with equal image and hash need no replacing.
    pub fn hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.to_label_value().as_bytes());
        hex::encode(h.finalize())
    }

    /// The settings as one label value (JSON), read back by [`Settings::from_label_value`].
    pub fn to_label_value(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads settings back from a label; what is missing or invalid takes its
    /// default, except a missing access mode: containers from before access
    /// modes answered everyone, so they read back as public.
    pub fn from_label_value(raw: &str) -> Self {
        let mut settings = Self::default();
        let Ok(v) = serde_json::from_str::<serde_json::Value>(raw) else {
            return settings;
        };
        let number = |k: &str| v.get(k).and_then(serde_json::Value::as_u64);
        if let Some(mb) = number("memory_mb").and_then(|n| u32::try_from(n).ok()) {
            settings.memory_mb = mb;
        }
        if let Some(m) = number("millicpus").and_then(|n| u32::try_from(n).ok()) {
            settings.millicpus = m;
        }
        if let Some(r) = number("replicas").and_then(|n| u8::try_from(n).ok()) {
            settings.replicas = r.clamp(1, MAX_REPLICAS);
        }
        settings.domain = v
            .get("domain")
            .and_then(serde_json::Value::as_str)
            .and_then(|d| Domain::parse(d).ok());
        settings.access = v
            .get("access")
            .and_then(serde_json::Value::as_str)
            .map_or(AccessMode::Public, |a| {
                AccessMode::parse(a).unwrap_or_default()
            });
        settings.allow = v
            .get("allow")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| Cidr::parse(c.as_str()?).ok())
            .collect();
        let plain = v
            .get("env")
            .and_then(serde_json::Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((EnvName::parse(k).ok()?, v.as_str()?.to_owned())))
            .collect();
        let secrets = v
            .get("secrets")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|n| EnvName::parse(n.as_str()?).ok())
            .collect();
        // Values read from our own label were valid when written.
        let _ = settings.set_env(plain, secrets);
        settings
    }
}

/// Secret variable values, handed to the spawner only to create containers.
/// Never labelled, logged or printed: `Debug` shows the names alone.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretEnv(Vec<(EnvName, String)>);

impl SecretEnv {
    pub fn new(values: Vec<(EnvName, String)>) -> Result<Self, SettingsError> {
        for (name, value) in &values {
            check_value(name, value)?;
        }
        Ok(Self(values))
    }

    /// `NAME=value` lines for the container's environment, for the names `settings` lists.
    pub(crate) fn container_env(&self, settings: &Settings) -> Vec<String> {
        self.values(settings)
            .map(|(name, value)| format!("{name}={value}"))
            .collect()
    }

    /// The names and values of the variables `settings` lists.
    pub(crate) fn values<'a>(
        &'a self,
        settings: &'a Settings,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.0
            .iter()
            .filter(|(name, _)| settings.secret_names.contains(name))
            .map(|(name, value)| (name.0.as_str(), value.as_str()))
    }
}

impl fmt::Debug for SecretEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(n, _)| format!("{}=<redacted>", n.0)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_takes_megabytes_and_gigabytes_within_bounds() {
        assert_eq!(parse_memory_mb("512m"), Ok(512));
        assert_eq!(parse_memory_mb("2G"), Ok(2048));
        assert_eq!(parse_memory_mb("256"), Ok(256));
        for bad in ["", "m", "12m", "-1g", "1.5g", "512mb", "99999999g"] {
            assert_eq!(
                parse_memory_mb(bad),
                Err(SettingsError::Memory(bad.to_owned())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn cpus_become_thousandths() {
        assert_eq!(parse_millicpus("1"), Ok(1000));
        assert_eq!(parse_millicpus("0.5"), Ok(500));
        assert_eq!(parse_millicpus("2.25"), Ok(2250));
        for bad in ["", "0", "0.01", "1.2345", "a", "-1", "1e3", "65", ".5"] {
            assert!(parse_millicpus(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn replicas_are_between_one_and_ten() {
        assert_eq!(parse_replicas("3"), Ok(3));
        for bad in ["0", "11", "x", "-1"] {
            assert!(parse_replicas(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn domains_cannot_escape_a_host_rule() {
        assert_eq!(
            Domain::parse("App.Example.com").unwrap().as_str(),
            "app.example.com"
        );
        for bad in [
            "localhost",
            "a..b",
            "-a.b",
            "a-.b",
            "a.b`) || Path(`/x",
            "a b.c",
            "a_b.c",
            &format!("{}.com", "a".repeat(64)),
        ] {
            assert!(Domain::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_refusal_names_every_reserved_variable() {
        let text = SettingsError::EnvName("X".into()).to_string();
        for name in RESERVED_ENV {
            assert!(text.contains(name), "{name} missing from: {text}");
        }
    }

    #[test]
    fn env_names_are_plain_and_not_the_platforms() {
        assert!(EnvName::parse("DB_URL").is_ok());
        assert!(EnvName::parse("_x1").is_ok());
        for bad in [
            "",
            "1A",
            "A-B",
            "A B",
            "A=B",
            "RSERVE_MODE",
            "PATH",
            &"A".repeat(65),
        ] {
            assert!(EnvName::parse(bad).is_err(), "{bad:?}");
        }
    }

    fn name(n: &str) -> EnvName {
        EnvName::parse(n).unwrap()
    }

    #[test]
    fn a_variable_is_either_plain_or_secret_and_given_once() {
        let mut s = Settings::default();
        assert_eq!(
            s.set_env(
                vec![(name("A"), "1".into()), (name("A"), "2".into())],
                vec![]
            ),
            Err(SettingsError::EnvTwice("A".into()))
        );
        assert_eq!(
            s.set_env(vec![(name("A"), "1".into())], vec![name("A")]),
            Err(SettingsError::EnvTwice("A".into()))
        );
        assert_eq!(
            s.set_env(vec![(name("A"), "x\0y".into())], vec![]),
            Err(SettingsError::EnvValue("A".into()))
        );
        assert_eq!(s, Settings::default(), "nothing half-set");
    }

    #[test]
    fn settings_survive_their_label_and_secret_values_never_enter_it() {
        let mut s = Settings {
            memory_mb: 256,
            millicpus: 500,
            replicas: 2,
            domain: Some(Domain::parse("x.example.org").unwrap()),
            access: AccessMode::Public,
            allow: vec![Cidr::parse("10.0.0.0/8").unwrap()],
            ..Settings::default()
        };
        s.set_env(vec![(name("MODE"), "fast".into())], vec![name("TOKEN")])
            .unwrap();
        let secrets = SecretEnv::new(vec![(name("TOKEN"), "hunter2".into())]).unwrap();
        let label = s.to_label_value();
        assert!(!label.contains("hunter2"));
        assert!(!format!("{secrets:?}").contains("hunter2"));
        assert_eq!(Settings::from_label_value(&label), s);
        assert_eq!(secrets.container_env(&s), ["TOKEN=hunter2"]);
        assert_eq!(Settings::from_label_value("not json"), Settings::default());
        assert_eq!(
            Settings::from_label_value(r#"{"memory_mb":256}"#).access,
            AccessMode::Public,
            "a container labelled before access modes answered everyone"
        );
        assert!(
            label.contains(r#""access":"public","allow":["10.0.0.0/8"]"#),
            "{label}"
        );
        let mut other = s.clone();
        other.memory_mb = 512;
        assert_ne!(other.hash(), s.hash());
    }
}
