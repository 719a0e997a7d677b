//! The byte stream under QAP1: a plain byte stream (a TCP socket, or any
//! other, e.g. an in-memory pipe), or a WebSocket whose binary (and, for the
//! banner, text) frames are joined into one stream. Rserve may split one QAP1
//! message over several frames (it writes header and body separately), so
//! frames are never assumed to match messages. Outgoing messages go as one
//! binary frame each, as rserve-js does.
//!
//! Reading allocates only for bytes that have arrived: a length announced by
//! the peer is never allocated up front. One exception below us: over
//! WebSocket, tungstenite reserves a frame's announced length when the frame
//! begins, which the client bounds by `max_message_bytes` (its frame limit).

use bytes::{Buf, BytesMut};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// What went wrong on the stream; the client adds its context.
#[derive(Debug)]
pub(crate) enum StreamError {
    Io(std::io::Error),
    Closed,
    WebSocket(tokio_tungstenite::tungstenite::Error),
}

/// A byte stream QAP1 can run over.
pub trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send + Sync {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> ByteStream for T {}

/// How much a read reserves before more bytes have arrived.
const FIRST_RESERVE: usize = 64 * 1024;

pub(crate) enum Transport {
    Stream(Box<dyn ByteStream>),
    WebSocket {
        socket: Box<WebSocketStream<MaybeTlsStream<TcpStream>>>,
        pending: BytesMut,
    },
}

impl Transport {
    /// Reads exactly `n` bytes; the buffer grows as they arrive.
    pub(crate) async fn read_exact(&mut self, n: usize) -> Result<Vec<u8>, StreamError> {
        match self {
            Transport::Stream(stream) => {
                let mut buf = Vec::with_capacity(n.min(FIRST_RESERVE));
                let mut limited = stream.take(n as u64);
                limited
                    .read_to_end(&mut buf)
                    .await
                    .map_err(StreamError::Io)?;
                if buf.len() < n {
                    return Err(StreamError::Closed);
                }
                Ok(buf)
            }
            Transport::WebSocket { socket, pending } => {
                // Each turn either returns or appends a frame; the caller's
                // timeout bounds how long frames may keep coming.
                while pending.len() < n {
                    match socket.next().await {
                        None => return Err(StreamError::Closed),
                        Some(Err(e)) => return Err(ws_error(e)),
                        Some(Ok(Message::Binary(data))) => pending.extend_from_slice(&data),
                        Some(Ok(Message::Text(text))) => pending.extend_from_slice(text.as_bytes()),
                        Some(Ok(Message::Close(_))) => return Err(StreamError::Closed),
                        Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                    }
                }
                let out = pending[..n].to_vec();
                pending.advance(n);
                Ok(out)
            }
        }
    }

    /// Reads and drops `n` bytes (a body nobody needs), in bounded chunks.
    pub(crate) async fn skip(&mut self, mut n: u64) -> Result<(), StreamError> {
        const CHUNK: u64 = 1 << 20;
        while n > 0 {
            let step = n.min(CHUNK);
            self.read_exact(step as usize).await?;
            n -= step;
        }
        Ok(())
    }

    /// Sends one complete message.
    pub(crate) async fn send(&mut self, message: Vec<u8>) -> Result<(), StreamError> {
        match self {
            Transport::Stream(stream) => {
                stream.write_all(&message).await.map_err(StreamError::Io)?;
                stream.flush().await.map_err(StreamError::Io)
            }
            Transport::WebSocket { socket, .. } => socket
                .send(Message::Binary(message.into()))
                .await
                .map_err(ws_error),
        }
    }

    /// Closes the connection politely (errors are irrelevant by then).
    pub(crate) async fn close(&mut self) {
        match self {
            Transport::Stream(stream) => {
                let _ = stream.shutdown().await;
            }
            Transport::WebSocket { socket, .. } => {
                let _ = SinkExt::<Message>::close(socket.as_mut()).await;
            }
        }
    }
}

fn ws_error(e: tokio_tungstenite::tungstenite::Error) -> StreamError {
    use tokio_tungstenite::tungstenite::Error as E;
    match e {
        E::ConnectionClosed | E::AlreadyClosed => StreamError::Closed,
        E::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => StreamError::Closed,
        E::Io(io) => StreamError::Io(io),
        other => StreamError::WebSocket(other),
    }
}
