//! The Docker CLI as the stand-in set-up uses it: always the local engine,
//! the classic builder (as on Docker 20.10), and containers that are made
//! again only when what they were made from changes.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::facts::{DOCKER_SOCKET, HASH_LABEL, OWNER, OWNER_LABEL, ROLE_LABEL};
use crate::sh;
use crate::state::hash_parts;
use crate::ui::{self, Outcome};

/// `docker` talking to the local engine whatever DOCKER_HOST or contexts say.
pub fn docker() -> Command {
    let mut cmd = Command::new("docker");
    cmd.env("DOCKER_HOST", format!("unix://{DOCKER_SOCKET}"))
        .env_remove("DOCKER_CONTEXT");
    cmd
}

fn inspect(kind: &str, name: &str) -> Option<Value> {
    let out = docker()
        .args([kind, "inspect", "--format", "{{json .}}", name])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

fn labels_of(v: &Value, pointer: &str) -> BTreeMap<String, String> {
    v.pointer(pointer)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// An image's id and labels.
#[derive(Debug)]
pub struct Image {
    pub id: String,
    pub labels: BTreeMap<String, String>,
}

impl Image {
    pub fn hash(&self) -> Option<&str> {
        self.labels.get(HASH_LABEL).map(String::as_str)
    }
}

pub fn image(name: &str) -> Option<Image> {
    let v = inspect("image", name)?;
    Some(Image {
        id: v.get("Id")?.as_str()?.to_string(),
        labels: labels_of(&v, "/Config/Labels"),
    })
}

/// A container's id, state and labels.
#[derive(Debug)]
pub struct Container {
    pub id: String,
    pub status: String,
    pub labels: BTreeMap<String, String>,
}

impl Container {
    pub fn running(&self) -> bool {
        self.status == "running"
    }
}

pub fn container(name: &str) -> Option<Container> {
    let v = inspect("container", name)?;
    Some(Container {
        id: v.get("Id")?.as_str()?.to_string(),
        status: v
            .pointer("/State/Status")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string(),
        labels: labels_of(&v, "/Config/Labels"),
    })
}

pub fn network_exists(name: &str) -> bool {
    sh::succeeds(docker().args(["network", "inspect", name]))
}

/// The container's IP address on `network`.
pub fn container_ip(name: &str, network: &str) -> Option<String> {
    let v = inspect("container", name)?;
    let ip = v
        .pointer("/NetworkSettings/Networks")?
        .get(network)?
        .get("IPAddress")?
        .as_str()?;
    (!ip.is_empty()).then(|| ip.to_string())
}

/// Removes a container if it exists; true when there was one.
pub fn remove_container(name: &str) -> Result<bool> {
    if container(name).is_none() {
        return Ok(false);
    }
    sh::capture(docker().args(["rm", "--force", "--volumes", name]))?;
    Ok(true)
}

/// A `docker build` with the classic builder.
pub struct Build<'a> {
    pub tag: &'a str,
    pub context: &'a Path,
    pub build_args: Vec<(&'a str, String)>,
    pub labels: Vec<(&'a str, String)>,
    pub network: Option<&'a str>,
    pub no_cache: bool,
}

impl<'a> Build<'a> {
    pub fn new(tag: &'a str, context: &'a Path) -> Self {
        Self {
            tag,
            context,
            build_args: Vec::new(),
            labels: Vec::new(),
            network: None,
            no_cache: false,
        }
    }

    pub fn run(&self, log: &Path) -> Result<()> {
        let mut cmd = docker();
        cmd.env("DOCKER_BUILDKIT", "0")
            .args(["build", "--force-rm", "--tag", self.tag]);
        for (k, v) in &self.build_args {
            cmd.arg("--build-arg").arg(format!("{k}={v}"));
        }
        for (k, v) in &self.labels {
            cmd.arg("--label").arg(format!("{k}={v}"));
        }
        if let Some(net) = self.network {
            cmd.args(["--network", net]);
        }
        if self.no_cache {
            cmd.arg("--no-cache");
        }
        cmd.arg(self.context);
        sh::run_logged(&mut cmd, log).with_context(|| format!("building image {}", self.tag))
    }
}

/// What a long-running container is made from: `docker run` options, image
/// and command. Its hash (with the image id) is stored as a label, so a
/// change of any of them makes the container again.
pub struct ContainerSpec<'a> {
    pub name: &'a str,
    pub role: &'a str,
    pub image: &'a str,
    pub options: Vec<String>,
    pub command: Vec<String>,
}

impl ContainerSpec<'_> {
    fn hash(&self, image_id: &str) -> String {
        let mut parts: Vec<&str> = vec![self.name, self.image, image_id, "--"];
        parts.extend(self.options.iter().map(String::as_str));
        parts.push("--");
        parts.extend(self.command.iter().map(String::as_str));
        hash_parts(parts)
    }

    fn create(&self, hash: &str) -> Result<()> {
        let mut cmd = docker();
        cmd.args(["run", "--detach", "--name", self.name])
            .arg("--label")
            .arg(format!("{OWNER_LABEL}={OWNER}"))
            .arg("--label")
            .arg(format!("{ROLE_LABEL}={}", self.role))
            .arg("--label")
            .arg(format!("{HASH_LABEL}={hash}"))
            .args(&self.options)
            .arg(self.image)
            .args(&self.command);
        sh::capture(&mut cmd).map(drop)
    }

    /// Makes sure the container exists as specified and runs.
    pub fn ensure(&self) -> Result<Outcome> {
        let image_id = image(self.image)
            .with_context(|| format!("image {} is missing", self.image))?
            .id;
        let hash = self.hash(&image_id);
        match container(self.name) {
            Some(c) if c.labels.get(HASH_LABEL) == Some(&hash) => {
                if c.running() {
                    ui::already(format!("container {} running", self.name))
                } else {
                    sh::capture(docker().args(["start", self.name]))?;
                    ui::done(format!(
                        "started container {} (was {})",
                        self.name, c.status
                    ))
                }
            }
            Some(_) => {
                ui::note(format!(
                    "{} was made from something else; making it again",
                    self.name
                ));
                remove_container(self.name)?;
                self.create(&hash)?;
                ui::done(format!("re-created container {}", self.name))
            }
            None => {
                self.create(&hash)?;
                ui::done(format!("created container {}", self.name))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(options: &[&str]) -> ContainerSpec<'static> {
        ContainerSpec {
            name: "n",
            role: "r",
            image: "i",
            options: options.iter().map(|s| s.to_string()).collect(),
            command: vec!["c".into()],
        }
    }

    #[test]
    fn container_hash_follows_options_and_image() {
        let a = spec(&["-p", "1:1"]);
        assert_eq!(a.hash("img1"), spec(&["-p", "1:1"]).hash("img1"));
        assert_ne!(a.hash("img1"), a.hash("img2"));
        assert_ne!(a.hash("img1"), spec(&["-p", "1:2"]).hash("img1"));
    }

    #[test]
    fn reads_labels() {
        let v: Value = serde_json::json!({"Config": {"Labels": {"a": "1"}}});
        assert_eq!(
            labels_of(&v, "/Config/Labels").get("a").map(String::as_str),
            Some("1")
        );
        let none: Value = serde_json::json!({"Config": {"Labels": null}});
        assert!(labels_of(&none, "/Config/Labels").is_empty());
    }
}
