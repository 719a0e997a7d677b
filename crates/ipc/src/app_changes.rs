//! What the app page changes beyond a deploy or its container settings: the
//! kept versions it can roll back to, and its secret variables.

use serde::{Deserialize, Serialize};

/// One kept image of an app, newest first in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionView {
    /// The image reference; what a rollback names.
    pub image: String,
    pub code_hash: String,
    pub r_version: String,
    pub packages: Vec<String>,
    /// When the image was built, Unix milliseconds.
    pub built_at: i64,
    /// A container of the app runs this image now.
    pub current: bool,
    /// The git commit it was built from, when it came from git.
    #[serde(default)]
    pub origin: Option<OriginView>,
}

/// Where a version's code came from in git.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginView {
    /// Without credentials.
    pub url: String,
    pub reference: String,
    pub commit: String,
}

/// Switch an app to one of its kept versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackArgs {
    pub host: String,
    pub slug: String,
    /// [`VersionView::image`].
    pub version: String,
}

/// Keep a secret variable's value in the OS keyring and pass it to the app.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetSecretArgs {
    pub host: String,
    pub slug: String,
    pub name: String,
    pub value: String,
}

/// The value never shows in logs or error reports.
impl std::fmt::Debug for SetSecretArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetSecretArgs")
            .field("host", &self.host)
            .field("slug", &self.slug)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Stop passing a secret variable and forget its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretNameArgs {
    pub host: String,
    pub slug: String,
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_value_stays_out_of_debug_output() {
        let args = SetSecretArgs {
            host: "vps".into(),
            slug: "sales".into(),
            name: "API_KEY".into(),
            value: "hunter2".into(),
        };
        let shown = format!("{args:?}");
        assert!(
            shown.contains("API_KEY") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
