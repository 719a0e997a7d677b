//! How the window is drawn, chosen for memory. WebKit's DMA-BUF renderer
//! (its default) costs the web process about 70 MB more than the
//! shared-memory renderer it falls back to, which draws the same page
//! (measured under Xvfb with Mesa's llvmpipe: 180 against 110 MB). The
//! latter needs no GL from GTK, and GTK without GL spares the tray
//! process the GL driver (Mesa and LLVM, about 30 MB). Each is chosen
//! unless the user's environment chose already
//! (`WEBKIT_DISABLE_DMABUF_RENDERER=0` keeps DMA-BUF, and GTK's GL with it).

use std::ffi::OsStr;

/// WebKit's switch, read by each web process it starts (inherited).
const DMABUF_SWITCH: &str = "WEBKIT_DISABLE_DMABUF_RENDERER";
/// GTK 3's switch, read when it opens the display.
const GTK_GL_SWITCH: &str = "GDK_GL";

/// Picks the shared-memory renderer, and GTK without GL, unless the
/// environment says otherwise. Call first thing in `main`, before any
/// thread exists: the environment is not safe to change while another
/// thread may read it.
pub fn choose() {
    set_unless_chosen(DMABUF_SWITCH, "1");
    if std::env::var_os(DMABUF_SWITCH).as_deref() != Some(OsStr::new("0")) {
        set_unless_chosen(GTK_GL_SWITCH, "disable");
    }
}

fn set_unless_chosen(name: &str, value: &str) {
    if std::env::var_os(name).is_none()
        && let Err(e) = glib::setenv(name, value, false)
    {
        eprintln!("rserve-desk: cannot set {name}: {e}");
    }
}
