//! The desktop app's logs: to stderr (warnings, or what `RUST_LOG` says)
//! and to a file a day in the log folder (`rdesk_core::paths::log_dir`;
//! information and up, or what `RDESK_LOG` says), of which the newest
//! [`KEPT_FILES`] are kept.

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Daily files kept in the log folder; older ones are deleted.
pub const KEPT_FILES: usize = 7;

/// The log file's filter, when not the default (information and up).
pub const FILE_FILTER_ENV: &str = "RDESK_LOG";

/// The filter in variable `env`, else `default`.
fn filter(env: &str, default: &str) -> EnvFilter {
    EnvFilter::try_from_env(env).unwrap_or_else(|_| EnvFilter::new(default))
}

/// Starts logging; the guard flushes the file when dropped (at exit). When
/// the folder cannot be made, logs go to stderr only and the reason is the
/// first warning there.
pub fn init(dir: &Path) -> Option<WorkerGuard> {
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(filter(EnvFilter::DEFAULT_ENV, "warn"));
    let file = rdesk_core::paths::ensure_private_dir(dir)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            RollingFileAppender::builder()
                .rotation(Rotation::DAILY)
                .filename_prefix("rserve-desk")
                .filename_suffix("log")
                .max_log_files(KEPT_FILES)
                .build(dir)
                .map_err(|e| e.to_string())
        });
    match file {
        Ok(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let file = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(writer)
                .with_filter(filter(FILE_FILTER_ENV, "info"));
            tracing_subscriber::registry()
                .with(stderr)
                .with(file)
                .init();
            Some(guard)
        }
        Err(e) => {
            tracing_subscriber::registry().with(stderr).init();
            tracing::warn!("no log file in {}: {e}", dir.display());
            None
        }
    }
}
