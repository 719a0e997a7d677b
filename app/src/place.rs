//! Where the window is: its page and scroll, told to the shell as they
//! change, so that a window re-created from the tray opens where the user
//! left it; and that restore, at start.

use std::time::Duration;

use leptos::html::Main;
use leptos::prelude::*;
use leptos::task::spawn_local;
use rdesk_ipc::{NoArgs, ViewPlace, cmd};

use crate::bridge::invoke;
use crate::state::Ui;

/// How long scrolling settles before its place is told.
const SCROLL_SETTLE: Duration = Duration::from_millis(200);
/// Tries at restoring the scroll, one per [`RETRY`], while the page's
/// content (read from the cache, then the host) is still arriving.
const SCROLL_TRIES: u32 = 30;
const RETRY: Duration = Duration::from_millis(100);

/// The window's place keeper over the scrolling `<main>`.
#[derive(Clone, Copy)]
pub struct Place {
    main: NodeRef<Main>,
    /// Set once the last place is restored: before that, the start-up
    /// page must not overwrite it.
    restored: RwSignal<bool>,
    settling: StoredValue<bool>,
}

impl Place {
    /// Restores the last place (if the shell kept one) and loads the hosts
    /// (picking the page when there was none), then tells every change of
    /// page.
    pub fn start(ui: Ui, main: NodeRef<Main>) -> Self {
        let place = Self {
            main,
            restored: RwSignal::new(false),
            settling: StoredValue::new(false),
        };
        spawn_local(async move {
            match invoke::<cmd::LastView>(&NoArgs {}).await {
                Ok(Some(last)) => {
                    ui.page.set(last.page);
                    ui.load(false);
                    place.scroll_to(last.scroll_top, SCROLL_TRIES);
                }
                Ok(None) | Err(_) => {
                    ui.load(true);
                    place.restored.set(true);
                }
            }
        });
        Effect::new(move |_| {
            ui.page.track();
            if place.restored.get() {
                place.tell(ui);
            }
        });
        place
    }

    /// Scrolls `<main>` to `top` once its content is tall enough.
    fn scroll_to(self, top: f64, tries: u32) {
        if let Some(main) = self.main.get_untracked() {
            main.set_scroll_top(top as i32);
            if (f64::from(main.scroll_top()) - top).abs() < 2.0 || tries == 0 {
                self.restored.set(true);
                return;
            }
        }
        set_timeout(move || self.scroll_to(top, tries.saturating_sub(1)), RETRY);
    }

    /// `<main>` scrolled: its place is told once scrolling settles.
    pub fn scrolled(self, ui: Ui) {
        if !self.restored.get_untracked() || self.settling.get_value() {
            return;
        }
        self.settling.set_value(true);
        set_timeout(
            move || {
                self.settling.set_value(false);
                self.tell(ui);
            },
            SCROLL_SETTLE,
        );
    }

    fn tell(self, ui: Ui) {
        let place = ViewPlace {
            page: ui.page.get_untracked(),
            scroll_top: self
                .main
                .get_untracked()
                .map_or(0.0, |m| f64::from(m.scroll_top())),
        };
        spawn_local(async move {
            let _ = invoke::<cmd::RememberView>(&place).await;
        });
    }
}
