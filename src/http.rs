//! How billbot serves HTTP (the Telegram and WhatsApp webhooks, the provider callback, health and
//! metrics), with the same limits on every listener:
//!
//! - HTTP/1.1 only (Telegram, Meta, providers, load balancers and Prometheus all speak it): a
//!   client that opens with HTTP/2's preface (prior knowledge) is refused at once, so that no
//!   connection escapes the timeouts below;
//! - a request's headers must arrive within 10 s, and so must the next request's on a kept-alive
//!   connection: an idle connection is closed after 10 s, and a client that sends headers a byte at
//!   a time does not hold one open; the whole request must be answered within 10 s (408);
//! - a connection is closed after 60 s whatever it does (once its request in hand is answered, or
//!   10 s later at most), so that a client that never reads its answers does not hold it either;
//! - bodies over 64 KiB get 413 before they are read further (WhatsApp's webhook takes 3 MiB:
//!   [`limited_to`]);
//! - at most 1,024 connections at once, and 64 from one client address (its reverse proxies,
//!   `BILLBOT_TRUSTED_PROXIES`, loopback by default, are counted only in the 1,024): one more is
//!   closed at once rather than queued. Forwarded headers are not read: a connection's client is
//!   the address it comes from;
//! - on shutdown, no new connection is accepted and the requests in hand finish (5 s at most).
//!
//! Secrets are checked before a body is read, where the secret is not in the body itself
//! ([`require_secret`]); every comparison of a secret is constant-time (`subtle`).

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tower_http::timeout::TimeoutLayer;

/// The largest body a listener takes, unless it says otherwise ([`limited_to`]).
pub const MAX_BODY: usize = 64 * 1024;
/// The longest a request may take, body included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a client may take to send a request's headers, the first or the next.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a connection is kept, whatever it does.
pub const MAX_CONNECTION_AGE: Duration = Duration::from_secs(60);
/// Connections served at once, per listener.
pub const MAX_CONNECTIONS: usize = 1024;
/// Connections served at once from one client address, per listener (`BILLBOT_MAX_CONNECTIONS_PER_CLIENT`).
pub const MAX_CONNECTIONS_PER_CLIENT: usize = 64;
/// How long the requests in hand may take to finish at shutdown.
const DRAIN: Duration = Duration::from_secs(5);

/// Connections the kernel may hold for a listener before it accepts them. Tokio's default, 1,024,
/// overflowed when a thousand pages opened their second connection at once: the kernel dropped
/// the SYNs and the clients waited a second to try again (docs/performance.md, "The web chat
/// under load"). Linux caps it at `net.core.somaxconn` (4,096 by default).
pub const LISTEN_BACKLOG: u32 = 4096;

/// A listener on `addr` with a backlog of [`LISTEN_BACKLOG`] (and `SO_REUSEADDR`, as
/// [`TcpListener::bind`] sets it, so a restart binds at once).
pub async fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// `router` with the body limit ([`MAX_BODY`]) and the request timeout.
pub fn limited(router: Router) -> Router {
    limited_to(router, MAX_BODY)
}

/// `router` with a body limit of `max_body` bytes and the request timeout.
pub fn limited_to(router: Router, max_body: usize) -> Router {
    router
        .layer(DefaultBodyLimit::max(max_body))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
}

/// Whether `given` is the secret, compared in constant time.
pub fn same_secret(given: &[u8], secret: &SecretString) -> bool {
    given.ct_eq(secret.expose_secret().as_bytes()).into()
}

/// Runs `next` only if the header `name` holds the secret (401 otherwise), before the body is
/// read: a middleware step (`axum::middleware::from_fn`).
pub async fn require_secret(
    name: &'static str,
    secret: Arc<SecretString>,
    request: Request,
    next: Next,
) -> Response {
    let given = request.headers().get(name).map(|v| v.as_bytes()).unwrap_or_default();
    if !same_secret(given, &secret) {
        tracing::warn!(header = name, "request refused: wrong or missing secret");
        return StatusCode::UNAUTHORIZED.into_response();
    }
    next.run(request).await
}

/// A block of addresses: one address (`192.0.2.7`, `::1`) or a network (`10.0.0.0/8`, `fd00::/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrRange {
    base: IpAddr,
    prefix: u8,
}

impl AddrRange {
    /// This machine: `127.0.0.0/8` and `::1`.
    pub fn loopback() -> Vec<AddrRange> {
        vec![
            AddrRange { base: IpAddr::from([127, 0, 0, 0]), prefix: 8 },
            AddrRange { base: IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]), prefix: 128 },
        ]
    }

    /// Whether `ip` is in the block (an IPv4 address seen as IPv6, `::ffff:a.b.c.d`, is the IPv4 one).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.base, ip.to_canonical()) {
            (IpAddr::V4(base), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(base) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(base), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(base) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for AddrRange {
    type Err = String;

    fn from_str(s: &str) -> Result<AddrRange, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let base: IpAddr =
            addr.trim().parse().map_err(|_| format!("{s:?} is not an address or a network"))?;
        let base = base.to_canonical();
        let bits = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {bits}"))?,
        };
        Ok(AddrRange { base, prefix })
    }
}

