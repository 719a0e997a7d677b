//! Sends Docker images from the workstation's Docker to a host's Docker for
//! hosts that cannot pull (air-gapped, or this test machine): `docker save`
//! here streamed into `docker load` there, through the host's tunnel, with the
//! bytes sent reported as it goes. Nothing is written to disk on either side.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::ImportImageOptionsBuilder;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde::Serialize;

/// Why an image could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("the image {image} is not on this workstation's Docker, so it cannot be sent")]
    MissingHere { image: String },
    #[error("Docker could not {action} {image}: {source}")]
    Docker {
        action: &'static str,
        image: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("the host refused the image {image}: {message}")]
    Refused { image: String, message: String },
    #[error("after loading, the host has {image} as {found:?} instead of {expected}")]
    Mismatch {
        image: String,
        expected: String,
        found: Option<String>,
    },
}

/// What sending an image did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Sent {
    /// The host already had this exact image; nothing was sent.
    AlreadyThere { image: String, id: String },
    /// The image was streamed over and loaded.
    Loaded {
        image: String,
        id: String,
        bytes: u64,
    },
}

/// How often progress is reported while bytes flow.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

/// Sends `image` from `here` to `there` unless `there` already has the same image id.
/// `progress` receives the bytes sent so far, a few times a second and once at the end.
pub async fn send_image(
    here: &Docker,
    there: &Docker,
    image: &str,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<Sent, TransferError> {
    let id = image_id(here, image)
        .await?
        .ok_or_else(|| TransferError::MissingHere {
            image: image.to_owned(),
        })?;
    if image_id(there, image).await?.as_deref() == Some(id.as_str()) {
        return Ok(Sent::AlreadyThere {
            image: image.to_owned(),
            id,
        });
    }
    let bytes = load(there, image, here.export_image(image), progress).await?;
    match image_id(there, image).await? {
        Some(found) if found == id => Ok(Sent::Loaded {
            image: image.to_owned(),
            id,
            bytes,
        }),
        found => Err(TransferError::Mismatch {
            image: image.to_owned(),
            expected: id,
            found,
        }),
    }
}

/// Streams a `docker save` archive into `docker load` on `there`; returns the bytes sent.
pub async fn load<S>(
    there: &Docker,
    image: &str,
    archive: S,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<u64, TransferError>
where
    S: Stream<Item = Result<Bytes, bollard::errors::Error>> + Send + 'static,
{
    let sent = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&sent);
    let counted = archive.inspect(move |chunk| {
        if let Ok(bytes) = chunk {
            counter.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        }
    });
    let options = ImportImageOptionsBuilder::default().quiet(true).build();
    let mut replies = std::pin::pin!(there.import_image_stream(options, counted, None));
    let mut ticker = tokio::time::interval(PROGRESS_EVERY);
    loop {
        tokio::select! {
            reply = replies.next() => match reply {
                None => break,
                Some(Ok(info)) => {
                    if let Some(message) = info.error_detail.and_then(|d| d.message) {
                        return Err(TransferError::Refused { image: image.to_owned(), message });
                    }
                }
                Some(Err(source)) => {
                    return Err(TransferError::Docker { action: "load", image: image.to_owned(), source });
                }
            },
            _ = ticker.tick() => progress(sent.load(Ordering::Relaxed)),
        }
    }
    let total = sent.load(Ordering::Relaxed);
    progress(total);
    Ok(total)
}

/// The id of `image` on `docker`; `None` when it has no such image.
pub async fn image_id(docker: &Docker, image: &str) -> Result<Option<String>, TransferError> {
    match docker.inspect_image(image).await {
        Ok(inspected) => Ok(inspected.id),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(source) => Err(TransferError::Docker {
            action: "inspect",
            image: image.to_owned(),
            source,
        }),
    }
}
