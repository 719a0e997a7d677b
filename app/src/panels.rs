//! What opens over a page: the new-app dialog prefilled from dropped files
//! (with the containers' settings and secret variables to choose), and the deploy panel (files received, steps and build log, outcome).

use leptos::prelude::*;
use rdesk_ipc::DeployArgs;

use crate::add_host::non_empty;
use crate::dialog::Modal;
use crate::format::{bytes, word_list};
use crate::state::{NewApp, Ui};

#[component]
pub fn NewAppForm(app: NewApp) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let slug = RwSignal::new(app.preview.slug.clone());
    let (r_version, extra, repo) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let mode = RwSignal::new(String::from("ocap"));
    let (memory, cpus, replicas) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let (domain, env) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let (secrets, refused) = (RwSignal::new(String::new()), RwSignal::new(None::<String>));
    let deploy = {
        let app = app.clone();
        move |_| {
            let secrets = match secret_lines(&secrets.get_untracked()) {
                Ok(secrets) => secrets,
                Err(e) => return refused.set(Some(e)),
            };
            ui.new_app.set(None);
            ui.start_deploy(DeployArgs {
                host: app.host.clone(),
                paths: app.paths.clone(),
                slug: Some(slug.get_untracked().trim().to_owned()),
                r_version: Some(r_version.get_untracked().trim().to_owned()),
                packages: word_list(&extra.get_untracked()),
                repo: Some(repo.get_untracked().trim().to_owned()),
                mode: Some(mode.get_untracked()),
                memory: non_empty(memory.get_untracked()),
                cpus: non_empty(cpus.get_untracked()),
                replicas: non_empty(replicas.get_untracked()),
                domain: non_empty(domain.get_untracked()),
                env: env
                    .get_untracked()
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect(),
                secrets,
                git: app.git.clone(),
            });
        }
    };
    let p = app.preview;
    let cancel = Callback::new(move |()| ui.new_app.set(None));
    view! {
        <Modal id="new-app" title_id="new-app-title" on_cancel=cancel>
                <h3 id="new-app-title">"New app on " {app.host.clone()}</h3>
                {app.git.as_ref().map(|g| view! { <p id="new-git">"From " <code>{g.url.clone()}</code> " " {g.reference.clone().unwrap_or_else(|| "(its default branch)".to_owned())}</p> })}
                <p>{format!("{} file(s), {}", p.files.len(), bytes(p.total_bytes))}</p>
                <ul id="new-files" class="files">{p.files.iter().map(|f| view! { <li>{f.clone()}</li> }).collect::<Vec<_>>()}</ul>
                {(!p.skipped.is_empty()).then(|| view! { <p class="muted">"Left out: " {p.skipped.join(", ")}</p> })}
                <label>"Slug (its path on the host)" <input id="new-slug" bind:value=slug/></label>
                <p>"Packages found in the code: " <b id="new-packages">{if p.packages.is_empty() { "none".to_owned() } else { p.packages.join(", ") }}</b></p>
                <label>"More packages" <input bind:value=extra placeholder="e.g. jsonlite, data.table"/></label>
                <label>"R version" <input bind:value=r_version placeholder="the host's newest"/></label>
                <label>"Package repository" <input id="new-repo" bind:value=repo placeholder="the host's, else Posit's dated snapshot"/></label>
                <label>"Mode" <select id="new-mode" bind:value=mode>
                    <option value="ocap">"OCAP: only the app's functions (safe)"</option>
                    <option value="eval">"eval: any R code (trusted clients only)"</option>
                </select></label>
                <details class="new-settings">
                    <summary>"Containers: memory, CPUs, replicas, domain, variables"</summary>
                    <label>"Memory" <input id="new-memory" bind:value=memory placeholder="512m"/></label>
                    <label>"CPUs" <input id="new-cpus" bind:value=cpus placeholder="1"/></label>
                    <label>"Replicas" <input id="new-replicas" bind:value=replicas placeholder="1"/></label>
                    <label>"Domain" <input id="new-domain" bind:value=domain placeholder="none"/></label>
                    <label>"Variables (NAME=value, one a line)" <textarea id="new-env" bind:value=env></textarea></label>
                    <label>"Secret variables (NAME=value, one a line; kept in the OS keyring, never shown again)"
                        <textarea id="new-secrets" class="masked" autocomplete="off" spellcheck="false" bind:value=secrets></textarea></label>
                </details>
                {move || refused.get().map(|e| view! { <p id="new-refused" class="bad" role="alert">{e}</p> })}
                <div class="buttons">
                    <button id="new-deploy" on:click=deploy>"Deploy"</button>
                    <button id="new-cancel" on:click=move |_| cancel.run(())>"Cancel"</button>
                </div>
        </Modal>
    }
}

/// The secret variables box: one `NAME=value` a line (the value may hold
/// `=`); blank lines are skipped, a line without `=` is refused, naming
/// only its line number since it may be a value.
fn secret_lines(text: &str) -> Result<Vec<(String, String)>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| match line.split_once('=') {
            Some((name, value)) => Ok((name.trim().to_owned(), value.to_owned())),
            None => Err(format!(
                "line {} of the secret variables has no `=`: write NAME=value",
                i + 1
            )),
        })
        .collect()
}

#[component]
pub fn DeployPanel() -> impl IntoView {
    let ui = expect_context::<Ui>();
    view! {
        {move || ui.deploy.get().map(|run| view! {
            <div class="panel" id="deploy">
                <h3>"Deploying " {run.what.clone()}
                    <button class="small" on:click=move |_| ui.deploy.set(None)>"Close"</button>
                </h3>
                {(!run.files.is_empty()).then(|| view! { <p id="deploy-files">"Received: " {run.files.join(", ")}</p> })}
                <pre id="deploy-log">{run.lines.join("\n")}</pre>
                {run.done.clone().map(|done| match done {
                    Ok(r) => view! {
                        <p id="deploy-done" class="ok">
                            {format!("Deployed {} in {:.1} s at {}{}", r.slug, r.duration_ms as f64 / 1000.0, r.url,
                                if r.answering { "" } else { " (not answering yet)" })}
                        </p>
                    }.into_any(),
                    Err(e) => view! { <p id="deploy-done" class="bad">{e}</p> }.into_any(),
                })}
            </div>
        })}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_lines_are_name_equals_value() {
        assert_eq!(
            secret_lines("API_KEY=a=b\n\n TOKEN =x \n").unwrap(),
            [
                ("API_KEY".to_owned(), "a=b".to_owned()),
                ("TOKEN".to_owned(), "x ".to_owned())
            ]
        );
        let refused = secret_lines("A=1\nhunter2").unwrap_err();
        assert!(
            refused.starts_with("line 2 of the secret variables"),
            "{refused}"
        );
        assert!(!refused.contains("hunter2"), "the line may be a value");
    }
}
