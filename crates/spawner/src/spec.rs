//! What an app is, validated: slug, R version, its R environment (packages,
//! repositories, system libraries: `environment`), mode
//! (never eval for the public) and files. Every value here is checked before it can reach a Dockerfile, a label
//! or a Traefik rule, so the rest of the spawner can use them verbatim.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::environment::Environment;
use crate::origin::Origin;

use crate::settings::access::AccessMode;
use crate::settings::{SecretEnv, Settings, SettingsError};

/// Longest slug accepted: it becomes a URL path, a container name and a label.
pub const MAX_SLUG_LEN: usize = 40;

/// Why a piece of an app's specification was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error(
        "the slug `{0}` is not valid: use 2 to {MAX_SLUG_LEN} lower-case letters, digits and single dashes, starting with a letter and not ending with a dash"
    )]
    Slug(String),
    #[error("the R version `{0}` is not valid: write it as MAJOR.MINOR.PATCH, e.g. 4.4.1")]
    RVersion(String),
    #[error(
        "`{0}` is not a valid R package name: letters, digits and dots, starting with a letter, at least two characters, not ending with a dot"
    )]
    Package(String),
    #[error("`{0}` is not a valid R package version: numbers separated by `.` or `-`, e.g. 1.8-13")]
    PackageVersion(String),
    #[error(
        "`{0}` is not a valid Debian package name: lower-case letters, digits, `+`, `-` and `.`, at least two characters"
    )]
    DebPackage(String),
    #[error(
        "the package repository `{0}` is not valid: give an http:// or https:// URL without spaces or quotes, or posit:YYYY-MM-DD"
    )]
    Repository(String),
    #[error(
        "the git origin `{0}` cannot be recorded: a URL, a branch, tag or commit name and a commit id, without spaces or quotes"
    )]
    Origin(String),
    #[error("the app mode `{0}` is not valid: use `ocap` or `eval`")]
    Mode(String),
    #[error("the app file path `{0}` is not valid: it must be relative, without `..`, and use `/`")]
    FilePath(String),
    #[error("the app has no R files: add at least one `.R` file")]
    NoRFiles,
}

/// The name an app is known by on its host: its URL path, container name and label.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slug(String);

impl Slug {
    /// Accepts `[a-z][a-z0-9-]*[a-z0-9]`, at most [`MAX_SLUG_LEN`] long, with no `--`.
    pub fn parse(raw: &str) -> Result<Self, SpecError> {
        let bytes = raw.as_bytes();
        let well_formed = (2..=MAX_SLUG_LEN).contains(&bytes.len())
            && bytes[0].is_ascii_lowercase()
            && bytes[bytes.len() - 1] != b'-'
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
            && !raw.contains("--");
        if well_formed {
            Ok(Self(raw.to_owned()))
        } else {
            Err(SpecError::Slug(raw.to_owned()))
        }
    }

    /// Makes a valid slug from a free-form name (a folder or file name), if it has any letter.
    pub fn suggest(name: &str) -> Option<Self> {
        let mut out = String::new();
        for c in name.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                out.push(c);
            } else if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        }
        let start = out.find(|c: char| c.is_ascii_lowercase())?;
        let mut slug: String = out[start..].chars().take(MAX_SLUG_LEN).collect();
        while slug.ends_with('-') {
            slug.pop();
        }
        Self::parse(&slug).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An R version as `MAJOR.MINOR.PATCH`; it names the `rserve-base` image to build on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RVersion(String);

