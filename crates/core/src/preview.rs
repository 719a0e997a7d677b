//! The user's files for a deploy, read once ([`AppFiles`]), and what they
//! would deploy as before anything is deployed: the files taken in (and the
//! junk left out), the R packages the code uses and a slug made from the
//! name, so the UI can prefill its new-app form.

use std::path::PathBuf;

use rdesk_spawner::{DeployEvent, Origin, Slug};
use serde::Serialize;

use crate::error::DeskError;
use crate::git::{self, GitRequest};
use crate::intake::{self, AppSource, Limits};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Preview {
    /// A valid slug made from the folder, archive or file name; empty when the name has no letter.
    pub slug: String,
    pub files: Vec<String>,
    pub skipped: Vec<String>,
    pub packages: Vec<String>,
    pub total_bytes: u64,
}

/// The user's files, read from disk (or a git checkout) and checked once:
/// what a deploy builds from and what its preview shows.
#[derive(Debug)]
pub struct AppFiles {
    source: AppSource,
    /// The commit they came from, when they came from git.
    origin: Option<Origin>,
}

impl AppFiles {
    /// Reads and checks a folder, an archive or `.R` files, off the async threads.
    pub async fn read(paths: Vec<PathBuf>) -> Result<AppFiles, DeskError> {
        let source =
            tokio::task::spawn_blocking(move || intake::collect(&paths, &Limits::default()))
                .await
                .map_err(|e| DeskError::Io {
                    what: "reading the dropped files".to_owned(),
                    source: std::io::Error::other(e),
                })??;
        Ok(AppFiles {
            source,
            origin: None,
        })
    }

    /// Clones a git repository on this workstation (the user's SSH agent
    /// and keys), checks out `reference` (a branch, tag or commit; the
    /// default branch without one) and reads it as a folder, with the same
    /// checks and limits; the clone is removed once read.
    pub async fn from_git(
        url: &str,
        reference: Option<&str>,
        progress: &(dyn Fn(DeployEvent) + Send + Sync),
    ) -> Result<AppFiles, DeskError> {
        let request = GitRequest::parse(url, reference)?;
        progress(DeployEvent::Step(format!("cloning {}", request.shown())));
        let checkout = git::checkout(&request).await?;
        progress(DeployEvent::Step(format!(
            "checked out {} at {}",
            checkout.origin.reference(),
            checkout.origin.short_commit()
        )));
        let mut files = Self::read(vec![checkout.folder().to_owned()]).await?;
        files.origin = Some(checkout.origin);
        Ok(files)
    }

    /// The commit the files came from, when they came from git.
    pub fn origin(&self) -> Option<&Origin> {
        self.origin.as_ref()
    }

    /// What these files would deploy as.
    pub fn preview(&self) -> Preview {
        let source = &self.source;
        Preview {
            slug: Slug::suggest(&source.name_hint)
                .map(|s| s.to_string())
                .unwrap_or_default(),
            packages: pinned(source, intake::detect_packages(source)),
            files: source.files.iter().map(|f| f.path.clone()).collect(),
            skipped: source.skipped.clone(),
            total_bytes: source.total_bytes,
        }
    }

    pub(crate) fn source(&self) -> &AppSource {
        &self.source
    }
}

/// The package names, each with the version its `renv.lock` pins
/// (`name@version`), if any; a lock that cannot be read pins nothing here
/// (the deploy says why).
fn pinned(source: &AppSource, names: Vec<String>) -> Vec<String> {
    let lock = intake::declared_environment(source)
        .ok()
        .and_then(|d| d.lock);
    names
        .into_iter()
        .map(|name| {
            let version = lock
                .iter()
                .flat_map(|l| &l.packages)
                .find(|p| p.name == name)
                .map(|p| format!("{name}@{}", p.version));
            version.unwrap_or(name)
        })
        .collect()
}

/// What the files at `paths` would deploy as.
pub async fn preview(paths: Vec<PathBuf>) -> Result<Preview, DeskError> {
    Ok(AppFiles::read(paths).await?.preview())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_dropped_folder_is_named_and_its_packages_found() {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("My Stats_App");
        std::fs::create_dir_all(app.join(".git")).unwrap();
        std::fs::write(
            app.join("main.R"),
            "library(jsonlite)\nf <- function() dplyr::n()\n",
        )
        .unwrap();
        std::fs::write(app.join(".git").join("HEAD"), "ref").unwrap();
        let p = preview(vec![app]).await.unwrap();
        assert_eq!(p.slug, "my-stats-app");
        assert_eq!(p.files, ["main.R"]);
        assert_eq!(p.skipped, [".git/"]);
        assert_eq!(p.packages, ["dplyr", "jsonlite"]);
    }

    #[tokio::test]
    async fn a_locked_package_is_previewed_with_its_version() {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("sales");
        std::fs::create_dir_all(&app).unwrap();
        std::fs::write(app.join("main.R"), "library(jsonlite)\nlibrary(zoo)\n").unwrap();
        let lock = r#"{"Packages": {"jsonlite": {"Package": "jsonlite", "Version": "1.8.8"}}}"#;
        std::fs::write(app.join("renv.lock"), lock).unwrap();
        let p = preview(vec![app.clone()]).await.unwrap();
        assert_eq!(p.packages, ["jsonlite@1.8.8", "zoo"]);
        std::fs::write(app.join("renv.lock"), "{broken").unwrap();
        assert_eq!(
            preview(vec![app]).await.unwrap().packages,
            ["jsonlite", "zoo"]
        );
    }

    #[tokio::test]
    async fn nothing_r_is_refused_with_a_sentence() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("notes.txt");
        std::fs::write(&file, "hi").unwrap();
        let e = preview(vec![file]).await.unwrap_err();
        assert!(matches!(e, DeskError::Intake(_)), "{e}");
    }
}
