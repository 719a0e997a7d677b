//! Copying text to the system clipboard from a button.

/// Puts `text` on the clipboard (the webview's asynchronous clipboard API;
/// nothing to wait for).
pub fn copy_to_clipboard(text: &str) {
    if let Some(window) = web_sys::window() {
        let _ = window.navigator().clipboard().write_text(text);
    }
}
