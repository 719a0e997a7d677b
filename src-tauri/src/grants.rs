//! Which paths the window may read and deploy: only those the shell itself
//! received, from a drop onto the window or on the command line it was
//! started with (or a second start handed over), never a path the webview
//! names on its own. A page that runs script (a bug, an injected chart)
//! could otherwise ask to deploy `~/.ssh` to a public URL.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rdesk_core::DeskError;

/// The paths granted so far, for the life of the process.
#[derive(Debug, Default)]
pub struct Grants(Mutex<HashSet<PathBuf>>);

impl Grants {
    /// Grants `paths`; relative ones are taken from `cwd`.
    pub fn grant(&self, paths: impl IntoIterator<Item = PathBuf>, cwd: &Path) {
        if let Ok(mut granted) = self.0.lock() {
            granted.extend(paths.into_iter().map(|p| cwd.join(p)));
        }
    }

    /// `paths` as the webview sent them, when every one was granted; else
    /// a sentence naming the first that was not.
    pub fn check(&self, paths: &[String]) -> Result<Vec<PathBuf>, DeskError> {
        let granted = self.0.lock().map_err(|_| DeskError::PathNotGranted {
            path: PathBuf::from(paths.first().cloned().unwrap_or_default()),
        })?;
        paths
            .iter()
            .map(PathBuf::from)
            .map(|path| {
                if granted.contains(&path) {
                    Ok(path)
                } else {
                    Err(DeskError::PathNotGranted { path })
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_the_shell_received_pass() {
        // Paths under a made-up folder: the gate only compares them, nothing is read.
        let root = std::env::temp_dir().join("rdesk-grants-test");
        let (cwd, app) = (root.join("work"), root.join("app"));
        let text = |p: &Path| p.display().to_string();
        let grants = Grants::default();
        grants.grant([app.clone(), PathBuf::from("rel/app.zip")], &cwd);
        assert_eq!(grants.check(&[text(&app)]).unwrap(), vec![app.clone()]);
        assert!(grants.check(&[text(&cwd.join("rel/app.zip"))]).is_ok());

        let ssh = root.join(".ssh");
        let escaping = app.join("../.ssh");
        for made_up in [
            ssh.as_path(),
            escaping.as_path(),
            Path::new("rel/app.zip"),
            Path::new(""),
        ] {
            let err = grants.check(&[text(&app), text(made_up)]).unwrap_err();
            assert!(
                matches!(&err, DeskError::PathNotGranted { path } if path == made_up),
                "{}: {err:?}",
                made_up.display()
            );
            assert!(err.to_string().contains("dropped"), "{err}");
        }
    }
}
