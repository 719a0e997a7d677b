//! Lifecycle calls that survive a cut connection. Over an SSH forward on a
//! real link, a pooled connection can be closed by the far side just as a
//! request goes out, or cut while Docker works on it: hyper then reports
//! "connection closed before message completed" without Docker's answer.
//! Starting, stopping or restarting a container ends in the same state
//! when made twice, so such a call is made once more ([`once_more_if_cut`]);
//! any other failure, and a second cut, is the caller's.

use std::error::Error as StdError;

use bollard::errors::Error as BollardError;

/// Runs `call`, and once more when its connection was cut before Docker
/// answered. Only for calls that are safe to repeat.
pub(crate) async fn once_more_if_cut<T, F, Fut>(call: F) -> Result<T, BollardError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, BollardError>>,
{
    match call().await {
        Err(e) if cut_off(&e) => call().await,
        done => done,
    }
}

/// Whether `e` says the connection closed before Docker's answer came.
fn cut_off(e: &BollardError) -> bool {
    let mut source: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(error) = source {
        if let Some(hyper) = error.downcast_ref::<hyper::Error>()
            && (hyper.is_incomplete_message() || hyper.is_canceled())
        {
            return true;
        }
        source = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use bollard::{API_DEFAULT_VERSION, Docker};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::UnixListener;

    use super::*;

    /// A Docker socket stand-in: the first `cuts` requests are read and
    /// their connection closed without an answer; later ones get `answer`.
    /// Counts the requests it read.
    fn daemon(cuts: usize, answer: &'static str) -> (tempfile::TempDir, Docker, Arc<AtomicUsize>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docker.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let seen = Arc::new(AtomicUsize::new(0));
        let counter = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut request = [0u8; 4096];
                if stream.read(&mut request).await.unwrap_or(0) == 0 {
                    continue;
                }
                if counter.fetch_add(1, Ordering::SeqCst) >= cuts {
                    let _ = stream.write_all(answer.as_bytes()).await;
                }
            }
        });
        let docker =
            Docker::connect_with_unix(path.to_str().unwrap(), 10, API_DEFAULT_VERSION).unwrap();
        (dir, docker, seen)
    }

    const NO_CONTENT: &str = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
    const SERVER_ERROR: &str = "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: 18\r\nConnection: close\r\n\r\n{\"message\":\"no\"}\r\n";

    #[tokio::test]
    async fn a_cut_call_is_made_once_more_and_its_answer_returned() {
        let (_dir, docker, seen) = daemon(1, NO_CONTENT);
        once_more_if_cut(|| docker.stop_container("app", None))
            .await
            .unwrap();
        assert_eq!(seen.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_second_cut_is_the_callers() {
        let (_dir, docker, seen) = daemon(2, NO_CONTENT);
        let e = once_more_if_cut(|| docker.restart_container("app", None))
            .await
            .unwrap_err();
        assert!(cut_off(&e), "{e}");
        assert_eq!(seen.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_answer_from_docker_is_never_repeated() {
        let (_dir, docker, seen) = daemon(0, SERVER_ERROR);
        let e = once_more_if_cut(|| docker.start_container("app", None))
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                BollardError::DockerResponseServerError {
                    status_code: 500,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(seen.load(Ordering::SeqCst), 1);
    }
}
