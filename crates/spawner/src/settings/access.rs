//! Who may call an app, one part of its settings: its access mode (public, or
//! a token per caller) and an optional IP allow-list of CIDRs that combines
//! with either. Parsed and checked here; recorded in the container's settings
//! label; the allow-list becomes a Traefik middleware ([`crate::labels`]), the
//! mode an environment variable of `start.R`. That an eval app is never
//! public is the app spec's rule ([`crate::check_mode`]).

use std::fmt;
use std::net::IpAddr;

use super::SettingsError;

/// Whether a caller must present one of the app's tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessMode {
    /// Anyone who reaches the app (through the allow-list, if any) may call it.
    Public,
    /// The caller presents a token of the app (`rdesk token create`).
    /// The default: nothing is public by accident.
    #[default]
    Token,
}

impl AccessMode {
    pub fn parse(raw: &str) -> Result<Self, SettingsError> {
        match raw.trim() {
            "public" => Ok(Self::Public),
            "token" => Ok(Self::Token),
            other => Err(SettingsError::Access(other.to_owned())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Token => "token",
        }
    }
}

impl fmt::Display for AccessMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Most entries an allow-list takes.
pub const MAX_ALLOW: usize = 32;

/// A network in CIDR notation, IPv4 or IPv6, with no host bits set
/// (`10.0.0.0/8`, `2001:db8::/32`); a bare address is a network of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(raw: &str) -> Result<Self, SettingsError> {
        let bad = || SettingsError::Cidr(raw.to_owned());
        let (addr, prefix) = match raw.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (raw.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().map_err(|_| bad())?
            }
            Some(_) => return Err(bad()),
        };
        if prefix > max {
            return Err(bad());
        }
        let network = Self::mask(addr, prefix);
        if network != addr {
            return Err(SettingsError::CidrHostBits {
                given: raw.to_owned(),
                network: Self {
                    addr: network,
                    prefix,
                }
                .to_string(),
            });
        }
        Ok(Self { addr, prefix })
    }

    /// `addr` with every bit after the first `prefix` cleared.
    fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
        match addr {
            IpAddr::V4(a) => {
                let keep = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                IpAddr::from((u32::from(a) & keep).to_be_bytes())
            }
            IpAddr::V6(a) => {
                let keep = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                IpAddr::from((u128::from(a) & keep).to_be_bytes())
            }
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl serde::Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Parses an allow-list: sorted, each network once, at most [`MAX_ALLOW`].
pub fn parse_allow_list(raw: &[String]) -> Result<Vec<Cidr>, SettingsError> {
    let mut list = raw
        .iter()
        .map(|r| Cidr::parse(r))
        .collect::<Result<Vec<_>, _>>()?;
    list.sort();
    list.dedup();
    if list.len() > MAX_ALLOW {
        return Err(SettingsError::AllowTooLong(list.len()));
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_are_networks_in_either_family() {
        for (raw, shown) in [
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("192.168.1.7", "192.168.1.7/32"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("2001:db8::/32", "2001:db8::/32"),
            ("::1", "::1/128"),
            (" 172.16.0.0/12 ", "172.16.0.0/12"),
        ] {
            assert_eq!(Cidr::parse(raw).unwrap().to_string(), shown, "{raw:?}");
        }
        for bad in [
            "",
            "10.0.0.0/",
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "10.0.0.0/+8",
            "10.0.0.0/8,1.2.3.4",
            "host.example.com",
            "10.0.0.0/8`) || Path(`/",
        ] {
            assert_eq!(
                Cidr::parse(bad),
                Err(SettingsError::Cidr(bad.to_owned())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn host_bits_are_refused_with_the_network_meant() {
        let err = Cidr::parse("10.1.2.3/8").unwrap_err();
        assert_eq!(
            err,
            SettingsError::CidrHostBits {
                given: "10.1.2.3/8".into(),
                network: "10.0.0.0/8".into()
            }
        );
        assert!(err.to_string().contains("10.0.0.0/8"), "{err}");
        assert!(Cidr::parse("2001:db8::1/32").is_err());
    }

    #[test]
    fn allow_lists_are_sorted_unique_and_bounded() {
        let list = parse_allow_list(&["10.0.0.0/8".into(), "1.2.3.4".into(), "10.0.0.0/8".into()])
            .unwrap();
        let shown: Vec<String> = list.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["1.2.3.4/32", "10.0.0.0/8"]);
        let many: Vec<String> = (0..=MAX_ALLOW).map(|i| format!("10.0.{i}.0/24")).collect();
        assert_eq!(
            parse_allow_list(&many),
            Err(SettingsError::AllowTooLong(MAX_ALLOW + 1))
        );
    }

    #[test]
    fn modes_parse_and_tokens_are_the_default() {
        assert_eq!(AccessMode::parse("public"), Ok(AccessMode::Public));
        assert_eq!(AccessMode::parse("token"), Ok(AccessMode::Token));
        assert!(AccessMode::parse("open").is_err());
        assert_eq!(AccessMode::default(), AccessMode::Token);
    }
}
