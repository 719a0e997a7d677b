//! A slow link of our own (this kernel has no netem): a TCP relay that
//! delivers every byte it reads a fixed one-way delay later, in each
//! direction, optionally no faster than a bandwidth cap, without changing or
//! reordering a byte.
//!
//! Each direction of a connection is a reader thread and a writer thread
//! joined by a bounded queue of chunks stamped with the moment they were
//! read. The writer sends a chunk at its stamp plus the delay, so bytes in
//! flight overlap as on a real link (a byte read at t leaves at t + delay,
//! however many round trips are under way), and a token bucket paces the
//! writes when there is a cap. `cargo xtask relay` runs one for good (the
//! stand-in's slow path); `standin up` starts it and `standin down` stops it.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread;
use std::time::{Duration, Instant};

/// The largest read, and so the largest chunk.
const CHUNK: usize = 64 * 1024;
/// Chunks queued per direction before the reader waits (16 MiB at most):
/// enough for a fast link's bytes in flight, bounded like a router's buffer.
const QUEUED_CHUNKS: usize = 256;
/// The bucket never saves more than this much time's worth of tokens.
const BURST: Duration = Duration::from_millis(5);
/// The smallest burst, so that a slow cap still writes whole packets.
const MIN_BURST_BYTES: f64 = 16.0 * 1024.0;

/// What the link does to the bytes: how late they arrive and how fast.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    /// One-way delay, the same in each direction (the round trip is twice it).
    pub delay: Duration,
    /// Bytes per second in each direction; `None` for no cap.
    pub cap_bytes_per_sec: Option<u64>,
}

impl Link {
    /// A link with `delay` each way and a cap in megabits per second (0: none).
    pub fn new(delay_ms: u64, cap_mbit: u64) -> Self {
        Self {
            delay: Duration::from_millis(delay_ms),
            cap_bytes_per_sec: (cap_mbit > 0).then_some(cap_mbit * 1_000_000 / 8),
        }
    }
}

/// Accepts connections on `listener` for ever, relaying each to `upstream`.
pub fn serve(listener: &TcpListener, upstream: SocketAddr, link: Link) -> io::Result<()> {
    for client in listener.incoming() {
        let client = match client {
            Ok(c) => c,
            // A connection that went away before it was accepted.
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
            Err(e) => return Err(e),
        };
        thread::spawn(move || {
            if let Err(e) = relay_connection(client, upstream, link) {
                eprintln!("relay: a connection to {upstream} ended: {e}");
            }
        });
    }
    Ok(())
}

/// Relays one accepted connection until both directions have ended.
fn relay_connection(client: TcpStream, upstream: SocketAddr, link: Link) -> io::Result<()> {
    let server = TcpStream::connect(upstream)?;
    for stream in [&client, &server] {
        stream.set_nodelay(true)?;
    }
    let up = {
        let (from, to) = (client.try_clone()?, server.try_clone()?);
        thread::spawn(move || one_way(from, to, link))
    };
    one_way(server, client, link);
    let _ = up.join();
    Ok(())
}

/// What the reader hands the writer.
enum Piece {
    Bytes {
        read_at: Instant,
        bytes: Vec<u8>,
    },
    /// The sender closed its side (or it failed): close ours after the rest.
    End,
}

/// Carries one direction, `from` → `to`, until `from` ends or `to` fails.
fn one_way(from: TcpStream, to: TcpStream, link: Link) {
    let (queue, pieces) = sync_channel(QUEUED_CHUNKS);
    let reader = {
        let from = match from.try_clone() {
            Ok(f) => f,
            Err(_) => return,
        };
        thread::spawn(move || read_into(from, &queue))
    };
    if write_from(&pieces, &to, link).is_err() {
        // The far side is gone: end both sides, which also ends the reader.
        let _ = from.shutdown(Shutdown::Both);
        let _ = to.shutdown(Shutdown::Both);
    } else {
        let _ = to.shutdown(Shutdown::Write);
    }
    drop(pieces);
    let _ = reader.join();
}

