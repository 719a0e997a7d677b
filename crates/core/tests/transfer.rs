//! Image transfer through the real Docker Engine: a save → remove → load round
//! trip gives back the same image id, an image the host already has is not sent,
//! and a missing image or a broken archive gives a clear error. (Sending between
//! two different daemons needs a second Docker on the stand-in: not here yet.)
// Test helpers: a panic is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Mutex;

use bollard::Docker;
use bollard::query_parameters::{BuildImageOptionsBuilder, RemoveImageOptionsBuilder};
use futures_util::StreamExt;
use rdesk_core::transfer::{Sent, TransferError, load, send_image};

const IMAGE: &str = "rserve-desk-test/transfer:1";

async fn docker() -> Docker {
    Docker::connect_with_unix_defaults()
        .expect("local Docker socket")
        .negotiate_version()
        .await
        .expect("Docker answers")
}

async fn build_tiny_image(docker: &Docker) -> String {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, data) in [
        (
            "Dockerfile",
            &b"FROM scratch\nCOPY hello.txt /hello.txt\n"[..],
        ),
        ("hello.txt", b"hello from the workstation\n"),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, path, data).unwrap();
    }
    let options = BuildImageOptionsBuilder::default()
        .t(IMAGE)
        .rm(true)
        .build();
    let body = bollard::body_full(tar.into_inner().unwrap().into());
    let mut build = docker.build_image(options, None, Some(body));
    while let Some(step) = build.next().await {
        let step = step.expect("build step");
        assert!(step.error_detail.is_none(), "{step:?}");
    }
    docker.inspect_image(IMAGE).await.unwrap().id.unwrap()
}

async fn remove_tiny_image(docker: &Docker) {
    docker
        .remove_image(
            IMAGE,
            Some(RemoveImageOptionsBuilder::default().build()),
            None,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn images_go_through_save_and_load_intact() {
    if std::env::var("RDESK_E2E").as_deref() != Ok("1") {
        eprintln!("images_go_through_save_and_load_intact: skipped (set RDESK_E2E=1)");
        return;
    }
    let docker = docker().await;
    let id = build_tiny_image(&docker).await;

    let nothing_to_do = send_image(&docker, &docker, IMAGE, &|_| {}).await.unwrap();
    assert_eq!(
        nothing_to_do,
        Sent::AlreadyThere {
            image: IMAGE.into(),
            id: id.clone()
        }
    );

    let archive: Vec<bytes::Bytes> = docker
        .export_image(IMAGE)
        .map(|chunk| chunk.unwrap())
        .collect()
        .await;
    let size: u64 = archive.iter().map(|c| c.len() as u64).sum();
    remove_tiny_image(&docker).await;
    assert!(docker.inspect_image(IMAGE).await.is_err(), "removed");

    let reported = Mutex::new(Vec::new());
    let stream = futures_util::stream::iter(archive.into_iter().map(Ok));
    let sent = load(&docker, IMAGE, stream, &|n| {
        reported.lock().unwrap().push(n)
    })
    .await
    .unwrap();
    assert_eq!(sent, size);
    assert_eq!(
        reported.lock().unwrap().last(),
        Some(&size),
        "the end is reported"
    );
    assert_eq!(docker.inspect_image(IMAGE).await.unwrap().id, Some(id));

    let missing = send_image(&docker, &docker, "rserve-desk-test/absent:0", &|_| {}).await;
    assert!(
        matches!(missing, Err(TransferError::MissingHere { .. })),
        "{missing:?}"
    );

    let garbage = futures_util::stream::iter([Ok(bytes::Bytes::from_static(b"not a tar"))]);
    let refused = load(&docker, IMAGE, garbage, &|_| {}).await.unwrap_err();
    assert!(refused.to_string().contains(IMAGE), "{refused}");

    remove_tiny_image(&docker).await;
}
