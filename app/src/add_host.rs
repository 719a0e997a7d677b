//! The form that adds a host: a VPS over SSH, whose host key fingerprint is
//! shown to compare and trust before anything (a password) is sent, or this
//! machine's Docker. On the hosts page and the welcome page.

use leptos::prelude::*;
use leptos::task::spawn_local;
use rdesk_ipc::{AddHostArgs, HostKeyArgs, cmd};

use crate::bridge::invoke;
use crate::state::Ui;

pub fn non_empty(s: String) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Adds this machine's Docker as host `name`; the window then shows its page.
pub fn add_local(ui: Ui, name: &str) {
    let args = AddHostArgs {
        name: name.to_owned(),
        ..AddHostArgs::default()
    };
    spawn_local(async move {
        match invoke::<cmd::AddHost>(&args).await {
            Ok(added) => ui.host_added(&added.host.name),
            Err(e) => ui.fail(e.message),
        }
    });
}

/// With `ssh_only`, a VPS only (the welcome page offers this machine's
/// Docker beside it).
#[component]
pub fn AddHostForm(#[prop(optional)] ssh_only: bool) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let (name, ssh, identity, url) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let (password, passphrase) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let local = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let added = RwSignal::new(None::<String>);
    // An SSH host's key is shown first; it is added once the user trusts
    // that key (and only that key is accepted when it is).
    let key = RwSignal::new(None::<(String, String)>);
    let add = move |trusted: Option<String>| {
        let args = AddHostArgs {
            name: name.get_untracked().trim().to_owned(),
            ssh: if local.get_untracked() {
                None
            } else {
                non_empty(ssh.get_untracked())
            },
            identity: non_empty(identity.get_untracked()),
            public_url: non_empty(url.get_untracked()),
            password: non_empty(password.get_untracked()),
            passphrase: non_empty(passphrase.get_untracked()),
            host_key_fingerprint: trusted,
        };
        password.set(String::new());
        passphrase.set(String::new());
        key.set(None);
        busy.set(true);
        added.set(None);
        spawn_local(async move {
            match invoke::<cmd::AddHost>(&args).await {
                Ok(host) => {
                    added.set(Some(match host.host_key_fingerprint {
                        Some(fp) => {
                            format!("Added {}. Its host key {fp} is pinned.", host.host.name)
                        }
                        None => format!("Added {} (this machine's Docker).", host.host.name),
                    }));
                    ui.host_added(&host.host.name);
                }
                Err(e) => ui.fail(e.message),
            }
            busy.set(false);
        });
    };
    let check = move |_| {
        let ssh = non_empty(ssh.get_untracked()).filter(|_| !local.get_untracked());
        let Some(target) = ssh.clone() else {
            return add(None);
        };
        let args = HostKeyArgs {
            name: name.get_untracked().trim().to_owned(),
            ssh,
        };
        busy.set(true);
        added.set(None);
        spawn_local(async move {
            match invoke::<cmd::HostKey>(&args).await {
                Ok(Some(fp)) => {
                    ui.error.set(None);
                    key.set(Some((target, fp)));
                }
                Ok(None) => add(None),
                Err(e) => ui.fail(e.message),
            }
            busy.set(false);
        });
    };
    let trust = move |_| {
        if let Some((_, fp)) = key.get_untracked() {
            add(Some(fp));
        }
    };
    view! {
        <form class="grid" on:submit=|ev| ev.prevent_default()>
            <label>"Name" <input id="host-name" bind:value=name placeholder="prod"/></label>
            {(!ssh_only).then(|| view! {
                <label class="check"><input id="host-local" type="checkbox" bind:checked=local/> "This machine's Docker (no SSH)"</label>
            })}
            <label>"SSH" <input id="host-ssh" bind:value=ssh placeholder="deploy@vps.example.org:22" disabled=move || local.get()/></label>
            <label>"Key file" <input id="host-identity" bind:value=identity placeholder="~/.ssh/id_ed25519 (else agent / ~/.ssh)" disabled=move || local.get()/></label>
            <label>"SSH password (kept in the OS keyring)" <input id="host-password" type="password" bind:value=password disabled=move || local.get()/></label>
            <label>"Key passphrase (kept in the OS keyring)" <input id="host-passphrase" type="password" bind:value=passphrase disabled=move || local.get()/></label>
            <label>"Public URL" <input id="host-url" bind:value=url placeholder="https://vps.example.org"/></label>
            <button id="host-add" type="button" on:click=check disabled=move || busy.get()>
                {move || if busy.get() { "Connecting…" } else { "Add host" }}
            </button>
        </form>
        {move || key.get().map(|(target, fp)| view! {
            <div class="box">
                <p id="host-key">{format!("{target} offers the host key {fp}.")}</p>
                <p class="muted">"Compare it with what the server says (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`, or your provider's console) before trusting it: a password is sent only to this key."</p>
                <button id="host-trust" type="button" on:click=trust>"Trust this key and add the host"</button>
                " "
                <button type="button" on:click=move |_| key.set(None)>"Cancel"</button>
            </div>
        })}
        <p id="host-added" class="ok">{move || added.get()}</p>
    }
}
