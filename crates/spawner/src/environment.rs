//! An app's R environment, validated: the R packages it needs (each pinned
//! at a version or not), the repositories they come from (a URL, or Posit
//! Package Manager's dated snapshot for the base image's distribution), and
//! the Debian packages its R packages need. Its [`Environment::key`] names
//! the packages layer, so apps with equal environments share one.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::spec::{PackageName, RVersion, RepoUrl, SpecError, frame};

/// The packages layer's installer: an R script run at build time (see its
/// header). Part of the layer's key, so a changed installer makes new layers.
pub const INSTALLER: &str = include_str!("install.R");

/// Posit Package Manager's binary snapshots: the base image's distribution
/// code name (`bookworm`, `jammy`, ...), then the snapshot's date.
pub const POSIT_SNAPSHOT: &str = "https://packagemanager.posit.co/cran/__linux__/%s/%s";

/// Stands for the base image's distribution code name in the installer's
/// repositories; the installer reads the name from `/etc/os-release`.
pub const CODENAME: &str = "{codename}";

/// The HTTP user agent Posit Package Manager needs to serve binaries: R's
/// version and platform, as R itself writes them (an R expression).
pub const USER_AGENT: &str = "sprintf(\"R/%s R (%s)\", getRversion(), paste(getRversion(), \
     R.version[[\"platform\"]], R.version[[\"arch\"]], R.version[[\"os\"]]))";

/// A package version as R writes them: numbers separated by `.` or `-`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackageVersion(String);

