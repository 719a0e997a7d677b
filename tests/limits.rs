//! What an app refuses, through the stand-in's Traefik. For its size, said
//! with the numbers: Rserve's input
//! buffer is an eighth of the app's memory limit, and a request over it is
//! dropped by Rserve without an answer; `rdesk call` and the window's console
//! (both `Desk::call_with`) say "the request (100 MiB) is larger than the
//! app accepts (16 MiB, an eighth of its 128 MiB memory limit)", and the app
//! goes on serving. After three wrong tokens on one connection, that
//! connection (a raw WebSocket, so nothing gives up before the server does)
//! ends; a new one with the right token answers.
// Test support: a panic here is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Instant;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rdesk_core::DeskError;
use rdesk_core::secrets::Secret;
use rdesk_e2e::{Standin, app_folder, running_container};
use rserve_qap::codec::{self, Param};
use rserve_qap::protocol::{self, Header};
use rserve_qap::{AccessToken, Client, ClientOptions, Value};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const APP: &str = "size <- function(x) nchar(x)\n";

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_request_is_said_with_the_apps_limit() {
    let Some(standin) = Standin::from_env("an_oversized_request_is_said_with_the_apps_limit")
    else {
        return;
    };
    let desk = standin.desk();
    let slug = "rq-big";
    let _ = desk.run(&["rm", slug, "--host", "vps"]);
    let (_dir, app) = app_folder(slug, &[("main.R", APP)]);
    desk.deploy(&app, slug, &["--memory", "128m"]);
    let made = desk.json(&["token", "create", slug, "--host", "vps"]);
    let token = made["token"].as_str().unwrap().to_owned();
    let container = running_container(slug);

    let core = rdesk_core::desk::Desk::open(desk.data_dir.path())
        .await
        .unwrap();
    let call = |text: String| {
        let core = &core;
        let token = token.clone();
        async move {
            core.call_with(
                "vps",
                slug,
                "size",
                &[(None, json!(text))],
                Some(Secret::from(token)),
            )
            .await
        }
    };
    assert_eq!(call("abc".to_owned()).await.unwrap(), json!(3));

    let started = Instant::now();
    let err = call("x".repeat(100 << 20)).await.unwrap_err();
    println!(
        "the oversized request was refused after {:?}",
        started.elapsed()
    );
    assert!(
        matches!(
            err,
            DeskError::RequestTooLarge {
                limit_bytes,
                memory_mb: 128,
                ..
            } if limit_bytes == 16 << 20
        ),
        "{err:?}"
    );
    let sentence = rdesk_core::sentence(&err);
    assert!(
        sentence.contains("(100 MiB) is larger than the app accepts (16 MiB, an eighth of its 128 MiB memory limit)"),
        "{sentence}"
    );
    assert!(sentence.contains("rdesk set rq-big --memory"), "{sentence}");

    // Just under the limit still answers; the same container serves on.
    let under = (16 << 20) - 4096;
    assert_eq!(call("y".repeat(under)).await.unwrap(), json!(under));
    assert_eq!(running_container(slug), container);
    let state = rdesk_e2e::docker_inspect(&container)["State"].clone();
    assert_eq!(state["OOMKilled"], false, "{state}");
    core.shutdown().await;
    desk.ok(&["rm", slug, "--host", "vps"]);
}

/// The next QAP message on `socket`, or `None` once the server has closed it.
async fn next_message(socket: &mut Socket) -> Option<Vec<u8>> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(15), socket.next())
            .await
            .expect("the server answers or closes within 15 s");
        match frame {
            Some(Ok(Message::Binary(bytes))) => return Some(bytes.to_vec()),
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Text(_))) => {}
            Some(Ok(Message::Close(_) | Message::Frame(_)) | Err(_)) | None => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_third_wrong_token_ends_the_connection() {
    let Some(standin) = Standin::from_env("a_third_wrong_token_ends_the_connection") else {
        return;
    };
    let desk = standin.desk();
    let slug = "rq-guess";
    let _ = desk.run(&["rm", slug, "--host", "vps"]);
    let (_dir, app) = app_folder(slug, &[("main.R", APP)]);
    desk.deploy(&app, slug, &[]);
    let made = desk.json(&["token", "create", slug, "--host", "vps"]);
    let token = made["token"].as_str().unwrap().to_owned();
    let url = format!(
        "{}/{slug}",
        standin.public_url.replacen("http://", "ws://", 1)
    );

    let mut request = url.as_str().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("QAP1"));
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let greeting = next_message(&mut socket).await.expect("the OCAP greeting");
    assert_eq!(
        Header::from_bytes(greeting[..Header::SIZE].try_into().unwrap()).cmd,
        protocol::CMD_OC_INIT
    );
    let Ok(Some(Param::Sexp(Value::Ocap(first)))) = codec::first_param(&greeting[Header::SIZE..])
    else {
        panic!("the greeting carries no capability");
    };
    let wrong = format!("rdt_0123abcd_{}", "0".repeat(64));
    let mut answers = Vec::new();
    for _ in 0..3 {
        let call = codec::encode_call(
            &Value::string(first.clone()),
            &[(None, Value::string(wrong.clone()))],
        )
        .unwrap();
        let body = codec::param_sexp(&call).unwrap();
        let header = Header {
            cmd: protocol::CMD_OC_CALL,
            len: body.len() as u64,
            msg_id: 0,
        };
        let sent = socket
            .send(Message::Binary(
                [header.to_bytes().to_vec(), body].concat().into(),
            ))
            .await;
        let answer = match sent {
            Ok(()) => next_message(&mut socket).await,
            Err(_) => None,
        };
        answers.push(
            answer.map(|a| {
                Header::from_bytes(a[..Header::SIZE].try_into().unwrap()).cmd & 0x00ff_ffff
            }),
        );
    }
    assert_eq!(
        answers,
        [Some(protocol::RESP_ERR), Some(protocol::RESP_ERR), None],
        "two refusals, then the connection ends"
    );

    let options = ClientOptions {
        token: Some(AccessToken::new(token)),
        ..ClientOptions::default()
    };
    let mut client = Client::connect_ws_with(&url, options).await.unwrap();
    assert_eq!(
        client
            .call("size", vec![Value::string("abcd")])
            .await
            .unwrap(),
        Value::integer(4)
    );
    client.close().await;
    desk.ok(&["rm", slug, "--host", "vps"]);
}
