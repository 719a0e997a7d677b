//! The deploy-related arguments and commands beyond `deploy` itself:
//! container settings flags (shared by `deploy`), a git source, `versions`,
//! `rollback`, `secret` (apps' secret variables in the OS keyring) and
//! `host repo` (where a host's new apps install packages from).

use std::io::Read;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};
use rdesk_core::app_settings::SettingsRequest;
use rdesk_core::desk::{Desk, SwitchReport};
use rdesk_core::git::GitRequest;
use rdesk_core::secrets::Secret;
use rdesk_core::spawner::Version;

use crate::output::Output;

/// How the app's containers run; what is not given stays as it was.
#[derive(Args)]
pub struct SettingsArgs {
    /// Memory limit per container, e.g. 512m or 2g (default 512m).
    #[arg(long)]
    memory: Option<String>,
    /// CPU limit per container, e.g. 0.5 or 2 (default 1).
    #[arg(long)]
    cpus: Option<String>,
    /// Containers behind the app's route (default 1); redeploys replace them one at a time.
    #[arg(long)]
    replicas: Option<String>,
    /// A host name the app answers at (its root), besides /SLUG; "" removes it.
    #[arg(long)]
    domain: Option<String>,
    /// A plain environment variable NAME=value (repeatable); visible in labels and `docker inspect`.
    #[arg(long = "env")]
    env: Vec<String>,
    /// Drop a plain environment variable (repeatable).
    #[arg(long = "unset-env")]
    unset_env: Vec<String>,
    /// Pass a secret variable NAME, its value from the OS keyring (`rdesk secret set`); repeatable.
    #[arg(long = "secret")]
    secrets: Vec<String>,
    /// Stop passing a secret variable (repeatable).
    #[arg(long = "unset-secret")]
    unset_secrets: Vec<String>,
    /// Who may call the app: `token` (callers present a token; the default
    /// for new apps, and required for eval apps) or `public`.
    #[arg(long)]
    access: Option<String>,
    /// Only callers from this network may connect, e.g. 203.0.113.0/24
    /// (repeatable; replaces the current list).
    #[arg(long = "allow")]
    allow: Vec<String>,
    /// Drop the IP allow-list.
    #[arg(long = "no-allow", conflicts_with = "allow")]
    no_allow: bool,
}

impl SettingsArgs {
    pub fn request(self) -> SettingsRequest {
        SettingsRequest {
            memory: self.memory,
            cpus: self.cpus,
            replicas: self.replicas,
            domain: self.domain,
            env: self.env,
            unset_env: self.unset_env,
            secrets: self.secrets,
            unset_secrets: self.unset_secrets,
            access: self.access,
            allow: self.allow,
            no_allow: self.no_allow,
        }
    }
}

/// The git URL among a deploy's sources, if it names one (alone).
pub fn git_source<'a>(paths: &'a [PathBuf], git_ref: Option<&str>) -> Result<Option<&'a str>> {
    let url = match paths {
        [one] => one.to_str().filter(|s| GitRequest::looks_like_git(s)),
        _ => None,
    };
    if url.is_none() && git_ref.is_some() {
        anyhow::bail!(
            "--ref is for deploys from git: give one git URL (git+ssh://, ssh://, https:// or USER@HOST:PATH)"
        );
    }
    Ok(url)
}

#[derive(Args)]
pub struct HostRepoArgs {
    name: String,
    /// A CRAN-like URL or posit:YYYY-MM-DD; without it, the current one is shown.
    repo: Option<String>,
    /// Go back to Posit Package Manager's snapshot of the day before each first deploy.
    #[arg(long, conflicts_with = "repo")]
    clear: bool,
}

pub async fn host_repo(desk: &Desk, args: HostRepoArgs, out: &Output) -> Result<()> {
    if args.repo.is_some() || args.clear {
        desk.set_host_repo(&args.name, args.repo.as_deref()).await?;
    }
    let repo = desk.host_repo(&args.name).await?.map(|r| r.to_string());
    let shown = repo.clone().unwrap_or_else(|| {
        "Posit Package Manager's snapshot of the day before each app's first deploy".to_owned()
    });
    out.message(
        &format!("new apps on {} install packages from {shown}", args.name),
        &serde_json::json!({ "host": args.name, "repo": repo }),
    );
    Ok(())
}

#[derive(Args)]
pub struct RollbackArgs {
    slug: String,
    /// An image reference, image id or code hash (a prefix of 6 or more) from
    /// `rdesk versions`; default: the newest version not running.
    version: Option<String>,
    #[arg(long)]
    host: String,
}