fn read_into(mut from: TcpStream, queue: &SyncSender<Piece>) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => {
                let _ = queue.send(Piece::End);
                return;
            }
            Ok(n) => {
                let piece = Piece::Bytes {
                    read_at: Instant::now(),
                    bytes: buf[..n].to_vec(),
                };
                if queue.send(piece).is_err() {
                    return;
                }
            }
        }
    }
}

/// Writes each chunk at its read time plus the delay, paced by the cap.
fn write_from(pieces: &Receiver<Piece>, mut to: &TcpStream, link: Link) -> io::Result<()> {
    let mut bucket = link.cap_bytes_per_sec.map(TokenBucket::new);
    while let Ok(Piece::Bytes { read_at, bytes }) = pieces.recv() {
        sleep_until(read_at + link.delay);
        match &mut bucket {
            None => to.write_all(&bytes)?,
            Some(bucket) => {
                for part in bytes.chunks(bucket.burst_bytes()) {
                    bucket.take(part.len());
                    to.write_all(part)?;
                }
            }
        }
    }
    Ok(())
}

fn sleep_until(at: Instant) {
    let now = Instant::now();
    if at > now {
        thread::sleep(at - now);
    }
}

/// Tokens (bytes) refill at the cap's rate up to a small burst; a write
/// takes its size in tokens and waits for any it lacks.
struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    refilled: Instant,
}

impl TokenBucket {
    fn new(bytes_per_sec: u64) -> Self {
        let rate = bytes_per_sec as f64;
        let capacity = (rate * BURST.as_secs_f64()).max(MIN_BURST_BYTES);
        Self {
            rate,
            capacity,
            tokens: capacity,
            refilled: Instant::now(),
        }
    }

    fn burst_bytes(&self) -> usize {
        self.capacity as usize
    }

