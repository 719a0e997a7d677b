//! Deploying from git on a host's page: a repository's URL (ssh or https)
//! and a branch, tag or commit, cloned on this computer with the user's own
//! SSH agent and keys, then the new-app form as for dropped files.

use leptos::prelude::*;
use leptos::task::spawn_local;
use rdesk_ipc::GitSource;

use crate::add_host::non_empty;
use crate::state::Ui;

#[component]
pub fn GitDeploy(host: String) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let (url, reference) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let cloning = RwSignal::new(false);
    let preview = move |_| {
        let source = GitSource {
            url: url.get_untracked().trim().to_owned(),
            reference: non_empty(reference.get_untracked()),
        };
        if source.url.is_empty() {
            return ui.fail("Paste the repository's URL first (git+ssh://…, ssh://…, user@host:path or https://…).");
        }
        let host = host.clone();
        cloning.set(true);
        spawn_local(async move {
            ui.new_app_from_git(host, source).await;
            cloning.set(false);
        });
    };
    view! {
        <div class="git-deploy">
            <label>"Or from git: the repository's URL"
                <input id="git-url" bind:value=url placeholder="git+ssh://git@example.com/team/app.git"/></label>
            <label>"Branch, tag or commit"
                <input id="git-ref" bind:value=reference placeholder="its default branch"/></label>
            <button id="git-preview" on:click=preview disabled=move || cloning.get()>
                {move || if cloning.get() { "Cloning…" } else { "Clone and choose…" }}
            </button>
        </div>
    }
}
