//! Target `handshake`: a real [`Client`] connects over an in-memory stream
//! whose other end sends the input and then closes its sending side: the
//! greeting (banner or OCAP greeting) and, once connected, the answers to one
//! or two requests (eval in eval mode, a call of the first function in OCAP
//! mode), out-of-band messages included. The client must never wait for
//! bytes that cannot come: a timeout counts as a hang.

use std::time::Duration;

use rserve_qap::protocol::{self, Header};
use rserve_qap::{Client, ClientOptions, DEFAULT_MAX_MESSAGE_BYTES, Error, Mode, Value, codec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;

use super::sexp::sample_values;
use super::{Outcome, Target, from_seeds};
use crate::rng::Rng;

const MAX_INPUT: usize = 8192;
const BANNER: &[u8] = b"Rsrv0103QAP1\r\n\r\n--------------\r\n";

pub struct Handshake {
    seeds: Vec<Vec<u8>>,
    runtime: Runtime,
}

fn runtime() -> anyhow::Result<Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn message(cmd: u32, body: &[u8]) -> Vec<u8> {
    let header = Header {
        cmd,
        len: body.len() as u64,
        msg_id: 0,
    };
    [&header.to_bytes()[..], body].concat()
}

fn sexp_param(value: &Value) -> anyhow::Result<Vec<u8>> {
    Ok(codec::param_sexp(&codec::encode_sexp(value)?)?)
}

impl Handshake {
    pub fn new() -> anyhow::Result<Self> {
        let ok = |value: &Value| -> anyhow::Result<Vec<u8>> {
            Ok(message(protocol::RESP_OK, &sexp_param(value)?))
        };
        let mut error_value = Value::named_list([("message", Value::string("boom"))]);
        if let Some(a) = error_value.attributes_mut() {
            a.set("class", Value::string("rdesk_error"));
        }
        let oob = message(protocol::OOB_SEND, &sexp_param(&Value::double(1.0))?);
        let oob_msg = message(protocol::OOB_MSG, &sexp_param(&Value::string("ask"))?);
        let mut answers = vec![
            ok(&Value::double(7.0))?,
            ok(&error_value)?,
            [oob.clone(), ok(&Value::integer(1))?].concat(),
            [oob_msg, ok(&Value::Null)?].concat(),
            message(0x7f01_0002, &[]),
            message(0x4401_0002, &[]),
        ];
        answers.extend(
            sample_values()
                .iter()
                .map(ok)
                .collect::<anyhow::Result<Vec<_>>>()?,
        );
        let greetings = [
            BANNER.to_vec(),
            b"Rsrv0103QAP1\r\n\r\nARpt------------".to_vec(),
            message(
                protocol::CMD_OC_INIT,
                &sexp_param(&Value::named_list([
                    ("add", Value::Ocap("t1".into())),
                    ("greet", Value::Ocap("t2".into())),
                ]))?,
            ),
            // The first-capability convention: one reference that hands out the rest.
            message(
                protocol::CMD_OC_INIT,
                &sexp_param(&Value::Ocap("first".into()))?,
            ),
        ];
        let mut seeds = Vec::new();
        for greeting in &greetings {
            seeds.push(greeting.clone());
            for (i, answer) in answers.iter().enumerate() {
                let next = &answers[(i + 1) % answers.len()];
                seeds.push([greeting.as_slice(), answer, next].concat());
            }
        }
        Ok(Handshake {
            seeds,
            runtime: runtime()?,
        })
    }
}

/// Connects through `stream` and makes up to two requests.
async fn converse(stream: tokio::io::DuplexStream) -> Outcome {
    let options = ClientOptions {
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(5),
        ..ClientOptions::default()
    };
    let mut client = match Client::connect_stream(stream, "fuzz", options).await {
        Ok(client) => client,
        Err(e @ Error::ConnectTimeout { .. }) => return Outcome::Broken(format!("hang: {e}")),
        Err(_) => return Outcome::Refused,
    };
    for _ in 0..2 {
        let answer = match client.mode() {
            Mode::Eval => client.eval("1").await,
            Mode::Ocap => match client.functions().first() {
                Some(name) => {
                    let name = name.to_string();
                    client.call(&name, vec![Value::double(1.0)]).await
                }
                None => break,
            },
        };
        match answer {
            Err(e @ Error::Timeout { .. }) => return Outcome::Broken(format!("hang: {e}")),
            Err(_) => break,
            Ok(value) => {
                let _ = value.to_json();
            }
        }
    }
    client.close().await;
    Outcome::Accepted
}

impl Target for Handshake {
    fn name(&self) -> &'static str {
        "handshake"
    }

    fn cap_bytes(&self) -> usize {
        DEFAULT_MAX_MESSAGE_BYTES as usize
    }

    fn input(&self, rng: &mut Rng) -> Vec<u8> {
        from_seeds(rng, &self.seeds, MAX_INPUT)
    }

    fn feed(&mut self, input: &[u8]) -> Outcome {
        let input = input.to_vec();
        self.runtime.block_on(async move {
            let (client_end, mut server_end) = tokio::io::duplex(16 * 1024);
            let server = tokio::spawn(async move {
                if server_end.write_all(&input).await.is_ok() {
                    let _ = server_end.shutdown().await;
                    let mut sink = Vec::new();
                    let _ = server_end.read_to_end(&mut sink).await;
                }
            });
            let outcome = converse(client_end).await;
            let _ = server.await;
            outcome
        })
    }

    fn recover(&mut self) {
        if let Ok(fresh) = runtime() {
            self.runtime = fresh;
        }
    }
}