    /// Takes `n` tokens, sleeping until the bucket has paid for them.
    fn take(&mut self, n: usize) {
        let now = Instant::now();
        let earned = now.duration_since(self.refilled).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + earned).min(self.capacity) - n as f64;
        self.refilled = now;
        if self.tokens < 0.0 {
            thread::sleep(Duration::from_secs_f64(-self.tokens / self.rate));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A relay on a free loopback port in front of `upstream`, in the background.
    fn relay_to(upstream: SocketAddr, link: Link) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || serve(&listener, upstream, link));
        addr
    }

    /// A server on a free loopback port that hands each connection to `handle`.
    fn server(handle: fn(TcpStream)) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                thread::spawn(move || handle(stream));
            }
        });
        addr
    }

    /// Reproducible bytes that are not a repeating pattern (xorshift64).
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    const PAYLOAD: usize = 6 << 20;

    /// Sends its own payload while reading the client's to the end; then
    /// answers whether what it read was the client's payload.
    fn exchange(mut stream: TcpStream) {
        let mut reading = stream.try_clone().unwrap();
        let writer = thread::spawn(move || stream.write_all(&noise(PAYLOAD, 2)));
        let mut got = Vec::new();
        reading.read_to_end(&mut got).unwrap();
        writer.join().unwrap().unwrap();
        let verdict: &[u8] = if got == noise(PAYLOAD, 1) { b"Y" } else { b"N" };
        reading.write_all(verdict).unwrap();
    }

    #[test]
    fn bytes_cross_unchanged_both_ways_at_once() {
        let relay = relay_to(server(exchange), Link::new(5, 0));
        let mut client = TcpStream::connect(relay).unwrap();
        let mut sending = client.try_clone().unwrap();
        let sender = thread::spawn(move || {
            sending.write_all(&noise(PAYLOAD, 1)).unwrap();
            sending.shutdown(Shutdown::Write).unwrap();
        });
        let mut got = Vec::new();
        client.read_to_end(&mut got).unwrap();
        sender.join().unwrap();
        let (payload, verdict) = got.split_at(got.len() - 1);
        assert_eq!(payload.len(), PAYLOAD);
        assert!(payload == noise(PAYLOAD, 2), "server → client changed");
        assert_eq!(verdict, b"Y", "client → server changed");
    }

    fn echo(mut stream: TcpStream) {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = stream.read(&mut buf) {
            if stream.write_all(&buf[..n]).is_err() {
                return;
            }
        }
    }

    #[test]
    fn a_round_trip_takes_twice_the_delay_and_round_trips_overlap() {
        let delay = Duration::from_millis(40);
        let relay = relay_to(server(echo), Link::new(40, 0));
        let mut client = TcpStream::connect(relay).unwrap();
        client.set_nodelay(true).unwrap();
        let mut byte = [0u8; 1];
        let mut rtts: Vec<Duration> = (0..9u8)
            .map(|i| {
                let sent = Instant::now();
                client.write_all(&[i]).unwrap();
                client.read_exact(&mut byte).unwrap();
                assert_eq!(byte[0], i);
                sent.elapsed()
            })
            .collect();
        rtts.sort();
        let median = rtts[rtts.len() / 2];
        // Never early (the relay holds each byte its delay, each way); late
        // only by what a busy machine adds, which is loosely bounded.
        assert!(rtts[0] >= 2 * delay, "{rtts:?}");
        assert!(median < 2 * delay + Duration::from_millis(150), "{rtts:?}");

        // Ten pings 10 ms apart, all under way at once: with a delay per
        // chunk they come back 10 ms apart too, so the last is back about one
        // round trip after it was sent, not after ten round trips queued.
        let mut reading = client.try_clone().unwrap();
        let started = Instant::now();
        let pinger = thread::spawn(move || {
            for i in 0..10u8 {
                client.write_all(&[i]).unwrap();
                thread::sleep(Duration::from_millis(10));
            }
        });
        let mut back = [0u8; 10];
        reading.read_exact(&mut back).unwrap();
        let all_back = started.elapsed();
        pinger.join().unwrap();
        assert_eq!(back, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert!(
            all_back >= Duration::from_millis(90) + 2 * delay,
            "{all_back:?}"
        );
        assert!(
            all_back < 6 * delay,
            "round trips were serialised: {all_back:?}"
        );
    }

    /// Reads everything, then says how many bytes it read.
    fn count(mut stream: TcpStream) {
        let mut total = 0u64;
        let mut buf = vec![0u8; CHUNK];
        while let Ok(n @ 1..) = stream.read(&mut buf) {
            total += n as u64;
        }
        let _ = stream.write_all(&total.to_le_bytes());
    }

    #[test]
    fn a_capped_link_carries_close_to_its_cap_and_no_more() {
        let link = Link::new(2, 32); // 4 MB/s
        let cap = link.cap_bytes_per_sec.unwrap() as f64;
        let relay = relay_to(server(count), link);
        let mut client = TcpStream::connect(relay).unwrap();
        let payload = noise(8 << 20, 3);
        let started = Instant::now();
        client.write_all(&payload).unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let mut total = [0u8; 8];
        client.read_exact(&mut total).unwrap();
        let took = started.elapsed().as_secs_f64();
        assert_eq!(u64::from_le_bytes(total), payload.len() as u64);
        let rate = payload.len() as f64 / took;
        // The bucket never lends more than its burst: the cap holds (a
        // little slack for the burst and the clock). Below it, only a busy
        // machine slows the relay, so that bound is loose.
        assert!(rate <= cap * 1.05, "{rate:.0} B/s over a {cap:.0} B/s cap");
        assert!(rate >= cap * 0.5, "{rate:.0} B/s under a {cap:.0} B/s cap");
    }

    #[test]
    fn megabits_become_bytes() {
        assert_eq!(Link::new(40, 64).cap_bytes_per_sec, Some(8_000_000));
        assert_eq!(Link::new(40, 0).cap_bytes_per_sec, None);
        assert_eq!(Link::new(40, 0).delay, Duration::from_millis(40));
    }
}
