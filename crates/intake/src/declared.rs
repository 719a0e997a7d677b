//! What an app's files declare about its R environment, read but not yet
//! validated (the core turns it into the spawner's `Environment`): a
//! top-level `renv.lock` (its repositories and each package's version and
//! source), a top-level `DESCRIPTION`'s `Additional_repositories` and
//! `Remotes` that are CRAN-like repository URLs, whether it is a
//! Bioconductor package (`biocViews`), and the Debian packages listed in a
//! top-level `apt.txt` (one a line, `#` starts a comment).

use super::AppSource;
use super::dcf::dcf_fields;
use super::error::IntakeError;

/// The name of the file listing an app's Debian packages.
pub const APT_FILE: &str = "apt.txt";

/// One package of a lock, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedPackage {
    pub name: String,
    pub version: String,
    /// renv's `Source`: `Repository`, `Bioconductor`, `GitHub`, ...
    pub source: String,
}

/// A `renv.lock`, as written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Lock {
    /// `R.Version`.
    pub r_version: Option<String>,
    /// `R.Repositories`, in order: (name, URL).
    pub repos: Vec<(String, String)>,
    pub packages: Vec<LockedPackage>,
}

/// What the files declare.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Declared {
    pub lock: Option<Lock>,
    /// URLs from DESCRIPTION's `Additional_repositories` and `Remotes`.
    pub repos: Vec<String>,
    /// DESCRIPTION has `biocViews`, or the lock has a Bioconductor package.
    pub bioconductor: bool,
    /// The lines of `apt.txt`, comments and blanks left out.
    pub system: Vec<String>,
}

/// Reads what `source` declares; a `renv.lock` that is not a lock is refused.
pub fn declared_environment(source: &AppSource) -> Result<Declared, IntakeError> {
    let mut declared = Declared::default();
    if let Some(lock) = source.file("renv.lock") {
        let lock = read_lock(&lock.contents)?;
        declared.bioconductor |= lock.packages.iter().any(|p| p.source == "Bioconductor");
        declared.lock = Some(lock);
    }
    if let Some(desc) = source.file("DESCRIPTION") {
        for (field, value) in dcf_fields(&String::from_utf8_lossy(&desc.contents)) {
            match field.as_str() {
                "Additional_repositories" => declared.repos.extend(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .map(str::to_owned),
                ),
                "Remotes" => declared.repos.extend(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|v| v.starts_with("https://") || v.starts_with("http://"))
                        .map(str::to_owned),
                ),
                "biocViews" => declared.bioconductor = true,
                _ => {}
            }
        }
    }
    if let Some(apt) = source.file(APT_FILE) {
        declared.system = String::from_utf8_lossy(&apt.contents)
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .flat_map(str::split_whitespace)
            .map(str::to_owned)
            .collect();
    }
    Ok(declared)
}

/// A `renv.lock`'s repositories and packages; a file that is not a lock is
/// a sentence saying why.
pub(crate) fn read_lock(bytes: &[u8]) -> Result<Lock, IntakeError> {
    let bad = |reason: String| IntakeError::Lock { reason };
    let json: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("it is not valid JSON ({e})")))?;
    let text =
        |v: &serde_json::Value, key: &str| v.get(key).and_then(|s| s.as_str()).map(str::to_owned);
    let mut lock = Lock {
        r_version: json
            .pointer("/R/Version")
            .and_then(|v| v.as_str())
            .map(str::to_owned),
        ..Lock::default()
    };
    if let Some(repos) = json.pointer("/R/Repositories").and_then(|r| r.as_array()) {
        for repo in repos {
            match (text(repo, "Name"), text(repo, "URL")) {
                (Some(name), Some(url)) => lock.repos.push((name, url)),
                _ => {
                    return Err(bad(
                        "a repository in R.Repositories has no Name or URL".into()
                    ));
                }
            }
        }
    }
    let packages = json
        .get("Packages")
        .and_then(|p| p.as_object())
        .ok_or_else(|| bad("it has no Packages object".into()))?;
    for (key, entry) in packages {
        let Some(version) = text(entry, "Version") else {
            return Err(bad(format!("the package {key} has no Version")));
        };
        lock.packages.push(LockedPackage {
            name: text(entry, "Package").unwrap_or_else(|| key.clone()),
            version,
            source: text(entry, "Source").unwrap_or_else(|| "Repository".into()),
        });
    }
    Ok(lock)
}

