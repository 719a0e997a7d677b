//! Apps from git: a repository cloned on this workstation with the system
//! `git` (so the user's SSH agent, keys, `~/.ssh/config` and credential
//! helpers apply), checked out at a branch, tag or commit in a private
//! temporary folder that intake then reads as any folder. Only `ssh` and
//! `https` transports are allowed, git never prompts, and what is recorded
//! of the URL never holds a password or token.

use std::path::Path;
use std::process::Stdio;

use rdesk_spawner::Origin;

/// Why a repository could not be checked out.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error(
        "`{0}` is not a git URL rdesk can clone: use git+ssh://, ssh://, https:// or USER@HOST:PATH"
    )]
    Url(String),
    #[error(
        "`{0}` is not a valid git branch, tag or commit: letters, digits, `.`, `_`, `-` and `/`"
    )]
    Ref(String),
    #[error("deploying from git needs the `git` program on this machine: {0}")]
    NotInstalled(std::io::Error),
    #[error("cloning {url} failed: {detail}")]
    Clone { url: String, detail: String },
    #[error("{url} has no branch, tag or commit `{reference}`")]
    NoSuchRef { url: String, reference: String },
    #[error("checking out {url} at {reference} failed: {detail}")]
    Checkout {
        url: String,
        reference: String,
        detail: String,
    },
    #[error("could not make a folder for the clone: {0}")]
    Io(#[from] std::io::Error),
}

/// What to deploy from git.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitRequest {
    /// What git is given: `git+` taken off.
    url: String,
    /// Without a password or token, for records and messages.
    shown: String,
    /// A branch, tag or commit; `None` for the remote's default branch.
    reference: Option<String>,
    /// The transports git may use (`GIT_ALLOW_PROTOCOL`).
    protocols: &'static str,
}

impl GitRequest {
    /// Checks a URL (`git+ssh://`, `ssh://`, `https://`, `git+https://` or
    /// scp-like `USER@HOST:PATH`) and a reference.
    pub fn parse(url: &str, reference: Option<&str>) -> Result<Self, GitError> {
        let bad = || GitError::Url(shown_url(url));
        let plain = url.strip_prefix("git+").unwrap_or(url);
        let scp_like = !plain.contains("://")
            && plain.split_once(':').is_some_and(|(host, path)| {
                host.contains('@') && !host.contains('/') && !path.is_empty()
            });
        let allowed = plain.starts_with("ssh://") || plain.starts_with("https://") || scp_like;
        let clean = plain.bytes().all(|b| b.is_ascii_graphic())
            && !plain.contains(['"', '\'', '\\', '`', '$'])
            && !plain.starts_with('-');
        if !allowed || !clean || plain.len() > 500 {
            return Err(bad());
        }
        if let Some(r) = reference {
            check_ref(r)?;
        }
        let shown = shown_url(plain);
        // What is recorded must make a valid origin label, whatever the commit.
        Origin::git(&shown, reference.unwrap_or("HEAD"), &"0".repeat(40)).map_err(|_| bad())?;
        Ok(Self {
            url: plain.to_owned(),
            shown,
            reference: reference.map(str::to_owned),
            protocols: "ssh:https",
        })
    }

    /// Whether `source` names a git repository rather than a path.
    pub fn looks_like_git(source: &str) -> bool {
        ["git+", "ssh://", "https://", "http://"]
            .iter()
            .any(|p| source.starts_with(p))
            || (source.contains('@')
                && source
                    .split_once(':')
                    .is_some_and(|(host, _)| !host.contains('/') && host.contains('@')))
    }

    /// The URL without a password or token.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The repository's name: the last part of its path without `.git`,
    /// as a folder name (`app` when nothing of it is left).
    pub fn name_hint(&self) -> String {
        let path = self.shown.trim_end_matches('/');
        let last = path.rsplit(['/', ':']).next().unwrap_or(path);
        let name: String = last
            .strip_suffix(".git")
            .unwrap_or(last)
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .collect();
        if name.trim_matches('.').is_empty() {
            "app".to_owned()
        } else {
            name
        }
    }
}

