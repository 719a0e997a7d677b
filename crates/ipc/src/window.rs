//! The window itself: which page it shows and where it is scrolled (kept by
//! the shell while the window is closed to the tray, so a re-created
//! webview opens where the user left it), the file picker, and the About
//! panel.

use serde::{Deserialize, Serialize};

/// A page of the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Page {
    /// No host yet: add a VPS or try this machine's Docker.
    Welcome,
    /// Every host, and the form to add one.
    Hosts,
    /// A host's apps.
    Host(String),
    /// One app on a host: `(host, slug)`.
    App(String, String),
    Settings,
    About,
}

impl Page {
    /// The host the page belongs to, if any.
    pub fn host(&self) -> Option<&str> {
        match self {
            Page::Host(h) | Page::App(h, _) => Some(h),
            Page::Welcome | Page::Hosts | Page::Settings | Page::About => None,
        }
    }
}

/// Where the window was: its page and how far its content was scrolled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewPlace {
    pub page: Page,
    /// Pixels from the top of the page's content.
    pub scroll_top: f64,
}

/// What the file picker asks for: an app's files (`.R` files, data, an
/// archive), or its folder. The shell answers with the chosen paths (none
/// when the user cancelled), granted for a deploy as a drop's are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PickArgs {
    Files,
    Folder,
}

/// One part and its version, e.g. `("Tauri", "2.12.5")`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartVersion {
    pub part: String,
    pub version: String,
}

/// What the About panel shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AboutView {
    /// `rserve-desk 0.1.0`.
    pub program: String,
    pub versions: Vec<PartVersion>,
    pub data_dir: String,
    pub log_dir: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_place_round_trips_through_json() {
        let place = ViewPlace {
            page: Page::App("vps".into(), "hello".into()),
            scroll_top: 240.0,
        };
        let json = serde_json::to_string(&place).unwrap();
        assert_eq!(
            json,
            r#"{"page":{"app":["vps","hello"]},"scroll_top":240.0}"#
        );
        assert_eq!(serde_json::from_str::<ViewPlace>(&json).unwrap(), place);
        assert_eq!(
            serde_json::to_string(&Page::Welcome).unwrap(),
            r#""welcome""#
        );
    }
}