pub async fn rollback(desk: &Desk, args: RollbackArgs, out: &Output) -> Result<()> {
    let report = desk
        .with_session(&args.host, async |s| {
            s.rollback(&args.slug, args.version.as_deref(), &|e| {
                out.deploy_event(&e)
            })
            .await
        })
        .await?;
    print_switch(out, "rolled", "back to", &report);
    Ok(())
}

#[derive(Args)]
pub struct SetArgs {
    slug: String,
    #[arg(long)]
    host: String,
    #[command(flatten)]
    settings: SettingsArgs,
}

/// Changes an app's container settings without building: its running image
/// restarted with them through the gated switch.
pub async fn set(desk: &Desk, args: SetArgs, out: &Output) -> Result<()> {
    let request = args.settings.request();
    let report = desk
        .with_session(&args.host, async |s| {
            s.apply_settings(&args.slug, &request, &|e| out.deploy_event(&e))
                .await
        })
        .await?;
    print_switch(out, "restarted", "with its new settings on", &report);
    Ok(())
}

pub async fn versions(desk: &Desk, slug: &str, host: &str, out: &Output) -> Result<()> {
    let versions = desk
        .with_session(host, async |s| s.versions(slug).await)
        .await?;
    print_versions(out, &versions);
    Ok(())
}

fn print_switch(out: &Output, did: &str, how: &str, report: &SwitchReport) {
    if out.json {
        return out.emit(report);
    }
    println!(
        "{did} `{}` on {} {how} {} in {:.1} s",
        report.slug,
        report.host,
        report.deployed.image,
        report.duration_ms as f64 / 1000.0
    );
    println!("  url:      {}", report.url);
}

fn print_versions(out: &Output, versions: &[Version]) {
    if out.json {
        return out.emit(&versions);
    }
    for v in versions {
        let from = v
            .origin
            .as_ref()
            .map(|o| format!("  git {} {} {}", o.url(), o.reference(), o.short_commit()))
            .unwrap_or_default();
        println!(
            "{} {}  code {}  {}{from}",
            if v.current { "*" } else { " " },
            v.image,
            &v.code_hash[..12.min(v.code_hash.len())],
            v.image_id
                .trim_start_matches("sha256:")
                .get(..12)
                .unwrap_or_default()
        );
    }
}

#[derive(Subcommand)]
pub enum SecretCommand {
    /// Store a secret variable of an app in the OS keyring; the value is read from stdin.
    Set {
        slug: String,
        name: String,
        #[arg(long)]
        host: String,
    },
    /// Remove a secret variable of an app from the OS keyring.
    Rm {
        slug: String,
        name: String,
        #[arg(long)]
        host: String,
    },
}

pub async fn secret(desk: &Desk, command: SecretCommand, out: &Output) -> Result<()> {
    match command {
        SecretCommand::Set { slug, name, host } => {
            let mut value = String::new();
            std::io::stdin().read_to_string(&mut value)?;
            let value = Secret::new(value.strip_suffix('\n').unwrap_or(&value));
            desk.set_app_secret(&host, &slug, &name, value).await?;
            out.message(
                &format!("stored the secret {name} of {slug} in the keyring; deploy with --secret {name} to pass it"),
                &serde_json::json!({ "host": host, "slug": slug, "secret": name }),
            );
        }
        SecretCommand::Rm { slug, name, host } => {
            desk.remove_app_secret(&host, &slug, &name).await?;
            out.message(
                &format!("removed the secret {name} of {slug} from the keyring"),
                &serde_json::json!({ "host": host, "slug": slug, "removed": name }),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_git_url_is_a_git_source_and_ref_needs_one() {
        let paths = |p: &[&str]| p.iter().map(PathBuf::from).collect::<Vec<_>>();
        let url = "git+ssh://git@example.org/team/sales.git";
        assert_eq!(git_source(&paths(&[url]), Some("main")).unwrap(), Some(url));
        assert_eq!(git_source(&paths(&[url]), None).unwrap(), Some(url));
        assert_eq!(git_source(&paths(&["./sales"]), None).unwrap(), None);
        assert_eq!(git_source(&paths(&["a.R", "b.R"]), None).unwrap(), None);
        let err = git_source(&paths(&["./sales"]), Some("main")).unwrap_err();
        assert!(
            err.to_string().starts_with("--ref is for deploys from git"),
            "{err}"
        );
    }
}