/// A branch, tag or commit: a safe subset of git's ref names.
fn check_ref(reference: &str) -> Result<(), GitError> {
    let ok = (1..=200).contains(&reference.len())
        && !reference.starts_with(['-', '/', '.'])
        && !reference.ends_with(['/', '.'])
        && !reference.contains("..")
        && !reference.contains("//")
        && !reference.ends_with(".lock")
        && reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'));
    if ok {
        Ok(())
    } else {
        Err(GitError::Ref(reference.to_owned()))
    }
}

/// `url` without the password or token of its user part (`https://u:t@h/…`
/// → `https://u@h/…`; a lone user name of an https URL is a token too).
fn shown_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let Some((user, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let https = scheme.ends_with("https") || scheme.ends_with("http");
    match (https, user.split_once(':')) {
        (true, _) => format!("{scheme}://{host}{path}"),
        (false, Some((name, _))) => format!("{scheme}://{name}@{host}{path}"),
        (false, None) => url.to_owned(),
    }
}

/// A checked-out commit in a private temporary folder, removed when dropped.
#[derive(Debug)]
pub struct Checkout {
    /// Holds the folder; removed with it.
    _dir: tempfile::TempDir,
    folder: std::path::PathBuf,
    pub origin: Origin,
}

impl Checkout {
    /// The folder intake reads, named after the repository (for the slug).
    pub fn folder(&self) -> &Path {
        &self.folder
    }
}

/// Clones `request` and checks out its reference (the remote's default
/// branch without one).
pub async fn checkout(request: &GitRequest) -> Result<Checkout, GitError> {
    let dir = tempfile::Builder::new().prefix("rdesk-git-").tempdir()?;
    let name = request.name_hint();
    let work = dir.path().join(&name);
    let clone_err = |detail| GitError::Clone {
        url: request.shown.clone(),
        detail,
    };
    let clone = [
        "clone",
        "--quiet",
        "--no-checkout",
        "--filter=blob:none",
        "--",
        &request.url,
        &name,
    ];
    git(dir.path(), request.protocols, &clone)
        .await?
        .map_err(clone_err)?;
    let reference = request.reference.as_deref().unwrap_or("HEAD");
    let candidates = [
        format!("refs/remotes/origin/{reference}"),
        format!("refs/tags/{reference}"),
        reference.to_owned(),
    ];
    let mut commit = None;
    for candidate in candidates {
        let asked = format!("{candidate}^{{commit}}");
        let parse = ["rev-parse", "--verify", "--quiet", &asked];
        if let Ok(sha) = git(&work, request.protocols, &parse).await? {
            commit = Some(sha);
            break;
        }
    }
    let no_ref = || GitError::NoSuchRef {
        url: request.shown.clone(),
        reference: reference.to_owned(),
    };
    let commit = commit.ok_or_else(no_ref)?;
    git(
        &work,
        request.protocols,
        &["checkout", "--quiet", "--detach", &commit],
    )
    .await?
    .map_err(|detail| GitError::Checkout {
        url: request.shown.clone(),
        reference: reference.to_owned(),
        detail,
    })?;
    let origin = Origin::git(&request.shown, reference, &commit)
        .map_err(|_| GitError::Url(request.shown.clone()))?;
    Ok(Checkout {
        _dir: dir,
        folder: work,
        origin,
    })
}

/// Runs `git ARGS` in `dir` without prompts and with only the `protocols`
/// allowed: its trimmed stdout, or its last stderr line as the reason.
async fn git(
    dir: &Path,
    protocols: &str,
    args: &[&str],
) -> Result<Result<String, String>, GitError> {
    let out = tokio::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ALLOW_PROTOCOL", protocols)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(GitError::NotInstalled)?;
    if out.status.success() {
        return Ok(Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned()));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let reason = stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("git failed without saying why")
        .to_owned();
    Ok(Err(reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_git_can_clone_safely() {
        for (given, url, shown, name) in [
            (
                "git+ssh://git@example.org:2222/team/sales.git",
                "ssh://git@example.org:2222/team/sales.git",
                "ssh://git@example.org:2222/team/sales.git",
                "sales",
            ),
            (
                "https://example.org/team/sales",
                "https://example.org/team/sales",
                "https://example.org/team/sales",
                "sales",
            ),
            (
                "https://me:ghp_token@example.org/a/b.git",
                "https://me:ghp_token@example.org/a/b.git",
                "https://example.org/a/b.git",
                "b",
            ),
            (
                "https://ghp_token@example.org/a/b.git",
                "https://ghp_token@example.org/a/b.git",
                "https://example.org/a/b.git",
                "b",
            ),
            (
                "git@example.org:team/sales.git",
                "git@example.org:team/sales.git",
                "git@example.org:team/sales.git",
                "sales",
            ),
            (
                "git+https://example.org/x.git/",
                "https://example.org/x.git/",
                "https://example.org/x.git/",
                "x",
            ),
        ] {
            let request = GitRequest::parse(given, None).unwrap();
            assert_eq!(request.url, url, "{given}");
            assert_eq!(request.shown(), shown, "{given}");
            assert_eq!(request.name_hint(), name, "{given}");
            assert!(GitRequest::looks_like_git(given), "{given}");
        }
        for bad in [
            "ext::sh -c touch% /tmp/pwned",
            "file:///etc",
            "git+file:///etc",
            "http://example.org/a.git",
            "-uhelp@x:y",
            "https://example.org/a b",
            "ssh://example.org/$(id)",
            "https://example.org/a|b",
            "https://example.org/{a}",
            "/home/me/app",
            "app",
        ] {
            assert!(GitRequest::parse(bad, None).is_err(), "{bad:?}");
        }
        for path in ["/home/me/app", "./app", "app.zip", "C:/x"] {
            assert!(!GitRequest::looks_like_git(path), "{path}");
        }
    }

    #[test]
    fn references_are_plain_names() {
        for good in ["main", "release/1.2", "v1.0.0", "a1b2c3d", "feature_x-2"] {
            assert!(
                GitRequest::parse("https://h/r", Some(good)).is_ok(),
                "{good}"
            );
        }
        for bad in [
            "",
            "-f",
            "--upload-pack=x",
            "a..b",
            "a b",
            "x.lock",
            "/abs",
            "a//b",
            "a~1",
            "a^",
            "a:b",
            "HEAD@{1}",
        ] {
            let err = GitRequest::parse("https://h/r", Some(bad)).unwrap_err();
            assert!(matches!(err, GitError::Ref(_)), "{bad:?}: {err}");
        }
    }

    /// A repository with a branch `main` (two commits) and a tag `v1` on the first.
    fn fixture(root: &Path) -> (String, String) {
        let run = |args: &[&str]| {
            let out = std::process::Command::new("git")
                .args([
                    "-c",
                    "user.name=t",
                    "-c",
                    "user.email=t@example.invalid",
                    "-c",
                    "init.defaultBranch=main",
                ])
                .args(args)
                .current_dir(root)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "git {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        };
        run(&["init", "--quiet"]);
        std::fs::write(root.join("app.R"), "v <- function() 1\n").unwrap();
        run(&["add", "app.R"]);
        run(&["commit", "--quiet", "-m", "one"]);
        run(&["tag", "v1"]);
        let first = run(&["rev-parse", "HEAD"]);
        std::fs::write(root.join("app.R"), "v <- function() 2\n").unwrap();
        run(&["commit", "--quiet", "-am", "two"]);
        (first, run(&["rev-parse", "HEAD"]))
    }

    #[tokio::test]
    async fn branches_tags_and_commits_check_out() {
        let repo = tempfile::tempdir().unwrap();
        let (first, second) = fixture(repo.path());
        // A local path stands in for the remote (the transport rule is the
        // only thing bypassed: parse() refuses local paths).
        let request = |reference: Option<&str>| GitRequest {
            url: repo.path().display().to_string(),
            shown: "https://example.org/team/sales.git".into(),
            reference: reference.map(str::to_owned),
            protocols: "file",
        };
        for (reference, commit, code) in [
            (Some("main"), &second, "v <- function() 2\n"),
            (None, &second, "v <- function() 2\n"),
            (Some("v1"), &first, "v <- function() 1\n"),
            (Some(&first[..10]), &first, "v <- function() 1\n"),
        ] {
            let checkout = checkout(&request(reference)).await.unwrap();
            assert_eq!(checkout.origin.commit(), commit, "{reference:?}");
            assert!(checkout.folder().ends_with("sales"));
            assert_eq!(
                std::fs::read_to_string(checkout.folder().join("app.R")).unwrap(),
                code
            );
        }
        let err = checkout(&request(Some("nope"))).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "https://example.org/team/sales.git has no branch, tag or commit `nope`"
        );
    }
}
