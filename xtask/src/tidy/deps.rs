//! ARCHITECTURE.md's dependency rules over the resolved graph: the
//! bird's-eye view's layers (which workspace crate may depend on which, no
//! circles), and what the spawner, the core and `rdesk-ipc` may pull in.

use std::collections::BTreeSet;

use super::graph::Graph;

/// Where a workspace crate sits in ARCHITECTURE.md's bird's-eye view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layer {
    /// Knows nothing of the rest of the project: no crate of this workspace.
    Library,
    /// The headless engine (and any crate split out of it): libraries and the core.
    Core,
    /// A front end over the core: the CLI, the desktop shell, its UI.
    Shell,
    /// Tests, fuzzing and chores: nothing runs them as a library.
    Tool,
}

/// Every workspace crate's layer; a crate not placed here is a failure.
const LAYERS: &[(&str, Layer)] = &[
    ("rdesk-spawner", Layer::Library),
    ("rserve-qap", Layer::Library),
    ("rdesk-charts", Layer::Library),
    ("rdesk-ipc", Layer::Library),
    ("rdesk-core", Layer::Core),
    ("rdesk-intake", Layer::Core),
    ("rdesk-cli", Layer::Shell),
    ("rdesk-desktop", Layer::Shell),
    ("rdesk-app", Layer::Shell),
    ("rdesk-e2e", Layer::Tool),
    ("rdesk-fuzz", Layer::Tool),
    ("xtask", Layer::Tool),
];

impl Layer {
    fn of(name: &str) -> Option<Self> {
        LAYERS.iter().find(|(n, _)| *n == name).map(|(_, l)| *l)
    }

    /// Why a crate of this layer may not depend on one of `dep`'s, if it may not.
    fn forbids(self, dep: Layer) -> Option<&'static str> {
        match (self, dep) {
            (_, Layer::Shell) => Some("nothing may depend on a shell"),
            (_, Layer::Tool) => Some("nothing may depend on a test or chore crate"),
            (Layer::Library, _) => Some("a library crate depends on no crate of this workspace"),
            (Layer::Core, Layer::Library | Layer::Core)
            | (Layer::Shell | Layer::Tool, Layer::Library | Layer::Core) => None,
        }
    }
}

/// A package name is caught when it starts with one of these.
const CORE_FORBIDS: &[&str] = &["tauri", "leptos", "wasm-bindgen"];
const SPAWNER_FORBIDS: &[&str] = &[
    "openssh",
    "russh",
    "ssh2",
    "sqlx",
    "rusqlite",
    "libsqlite3-sys",
    "tauri",
    "leptos",
];
/// `rdesk-ipc`'s only dependencies (`serde_json` for its `Value` arguments).
const IPC_ALLOWS: &[&str] = &["serde", "serde_json"];
/// The one crate that may pull in Tauri.
const TAURI_SHELL: &str = "rdesk-desktop";
/// Tauri's packaging crates, which the chores (`cargo xtask dist`, `icons`)
/// may use: they build packages from files and never run in the app.
const TAURI_PACKAGING: &[&str] = &["tauri-bundler", "tauri-utils", "tauri-icns"];

/// One sentence per package under `crate_name` whose name starts with a forbidden prefix.
fn forbidden_in(graph: &Graph, crate_name: &str, prefixes: &[&str], rule: &str) -> Vec<String> {
    let Some(root) = graph.member(crate_name) else {
        return vec![format!(
            "`{crate_name}` is not a workspace crate any more, but tidy checks that {rule}; update xtask/src/tidy/deps.rs."
        )];
    };
    graph
        .pulled_in(root)
        .into_iter()
        .filter(|(name, _)| prefixes.iter().any(|p| name.starts_with(p)))
        .map(|(name, chain)| format!("`{crate_name}` pulls in `{name}` ({chain}), but {rule}."))
        .collect()
}

/// Workspace crates' dependencies on each other: layers kept, no circles.
fn check_layers(graph: &Graph) -> Vec<String> {
    let mut failures = Vec::new();
    for id in &graph.members {
        let name = graph.name(id);
        let Some(layer) = Layer::of(name) else {
            failures.push(format!(
                "workspace crate `{name}` has no place in the bird's-eye view tidy checks; add it to LAYERS in xtask/src/tidy/deps.rs and to ARCHITECTURE.md."
            ));
            continue;
        };
        let mut seen = BTreeSet::new();
        for (dep, _) in graph.direct(id) {
            let dep_name = graph.name(dep);
            if !graph.members.iter().any(|m| m == dep) || !seen.insert(dep_name) {
                continue;
            }
            if let Some(why) = Layer::of(dep_name).and_then(|d| layer.forbids(d)) {
                failures.push(format!(
                    "`{name}` depends on the workspace crate `{dep_name}`, but {why} (ARCHITECTURE.md's bird's-eye view)."
                ));
            }
        }
    }
    failures.extend(circles(graph));
    failures
}

