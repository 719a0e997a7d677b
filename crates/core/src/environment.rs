//! An app's R environment, resolved from what its files declare
//! (`intake::Declared`), the packages its code uses, and the repository the
//! user chose: with a `renv.lock`, its versions from its repositories;
//! without one, the detected packages unpinned. Repositories in order: the
//! lock's (its `CRAN` replaced when the user names a repository for this
//! deploy), else the chosen one; then DESCRIPTION's, then Bioconductor's
//! release for the R version when the app needs it. The default repository is Posit
//! Package Manager's binary snapshot of yesterday (a date, so rebuilds
//! install the same versions; yesterday's is complete).

use rdesk_spawner::{
    DebPackage, Environment, PackageName, PackageVersion, RVersion, Repository, Requirement,
    SpecError, bioconductor_repositories,
};

use crate::intake::{self, Declared};

/// Why an app's environment cannot be installed.
#[derive(Debug, thiserror::Error)]
pub enum EnvironmentError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(
        "renv.lock installs {package} from {from}: only packages from repositories (CRAN-like or Bioconductor) can be installed; publish it to a repository (e.g. r-universe) and lock that"
    )]
    UnsupportedSource { package: String, from: String },
    #[error(
        "the app needs Bioconductor, which has no release for R {0}: deploy it with another R version"
    )]
    NoBioconductor(String),
}

/// The repository a new app installs from: Posit Package Manager's
/// snapshot of the day before `now_ms` (milliseconds since 1970, UTC).
pub fn default_repository(now_ms: i64) -> Repository {
    use chrono::Datelike;
    let today = chrono::DateTime::from_timestamp_millis(now_ms)
        .unwrap_or_default()
        .date_naive();
    let day = today.pred_opt().unwrap_or(today);
    Repository::posit(day.year().unsigned_abs(), day.month(), day.day())
}

/// The user's repository for this app: given with this deploy (`explicit`),
/// or the app's current one, or the default.
#[derive(Debug, Clone)]
pub struct Chosen {
    pub repo: Repository,
    pub explicit: bool,
}

