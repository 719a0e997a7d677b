//! The resolved dependency graph `cargo metadata` prints, read into packages
//! by id, the workspace's members and each package's dependencies by kind.

use std::collections::{HashMap, VecDeque};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DepKind {
    Normal,
    Build,
    Dev,
}

/// The resolved dependency graph: packages by id, which are workspace members, their edges.
#[derive(Debug, Default)]
pub(super) struct Graph {
    pub(super) names: HashMap<String, String>,
    pub(super) members: Vec<String>,
    pub(super) deps: HashMap<String, Vec<(String, DepKind)>>,
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    workspace_members: Vec<String>,
    resolve: Option<Resolve>,
}

#[derive(Deserialize)]
struct Package {
    id: String,
    name: String,
}

#[derive(Deserialize)]
struct Resolve {
    nodes: Vec<Node>,
}

#[derive(Deserialize)]
struct Node {
    id: String,
    deps: Vec<NodeDep>,
}

#[derive(Deserialize)]
struct NodeDep {
    pkg: String,
    dep_kinds: Vec<DepKindInfo>,
}

#[derive(Deserialize)]
struct DepKindInfo {
    kind: Option<String>,
}

impl Graph {
    pub(super) fn from_json(json: &str) -> Result<Self> {
        let meta: Metadata =
            serde_json::from_str(json).context("cannot read cargo metadata's output")?;
        let resolve = meta
            .resolve
            .context("cargo metadata gave no resolved dependency graph")?;
        let mut deps: HashMap<String, Vec<(String, DepKind)>> = HashMap::new();
        for node in resolve.nodes {
            let edges = deps.entry(node.id).or_default();
            for dep in node.deps {
                for kind in dep.dep_kinds {
                    let kind = match kind.kind.as_deref() {
                        None => DepKind::Normal,
                        Some("build") => DepKind::Build,
                        Some("dev") => DepKind::Dev,
                        Some(other) => {
                            bail!("cargo metadata names an unknown dependency kind `{other}`")
                        }
                    };
                    edges.push((dep.pkg.clone(), kind));
                }
            }
        }
        Ok(Self {
            names: meta.packages.into_iter().map(|p| (p.id, p.name)).collect(),
            members: meta.workspace_members,
            deps,
        })
    }

    pub(super) fn name<'a>(&'a self, id: &'a str) -> &'a str {
        self.names.get(id).map_or(id, String::as_str)
    }

    pub(super) fn member(&self, name: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|id| self.name(id) == name)
            .map(String::as_str)
    }

    pub(super) fn direct(&self, id: &str) -> impl Iterator<Item = (&str, DepKind)> {
        self.deps
            .get(id)
            .into_iter()
            .flatten()
            .map(|(dep, kind)| (dep.as_str(), *kind))
    }

    /// Everything building `root` (its tests included) compiles, each with the
    /// chain of names that pulls it in: `root`'s own dependencies of every kind,
    /// then theirs but their dev-dependencies, which are never built.
    pub(super) fn pulled_in(&self, root: &str) -> Vec<(&str, String)> {
        let mut parent: HashMap<&str, &str> = HashMap::new();
        let mut queue = VecDeque::from([root]);
        let mut order = Vec::new();
        while let Some(id) = queue.pop_front() {
            for (dep, kind) in self.direct(id) {
                if (kind == DepKind::Dev && id != root) || dep == root || parent.contains_key(dep) {
                    continue;
                }
                parent.insert(dep, id);
                order.push(dep);
                queue.push_back(dep);
            }
        }
        order
            .into_iter()
            .map(|id| {
                let mut chain = vec![self.name(id)];
                let mut at = id;
                while let Some(up) = parent.get(at) {
                    chain.push(self.name(up));
                    at = up;
                }
                chain.reverse();
                (self.name(id), chain.join(" → "))
            })
            .collect()
    }
}

#[cfg(test)]
impl Graph {
    /// A graph whose package ids are their names: `members` are the workspace's
    /// crates, every other name in `edges` an external package.
    pub(super) fn from_edges(members: &[&str], edges: &[(&str, &str, DepKind)]) -> Self {
        let mut g = Graph {
            members: members.iter().map(|m| (*m).to_owned()).collect(),
            ..Self::default()
        };
        for (from, to, kind) in edges {
            for id in [from, to] {
                g.names.insert((*id).to_owned(), (*id).to_owned());
            }
            g.deps
                .entry((*from).to_owned())
                .or_default()
                .push(((*to).to_owned(), *kind));
        }
        g
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_crates_and_dependency_kinds_from_cargo_metadata() {
        let json = r#"{
            "packages": [
                {"id": "path+file:///w/crates/core#rdesk-core@0.1.0", "name": "rdesk-core"},
                {"id": "path+file:///w/src-tauri#rdesk-desktop@0.1.0", "name": "rdesk-desktop"},
                {"id": "registry+x#tauri@2.0.0", "name": "tauri"}
            ],
            "workspace_members": ["path+file:///w/crates/core#rdesk-core@0.1.0"],
            "resolve": {"nodes": [
                {"id": "path+file:///w/crates/core#rdesk-core@0.1.0", "deps": [
                    {"pkg": "path+file:///w/src-tauri#rdesk-desktop@0.1.0",
                     "dep_kinds": [{"kind": "dev", "target": null}]},
                    {"pkg": "registry+x#tauri@2.0.0",
                     "dep_kinds": [{"kind": null, "target": null}, {"kind": "build", "target": null}]}
                ]}
            ]}
        }"#;
        let g = Graph::from_json(json).unwrap();
        let core = g.member("rdesk-core").unwrap();
        let direct: Vec<(&str, DepKind)> = g.direct(core).map(|(d, k)| (g.name(d), k)).collect();
        assert_eq!(
            direct,
            [
                ("rdesk-desktop", DepKind::Dev),
                ("tauri", DepKind::Normal),
                ("tauri", DepKind::Build)
            ]
        );
        assert!(
            g.member("rdesk-desktop").is_none(),
            "not a member in this metadata"
        );
    }
}
