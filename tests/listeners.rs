//! How every HTTP listener admits and keeps connections (`billbot::http`), through raw TCP on
//! loopback: HTTP/1.1 only (an HTTP/2 prior-knowledge client is refused at once), idle and
//! kept-alive connections closed after the header timeout, every connection closed after its
//! maximum age, a cap on one client address's connections that leaves other clients served, and
//! a backlog that holds a burst of connections the server has not accepted yet.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use billbot::http::{self, AddrRange, ClientSlots, ConnectionLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const REQUEST: &[u8] = b"GET /hello HTTP/1.1\r\nHost: billbot\r\n\r\n";

/// A listener on 127.0.0.1 serving `GET /hello` with `limits`; its address.
async fn server(limits: ConnectionLimits) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = http::limited(Router::new().route("/hello", get(|| async { "hello\n" })));
    tokio::spawn(http::serve_with(listener, router, limits, std::future::pending()));
    addr
}

/// Limits for a test: no proxy trusted (every loopback address is a client), short timeouts.
fn limits() -> ConnectionLimits {
    ConnectionLimits {
        header_timeout: Duration::from_millis(500),
        max_age: Duration::from_secs(30),
        trusted_proxies: Vec::new(),
        ..ConnectionLimits::default()
    }
}

/// A connection to `addr` from the loopback address `from` (`127.0.0.2`: another client).
async fn connect_from(from: [u8; 4], addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Sends one request on `stream` and reads its whole answer (`Content-Length` bytes of body).
async fn ask(stream: &mut TcpStream) -> String {
    stream.write_all(REQUEST).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&answer).ends_with("hello\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(n > 0, "closed before answering: {:?}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// Reads until the server closes `stream` (EOF or reset), at most `within`; what it sent, and
/// how long that took. Panics if the connection is still open after `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at((started + within).into(), stream.read(&mut buf)).await {
            Err(_) => panic!("still open after {within:?}; it sent {:?}", String::from_utf8_lossy(&seen)),
            Ok(Ok(0)) | Ok(Err(_)) => return (seen, started.elapsed()),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn an_http2_prior_knowledge_connection_is_refused_at_once_and_http_1_1_is_served() {
    // The default limits, as `serve` runs every listener: a 10 s header timeout.
    let addr = server(ConnectionLimits::default()).await;
    let mut h2 = TcpStream::connect(addr).await.unwrap();
    h2.write_all(PREFACE).await.unwrap();
    // An HTTP/2 server would answer with a SETTINGS frame and keep the connection for ever.
    let (sent, took) = closed_within(&mut h2, Duration::from_secs(2)).await;
    assert!(took < http::HEADER_TIMEOUT, "closed at once, not after the header timeout: {took:?}");
    assert!(!sent.starts_with(&[0, 0]), "no HTTP/2 frame came back: {sent:?}");
    // The preface alone, then silence, is refused as promptly.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(&PREFACE[..16]).await.unwrap();
    let (_, took) = closed_within(&mut idle, Duration::from_secs(12)).await;
    assert!(took <= http::HEADER_TIMEOUT + Duration::from_secs(1), "{took:?}");
    // HTTP/1.1 is served as always.
    let mut h1 = TcpStream::connect(addr).await.unwrap();
    assert!(ask(&mut h1).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn an_idle_connection_and_a_kept_alive_one_are_closed_after_the_header_timeout() {
    let addr = server(limits()).await;
    // Nothing sent at all.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let (_, took) = closed_within(&mut silent, Duration::from_secs(3)).await;
    assert!(took >= Duration::from_millis(400), "{took:?}");
    // One request answered, then the connection kept alive and idle: closed as well, not kept.
    let mut kept = TcpStream::connect(addr).await.unwrap();
    assert!(ask(&mut kept).await.starts_with("HTTP/1.1 200"));
    assert!(ask(&mut kept).await.starts_with("HTTP/1.1 200"), "kept alive between requests");
    let (_, took) = closed_within(&mut kept, Duration::from_secs(3)).await;
    assert!(took >= Duration::from_millis(400), "{took:?}");
    // Headers sent a byte at a time never finish in time.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    let mut closed = false;
    for byte in REQUEST.iter().take(REQUEST.len() - 1) {
        if slow.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if started.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    if !closed {
        let (sent, _) = closed_within(&mut slow, Duration::from_secs(3)).await;
        assert!(!String::from_utf8_lossy(&sent).contains("200 OK"), "{sent:?}");
    }
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn a_busy_connection_is_closed_after_its_maximum_age() {
    let addr = server(ConnectionLimits { max_age: Duration::from_secs(1), ..limits() }).await;
    let mut busy = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    // A request every 200 ms: never idle, yet closed once a second has passed.
    let closed = loop {
        assert!(started.elapsed() < Duration::from_secs(5), "never closed");
        if busy.write_all(REQUEST).await.is_err() {
            break started.elapsed();
        }
        let mut buf = [0u8; 1024];
        match tokio::time::timeout(Duration::from_secs(2), busy.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break started.elapsed(),
            Ok(Ok(_)) => tokio::time::sleep(Duration::from_millis(200)).await,
            Err(_) => panic!("no answer"),
        }
    };
    assert!(closed >= Duration::from_millis(900), "{closed:?}");
}

#[tokio::test]
async fn one_client_beyond_its_cap_is_refused_while_another_is_served() {
    let addr =
        server(ConnectionLimits { per_client: 2, header_timeout: Duration::from_secs(10), ..limits() }).await;
    let here = [127, 0, 0, 1];
    let mut first = connect_from(here, addr).await;
    let mut second = connect_from(here, addr).await;
    // Answered: both are held by the server now.
    assert!(ask(&mut first).await.starts_with("HTTP/1.1 200"));
    assert!(ask(&mut second).await.starts_with("HTTP/1.1 200"));
    // A third from the same address is closed at once, unanswered.
    let mut third = connect_from(here, addr).await;
    let _ = third.write_all(REQUEST).await;
    let (sent, took) = closed_within(&mut third, Duration::from_secs(2)).await;
    assert!(sent.is_empty(), "{:?}", String::from_utf8_lossy(&sent));
    assert!(took < Duration::from_secs(1), "{took:?}");
    // Another client is served meanwhile.
    let mut other = connect_from([127, 0, 0, 2], addr).await;
    assert!(ask(&mut other).await.starts_with("HTTP/1.1 200"));
    // Once one of the first two is gone, the first client may connect again.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut again = connect_from(here, addr).await;
        let _ = again.write_all(REQUEST).await;
        let mut buf = [0u8; 64];
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(1), again.read(&mut buf)).await
            && n > 0
        {
            assert!(buf.starts_with(b"HTTP/1.1 200"));
            break;
        }
        assert!(Instant::now() < deadline, "the slot was never given back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn client_slots_count_each_address_and_leave_trusted_proxies_to_the_listeners_cap() {
    let proxy: IpAddr = "10.1.2.3".parse().unwrap();
    let limits = ConnectionLimits {
        per_client: 2,
        trusted_proxies: vec!["10.1.0.0/16".parse().unwrap(), "::1".parse().unwrap()],
        ..ConnectionLimits::default()
    };
    let slots = ClientSlots::new(&limits);
    let client: IpAddr = "192.0.2.7".parse().unwrap();
    let (a, b) = (slots.try_take(client).unwrap(), slots.try_take(client).unwrap());
    assert!(slots.try_take(client).is_none(), "a third is refused");
    // The same address seen through an IPv6 socket is the same client.
    assert!(slots.try_take("::ffff:192.0.2.7".parse().unwrap()).is_none());
    assert!(slots.try_take("192.0.2.8".parse().unwrap()).is_some(), "another client is served");
    drop(a);
    assert_eq!(slots.held_by(client), 1);
    let c = slots.try_take(client).expect("a slot given back is free again");
    drop((b, c));
    assert_eq!(slots.held_by(client), 0);
    // A proxy's clients are many: it is not held to one client's share.
    let held: Vec<_> = (0..100).map(|_| slots.try_take(proxy).expect("a trusted proxy")).collect();
    assert_eq!(held.len(), 100);
    assert!(slots.try_take("::1".parse().unwrap()).is_some());
}

#[test]
fn address_ranges_parse_addresses_and_networks() {
    let range = |s: &str| s.parse::<AddrRange>();
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert!(range("10.0.0.0/8").unwrap().contains(ip("10.200.3.4")));
    assert!(!range("10.0.0.0/8").unwrap().contains(ip("11.0.0.1")));
    assert!(range("192.0.2.7").unwrap().contains(ip("192.0.2.7")));
    assert!(!range("192.0.2.7").unwrap().contains(ip("192.0.2.8")));
    assert!(range("fd00::/8").unwrap().contains(ip("fd12::1")));
    assert!(range("0.0.0.0/0").unwrap().contains(ip("203.0.113.9")));
    assert!(!range("10.0.0.0/8").unwrap().contains(ip("fd00::1")), "IPv4 ranges hold no IPv6 address");
    assert!(AddrRange::loopback().iter().any(|r| r.contains(ip("127.0.0.2"))));
    assert!(AddrRange::loopback().iter().any(|r| r.contains(ip("::1"))));
    for bad in ["10.0.0.0/33", "fd00::/129", "ten.0.0.0", "10.0.0.0/x", ""] {
        assert!(range(bad).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn a_burst_of_connections_waits_in_the_backlog_rather_than_being_dropped() {
    // Nothing accepts: every connection must wait in the kernel's queue. With tokio's default
    // backlog (1,024) the ones beyond it would have their SYN dropped and retry after a second.
    let listener = http::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let burst = 1500;
    let connecting: Vec<_> = (0..burst)
        .map(|_| tokio::spawn(tokio::time::timeout(Duration::from_millis(700), TcpStream::connect(addr))))
        .collect();
    let mut connected = Vec::new();
    for c in connecting {
        if let Ok(Ok(stream)) = c.await.unwrap() {
            connected.push(stream);
        }
    }
    assert_eq!(connected.len(), burst, "every connection of the burst got in at once");
    drop(listener);
}