/// Resolves the environment; every name, version and URL is validated.
pub fn resolve(
    declared: &Declared,
    detected: &[String],
    asked: Vec<PackageName>,
    chosen: Chosen,
    r_version: &RVersion,
) -> Result<Environment, EnvironmentError> {
    let mut packages: Vec<Requirement> = asked.into_iter().map(Requirement::any).collect();
    for name in detected {
        packages.push(Requirement::any(PackageName::parse(name)?));
    }
    let mut repos = Vec::new();
    if let Some(lock) = &declared.lock {
        for locked in lock
            .packages
            .iter()
            .filter(|p| !intake::is_built_in(&p.name))
        {
            if !matches!(
                locked.source.as_str(),
                "Repository" | "Bioconductor" | "CRAN"
            ) {
                return Err(EnvironmentError::UnsupportedSource {
                    package: locked.name.clone(),
                    from: locked.source.clone(),
                });
            }
            packages.push(Requirement {
                name: PackageName::parse(&locked.name)?,
                version: Some(PackageVersion::parse(&locked.version)?),
            });
        }
        for (name, url) in &lock.repos {
            repos.push(if name == "CRAN" && chosen.explicit {
                chosen.repo.clone()
            } else {
                Repository::parse(url)?
            });
        }
    }
    if repos.is_empty() || chosen.explicit {
        repos.push(chosen.repo);
    }
    for url in &declared.repos {
        repos.push(Repository::parse(url)?);
    }
    if declared.bioconductor {
        repos.extend(
            bioconductor_repositories(r_version)
                .ok_or_else(|| EnvironmentError::NoBioconductor(r_version.to_string()))?,
        );
    }
    let system = declared
        .system
        .iter()
        .map(|d| DebPackage::parse(d))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Environment::new(packages, repos, system))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::{Lock, LockedPackage};

    fn r() -> RVersion {
        RVersion::parse("4.2.2").unwrap()
    }

    fn chosen(repo: &str, explicit: bool) -> Chosen {
        Chosen {
            repo: Repository::parse(repo).unwrap(),
            explicit,
        }
    }

    fn lock(packages: &[(&str, &str, &str)]) -> Lock {
        Lock {
            r_version: Some("4.2.2".into()),
            repos: vec![("CRAN".into(), "http://lock-cran".into())],
            packages: packages
                .iter()
                .map(|(name, version, source)| LockedPackage {
                    name: (*name).into(),
                    version: (*version).into(),
                    source: (*source).into(),
                })
                .collect(),
        }
    }

    fn repos(env: &Environment) -> Vec<String> {
        env.repos().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_lock_pins_versions_and_names_repositories() {
        let declared = Declared {
            lock: Some(lock(&[
                ("rdeskdemo", "0.1.0", "Repository"),
                ("Rserve", "1.8-13", "Repository"),
            ])),
            ..Declared::default()
        };
        let detected = ["rdeskdemo".to_owned(), "jsonlite".to_owned()];
        let env = resolve(
            &declared,
            &detected,
            vec![],
            chosen("http://mine", false),
            &r(),
        )
        .unwrap();
        assert_eq!(env.describe(), "jsonlite, rdeskdemo@0.1.0");
        assert_eq!(
            repos(&env),
            ["http://lock-cran"],
            "the lock's own repositories"
        );
        let env = resolve(
            &declared,
            &detected,
            vec![],
            chosen("http://mine", true),
            &r(),
        )
        .unwrap();
        assert_eq!(
            repos(&env),
            ["http://mine"],
            "a repository given now replaces the lock's CRAN"
        );
    }

    #[test]
    fn what_cannot_be_installed_is_a_sentence() {
        let from_github = Declared {
            lock: Some(lock(&[("mypkg", "1.0", "GitHub")])),
            ..Declared::default()
        };
        let err = resolve(&from_github, &[], vec![], chosen("http://m", false), &r()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("renv.lock installs mypkg from GitHub"),
            "{err}"
        );
        let bad_version = Declared {
            lock: Some(lock(&[("mypkg", "1.0'; system('id')", "Repository")])),
            ..Declared::default()
        };
        assert!(matches!(
            resolve(&bad_version, &[], vec![], chosen("http://m", false), &r()),
            Err(EnvironmentError::Spec(SpecError::PackageVersion(_)))
        ));
        let bad_apt = Declared {
            system: vec!["libxml2".into(), "evil;rm".into()],
            ..Declared::default()
        };
        let err = resolve(&bad_apt, &[], vec![], chosen("http://m", false), &r()).unwrap_err();
        assert!(
            err.to_string()
                .contains("`evil;rm` is not a valid Debian package name"),
            "{err}"
        );
        let old_r = RVersion::parse("3.4.4").unwrap();
        let bioc = Declared {
            bioconductor: true,
            ..Declared::default()
        };
        let err = resolve(&bioc, &[], vec![], chosen("http://m", false), &old_r).unwrap_err();
        assert!(err.to_string().contains("no release for R 3.4.4"), "{err}");
    }

    #[test]
    fn description_and_bioconductor_repositories_come_after() {
        let declared = Declared {
            repos: vec!["https://team.r-universe.dev".into()],
            bioconductor: true,
            system: vec!["libxml2".into()],
            ..Declared::default()
        };
        let env = resolve(
            &declared,
            &["xml2".into()],
            vec![],
            chosen("posit:2026-12-03", false),
            &r(),
        )
        .unwrap();
        assert_eq!(
            repos(&env),
            [
                "posit:2026-12-03",
                "https://team.r-universe.dev",
                "https://bioconductor.org/packages/3.16/bioc",
                "https://bioconductor.org/packages/3.16/data/annotation",
                "https://bioconductor.org/packages/3.16/data/experiment"
            ]
        );
        assert_eq!(env.describe(), "xml2; apt: libxml2");
    }

    #[test]
    fn the_default_is_yesterdays_posit_snapshot() {
        // 2026-03-01T10:00:00Z
        assert_eq!(
            default_repository(1_772_359_200_000).to_string(),
            "posit:2026-02-28"
        );
    }
}
