//! The walls between apps (issue 11), on the stand-in in the bootstrapped
//! shape: from inside a running app container, no TCP connection reaches a
//! second app's Rserve ports, Traefik's private entry points, the Docker
//! API or the VPS's loopback, while the app still answers through Traefik;
//! Traefik reads Docker only through the read-only filter; an app's path
//! route answers only under the host's own name; a domain is one app's.
// Test helpers: a panic is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::Duration;

use rdesk_e2e::{
    Standin, app_folder, docker_inspect, docker_out, objects_of, remove_leftovers,
    running_container,
};

/// The stand-in Traefik's dashboard/API/ping and metrics entry points, on
/// its 127.0.0.1 only (xtask's `facts::DASHBOARD_PORT`, `METRICS_PORT`).
const DASHBOARD_PORT: u16 = 8089;
const METRICS_PORT: u16 = 8082;
const APP: &str = "answer <- function() 42\n";

/// Whether a TCP connection from inside `container` to `host:port` opens
/// within 3 s (bash's `/dev/tcp`, run in the container).
fn connects_from(container: &str, host: &str, port: u16) -> bool {
    let script = format!("timeout 3 bash -c 'echo > /dev/tcp/{host}/{port}' 2>/dev/null");
    Command::new("docker")
        .args(["exec", container, "bash", "-c", &script])
        .status()
        .unwrap()
        .success()
}

/// Whether a TCP connection from this machine (the stand-in VPS itself, where
/// Traefik runs) to `host:port` opens within 3 s.
fn connects_here(host: &str, port: u16) -> bool {
    let addr = format!("{host}:{port}").parse().unwrap();
    std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(3)).is_ok()
}

