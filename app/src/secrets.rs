//! The app page's secret variables: their names (values stay in the OS
//! keyring and are never shown back), a form to set one (kept in the
//! keyring and passed to the app through the gated switch) and, after a
//! question, unsetting one.

use leptos::prelude::*;
use leptos::task::spawn_local;
use rdesk_ipc::{AppSettingsView, SecretNameArgs, SetSecretArgs, cmd};

use crate::state::{AppKey, Confirm, Ui};
use crate::switching::{Switch, SwitchProgress};

#[component]
pub fn Secrets(
    host: String,
    slug: String,
    /// The app's settings, as the app page read them; their secret names are listed.
    settings: RwSignal<Option<AppSettingsView>>,
    /// Reads the settings again, after a change.
    reload: Callback<()>,
) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let names = Memo::new(move |_| settings.with(|s| s.as_ref().map(|s| s.secrets.clone())));
    let (name, value) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let switch = Switch::new();
    let key: AppKey = (host, slug);
    let busy = {
        let key = key.clone();
        Memo::new(move |_| ui.busy_with(&key.0, &key.1).is_some())
    };
    let set = {
        let key = key.clone();
        move |_| {
            let key = key.clone();
            if !ui.begin(&key, "Setting a secret…") {
                return;
            }
            let args = SetSecretArgs {
                host: key.0.clone(),
                slug: key.1.clone(),
                name: name.get_untracked().trim().to_owned(),
                value: value.get_untracked(),
            };
            spawn_local(async move {
                if switch.run::<cmd::SetAppSecret>(&args).await {
                    name.set(String::new());
                    value.set(String::new());
                }
                ui.end(&key);
                reload.run(());
            });
        }
    };
    let unset = move |secret: String| {
        let key = key.clone();
        let run = move |()| {
            let key = key.clone();
            if !ui.begin(&key, "Unsetting a secret…") {
                return;
            }
            let args = SecretNameArgs {
                host: key.0.clone(),
                slug: key.1.clone(),
                name: secret.clone(),
            };
            spawn_local(async move {
                switch.run::<cmd::UnsetAppSecret>(&args).await;
                ui.end(&key);
                reload.run(());
            });
        };
        Callback::new(run)
    };
    let ask_unset = move |secret: String| {
        let on_confirm = unset(secret.clone());
        ui.confirm.set(Some(Confirm {
            title: format!("Unset the secret {secret}?"),
            lines: vec![
                "The app restarts without it (no rebuild).".to_owned(),
                "Its value is deleted from this computer's keyring; setting it again needs the value.".to_owned(),
            ],
            action: format!("Unset {secret}"),
            on_confirm,
        }));
    };
    view! {
        <h3>"Secret variables"</h3>
        <div class="box secrets">
            <ul id="secret-names">
                {move || names.get().map(|list| {
                    if list.is_empty() {
                        return view! { <li class="muted">"None yet."</li> }.into_any();
                    }
                    list.into_iter().map(|secret| {
                        let ask = ask_unset.clone();
                        let (shown, data) = (secret.clone(), secret.clone());
                        view! {
                            <li data-secret=data>
                                <code>{shown}</code> " " <span class="muted">"(value in the keyring)"</span> " "
                                <button class="small unset" prop:disabled=busy on:click=move |_| ask(secret.clone())>"Unset…"</button>
                            </li>
                        }
                    }).collect::<Vec<_>>().into_any()
                })}
            </ul>
            <label>"Name" <input id="secret-name" bind:value=name placeholder="API_KEY" autocomplete="off"/></label>
            <label>"Value" <input id="secret-value" type="password" bind:value=value autocomplete="off"/></label>
            <button id="secret-set" prop:disabled=busy on:click=set>"Set (restarts the app, no rebuild)"</button>
            <SwitchProgress switch=switch id="secret-outcome"/>
        </div>
    }
}
