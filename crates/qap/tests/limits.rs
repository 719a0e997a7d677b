//! The client's limits against a hostile peer, over an in-memory stream
//! ([`Client::connect_stream`]): lengths announced beyond the message cap,
//! greetings and answers that announce more than ever arrives, and answers
//! with more elements than the decoder takes. No Rserve needed.

use std::time::Duration;

use rserve_qap::protocol::{self, Header};
use rserve_qap::{Client, ClientOptions, CodecError, DecodeLimits, Error, Value, codec};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

const BANNER: &[u8] = b"Rsrv0103QAP1\r\n\r\n--------------\r\n";

fn header(cmd: u32, len: u64) -> Vec<u8> {
    Header {
        cmd,
        len,
        msg_id: 0,
    }
    .to_bytes()
    .to_vec()
}

fn options() -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(5),
        ..ClientOptions::default()
    }
}

/// A peer that sends `greeting`, then answers each request with the next of
/// `answers`, then closes.
fn peer(greeting: Vec<u8>, answers: Vec<Vec<u8>>) -> DuplexStream {
    let (client_end, mut server_end) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        server_end.write_all(&greeting).await?;
        for answer in answers {
            let mut head = [0u8; Header::SIZE];
            server_end.read_exact(&mut head).await?;
            let request = Header::from_bytes(&head);
            let mut body = vec![0u8; request.len as usize];
            server_end.read_exact(&mut body).await?;
            server_end.write_all(&answer).await?;
        }
        server_end.shutdown().await
    });
    client_end
}

#[tokio::test]
async fn the_default_message_cap_is_64_mib() {
    assert_eq!(ClientOptions::default().max_message_bytes, 64 << 20);
    assert_eq!(rserve_qap::DEFAULT_MAX_MESSAGE_BYTES, 64 << 20);
    // A greeting one byte over it is refused from its header alone.
    let greeting = header(protocol::CMD_OC_INIT, (64 << 20) + 1);
    let err = Client::connect_stream(peer(greeting, vec![]), "peer", options())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Handshake { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("announces 67108865 bytes, more than the 67108864 allowed"),
        "{text}"
    );
}

#[tokio::test]
async fn the_message_cap_is_configurable() {
    let small = ClientOptions {
        max_message_bytes: 1024,
        ..options()
    };
    let answer = [header(protocol::RESP_OK, 1025), vec![0; 1025]].concat();
    let mut client = Client::connect_stream(peer(BANNER.to_vec(), vec![answer]), "peer", small)
        .await
        .unwrap();
    let err = client.eval("1").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("an answer of 1025 bytes exceeds the limit of 1024 bytes"),
        "{err}"
    );
}

#[tokio::test]
async fn a_greeting_announcing_more_than_arrives_ends_with_the_stream() {
    // 60 MiB announced (under the cap), 12 bytes sent, then the peer closes.
    let greeting = [header(protocol::CMD_OC_INIT, 60 << 20), vec![0; 12]].concat();
    let err = Client::connect_stream(peer(greeting, vec![]), "peer", options())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("closed before a complete Rserve greeting"),
        "{err}"
    );
}

#[tokio::test]
async fn an_answer_announcing_more_than_arrives_ends_with_the_stream() {
    let answer = [header(protocol::RESP_OK, 50 << 20), vec![0; 100]].concat();
    let mut client = Client::connect_stream(peer(BANNER.to_vec(), vec![answer]), "peer", options())
        .await
        .unwrap();
    let err = client.eval("1").await.unwrap_err();
    assert!(matches!(err, Error::Closed { .. }), "{err:?}");
}

#[tokio::test]
async fn answers_with_too_many_elements_are_refused() {
    let encoded = codec::encode_sexp(&Value::integers(0..100)).unwrap();
    let body = codec::param_sexp(&encoded).unwrap();
    let answer = [header(protocol::RESP_OK, body.len() as u64), body].concat();
    let few = ClientOptions {
        decode_limits: DecodeLimits { max_elements: 50 },
        ..options()
    };
    let mut client =
        Client::connect_stream(peer(BANNER.to_vec(), vec![answer.clone()]), "peer", few)
            .await
            .unwrap();
    match client.eval("0:99").await {
        Err(Error::Codec {
            source: CodecError::TooManyElements { limit: 50, .. },
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    // With the default limits the same answer is fine.
    let mut client = Client::connect_stream(peer(BANNER.to_vec(), vec![answer]), "peer", options())
        .await
        .unwrap();
    assert_eq!(client.eval("0:99").await.unwrap().len(), 100);
}

#[tokio::test]
async fn an_ocap_greeting_with_too_many_elements_is_refused() {
    let caps = Value::named_list((0..40).map(|i| (format!("f{i}"), Value::Ocap(format!("t{i}")))));
    let body = codec::param_sexp(&codec::encode_sexp(&caps).unwrap()).unwrap();
    let greeting = [header(protocol::CMD_OC_INIT, body.len() as u64), body].concat();
    let few = ClientOptions {
        decode_limits: DecodeLimits { max_elements: 20 },
        ..options()
    };
    let err = Client::connect_stream(peer(greeting, vec![]), "peer", few)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Codec {
                source: CodecError::TooManyElements { limit: 20, .. },
                ..
            }
        ),
        "{err:?}"
    );
}

/// A peer that greets, reads one request's header and hangs up, as Rserve
/// does with a request larger than its input buffer.
fn hanging_up_peer() -> DuplexStream {
    let (client_end, mut server_end) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        server_end.write_all(BANNER).await?;
        let mut head = [0u8; Header::SIZE];
        server_end.read_exact(&mut head).await?;
        server_end.shutdown().await
    });
    client_end
}

#[tokio::test]
async fn a_large_request_whose_connection_ends_is_reported_as_too_large() {
    let mut client = Client::connect_stream(hanging_up_peer(), "peer", options())
        .await
        .unwrap();
    let big = Value::Raw(rserve_qap::Vector::new(vec![1u8; 3 << 20]));
    let err = client.set("x", &big).await.unwrap_err();
    let Error::RequestDropped { bytes, .. } = &err else {
        panic!("expected RequestDropped, got {err:?}");
    };
    assert!(*bytes > 3 << 20, "{bytes}");
    let text = err.to_string();
    assert!(text.contains("during a request of 3.0 MiB"), "{text}");
    assert!(text.contains("larger than the server accepts"), "{text}");

    // A small request on such a connection is a plain closed connection.
    let mut client = Client::connect_stream(hanging_up_peer(), "peer", options())
        .await
        .unwrap();
    let err = client.eval("1").await.unwrap_err();
    assert!(matches!(err, Error::Closed { .. }), "{err:?}");
}
