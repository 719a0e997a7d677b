//! What an app refuses for its size, said with the numbers: Rserve's input
//! buffer is an eighth of the app's memory limit, and a request over it is
//! dropped by Rserve without an answer; `rdesk call` and the window's console
//! (both `Desk::call_with`) say "the request (100 MiB) is larger than the
//! app accepts (16 MiB, an eighth of its 128 MiB memory limit)", and the app
//! goes on serving.
// Test support: a panic here is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Instant;

use rdesk_core::DeskError;
use rdesk_core::secrets::Secret;
use rdesk_e2e::{Standin, app_folder, running_container};
use serde_json::json;

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
                &[json!(text)],
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
