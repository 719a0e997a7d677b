//! A tiny HTTP/1.0 GET over TCP or a Unix socket: enough to ping the Docker
//! engine and to check Traefik's routes without an HTTP client library.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// Status code and body of a response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

fn exchange(mut stream: impl Read + Write, host: &str, path: &str) -> Result<Response> {
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: xtask\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse(&raw)
}

fn parse(raw: &[u8]) -> Result<Response> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status_line = head.lines().next().unwrap_or("");
    let mut words = status_line.split_whitespace();
    let (Some(proto), Some(code)) = (words.next(), words.next()) else {
        bail!("not an HTTP response: {status_line:?}");
    };
    if !proto.starts_with("HTTP/") {
        bail!("not an HTTP response: {status_line:?}");
    }
    Ok(Response {
        status: code.parse().context("bad HTTP status")?,
        body: body.to_string(),
    })
}

/// GET `path` from `host:port`.
pub fn get_tcp(host: &str, port: u16, path: &str, timeout: Duration) -> Result<Response> {
    let addr = (host, port)
        .to_socket_addrs()?
        .next()
        .with_context(|| format!("cannot resolve {host}"))?;
    let stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    exchange(stream, &format!("{host}:{port}"), path)
}

/// GET `path` from the HTTP server on the Unix socket `socket`.
pub fn get_unix(socket: &Path, path: &str, timeout: Duration) -> Result<Response> {
    let stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    exchange(stream, "localhost", path)
}

/// True when a Docker engine answers `/_ping` on `socket`.
pub fn docker_answers(socket: &Path) -> bool {
    get_unix(socket, "/_ping", Duration::from_secs(3))
        .is_ok_and(|r| r.status == 200 && r.body.trim() == "OK")
}

/// The first bytes a TCP server sends on connect (e.g. an SSH banner).
pub fn banner(host: &str, port: u16, timeout: Duration) -> Result<String> {
    let addr = (host, port)
        .to_socket_addrs()?
        .next()
        .with_context(|| format!("cannot resolve {host}"))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    let mut buf = [0u8; 64];
    let n = stream.read(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn parses_responses() {
        let r = parse(b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno\n").unwrap();
        assert_eq!(r.status, 404);
        assert_eq!(r.body, "no\n");
        assert!(parse(b"SSH-2.0-OpenSSH\r\n").is_err());
        assert!(parse(b"").is_err());
    }

    #[test]
    fn gets_over_tcp() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.ends_with(b"\r\n\r\n") {
                let n = s.read(&mut buf).unwrap();
                assert!(n > 0, "client closed early");
                request.extend_from_slice(&buf[..n]);
            }
            assert!(String::from_utf8_lossy(&request).starts_with("GET /x/ HTTP/1.0"));
            s.write_all(b"HTTP/1.0 200 OK\r\n\r\nhello").unwrap();
        });
        let r = get_tcp("127.0.0.1", port, "/x/", Duration::from_secs(5)).unwrap();
        assert_eq!((r.status, r.body.as_str()), (200, "hello"));
        server.join().unwrap();
    }
}