/// The container's address on the apps' network, and that network's gateway (the VPS).
fn address_and_gateway(container: &str) -> (String, String) {
    let inspected = docker_inspect(container);
    let net = &inspected["NetworkSettings"]["Networks"]["rserve-desk"];
    (
        net["IPAddress"].as_str().unwrap().to_owned(),
        net["Gateway"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn an_app_reaches_no_other_app_nor_traefiks_private_ports_nor_docker_and_still_answers() {
    let Some(vps) = Standin::from_env("walls") else {
        return;
    };
    let desk = vps.desk();
    let (_dir, app) = app_folder("walls", &[("main.R", APP)]);
    for slug in ["wl-a", "wl-b"] {
        remove_leftovers(slug);
        desk.deploy(&app, slug, &[]);
    }
    let a = running_container("wl-a");
    let b = running_container("wl-b");
    let (b_ip, gateway) = address_and_gateway(&b);

    // The probe works: A reaches its own Rserve; this machine (where Traefik
    // runs) reaches B's, and Traefik's private ports listen on its loopback.
    assert!(connects_from(&a, "127.0.0.1", 6311));
    assert!(connects_here(&b_ip, 6311) && connects_here(&b_ip, 8081));
    assert!(connects_here("127.0.0.1", DASHBOARD_PORT) && connects_here("127.0.0.1", METRICS_PORT));

    for port in [6311, 8081] {
        assert!(
            !connects_from(&a, &b_ip, port),
            "wl-a reached wl-b's {port}"
        );
    }
    for host in ["127.0.0.1", gateway.as_str()] {
        for port in [DASHBOARD_PORT, METRICS_PORT, 2375, 2376, 2222] {
            assert!(!connects_from(&a, host, port), "wl-a reached {host}:{port}");
        }
    }
    // No Docker socket, plain or filtered, inside.
    let sockets = "test -e /var/run/docker.sock || test -e /run/rserve-desk-filter";
    let found = Command::new("docker")
        .args(["exec", &a, "sh", "-c", sockets])
        .status()
        .unwrap();
    assert!(!found.success(), "a Docker socket is inside wl-a");

    // Traefik still routes both.
    for slug in ["wl-a", "wl-b"] {
        assert_eq!(desk.call_when_up(slug, "answer", &[]).as_f64(), Some(42.0));
    }
    for slug in ["wl-a", "wl-b"] {
        desk.ok(&["rm", slug, "--host", "vps"]);
    }
}

/// One HTTP/1.0 request on a Unix socket; the status code.
fn status_over(socket: &std::path::Path, method: &str, path: &str, body: &str) -> u16 {
    let mut stream = UnixStream::connect(socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let request = format!(
        "{method} {path} HTTP/1.0\r\nHost: docker\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    // HAProxy answers a denied request as soon as it has read the head, and
    // closes without reading the body: the write may then meet a closed
    // socket, while the answer is already waiting to be read.
    match stream.write_all(request.as_bytes()) {
        Ok(()) => {}
        Err(e) if matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset) => {}
        Err(e) => panic!("writing to the Docker filter: {e}"),
    }
    let mut head = [0u8; 12];
    match stream.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return 0,
        Err(e) => panic!("reading the Docker filter's answer: {e}"),
    }
    let line = String::from_utf8_lossy(&head);
    line[9..12]
        .parse()
        .unwrap_or_else(|_| panic!("not HTTP: {line:?}"))
}

#[test]
fn traefik_reads_docker_only_through_the_read_only_filter() {
    if Standin::from_env("walls_filter").is_none() {
        return;
    }
    let dir = docker_out(&[
        "volume",
        "inspect",
        "--format",
        "{{.Mountpoint}}",
        "rserve-desk-docker-filter",
    ]);
    let socket = std::path::Path::new(dir.trim()).join("docker.sock");
    let create = r#"{"Image":"debian:bookworm","Cmd":["true"]}"#;
    for (method, path, body, want) in [
        (
            "POST",
            "/v1.41/containers/create?name=wl-filter-made",
            create,
            403,
        ),
        ("DELETE", "/v1.41/containers/rserve-desk-traefik", "", 403),
        (
            "POST",
            "/v1.41/containers/rserve-desk-traefik/stop",
            "",
            403,
        ),
        (
            "GET",
            "/v1.41/containers/rserve-desk-traefik/archive?path=/",
            "",
            403,
        ),
        (
            "GET",
            "/v1.41/containers/rserve-desk-traefik/logs?stdout=1",
            "",
            403,
        ),
        ("GET", "/v1.41/images/json", "", 403),
        ("GET", "/v1.41/info", "", 403),
        ("GET", "/v1.41/containers/..%2Fimages/json", "", 403),
        ("GET", "/_ping", "", 200),
        ("GET", "/v1.41/version", "", 200),
        ("GET", "/v1.41/containers/json", "", 200),
        ("GET", "/v1.41/containers/rserve-desk-traefik/json", "", 200),
        ("GET", "/v1.41/networks", "", 200),
    ] {
        assert_eq!(
            status_over(&socket, method, path, body),
            want,
            "{method} {path}"
        );
    }
    let made = docker_out(&["ps", "-aq", "--filter", "name=wl-filter-made"]);
    assert!(
        made.trim().is_empty(),
        "the refused create made a container"
    );

    let traefik = docker_inspect("rserve-desk-traefik");
    let host = &traefik["HostConfig"];
    assert_eq!(host["NetworkMode"], "host");
    assert_eq!(host["CapDrop"], serde_json::json!(["ALL"]));
    // Docker 20.10 writes added capabilities with their `CAP_` prefix.
    let added: Vec<&str> = host["CapAdd"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().trim_start_matches("CAP_"))
        .collect();
    assert_eq!(added, ["NET_BIND_SERVICE"]);
    assert_eq!(host["ReadonlyRootfs"], true);
    assert_eq!(
        host["SecurityOpt"],
        serde_json::json!(["no-new-privileges:true"])
    );
    let mounts = traefik["Mounts"].to_string();
    assert!(!mounts.contains("docker.sock\""), "{mounts}");
    let filter = docker_inspect("rserve-desk-docker-filter");
    let host = &filter["HostConfig"];
    assert_eq!(host["NetworkMode"], "none");
    assert_eq!(host["CapDrop"], serde_json::json!(["ALL"]));
    assert_eq!(host["ReadonlyRootfs"], true);
    assert_eq!(
        host["SecurityOpt"],
        serde_json::json!(["no-new-privileges:true"])
    );
    assert_eq!(filter["State"]["Running"], true);
}

/// The status code Traefik answers a WebSocket upgrade (QAP1) of `path`
/// with, asked with `Host: host`: 101 when a route reaches the app; 0 when
/// no answer came within 3 s (a router still points at a container that is
/// going away, and Traefik is still dialling it).
fn status_via_traefik(public_url: &str, host: &str, path: &str) -> u16 {
    let addr = public_url
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: QAP1\r\n\r\n"
    )
    .unwrap();
    let mut head = [0u8; 12];
    match stream.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return 0,
        Err(e) => panic!("reading Traefik's answer: {e}"),
    }
    let line = String::from_utf8_lossy(&head);
    line[9..12]
        .parse()
        .unwrap_or_else(|_| panic!("not HTTP: {line:?}"))
}

#[test]
fn a_path_route_answers_only_under_the_hosts_name_and_a_domain_is_one_apps() {
    let Some(vps) = Standin::from_env("walls_routes") else {
        return;
    };
    let desk = vps.desk();
    let (_dir, app) = app_folder("routes", &[("main.R", APP)]);
    for slug in ["wl-c", "wl-d", "wl-e"] {
        remove_leftovers(slug);
    }
    let domain = "wl-c.example.test";
    desk.deploy(&app, "wl-c", &["--domain", domain]);
    desk.deploy(&app, "wl-e", &[]);
    desk.call_when_up("wl-c", "answer", &[]);
    desk.call_when_up("wl-e", "answer", &[]);
    let own_name = vps
        .public_url
        .trim_start_matches("http://")
        .split(':')
        .next()
        .unwrap()
        .to_owned();
    let status = |host: &str, path: &str| status_via_traefik(&vps.public_url, host, path);
    // wl-c's domain answers at its root; wl-e's path route under the host's
    // own name only.
    assert_eq!(status(domain, "/"), 101);
    assert_eq!(status(&own_name, "/wl-e"), 101);
    assert_eq!(status("elsewhere.example.test", "/wl-e"), 404);
    // Under wl-c's domain only wl-c answers: with wl-c stopped (Traefik drops
    // its router), wl-e's path route does not answer there.
    docker_out(&["stop", &running_container("wl-c")]);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while status(domain, "/") != 404 {
        assert!(std::time::Instant::now() < deadline, "wl-c's router stayed");
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(status(domain, "/wl-e"), 404);
    assert_eq!(status(&own_name, "/wl-e"), 101);

    // A second app cannot claim the domain (wl-c's, stopped or not), at
    // deploy or later.
    let refused = desk.fails(&[
        "deploy",
        app.to_str().unwrap(),
        "--host",
        "vps",
        "--slug",
        "wl-d",
        "--domain",
        domain,
    ]);
    assert!(
        refused.contains(
            "the domain wl-c.example.test already belongs to the app `wl-c` on this host"
        ),
        "{refused}"
    );
    assert!(objects_of("wl-d").is_empty(), "{:?}", objects_of("wl-d"));
    let before = running_container("wl-e");
    let refused = desk.fails(&["set", "wl-e", "--host", "vps", "--domain", domain]);
    assert!(
        refused.contains("already belongs to the app `wl-c`"),
        "{refused}"
    );
    assert_eq!(running_container("wl-e"), before, "wl-e was left as it was");
    for slug in ["wl-c", "wl-e"] {
        desk.ok(&["rm", slug, "--host", "vps"]);
    }
}