/// Circles among workspace crates, through dependencies of any kind.
fn circles(graph: &Graph) -> Vec<String> {
    fn visit<'a>(
        graph: &'a Graph,
        id: &'a str,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
        found: &mut BTreeSet<Vec<&'a str>>,
    ) {
        if let Some(start) = path.iter().position(|p| *p == id) {
            let mut circle: Vec<&str> = path[start..].iter().map(|p| graph.name(p)).collect();
            let first = circle
                .iter()
                .enumerate()
                .min_by_key(|(_, n)| **n)
                .map_or(0, |(i, _)| i);
            circle.rotate_left(first);
            found.insert(circle);
            return;
        }
        if done.contains(id) {
            return;
        }
        path.push(id);
        for (dep, _) in graph.direct(id) {
            if graph.members.iter().any(|m| m == dep) {
                visit(graph, dep, path, done, found);
            }
        }
        path.pop();
        done.insert(id);
    }
    let mut found = BTreeSet::new();
    let mut done = BTreeSet::new();
    for id in &graph.members {
        visit(graph, id, &mut Vec::new(), &mut done, &mut found);
    }
    found
        .into_iter()
        .map(|circle| {
            format!(
                "workspace crates depend on each other in a circle: {} → {}.",
                circle.join(" → "),
                circle[0]
            )
        })
        .collect()
}