impl std::fmt::Display for AddrRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

/// How a listener admits and keeps connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// The longest a client may take to send a request's headers, the first or the next.
    pub header_timeout: Duration,
    /// The longest a connection is kept, whatever it does.
    pub max_age: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// Connections served at once from one client address (not counting `trusted_proxies`).
    pub per_client: usize,
    /// Reverse proxies and load balancers: many clients behind one address, so they are held only
    /// to `max_connections` (they limit their own clients).
    pub trusted_proxies: Vec<AddrRange>,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_timeout: HEADER_TIMEOUT,
            max_age: MAX_CONNECTION_AGE,
            max_connections: MAX_CONNECTIONS,
            per_client: MAX_CONNECTIONS_PER_CLIENT,
            trusted_proxies: AddrRange::loopback(),
        }
    }
}

/// The connections each client address holds, within [`ConnectionLimits::per_client`].
#[derive(Debug)]
pub struct ClientSlots {
    per_client: usize,
    trusted: Vec<AddrRange>,
    held: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection of a client, given back when dropped.
#[derive(Debug)]
pub struct ClientSlot {
    slots: Arc<ClientSlots>,
    client: Option<IpAddr>,
}

impl ClientSlots {
    pub fn new(limits: &ConnectionLimits) -> Arc<ClientSlots> {
        Arc::new(ClientSlots {
            per_client: limits.per_client,
            trusted: limits.trusted_proxies.clone(),
            held: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for one more connection from `client`, or `None` when it holds its share already.
    pub fn try_take(self: &Arc<Self>, client: IpAddr) -> Option<ClientSlot> {
        let client = client.to_canonical();
        if self.trusted.iter().any(|range| range.contains(client)) {
            return Some(ClientSlot { slots: self.clone(), client: None });
        }
        let mut held = self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = held.entry(client).or_insert(0);
        if *count >= self.per_client {
            return None;
        }
        *count += 1;
        Some(ClientSlot { slots: self.clone(), client: Some(client) })
    }

    /// The connections `client` holds now.
    pub fn held_by(&self, client: IpAddr) -> usize {
        let held = self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        held.get(&client.to_canonical()).copied().unwrap_or(0)
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let Some(client) = self.client else { return };
        let mut held = self.slots.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = held.get_mut(&client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                held.remove(&client);
            }
        }
    }
}

/// Serves `router` on `listener` until `shutdown`, with the default limits ([`ConnectionLimits`]).
pub async fn serve(listener: TcpListener, router: Router, shutdown: impl Future<Output = ()>) {
    serve_with(listener, router, ConnectionLimits::default(), shutdown).await
}

/// Serves `router` on `listener` until `shutdown`, with `limits`.
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let clients = ClientSlots::new(&limits);
    // HTTP/1.1 only: HTTP/2 has no header timeout, and its connections would idle for ever.
    let mut builder = Builder::new(TokioExecutor::new()).http1_only();
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        // Forget the connections that ended.
        while connections.try_join_next().is_some() {}
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, for one: pause rather than spin.
                    tracing::warn!(error = %e, "a connection could not be accepted");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!("too many connections: one closed at once");
            metrics::counter!("billbot_connections_refused_total", "reason" => "listener").increment(1);
            drop(stream);
            continue;
        };
        let Some(client) = clients.try_take(peer.ip()) else {
            tracing::warn!(client = %peer.ip(), "too many connections from one client: one closed at once");
            metrics::counter!("billbot_connections_refused_total", "reason" => "client").increment(1);
            drop(stream);
            continue;
        };
        let service = TowerToHyperService::new(router.clone());
        let connection = builder.serve_connection(TokioIo::new(stream), service).into_owned();
        let (mut stopping, max_age) = (stopping.clone(), limits.max_age);
        connections.spawn(async move {
            tokio::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = async { drop(stopping.wait_for(|stop| *stop).await) } => {
                    // Shutdown: the request in hand is answered, then the connection closes (the
                    // server gives up waiting after DRAIN).
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
                () = tokio::time::sleep(max_age) => {
                    connection.as_mut().graceful_shutdown();
                    tokio::time::timeout(REQUEST_TIMEOUT, connection).await.unwrap_or(Ok(()))
                }
            };
            if let Err(e) = ended {
                tracing::debug!(error = %e, "a connection ended with an error");
            }
            drop((slot, client));
        });
    }
    let _ = stop.send(true);
    let drained = tokio::time::timeout(DRAIN, async { while connections.join_next().await.is_some() {} });
    if drained.await.is_err() {
        tracing::warn!("requests still in hand at shutdown were cut off");
        connections.abort_all();
    }
}
