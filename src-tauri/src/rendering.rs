//! How WebKit draws the window. Its DMA-BUF renderer (the default) loads
//! the GPU driver stack into the web process, which under a software GL
//! such as Mesa's llvmpipe costs about 50 MB of the window's memory; the
//! shared-memory renderer WebKit falls back to draws the same page. It is
//! chosen unless the user's environment chose already
//! (`WEBKIT_DISABLE_DMABUF_RENDERER=0` keeps DMA-BUF).

/// WebKit's switch, read by each web process it starts (inherited).
const DMABUF_SWITCH: &str = "WEBKIT_DISABLE_DMABUF_RENDERER";

/// Picks the shared-memory renderer unless the environment says otherwise.
/// Call first thing in `main`, before any thread exists: the environment
/// is not safe to change while another thread may read it.
pub fn choose() {
    if std::env::var_os(DMABUF_SWITCH).is_none()
        && let Err(e) = glib::setenv(DMABUF_SWITCH, "1", false)
    {
        eprintln!("rserve-desk: cannot set {DMABUF_SWITCH}: {e}");
    }
}
