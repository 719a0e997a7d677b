//! The app page's container settings (memory, CPUs, replicas, domain, plain
//! variables; the secret ones are `secrets.rs`'s): loaded from the host,
//! edited in a form, applied by running the app's image again with them
//! through the gated switch (no build), with the switch's steps shown as
//! they happen.

use leptos::prelude::*;
use leptos::task::spawn_local;
use rdesk_ipc::{AppArgs, AppSettingsView, SetAppSettingsArgs, cmd};

use crate::state::Ui;
use crate::switching::{Switch, SwitchProgress};

/// `1000` thousandths of a CPU as `1`, `500` as `0.5`.
fn cpus(millicpus: u32) -> String {
    format!("{}", f64::from(millicpus) / 1000.0)
}

/// The variables of the form, one `NAME=value` a line, and the names of the
/// loaded ones no longer there.
fn variables(text: &str, before: &AppSettingsView) -> (Vec<String>, Vec<String>) {
    let lines: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let names: Vec<&str> = lines
        .iter()
        .map(|l| l.split_once('=').map_or(l.as_str(), |(n, _)| n).trim())
        .collect();
    let dropped = before
        .env
        .iter()
        .map(|(name, _)| name.clone())
        .filter(|name| !names.contains(&name.as_str()))
        .collect();
    (lines, dropped)
}

/// The form over `settings` (the app's, as the host has them; the app page
/// reads them once for this form and the secret variables), read again
/// with `reload` after a change.
#[component]
pub fn AppSettings(
    host: String,
    slug: String,
    settings: RwSignal<Option<AppSettingsView>>,
    reload: Callback<()>,
) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let (memory, cpu, replicas) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let (domain, env) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let switch = Switch::new();
    let args = AppArgs { host, slug };
    Effect::new(move |_| {
        if let Some(s) = settings.get() {
            memory.set(format!("{}m", s.memory_mb));
            cpu.set(cpus(s.millicpus));
            replicas.set(s.replicas.to_string());
            domain.set(s.domain.clone().unwrap_or_default());
            env.set(
                s.env
                    .iter()
                    .map(|(n, v)| format!("{n}={v}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
    });
    let apply = move |_| {
        let Some(before) = settings.get_untracked() else {
            return;
        };
        let (env, unset_env) = variables(&env.get_untracked(), &before);
        let change = SetAppSettingsArgs {
            host: args.host.clone(),
            slug: args.slug.clone(),
            memory: Some(memory.get_untracked().trim().to_owned()),
            cpus: Some(cpu.get_untracked().trim().to_owned()),
            replicas: Some(replicas.get_untracked().trim().to_owned()),
            domain: Some(domain.get_untracked().trim().to_owned()),
            env,
            unset_env,
        };
        spawn_local(async move {
            let applied = switch.run::<cmd::SetAppSettings>(&change).await;
            if applied {
                reload.run(());
                ui.reload(change.host);
            }
        });
    };
    view! {
        <h3>"Containers"</h3>
        <div class="box app-settings">
            <label>"Memory" <input class="memory" bind:value=memory/></label>
            <label>"CPUs" <input class="cpus" bind:value=cpu/></label>
            <label>"Replicas" <input class="replicas" bind:value=replicas/></label>
            {move || placement(settings.get().map(|s| s.nodes).unwrap_or_default())
                .map(|text| view! { <p class="placement">{text}</p> })}
            <label>"Domain" <input class="domain" bind:value=domain placeholder="none"/></label>
            <label>"Variables (NAME=value, one a line)" <textarea class="env" bind:value=env></textarea></label>
            <button class="apply" on:click=apply>"Apply (restarts the app, no rebuild)"</button>
            <SwitchProgress switch=switch/>
        </div>
    }
}

/// Where a cluster's app runs, e.g. "Runs on node1, node2 (2)"; `None` on
/// a single host.
fn placement(mut nodes: Vec<String>) -> Option<String> {
    if nodes.is_empty() {
        return None;
    }
    nodes.sort();
    let mut counted: Vec<(String, usize)> = Vec::new();
    for node in nodes {
        match counted.last_mut() {
            Some((last, n)) if *last == node => *n += 1,
            _ => counted.push((node, 1)),
        }
    }
    let parts: Vec<String> = counted
        .into_iter()
        .map(|(node, n)| {
            if n == 1 {
                node
            } else {
                format!("{node} ({n})")
            }
        })
        .collect();
    Some(format!("Runs on {}", parts.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clusters_replicas_say_their_nodes() {
        assert_eq!(placement(Vec::new()), None);
        let nodes = ["node2", "node1", "node2"].map(String::from).to_vec();
        assert_eq!(
            placement(nodes).as_deref(),
            Some("Runs on node1, node2 (2)")
        );
    }

    #[test]
    fn cpus_read_as_numbers() {
        assert_eq!(cpus(1000), "1");
        assert_eq!(cpus(500), "0.5");
        assert_eq!(cpus(2250), "2.25");
    }

    #[test]
    fn variables_removed_from_the_form_are_unset() {
        let before = AppSettingsView {
            memory_mb: 512,
            millicpus: 1000,
            replicas: 1,
            domain: None,
            env: vec![("A".into(), "1".into()), ("B".into(), "2".into())],
            secrets: Vec::new(),
            nodes: Vec::new(),
        };
        let (env, unset) = variables("A=3\n\n  C=4 \n", &before);
        assert_eq!(env, ["A=3", "C=4"]);
        assert_eq!(unset, ["B"]);
    }
}
