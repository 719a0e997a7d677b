//! `rserve-qap`: a client for Rserve's QAP1 protocol over TCP and WebSocket,
//! written from Rserve's `Rsrv.h`, `qap_encode.c`/`qap_decode.c` and the
//! rserve-js client, and checked against a real Rserve 1.8.
//!
//! ```no_run
//! # async fn demo() -> Result<(), rserve_qap::Error> {
//! use rserve_qap::{Client, Value};
//!
//! let mut client = Client::connect_tcp("127.0.0.1:6311").await?;
//! println!("callable: {:?}", client.functions());
//! let sum = client.call("add", vec![Value::double(1.0), Value::double(2.0)]).await?;
//! assert_eq!(sum.as_f64(), Some(3.0));
//! let json = client.call_json("stats_of", &[serde_json::json!([1, 2, 3])]).await?;
//! # let _ = json;
//! # Ok(()) }
//! ```
//!
//! Modules: [`protocol`] (constants, header, banner), [`value`] (R values),
//! [`codec`] (bytes), [`json`] (JSON conversion), [`client`] (the connection).

pub mod client;
pub mod codec;
pub mod error;
pub mod json;
pub mod protocol;
pub mod rsyntax;
mod signature;
mod tls;
mod transport;
pub mod value;

pub use client::{
    AccessToken, Client, ClientOptions, DEFAULT_MAX_MESSAGE_BYTES, DROPPED_REQUEST_SUSPECT_BYTES,
    Mode,
};
pub use codec::DecodeLimits;
pub use error::{CodecError, Error, Result};
pub use protocol::Banner;
pub use signature::{Argument, Signature};
pub use transport::ByteStream;
pub use value::{Attributes, Opaque, Value, Vector};
