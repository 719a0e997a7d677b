//! Events the shell emits to the UI (names and payloads), and the one it
//! listens to from the webview for dropped files.

use serde::{Deserialize, Serialize};

use crate::{AppStatus, Page};

/// An app's status changed on a host (from its Docker events stream): reload that host's apps.
pub const APP_CHANGED: &str = "rdesk://app-changed";
/// A host's monitor recorded a new sample of its apps: numbers and charts redraw.
pub const SAMPLED: &str = "rdesk://sampled";
/// A host's watcher connected or lost its connection.
pub const HOST_CHANGED: &str = "rdesk://host-changed";
/// Ask the UI to show a page (a tray menu entry or a notification was chosen).
pub const SHOW_PAGE: &str = "rdesk://show-page";
/// Tauri's own event for files dropped onto the window (`{paths, position}`).
pub const DRAG_DROP: &str = "tauri://drag-drop";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppChanged {
    pub host: String,
    pub slug: String,
    pub status: AppStatus,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostChanged {
    pub host: String,
    /// Why the host cannot be reached; `None` when it is connected.
    pub offline_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sampled {
    pub host: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShowPage {
    pub page: Page,
}

/// Tauri's drag-drop payload: absolute paths and the drop point in physical pixels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dropped {
    pub paths: Vec<String>,
    pub position: Position,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Position {
    pub x: f64,
    pub y: f64,
}
