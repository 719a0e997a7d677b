//! What a desktop panel would be on the desktop tests' D-Bus session bus:
//! the notification daemon (`org.freedesktop.Notifications`), which records
//! every Notify call and can "click" one, and the StatusNotifierWatcher
//! (`org.kde.StatusNotifierWatcher`) the tray icon registers with, through
//! which the test reads the icon, and reads and clicks the tray's menu, over
//! the same interfaces a panel uses.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use zbus::message::Header;
use zbus::object_server::SignalEmitter;
use zbus::{OwnedObjectPath, OwnedVariant, Structure, Variant};

const NOTIFICATIONS_PATH: &str = "/org/freedesktop/Notifications";
const ITEM_INTERFACE: &str = "org.kde.StatusNotifierItem";
const MENU_INTERFACE: &str = "com.canonical.dbusmenu";
/// How long the tray may take to answer one call.
const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// How often a click reads the menu again when the tray renumbered it.
const MENU_REREADS: usize = 5;

/// Plays the panel on the session bus at `address`: owns the notification
/// daemon's and the tray watcher's names and serves them.
pub async fn serve(
    address: &str,
    notifications: Notifications,
    watcher: Watcher,
) -> zbus::Result<zbus::Connection> {
    zbus::connection::Builder::address(address)
        .name("org.freedesktop.Notifications")
        .serve_at(NOTIFICATIONS_PATH, notifications)
        .name("org.kde.StatusNotifierWatcher")
        .serve_at("/StatusNotifierWatcher", watcher)
        .build()
        .await
}

/// One Notify call: what the app asked to show, the actions it offered, and
/// when the call arrived.
#[derive(Clone, Debug)]
pub struct Shown {
    pub id: u32,
    pub title: String,
    pub body: String,
    pub actions: Vec<String>,
    pub at: std::time::Instant,
}

/// Records what the app asks the desktop to show.
#[derive(Clone, Default)]
pub struct Notifications(Arc<Mutex<Vec<Shown>>>);

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Notifications {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        _app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        _hints: HashMap<String, OwnedVariant>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut seen = self.0.lock().unwrap();
        let id = seen.len() as u32 + 1;
        seen.push(Shown {
            id,
            title: summary,
            body,
            actions,
            at: std::time::Instant::now(),
        });
        id
    }

    fn close_notification(&self, _id: u32) {}

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".to_owned(), "actions".to_owned()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "rdesk-e2e".into(),
            "rserve-desk".into(),
            "1".into(),
            "1.2".into(),
        )
    }

    #[zbus(signal)]
    async fn action_invoked(
        emitter: &SignalEmitter<'_>,
        id: u32,
        action_key: &str,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn notification_closed(
        emitter: &SignalEmitter<'_>,
        id: u32,
        reason: u32,
    ) -> zbus::Result<()>;
}

impl Notifications {
    pub fn titles(&self) -> Vec<String> {
        self.shown().into_iter().map(|s| s.title).collect()
    }

    pub fn shown(&self) -> Vec<Shown> {
        self.0.lock().unwrap().clone()
    }

    /// Clicks a shown notification, as a notification daemon reports a
    /// click: its default action invoked, then the notification closed.
    pub async fn click(&self, bus: &zbus::Connection, id: u32) {
        let emitter = SignalEmitter::new(bus, NOTIFICATIONS_PATH).unwrap();
        Notifications::action_invoked(&emitter, id, "default")
            .await
            .unwrap();
        Notifications::notification_closed(&emitter, id, 2)
            .await
            .unwrap();
    }
}

/// The tray items that registered: (bus name, object path).
#[derive(Clone, Default)]
pub struct Watcher(Arc<Mutex<Vec<(String, String)>>>);

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    fn register_status_notifier_item(&self, service: String, #[zbus(header)] header: Header<'_>) {
        let sender = header.sender().map(|s| s.to_string()).unwrap_or_default();
        let item = if service.starts_with('/') {
            (sender, service)
        } else {
            (service, "/StatusNotifierItem".to_owned())
        };
        self.0.lock().unwrap().push(item);
    }

    fn register_status_notifier_host(&self, _service: String) {}

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(name, path)| format!("{name}{path}"))
            .collect()
    }

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }
}

/// A menu entry of the tray: its dbusmenu id and label.
#[derive(Clone, Debug)]
pub struct Entry {
    pub id: i32,
    pub label: String,
}

/// The tray icon as a panel sees it.
pub struct Tray<'a> {
    bus: &'a zbus::Connection,
    name: String,
    path: String,
}

impl Watcher {
    /// How many tray items have registered so far.
    pub fn registered(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// The newest registered tray item, once there is one (a process that
    /// re-executed itself registers its tray again).
    pub fn tray<'a>(&self, bus: &'a zbus::Connection) -> Option<Tray<'a>> {
        let (name, path) = self.0.lock().unwrap().last().cloned()?;
        Some(Tray { bus, name, path })
    }
}

