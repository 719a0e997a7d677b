//! The errors of this crate: [`Error`] for the client, [`CodecError`] for
//! encoding and decoding QAP1 values. Each variant carries the context a
//! person needs to act on it (which server, which function, which byte).

use std::time::Duration;

use crate::client::Mode;

/// Everything that can go wrong talking to Rserve.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The TCP connection could not be opened.
    #[error("connecting to Rserve at {target} failed: {source}")]
    Connect {
        target: String,
        #[source]
        source: std::io::Error,
    },

    /// The WebSocket connection or its HTTP upgrade failed.
    #[error("WebSocket connection to {url} failed: {source}")]
    WebSocket {
        url: String,
        #[source]
        source: Box<tokio_tungstenite::tungstenite::Error>,
    },

    /// The TLS settings for a `wss://` URL cannot be used.
    #[error("cannot set up TLS for {url}: {reason}")]
    Tls { url: String, reason: String },

    /// The URL given to [`crate::Client::connect_ws`] cannot be used.
    #[error("cannot use WebSocket URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },

    /// Connecting (including the Rserve greeting) took longer than allowed.
    #[error("connecting to {target} timed out after {timeout:?}")]
    ConnectTimeout { target: String, timeout: Duration },

    /// A request got no complete answer in time. The connection is closed
    /// afterwards because a late answer would be mistaken for the next one.
    #[error("{operation} on {target} timed out after {timeout:?}; the connection is closed")]
    Timeout {
        operation: String,
        target: String,
        timeout: Duration,
    },

    /// The peer does not greet like Rserve (wrong banner, not QAP1, garbage).
    #[error("{target} is not a usable Rserve QAP1 server: {reason}")]
    Handshake { target: String, reason: String },

    /// Reading from or writing to the connection failed.
    #[error("I/O error while {context} ({target}): {source}")]
    Io {
        context: String,
        target: String,
        #[source]
        source: std::io::Error,
    },

    /// The server closed the connection.
    #[error("Rserve at {target} closed the connection while {context}")]
    Closed { target: String, context: String },

    /// The server sent something that breaks the QAP1 protocol.
    #[error("protocol error from {target}: {reason}")]
    Protocol { target: String, reason: String },

    /// An R value could not be decoded or encoded.
    #[error("{context}: {source}")]
    Codec {
        context: String,
        #[source]
        source: CodecError,
    },

    /// R raised an error while evaluating the request; `message` is R's own
    /// condition message when the server sent it.
    #[error("R error: {message}")]
    RError { message: String },

    /// Rserve refused the command with one of its own error codes.
    #[error("Rserve refused {command}: {name} (code {code:#04x})")]
    Server {
        command: String,
        code: u8,
        name: &'static str,
    },

    /// The function is not among those the server lets this client call.
    #[error(
        "`{name}` is not a function this server lets you call; available: {}",
        if available.is_empty() { "none".to_string() } else { available.join(", ") }
    )]
    NotCallable {
        name: String,
        available: Vec<String>,
    },

    /// A function or variable name that is not a plain R identifier.
    #[error("`{name}` is not a valid R name: {reason}")]
    InvalidName { name: String, reason: String },

    /// An argument that cannot be sent to R.
    #[error("invalid argument: {reason}")]
    InvalidArgument { reason: String },

    /// The operation does not exist in the server's mode.
    #[error("{operation} is not possible: the server runs in {mode} mode")]
    WrongMode { operation: String, mode: Mode },

    /// The app would not hand out its functions, or Rserve refused the
    /// login: no token was given where one is needed, or it is wrong or revoked.
    #[error("{target} refused access: {reason}")]
    AccessRefused { target: String, reason: String },

    /// The server ended the connection while a large request was on its way
    /// or waiting for its answer: Rserve drops a connection whose request is
    /// larger than its input buffer (`maxinbuf`) without an answer.
    #[error(
        "{target} closed the connection during a request of {} ({reason}): it is likely larger \
         than the server accepts (Rserve's input buffer, maxinbuf)",
        crate::error::size_text(*bytes)
    )]
    RequestDropped {
        target: String,
        bytes: u64,
        reason: String,
    },

    /// A previous failure left the connection in an unknown state.
    #[error("the connection to {target} is no longer usable: {reason}")]
    Broken { target: String, reason: String },
}

impl Error {
    /// The HTTP status a WebSocket upgrade was refused with (e.g. 404 from a
    /// router with no route), when that is what happened.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::WebSocket { source, .. } => match source.as_ref() {
                tokio_tungstenite::tungstenite::Error::Http(response) => {
                    Some(response.status().as_u16())
                }
                _ => None,
            },
            _ => None,
        }
    }
}

/// A size for people, in MiB from 1 MiB on, else in KiB.
pub(crate) fn size_text(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
    } else {
        format!("{} KiB", bytes.div_ceil(1024))
    }
}

/// A QAP1 value that cannot be decoded from bytes or encoded to bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The bytes end before the value they announce.
    #[error("truncated data at byte {offset}: need {needed} more byte(s), {available} left")]
    Truncated {
        offset: usize,
        needed: u64,
        available: usize,
    },
    /// A length or count that does not fit the data around it.
    #[error("invalid length at byte {offset}: {reason}")]
    InvalidLength { offset: usize, reason: String },
    /// Values nested deeper than the decoder allows.
    #[error("values nested deeper than {limit} levels at byte {offset}")]
    TooDeep { offset: usize, limit: usize },
    /// More elements than [`crate::codec::DecodeLimits::max_elements`] allows.
    #[error(
        "the value holds more than {limit} elements (the decoder's limit, DecodeLimits::max_elements), \
         the one past it at byte {offset}"
    )]
    TooManyElements { offset: usize, limit: usize },
    /// A parameter type other than the one expected.
    #[error("unexpected parameter type {found:#04x} at byte {offset}, expected {expected}")]
    UnexpectedParameter {
        offset: usize,
        found: u8,
        expected: &'static str,
    },
    /// A string with a NUL character, which R strings cannot hold.
    #[error("string {value:?} contains a NUL character, which R strings cannot hold")]
    NulInString { value: String },
    /// A value larger than QAP1 can carry.
    #[error("value of {bytes} bytes is larger than QAP1 can carry")]
    TooLarge { bytes: u64 },
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