impl RVersion {
    pub fn parse(raw: &str) -> Result<Self, SpecError> {
        let parts: Vec<&str> = raw.split('.').collect();
        let ok = parts.len() == 3
            && parts
                .iter()
                .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(SpecError::RVersion(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An R package name, as R itself accepts them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackageName(String);

impl PackageName {
    pub fn parse(raw: &str) -> Result<Self, SpecError> {
        let bytes = raw.as_bytes();
        let ok = bytes.len() >= 2
            && bytes[0].is_ascii_alphabetic()
            && bytes[bytes.len() - 1] != b'.'
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'.');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(SpecError::Package(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A CRAN-like repository URL that packages are installed from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoUrl(String);

impl RepoUrl {
    /// The public CRAN mirror, used when an app names no repository.
    pub const CRAN: &'static str = "https://cloud.r-project.org";

    pub fn parse(raw: &str) -> Result<Self, SpecError> {
        let rest = raw
            .strip_prefix("https://")
            .or_else(|| raw.strip_prefix("http://"));
        let ok = rest.is_some_and(|r| {
            !r.is_empty()
                && r.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&()*+,;=%".contains(&b))
                && !r.contains(['\'', '"', '\\', '`'])
        });
        if ok {
            Ok(Self(raw.trim_end_matches('/').to_owned()))
        } else {
            Err(SpecError::Repository(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for RepoUrl {
    fn default() -> Self {
        Self(Self::CRAN.to_owned())
    }
}

/// An eval app hands R, and so a shell, to whoever may call it: it needs tokens.
pub fn check_mode(mode: Mode, access: AccessMode) -> Result<(), SettingsError> {
    match (mode, access) {
        (Mode::Eval, AccessMode::Public) => Err(SettingsError::EvalNeedsToken),
        _ => Ok(()),
    }
}

/// How clients may reach the app's R code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Only the app's top-level functions are callable (safe for the public).
    #[default]
    Ocap,
    /// Clients send any R expression (trusted clients only).
    Eval,
}

impl Mode {
    pub fn parse(raw: &str) -> Result<Self, SpecError> {
        match raw {
            "ocap" => Ok(Self::Ocap),
            "eval" => Ok(Self::Eval),
            other => Err(SpecError::Mode(other.to_owned())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ocap => "ocap",
            Self::Eval => "eval",
        }
    }
}

/// One file of the app's code, at a relative `/`-separated path under `/app`.
#[derive(Clone, PartialEq, Eq)]
pub struct AppFile {
    pub path: String,
    pub contents: Vec<u8>,
}

impl fmt::Debug for AppFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AppFile({}, {} bytes)", self.path, self.contents.len())
    }
}

impl AppFile {
    pub fn new(path: &str, contents: Vec<u8>) -> Result<Self, SpecError> {
        let ok = !path.is_empty()
            && !path.starts_with('/')
            && !path.contains(['\\', '\0'])
            && path
                .split('/')
                .all(|part| !part.is_empty() && part != "." && part != "..");
        if ok {
            Ok(Self {
                path: path.to_owned(),
                contents,
            })
        } else {
            Err(SpecError::FilePath(path.to_owned()))
        }
    }

    fn is_r_file(&self) -> bool {
        self.path.ends_with(".R") || self.path.ends_with(".r")
    }
}

/// Everything the spawner needs to build and run one version of an app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSpec {
    pub slug: Slug,
    /// Stable identity of the app across versions (and slugs, should one change).
    pub app_id: String,
    pub r_version: RVersion,
    /// Normalized, so equal environments give equal layers.
    pub environment: Environment,
    pub mode: Mode,
    /// Sorted by path.
    files: Vec<AppFile>,
    /// How its containers run (not part of the image).
    pub settings: Settings,
    /// Values of the secret variables `settings` names; only for creating containers.
    pub secrets: SecretEnv,
    /// The git commit the code came from, if it came from git (a label of
    /// the image, not part of its identity).
    pub origin: Option<Origin>,
}

impl AppSpec {
    /// Checks that the app has R code, and normalizes packages and files.
    pub fn new(
        slug: Slug,
        app_id: String,
        r_version: RVersion,
        environment: Environment,
        mode: Mode,
        mut files: Vec<AppFile>,
    ) -> Result<Self, SpecError> {
        if !files.iter().any(AppFile::is_r_file) {
            return Err(SpecError::NoRFiles);
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Self {
            slug,
            app_id,
            r_version,
            environment,
            mode,
            files,
            settings: Settings::default(),
            secrets: SecretEnv::default(),
            origin: None,
        })
    }

    pub fn files(&self) -> &[AppFile] {
        &self.files
    }

    /// Hash of the code alone: paths and contents.
    pub fn code_hash(&self) -> String {
        let mut h = Sha256::new();
        for file in &self.files {
            frame(&mut h, file.path.as_bytes());
            frame(&mut h, &file.contents);
        }
        hex::encode(h.finalize())
    }

    /// Hash of everything but the code that shapes the image: R version, environment, mode.
    pub fn config_hash(&self) -> String {
        let mut h = Sha256::new();
        frame(&mut h, self.r_version.as_str().as_bytes());
        frame(&mut h, self.mode.as_str().as_bytes());
        frame(&mut h, self.packages_key().as_bytes());
        hex::encode(h.finalize())
    }

    /// Hash naming the packages layer ([`Environment::key`]). Empty when the
    /// app needs nothing installed (it then builds straight on `rserve-base`).
    pub fn packages_key(&self) -> String {
        self.environment.key(&self.r_version)
    }
}

/// Length-prefixes a field so that no two different inputs hash alike.
pub(crate) fn frame(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// An app named `demo` on R 4.2.2 in OCAP mode, for tests across the crate.
#[cfg(test)]
pub(crate) fn sample(
    files: &[(&str, &str)],
    packages: &[&str],
    repo: RepoUrl,
) -> Result<AppSpec, SpecError> {
    AppSpec::new(
        Slug::parse("demo")?,
        "id".into(),
        RVersion::parse("4.2.2")?,
        Environment::unpinned(
            packages
                .iter()
                .map(|p| PackageName::parse(p))
                .collect::<Result<_, _>>()?,
            crate::environment::Repository::Url(repo),
        ),
        Mode::Ocap,
        files
            .iter()
            .map(|(p, c)| AppFile::new(p, c.as_bytes().to_vec()))
            .collect::<Result<_, _>>()?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eval_is_never_public() {
        assert_eq!(
            check_mode(Mode::Eval, AccessMode::Public),
            Err(SettingsError::EvalNeedsToken)
        );
        assert!(check_mode(Mode::Eval, AccessMode::Token).is_ok());
        assert!(check_mode(Mode::Ocap, AccessMode::Public).is_ok());
    }

    #[test]
    fn slugs_refuse_what_could_escape_a_rule_or_a_name() {
        for bad in [
            "",
            "a",
            "App",
            "my app",
            "a`b",
            "a/b",
            "-ab",
            "ab-",
            "a--b",
            "1ab",
            "ab_c",
            "ab.c",
            "x`) || Host(`evil",
            "ab\n",
            "é-ab",
        ] {
            assert_eq!(
                Slug::parse(bad),
                Err(SpecError::Slug(bad.to_owned())),
                "{bad:?}"
            );
        }
        assert!(Slug::parse(&"a".repeat(MAX_SLUG_LEN + 1)).is_err());
        for good in ["ab", "hello", "sales-2024", &"a".repeat(MAX_SLUG_LEN)] {
            assert_eq!(Slug::parse(good).unwrap().as_str(), good);
        }
    }

    #[test]
    fn slug_suggestions_are_valid_or_absent() {
        assert_eq!(
            Slug::suggest("My Sales App").unwrap().as_str(),
            "my-sales-app"
        );
        assert_eq!(Slug::suggest("2024_report.R").unwrap().as_str(), "report-r");
        assert_eq!(Slug::suggest("123"), None);
        let long = Slug::suggest(&"word ".repeat(30)).unwrap();
        assert!(long.as_str().len() <= MAX_SLUG_LEN);
    }

    #[test]
    fn r_versions_are_three_numbers() {
        assert!(RVersion::parse("4.2.2").is_ok());
        for bad in [
            "4.2",
            "latest",
            "4.2.2; rm -rf /",
            "4..2",
            "4.2.x",
            " 4.2.2",
        ] {
            assert!(RVersion::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn package_names_follow_r_rules() {
        for good in ["data.table", "ggplot2", "R6", "rdeskdemo"] {
            assert!(PackageName::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "a", "2pkg", "pkg.", "a;b", "a\"b", "f()", "pk g", "x'y", ".pkg",
        ] {
            assert!(PackageName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn repositories_are_plain_http_urls() {
        assert_eq!(
            RepoUrl::parse("http://cran:8000/").unwrap().as_str(),
            "http://cran:8000"
        );
        for bad in [
            "file:///tmp",
            "http://",
            "http://a b",
            "http://x\"); system(\"id",
            "ftp://x",
        ] {
            assert!(RepoUrl::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn file_paths_stay_inside_the_app() {
        for bad in [
            "",
            "/etc/passwd",
            "../x.R",
            "a/../../x.R",
            "a//b.R",
            "a\\b.R",
            "./a.R",
        ] {
            assert!(AppFile::new(bad, vec![]).is_err(), "{bad:?}");
        }
        assert!(AppFile::new("lib/util.R", vec![]).is_ok());
    }

    fn spec(files: &[(&str, &str)], packages: &[&str]) -> Result<AppSpec, SpecError> {
        sample(files, packages, RepoUrl::default())
    }

    #[test]
    fn an_app_needs_r_code() {
        assert_eq!(spec(&[("README.md", "hi")], &[]), Err(SpecError::NoRFiles));
    }

    #[test]
    fn hashes_ignore_order_and_separate_code_from_config() {
        let a = spec(&[("a.R", "1"), ("b.R", "2")], &["zoo", "abc", "zoo"]).unwrap();
        let b = spec(&[("b.R", "2"), ("a.R", "1")], &["abc", "zoo"]).unwrap();
        assert_eq!(a.code_hash(), b.code_hash());
        assert_eq!(a.packages_key(), b.packages_key());
        let changed_code = spec(&[("a.R", "1"), ("b.R", "3")], &["abc", "zoo"]).unwrap();
        assert_ne!(a.code_hash(), changed_code.code_hash());
        assert_eq!(a.config_hash(), changed_code.config_hash());
        let moved = spec(&[("a.R1", ""), ("b.R", "3")], &[]).unwrap();
        let unmoved = spec(&[("a.R", "1"), ("b.R", "3")], &[]).unwrap();
        assert_ne!(moved.code_hash(), unmoved.code_hash());
        assert_eq!(spec(&[("a.R", "")], &[]).unwrap().packages_key(), "");
    }
}