#[cfg(test)]
mod tests {
    use super::super::SourceFile;
    use super::*;

    fn source(files: &[(&str, &str)]) -> AppSource {
        AppSource {
            name_hint: "t".into(),
            total_bytes: 0,
            files: files
                .iter()
                .map(|(p, c)| SourceFile {
                    path: (*p).to_owned(),
                    contents: c.as_bytes().to_vec(),
                    executable: false,
                })
                .collect(),
            skipped: vec![],
        }
    }

    const LOCK: &str = r#"{
      "R": {"Version": "4.2.2", "Repositories": [
        {"Name": "CRAN", "URL": "https://packagemanager.posit.co/cran/2024-06-01"},
        {"Name": "team", "URL": "https://team.r-universe.dev"}
      ]},
      "Bioconductor": {"Version": "3.16"},
      "Packages": {
        "rdeskdemo": {"Package": "rdeskdemo", "Version": "0.1.0", "Source": "Repository", "Repository": "CRAN"},
        "Biobase": {"Package": "Biobase", "Version": "2.58.0", "Source": "Bioconductor"},
        "renv": {"Package": "renv", "Version": "1.0.7"}
      }
    }"#;

    #[test]
    fn a_lock_gives_versions_sources_and_repositories() {
        let declared =
            declared_environment(&source(&[("app.R", ""), ("renv.lock", LOCK)])).unwrap();
        let lock = declared.lock.unwrap();
        assert_eq!(lock.r_version.as_deref(), Some("4.2.2"));
        assert_eq!(
            lock.repos,
            [
                (
                    "CRAN".to_owned(),
                    "https://packagemanager.posit.co/cran/2024-06-01".to_owned()
                ),
                ("team".to_owned(), "https://team.r-universe.dev".to_owned())
            ]
        );
        let got: Vec<(&str, &str, &str)> = lock
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str(), p.source.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("Biobase", "2.58.0", "Bioconductor"),
                ("rdeskdemo", "0.1.0", "Repository"),
                ("renv", "1.0.7", "Repository")
            ]
        );
        assert!(declared.bioconductor);
    }

    #[test]
    fn a_broken_lock_is_refused_with_its_reason() {
        for (lock, says) in [
            ("{not json", "not valid JSON"),
            ("{}", "no Packages"),
            (
                r#"{"Packages": {"a1": {"Package": "a1"}}}"#,
                "a1 has no Version",
            ),
            (
                r#"{"R": {"Repositories": [{"Name": "x"}]}, "Packages": {}}"#,
                "no Name or URL",
            ),
        ] {
            let err =
                declared_environment(&source(&[("app.R", ""), ("renv.lock", lock)])).unwrap_err();
            assert!(err.to_string().contains(says), "{lock}: {err}");
            assert!(err.to_string().starts_with("renv.lock"), "{err}");
        }
    }

    #[test]
    fn description_repositories_and_bioconductor() {
        let desc = "Package: x\nImports: a1\nAdditional_repositories: https://a.example.org,\n  https://b.example.org\n\
                    Remotes: user/pkg, https://team.r-universe.dev\nbiocViews: Software\n";
        let declared =
            declared_environment(&source(&[("app.R", ""), ("DESCRIPTION", desc)])).unwrap();
        assert_eq!(
            declared.repos,
            [
                "https://a.example.org",
                "https://b.example.org",
                "https://team.r-universe.dev"
            ]
        );
        assert!(declared.bioconductor);
        assert!(declared.lock.is_none());
    }

    #[test]
    fn apt_txt_lists_debian_packages() {
        let apt = "# for xml2\nlibxml2  \n\ntree libsodium23 # two on a line\n";
        let declared = declared_environment(&source(&[("app.R", ""), ("apt.txt", apt)])).unwrap();
        assert_eq!(declared.system, ["libxml2", "tree", "libsodium23"]);
        let none = declared_environment(&source(&[("app.R", "")])).unwrap();
        assert_eq!(none, Declared::default());
    }
}