/// Every dependency rule of ARCHITECTURE.md that the graph can show.
pub(super) fn check_dependencies(graph: &Graph) -> Vec<String> {
    let mut failures = check_layers(graph);
    failures.extend(forbidden_in(
        graph,
        "rdesk-spawner",
        SPAWNER_FORBIDS,
        "the spawner depends on the Docker API and nothing else of ours: no SSH, SQLite or UI crate",
    ));
    failures.extend(forbidden_in(
        graph,
        "rdesk-core",
        CORE_FORBIDS,
        "the core depends on no Tauri or Leptos crate",
    ));
    match graph.member("rdesk-ipc") {
        Some(ipc) => {
            let mut names: Vec<&str> = graph.direct(ipc).map(|(d, _)| graph.name(d)).collect();
            names.sort_unstable();
            names.dedup();
            failures.extend(names.into_iter().filter(|n| !IPC_ALLOWS.contains(n)).map(|n| {
                format!("`rdesk-ipc` depends on `{n}`, but it depends on serde and serde_json only.")
            }));
        }
        None => failures.push(
            "`rdesk-ipc` is not a workspace crate any more, but tidy checks its dependencies; update xtask/src/tidy/deps.rs.".to_owned(),
        ),
    }
    for id in graph
        .members
        .iter()
        .filter(|id| graph.name(id) != TAURI_SHELL)
    {
        let tool = Layer::of(graph.name(id)) == Some(Layer::Tool);
        let mut tauri: Vec<&str> = graph
            .direct(id)
            .map(|(d, _)| graph.name(d))
            .filter(|n| n.starts_with("tauri"))
            .filter(|n| !(tool && TAURI_PACKAGING.contains(n)))
            .collect();
        tauri.dedup();
        failures.extend(tauri.into_iter().map(|n| {
            format!(
                "`{}` depends on `{n}`, but only the desktop shell (`{TAURI_SHELL}`) depends on Tauri (the tools may use its packaging crates).",
                graph.name(id)
            )
        }));
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tidy::graph::DepKind;

    /// Today's shape in small: every crate of the bird's-eye view with its real workspace edges.
    fn healthy_edges() -> Vec<(&'static str, &'static str, DepKind)> {
        use DepKind::*;
        vec![
            ("rdesk-core", "rdesk-spawner", Normal),
            ("rdesk-core", "rserve-qap", Normal),
            ("rdesk-core", "rdesk-charts", Normal),
            ("rdesk-core", "openssh", Normal),
            ("rdesk-core", "tempfile", Dev),
            ("rdesk-spawner", "bollard", Normal),
            ("rdesk-ipc", "serde", Normal),
            ("rdesk-ipc", "serde_json", Normal),
            ("rdesk-cli", "rdesk-core", Normal),
            ("rdesk-desktop", "rdesk-core", Normal),
            ("rdesk-desktop", "rdesk-ipc", Normal),
            ("rdesk-desktop", "tauri", Normal),
            ("rdesk-desktop", "tauri-build", Build),
            ("rdesk-app", "rdesk-ipc", Normal),
            ("rdesk-app", "leptos", Normal),
            ("rdesk-e2e", "rdesk-core", Normal),
            ("rdesk-fuzz", "rserve-qap", Normal),
            ("xtask", "serde_json", Normal),
        ]
    }

    fn healthy(extra: &[(&'static str, &'static str, DepKind)]) -> Graph {
        let members: Vec<&str> = LAYERS.iter().map(|(n, _)| *n).collect();
        let mut edges = healthy_edges();
        edges.extend_from_slice(extra);
        Graph::from_edges(&members, &edges)
    }

    #[test]
    fn the_bird_s_eye_view_as_it_is_passes() {
        assert_eq!(check_dependencies(&healthy(&[])), Vec::<String>::new());
    }

    #[test]
    fn a_spawner_that_depends_on_a_workspace_crate_is_caught() {
        let failures = check_dependencies(&healthy(&[(
            "rdesk-spawner",
            "rdesk-charts",
            DepKind::Normal,
        )]));
        assert_eq!(
            failures,
            [
                "`rdesk-spawner` depends on the workspace crate `rdesk-charts`, but a library crate depends on no crate of this workspace (ARCHITECTURE.md's bird's-eye view)."
            ]
        );
    }

    #[test]
    fn a_spawner_that_pulls_in_sqlite_through_a_dependency_is_caught() {
        let failures = check_dependencies(&healthy(&[
            ("bollard", "some-cache", DepKind::Normal),
            ("some-cache", "rusqlite", DepKind::Normal),
        ]));
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(
            failures[0].starts_with(
                "`rdesk-spawner` pulls in `rusqlite` (rdesk-spawner → bollard → some-cache → rusqlite)"
            ),
            "{}",
            failures[0]
        );
    }

    #[test]
    fn a_core_that_pulls_in_tauri_transitively_is_caught() {
        let failures = check_dependencies(&healthy(&[
            ("rdesk-charts", "plot-gui", DepKind::Normal),
            ("plot-gui", "tauri-runtime", DepKind::Normal),
        ]));
        assert_eq!(
            failures,
            [
                "`rdesk-core` pulls in `tauri-runtime` (rdesk-core → rdesk-charts → plot-gui → tauri-runtime), but the core depends on no Tauri or Leptos crate."
            ]
        );
    }

    #[test]
    fn a_dependency_s_dev_dependencies_are_not_pulled_in_but_the_crate_s_own_are() {
        let ok = check_dependencies(&healthy(&[("rdesk-charts", "leptos", DepKind::Dev)]));
        assert_eq!(ok, Vec::<String>::new(), "charts' own tests may use leptos");
        let caught = check_dependencies(&healthy(&[("rdesk-core", "leptos", DepKind::Dev)]));
        assert_eq!(
            caught,
            [
                "`rdesk-core` pulls in `leptos` (rdesk-core → leptos), but the core depends on no Tauri or Leptos crate."
            ]
        );
    }

    #[test]
    fn ipc_on_anything_but_serde_is_caught() {
        let failures = check_dependencies(&healthy(&[("rdesk-ipc", "chrono", DepKind::Normal)]));
        assert_eq!(
            failures,
            ["`rdesk-ipc` depends on `chrono`, but it depends on serde and serde_json only."]
        );
    }

    #[test]
    fn depending_on_a_shell_or_upwards_is_caught() {
        let failures = check_dependencies(&healthy(&[
            ("rdesk-core", "rdesk-cli", DepKind::Dev),
            ("rdesk-e2e", "xtask", DepKind::Normal),
        ]));
        assert!(failures.contains(&"`rdesk-core` depends on the workspace crate `rdesk-cli`, but nothing may depend on a shell (ARCHITECTURE.md's bird's-eye view).".to_owned()), "{failures:?}");
        assert!(failures.contains(&"`rdesk-e2e` depends on the workspace crate `xtask`, but nothing may depend on a test or chore crate (ARCHITECTURE.md's bird's-eye view).".to_owned()), "{failures:?}");
        assert!(
            failures.contains(&"workspace crates depend on each other in a circle: rdesk-cli → rdesk-core → rdesk-cli.".to_owned()),
            "{failures:?}"
        );
    }

    #[test]
    fn a_circle_between_crates_of_the_core_layer_is_caught() {
        let mut members: Vec<&str> = LAYERS.iter().map(|(n, _)| *n).collect();
        members.push("rdesk-store");
        let mut edges = healthy_edges();
        edges.push(("rdesk-core", "rdesk-store", DepKind::Normal));
        edges.push(("rdesk-store", "rdesk-core", DepKind::Dev));
        let failures = check_dependencies(&Graph::from_edges(&members, &edges));
        assert!(failures.contains(&"workspace crate `rdesk-store` has no place in the bird's-eye view tidy checks; add it to LAYERS in xtask/src/tidy/deps.rs and to ARCHITECTURE.md.".to_owned()), "{failures:?}");
        assert!(
            failures.contains(&"workspace crates depend on each other in a circle: rdesk-core → rdesk-store → rdesk-core.".to_owned()),
            "{failures:?}"
        );
    }
}