impl Tray<'_> {
    /// Calls a method of the tray's process, bounded: a tray that does not
    /// answer is a failure, not a hung test.
    async fn call<B>(
        &self,
        path: &str,
        interface: &str,
        method: &str,
        body: &B,
    ) -> zbus::Result<zbus::Message>
    where
        B: zbus::export::serde::Serialize + zbus::DynamicType,
    {
        let call = self.bus.call_method(
            Some(self.name.as_str()),
            path,
            Some(interface),
            method,
            body,
        );
        tokio::time::timeout(CALL_TIMEOUT, call)
            .await
            .map_err(|_| zbus::Error::Failure(format!("{interface}.{method} did not answer")))?
    }

    async fn property(&self, name: &str) -> zbus::Result<OwnedVariant> {
        let reply = self
            .call(
                &self.path,
                "org.freedesktop.DBus.Properties",
                "Get",
                &(ITEM_INTERFACE, name),
            )
            .await?;
        reply.body().deserialize::<OwnedVariant>()
    }

    async fn string_property(&self, name: &str) -> zbus::Result<String> {
        String::try_from(self.property(name).await?)
    }

    /// The colour at the centre of the icon the tray shows now, as `#rrggbb`.
    pub async fn icon_centre(&self) -> zbus::Result<String> {
        let icon = self.string_property("IconName").await?;
        let theme = self.string_property("IconThemePath").await?;
        let path = if Path::new(&icon).is_absolute() {
            icon.clone()
        } else {
            format!("{theme}/{icon}.png")
        };
        centre_of_png(Path::new(&path)).map_err(|e| zbus::Error::Failure(format!("{path}: {e}")))
    }

    async fn menu_path(&self) -> zbus::Result<String> {
        Ok(OwnedObjectPath::try_from(self.property("Menu").await?)?.to_string())
    }

    /// The labels of the tray's menu, depth first.
    pub async fn menu(&self) -> zbus::Result<Vec<Entry>> {
        let reply = self
            .call(
                &self.menu_path().await?,
                MENU_INTERFACE,
                "GetLayout",
                &(0i32, -1i32, Vec::<String>::new()),
            )
            .await?;
        // `(u revision, (i a{sv} av) root)`, walked as a dynamic structure.
        let body = reply.body();
        let layout: Structure<'_> = body.deserialize()?;
        let mut entries = Vec::new();
        if let [_revision, root] = layout.fields() {
            collect_entries(root, &mut entries);
        }
        Ok(entries)
    }

    /// Clicks a menu entry, as a panel does. The tray numbers its entries
    /// anew when it rebuilds its menu (as its apps change); a panel then
    /// reads the new layout, and so does this: an entry whose number went
    /// stale is found again by its label, a few times at most.
    pub async fn click(&self, entry: &Entry) -> zbus::Result<()> {
        let path = self.menu_path().await?;
        let mut id = entry.id;
        for _ in 0..MENU_REREADS {
            let clicked = self
                .call(
                    &path,
                    MENU_INTERFACE,
                    "Event",
                    &(id, "clicked", Variant::from(0i32), 0u32),
                )
                .await;
            match clicked {
                Err(zbus::Error::MethodError(_, Some(text), _))
                    if text.contains("does not refer to a menu item") =>
                {
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    id = self
                        .menu()
                        .await?
                        .into_iter()
                        .find(|e| e.label == entry.label)
                        .ok_or_else(|| {
                            zbus::Error::Failure(format!(
                                "the tray's menu has no entry {:?} any more",
                                entry.label
                            ))
                        })?
                        .id;
                }
                other => return other.map(drop),
            }
        }
        Err(zbus::Error::Failure(format!(
            "the tray's menu changed under each of {MENU_REREADS} clicks on {:?}",
            entry.label
        )))
    }
}

/// Walks a dbusmenu layout node `(id, properties, children)`.
fn collect_entries(node: &Variant<'_>, out: &mut Vec<Entry>) {
    let node = match node {
        Variant::Variant(inner) => inner.as_ref(),
        other => other,
    };
    let Variant::Structure(s) = node else {
        return;
    };
    let [
        Variant::I32(id),
        Variant::Dict(props),
        Variant::Array(children),
    ] = s.fields()
    else {
        return;
    };
    let label = props
        .get::<&str, Variant<'_>>(&"label")
        .ok()
        .flatten()
        .and_then(|v| match v {
            Variant::Str(s) => Some(s.to_string()),
            _ => None,
        });
    if let Some(label) = label {
        out.push(Entry { id: *id, label });
    }
    for child in children.iter() {
        collect_entries(child, out);
    }
}

fn centre_of_png(path: &Path) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .map_err(|e| e.to_string())?;
    let mut pixels = vec![0; reader.output_buffer_size().ok_or("no buffer size")?];
    let info = reader.next_frame(&mut pixels).map_err(|e| e.to_string())?;
    let channels = info.color_type.samples();
    let (w, h) = (info.width as usize, info.height as usize);
    let at = ((h / 2) * w + w / 2) * channels;
    let [r, g, b] = [pixels[at], pixels[at + 1], pixels[at + 2]];
    Ok(format!("#{r:02x}{g:02x}{b:02x}"))
}