impl PackageVersion {
    pub fn parse(raw: &str) -> Result<Self, SpecError> {
        let ok = (1..=40).contains(&raw.len())
            && raw
                .split(['.', '-'])
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(SpecError::PackageVersion(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An R package the app needs: at a recorded version (a lock), or the one
/// its repositories offer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Requirement {
    pub name: PackageName,
    pub version: Option<PackageVersion>,
}

impl Requirement {
    pub fn any(name: PackageName) -> Self {
        Self {
            name,
            version: None,
        }
    }
}

impl fmt::Display for Requirement {
    /// `name@version`, or the name alone.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version {
            Some(v) => write!(f, "{}@{}", self.name.as_str(), v.as_str()),
            None => f.write_str(self.name.as_str()),
        }
    }
}

/// A Debian package name (Debian policy 5.6.1): lower-case letters, digits,
/// `+`, `-` and `.`, at least two characters, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DebPackage(String);

impl DebPackage {
    pub fn parse(raw: &str) -> Result<Self, SpecError> {
        let bytes = raw.as_bytes();
        let ok = (2..=100).contains(&bytes.len())
            && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
            && bytes.iter().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.')
            });
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(SpecError::DebPackage(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A snapshot date, `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SnapshotDate(String);

impl SnapshotDate {
    pub fn parse(raw: &str) -> Result<Self, SpecError> {
        let b = raw.as_bytes();
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        let ok = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && digits(0..4)
            && digits(5..7)
            && digits(8..10);
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(SpecError::Repository(raw.to_owned()))
        }
    }
}

/// Where R packages come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Repository {
    /// A CRAN-like repository.
    Url(RepoUrl),
    /// Posit Package Manager's binary snapshot of that date, for the
    /// distribution the base image runs (written `posit:YYYY-MM-DD`).
    Posit(SnapshotDate),
}

impl Repository {
    const POSIT_PREFIX: &'static str = "posit:";

    /// A URL, or `posit:YYYY-MM-DD`.
    pub fn parse(raw: &str) -> Result<Self, SpecError> {
        match raw.strip_prefix(Self::POSIT_PREFIX) {
            Some(date) => Ok(Self::Posit(SnapshotDate::parse(date)?)),
            None => RepoUrl::parse(raw).map(Self::Url),
        }
    }

    /// Posit Package Manager's snapshot of a day (the year taken modulo 10000).
    pub fn posit(year: u32, month: u32, day: u32) -> Self {
        Self::Posit(SnapshotDate(format!(
            "{:04}-{:02}-{:02}",
            year % 10_000,
            month % 100,
            day % 100
        )))
    }

    /// The snapshot's URL for a distribution (`bookworm`, `jammy`, ...), or the URL.
    pub fn url_for(&self, codename: &str) -> String {
        match self {
            Self::Url(url) => url.as_str().to_owned(),
            Self::Posit(SnapshotDate(date)) => POSIT_SNAPSHOT
                .replacen("%s", codename, 1)
                .replacen("%s", date, 1),
        }
    }
}

impl fmt::Display for Repository {
    /// The form [`Repository::parse`] reads back (labels, the CLI).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Url(url) => f.write_str(url.as_str()),
            Self::Posit(SnapshotDate(date)) => write!(f, "{}{date}", Self::POSIT_PREFIX),
        }
    }
}

/// The Bioconductor release made for an R version (the last one of its
/// minor version), or `None` for a version no release was made for.
pub fn bioconductor_release(r: &RVersion) -> Option<&'static str> {
    let minor = r.as_str().rsplit_once('.')?.0;
    Some(match minor {
        "3.6" => "3.10",
        "4.0" => "3.12",
        "4.1" => "3.14",
        "4.2" => "3.16",
        "4.3" => "3.18",
        "4.4" => "3.20",
        "4.5" => "3.22",
        _ => return None,
    })
}

/// The Bioconductor repositories (software, annotation, experiment data)
/// of the release made for `r`.
pub fn bioconductor_repositories(r: &RVersion) -> Option<Vec<Repository>> {
    let release = bioconductor_release(r)?;
    ["bioc", "data/annotation", "data/experiment"]
        .iter()
        .map(|part| {
            RepoUrl::parse(&format!(
                "https://bioconductor.org/packages/{release}/{part}"
            ))
            .map(Repository::Url)
            .ok()
        })
        .collect()
}

/// What the packages layer installs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Environment {
    /// Sorted by name, one per name: a pinned version wins over none.
    packages: Vec<Requirement>,
    /// In the order R looks in them; never empty when there are packages.
    repos: Vec<Repository>,
    /// Sorted, without duplicates.
    system: Vec<DebPackage>,
}

impl Environment {
    /// Normalizes: packages sorted by name (a pinned requirement kept over an
    /// unpinned one of the same name), repositories without repeats (first
    /// kept), Debian packages sorted.
    pub fn new(
        mut packages: Vec<Requirement>,
        repos: Vec<Repository>,
        mut system: Vec<DebPackage>,
    ) -> Self {
        packages.sort_by(|a, b| a.name.cmp(&b.name).then(b.version.cmp(&a.version)));
        packages.dedup_by(|later, first| later.name == first.name);
        let mut unique: Vec<Repository> = Vec::new();
        for repo in repos {
            if !unique.contains(&repo) {
                unique.push(repo);
            }
        }
        system.sort();
        system.dedup();
        Self {
            packages,
            repos: unique,
            system,
        }
    }

    /// Unpinned packages from one repository, no Debian packages: what an
    /// app without a lock or system requirements needs.
    pub fn unpinned(names: Vec<PackageName>, repo: Repository) -> Self {
        Self::new(
            names.into_iter().map(Requirement::any).collect(),
            vec![repo],
            vec![],
        )
    }

    pub fn packages(&self) -> &[Requirement] {
        &self.packages
    }

    pub fn repos(&self) -> &[Repository] {
        &self.repos
    }

    pub fn system(&self) -> &[DebPackage] {
        &self.system
    }

    /// The first repository: the one the app's user chose (or the default).
    pub fn primary_repo(&self) -> Option<&Repository> {
        self.repos.first()
    }

    pub fn is_empty(&self) -> bool {
        self.packages.is_empty() && self.system.is_empty()
    }

    /// Names the packages layer: the R version, the repositories, the
    /// resolved `name@version` set, the Debian packages and the installer.
    /// Empty when nothing is installed (the app builds on `rserve-base`).
    pub fn key(&self, r_version: &RVersion) -> String {
        if self.is_empty() {
            return String::new();
        }
        let mut h = Sha256::new();
        frame(&mut h, r_version.as_str().as_bytes());
        frame(&mut h, INSTALLER.as_bytes());
        for repo in &self.repos {
            frame(&mut h, repo.to_string().as_bytes());
        }
        for p in &self.packages {
            frame(&mut h, p.to_string().as_bytes());
        }
        frame(&mut h, b"system");
        for d in &self.system {
            frame(&mut h, d.as_str().as_bytes());
        }
        hex::encode(h.finalize())
    }

    /// What the deploy log says the layer holds: `a@1.0, b; apt: libx`.
    pub fn describe(&self) -> String {
        let mut out = self
            .packages
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        if !self.system.is_empty() {
            if !out.is_empty() {
                out.push_str("; ");
            }
            out.push_str("apt: ");
            out.push_str(
                &self
                    .system
                    .iter()
                    .map(DebPackage::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
        out
    }

    /// The installer's inputs: `setup.R` (the repositories, in order, the
    /// first named `CRAN`, [`CODENAME`] in a snapshot's URL; the user agent)
    /// and `packages` (`name version` a line, the version `*` when not
    /// pinned). Every value is validated: no quote, space or newline.
    pub fn installer_inputs(&self) -> [(&'static str, String); 2] {
        let repos: Vec<String> = self
            .repos
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let name = if i == 0 {
                    "CRAN".to_owned()
                } else {
                    format!("R{}", i + 1)
                };
                format!("{name} = \"{}\"", r.url_for(CODENAME))
            })
            .collect();
        let setup = format!(
            "repos <- c({})\nuser_agent <- {USER_AGENT}\n",
            repos.join(", ")
        );
        let packages = self
            .packages
            .iter()
            .map(|p| {
                let version = p.version.as_ref().map_or("*", PackageVersion::as_str);
                format!("{} {version}\n", p.name.as_str())
            })
            .collect();
        [("setup.R", setup), ("packages", packages)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(name: &str, version: Option<&str>) -> Requirement {
        Requirement {
            name: PackageName::parse(name).unwrap(),
            version: version.map(|v| PackageVersion::parse(v).unwrap()),
        }
    }

    fn url(raw: &str) -> Repository {
        Repository::parse(raw).unwrap()
    }

    #[test]
    fn versions_are_numbers() {
        for good in ["0.1.0", "1.8-13", "2024.1.1", "1"] {
            assert!(PackageVersion::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "1.", "1..2", "v1", "1.0 ", "1;rm", "1.0-rc1", "1'"] {
            assert!(PackageVersion::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debian_names_follow_policy() {
        for good in ["libxml2", "libxml2-dev", "g++", "libc6.1", "0ad"] {
            assert!(DebPackage::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "", "a", "-x", "LibXML", "lib xml", "lib;rm", "x'y", "+a", "a_b", "a/b",
        ] {
            assert!(DebPackage::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn posit_snapshots_name_the_distribution_and_date() {
        let repo = url("posit:2026-12-03");
        assert_eq!(Repository::posit(2026, 12, 3), repo);
        assert_eq!(repo.to_string(), "posit:2026-12-03");
        assert_eq!(
            repo.url_for("bookworm"),
            "https://packagemanager.posit.co/cran/__linux__/bookworm/2026-12-03"
        );
        assert_eq!(
            url("https://r.example.org/").url_for("jammy"),
            "https://r.example.org"
        );
        for bad in [
            "posit:",
            "posit:2026-1-03",
            "posit:latest",
            "posit:2026/12/03",
        ] {
            assert!(Repository::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_installer_is_told_the_snapshot_and_the_user_agent_posit_needs() {
        let env = Environment::new(
            vec![req("abc", None)],
            vec![url("posit:2026-12-03"), url("https://team.r-universe.dev")],
            vec![],
        );
        let [(_, setup), _] = env.installer_inputs();
        assert_eq!(
            setup,
            "repos <- c(CRAN = \"https://packagemanager.posit.co/cran/__linux__/{codename}/2026-12-03\", \
             R2 = \"https://team.r-universe.dev\")\n\
             user_agent <- sprintf(\"R/%s R (%s)\", getRversion(), paste(getRversion(), \
             R.version[[\"platform\"]], R.version[[\"arch\"]], R.version[[\"os\"]]))\n"
        );
    }

    #[test]
    fn bioconductor_follows_the_r_version() {
        let release = |r: &str| bioconductor_release(&RVersion::parse(r).unwrap());
        assert_eq!(release("4.2.2"), Some("3.16"));
        assert_eq!(release("4.3.0"), Some("3.18"));
        assert_eq!(release("4.4.1"), Some("3.20"));
        assert_eq!(release("4.0.5"), Some("3.12"));
        assert_eq!(release("3.5.3"), None);
        let repos = bioconductor_repositories(&RVersion::parse("4.4.1").unwrap()).unwrap();
        assert_eq!(
            repos.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "https://bioconductor.org/packages/3.20/bioc",
                "https://bioconductor.org/packages/3.20/data/annotation",
                "https://bioconductor.org/packages/3.20/data/experiment"
            ]
        );
    }

    #[test]
    fn a_pinned_version_wins_and_order_does_not_matter() {
        let env = Environment::new(
            vec![
                req("zoo", None),
                req("abc", None),
                req("zoo", Some("1.8-12")),
            ],
            vec![url("http://a"), url("http://b"), url("http://a")],
            vec![DebPackage::parse("libz").unwrap()],
        );
        assert_eq!(env.describe(), "abc, zoo@1.8-12; apt: libz");
        assert_eq!(env.repos().len(), 2);
        let [setup, packages] = env.installer_inputs();
        assert_eq!(setup.0, "setup.R");
        assert!(
            setup
                .1
                .starts_with("repos <- c(CRAN = \"http://a\", R2 = \"http://b\")\n"),
            "{}",
            setup.1
        );
        assert_eq!(packages, ("packages", "abc *\nzoo 1.8-12\n".to_owned()));
    }

    #[test]
    fn the_key_follows_versions_repositories_and_system_packages() {
        let r = RVersion::parse("4.2.2").unwrap();
        let env = |version, repo, system: &[&str]| {
            Environment::new(
                vec![req("rdeskdemo", version), req("abc", None)],
                vec![url(repo)],
                system
                    .iter()
                    .map(|d| DebPackage::parse(d).unwrap())
                    .collect(),
            )
            .key(&r)
        };
        let base = env(Some("0.1.0"), "http://a", &[]);
        assert_eq!(base, env(Some("0.1.0"), "http://a/", &[]));
        assert_ne!(base, env(Some("0.2.0"), "http://a", &[]));
        assert_ne!(base, env(None, "http://a", &[]));
        assert_ne!(base, env(Some("0.1.0"), "http://b", &[]));
        assert_ne!(base, env(Some("0.1.0"), "http://a", &["libz"]));
        assert_ne!(base, {
            let other = RVersion::parse("4.4.1").unwrap();
            Environment::new(
                vec![req("rdeskdemo", Some("0.1.0")), req("abc", None)],
                vec![url("http://a")],
                vec![],
            )
            .key(&other)
        });
        assert_eq!(Environment::default().key(&r), "");
        let only_system =
            Environment::new(vec![], vec![], vec![DebPackage::parse("tree").unwrap()]);
        assert!(!only_system.key(&r).is_empty());
    }
}
