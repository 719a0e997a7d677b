//! The Rserve Desk window (Leptos, client-side rendering, wasm32): hosts on
//! the left, the chosen page on the right; files dropped anywhere go to the
//! host or app under the pointer. It opens from the cache, then asks hosts;
//! with no host yet, on the welcome page.

mod about;
mod access;
mod add_host;
mod app_page;
mod app_settings;
mod apps;
mod arguments;
mod bridge;
mod cache;
mod charts;
mod clipboard;
mod console;
mod dialog;
mod format;
mod git_deploy;
mod hosts;
mod logs_view;
mod numbers;
mod panels;
mod place;
mod secrets;
mod state;
mod switching;
mod versions;
mod welcome;

use std::time::Duration;

use leptos::html::Main;
use leptos::prelude::*;
use rdesk_ipc::events;

use crate::about::AboutPage;
use crate::app_page::AppDetail;
use crate::apps::Dashboard;
use crate::cache::CacheBanner;
use crate::dialog::ConfirmDialog;
use crate::hosts::{HostsPage, SettingsPage};
use crate::panels::{DeployPanel, NewAppForm};
use crate::place::Place;
use crate::state::{Page, Ui, now_ms};
use crate::welcome::WelcomePage;

/// How often ages ("last seen 3 min ago") are redrawn.
const TICK: Duration = Duration::from_secs(5);

#[component]
fn App() -> impl IntoView {
    let ui = Ui::new();
    provide_context(ui);
    let main = NodeRef::<Main>::new();
    let place = Place::start(ui, main);
    set_interval(move || ui.now.set(now_ms()), TICK);
    bridge::listen(events::DRAG_DROP, move |d: events::Dropped| ui.dropped(d));
    bridge::listen(events::APP_CHANGED, move |c: events::AppChanged| {
        ui.app_changed(c)
    });
    bridge::listen(events::SAMPLED, move |s: events::Sampled| {
        ui.sampled(s.host)
    });
    bridge::listen(events::HOST_CHANGED, move |c: events::HostChanged| {
        ui.reload(c.host)
    });
    bridge::listen(events::SHOW_PAGE, move |s: events::ShowPage| {
        ui.page.set(s.page)
    });
    let nav = move |page: Page| move |_| ui.page.set(page.clone());
    view! {
        <nav class="side">
            <h1>"Rserve Desk"</h1>
            <a href="#" id="nav-hosts" on:click=nav(Page::Hosts)>"Hosts"</a>
            <ul>
                {move || ui.hosts.get().into_iter().map(|h| {
                    let name = h.name.clone();
                    let dot = move || {
                        let list = ui.apps.with(|m| m.get(&name).cloned());
                        // A crashed app shows even while its host is offline.
                        match list {
                            Some(l) if l.apps.iter().any(|a| a.status.is_problem()) => "dot bad",
                            Some(l) if l.offline_reason.is_some() => "dot off",
                            Some(_) => "dot ok",
                            None => "dot off",
                        }
                    };
                    view! {
                        <li><a href="#" class="host" data-host=h.name.clone() on:click=nav(Page::Host(h.name.clone()))>
                            <span class=dot></span>{h.name.clone()}
                        </a></li>
                    }
                }).collect::<Vec<_>>()}
            </ul>
            <a href="#" id="nav-settings" on:click=nav(Page::Settings)>"Settings"</a>
            <a href="#" id="nav-about" on:click=nav(Page::About)>"About"</a>
        </nav>
        <main node_ref=main on:scroll=move |_| place.scrolled(ui)>
            <CacheBanner/>
            {move || ui.error.get().map(|e| view! {
                <p class="error" id="error">{e} <button class="small" on:click=move |_| ui.error.set(None)>"×"</button></p>
            })}
            <DeployPanel/>
            {move || match ui.page.get() {
                Page::Welcome => view! { <WelcomePage/> }.into_any(),
                Page::Hosts => view! { <HostsPage/> }.into_any(),
                Page::Host(host) => view! { <Dashboard host=host/> }.into_any(),
                Page::App(host, slug) => view! { <AppDetail host=host slug=slug/> }.into_any(),
                Page::Settings => view! { <SettingsPage/> }.into_any(),
                Page::About => view! { <AboutPage/> }.into_any(),
            }}
            {move || ui.new_app.get().map(|app| view! { <NewAppForm app=app/> })}
        </main>
        <ConfirmDialog/>
    }
}

fn main() {
    leptos::mount::mount_to_body(App);
}
