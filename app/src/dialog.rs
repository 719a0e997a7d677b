//! Modal dialogs, and the question in [`Ui::confirm`] asked before
//! something that cannot be undone. A [`Modal`] is a real dialog: a role
//! and a label, focus on its first control when it opens and kept inside
//! while it is open, Esc or a click outside cancels, and focus goes back
//! where it was.

use leptos::ev::KeyboardEvent;
use leptos::html::Div;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::HtmlElement;

use crate::state::{Confirm, Ui};

/// The element that has the keyboard focus now.
fn focused() -> Option<HtmlElement> {
    web_sys::window()?
        .document()?
        .active_element()?
        .dyn_into::<HtmlElement>()
        .ok()
}

/// What can take the focus in the dialog, in order.
fn controls(dialog: &HtmlElement) -> Vec<HtmlElement> {
    let Ok(found) =
        dialog.query_selector_all("button:not([disabled]), input, select, textarea, a[href]")
    else {
        return Vec::new();
    };
    (0..found.length())
        .filter_map(|i| found.item(i)?.dyn_into::<HtmlElement>().ok())
        .collect()
}

/// Tab and Shift-Tab go round the dialog's controls, never out of it.
fn keep_focus_inside(dialog: &HtmlElement, event: &KeyboardEvent) {
    let controls = controls(dialog);
    let (Some(first), Some(last)) = (controls.first(), controls.last()) else {
        return;
    };
    let at = focused();
    let leaving = if event.shift_key() {
        at.as_ref() == Some(first) || at.is_none()
    } else {
        at.as_ref() == Some(last) || at.is_none()
    };
    if leaving {
        event.prevent_default();
        let _ = if event.shift_key() { last } else { first }.focus();
    }
}

/// A modal dialog labelled by its element `title_id`; `on_cancel` runs on
/// Esc or a click outside.
#[component]
pub fn Modal(
    id: &'static str,
    title_id: &'static str,
    on_cancel: Callback<()>,
    children: Children,
) -> impl IntoView {
    let dialog = NodeRef::<Div>::new();
    let before = StoredValue::new_local(focused());
    Effect::new(move || {
        if let Some(first) = dialog.get().and_then(|d| controls(&d).into_iter().next()) {
            let _ = first.focus();
        }
    });
    on_cleanup(move || {
        if let Some(element) = before.get_value() {
            let _ = element.focus();
        }
    });
    let keys = move |e: KeyboardEvent| match e.key().as_str() {
        "Escape" => {
            e.prevent_default();
            on_cancel.run(());
        }
        "Tab" => {
            if let Some(d) = dialog.get_untracked() {
                keep_focus_inside(&d, &e);
            }
        }
        _ => {}
    };
    view! {
        <div class="overlay" on:click=move |_| on_cancel.run(())>
            <div class="dialog" id=id node_ref=dialog role="dialog" aria-modal="true"
                aria-labelledby=title_id on:keydown=keys on:click=|e| e.stop_propagation()>
                {children()}
            </div>
        </div>
    }
}

#[component]
pub fn ConfirmDialog() -> impl IntoView {
    let ui = expect_context::<Ui>();
    move || ui.confirm.get().map(|c| view! { <Asking confirm=c/> })
}

#[component]
fn Asking(confirm: Confirm) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let cancel = Callback::new(move |()| ui.confirm.set(None));
    let on_confirm = confirm.on_confirm;
    view! {
        <Modal id="confirm" title_id="dialog-title" on_cancel=cancel>
            <h3 id="dialog-title">{confirm.title}</h3>
            <div id="dialog-body">
                {confirm.lines.into_iter().map(|l| view! { <p>{l}</p> }).collect::<Vec<_>>()}
            </div>
            <div class="buttons">
                <button id="dialog-cancel" on:click=move |_| cancel.run(())>"Cancel"</button>
                <button id="dialog-confirm" class="danger" on:click=move |_| {
                    cancel.run(());
                    on_confirm.run(());
                }>{confirm.action}</button>
            </div>
        </Modal>
    }
}
