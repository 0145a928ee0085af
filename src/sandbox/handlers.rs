//! The sandbox's request handlers: check the keys as the provider would, then answer from the
//! fixtures.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::SandboxConfig;
use super::fixtures::{self, InquiryFixture, StatusFixture};
use crate::domain::{Biller, OrderNo};
use crate::upstream::wire::inquiry::{InquiryData, InquiryEnvelope, InquiryRequest};

/// The sandbox's configuration and the little it remembers.
pub struct AppState {
    config: SandboxConfig,
    /// Status calls answered so far (benchmarks read it).
    pub(super) status_calls: Arc<AtomicU64>,
    /// Inquiry calls received so far (tests read it: a refused button makes none).
    pub(super) inquiry_calls: Arc<AtomicU64>,
    /// When each "delivered later" order was first asked about.
    first_asked: std::sync::Mutex<std::collections::HashMap<String, tokio::time::Instant>>,
    /// Calls in progress, and what the capacity turned away.
    pub(super) counts: Arc<Counts>,
}

/// Calls served at once (now and at most), and those answered 429 over the capacity.
#[derive(Debug, Default)]
pub struct Counts {
    serving: AtomicUsize,
    pub(super) peak: AtomicUsize,
    pub(super) throttled: AtomicU64,
}

impl AppState {
    pub fn new(config: SandboxConfig) -> AppState {
        let (first_asked, status_calls, inquiry_calls, counts) = Default::default();
        AppState { config, first_asked, status_calls, inquiry_calls, counts }
    }

    /// A place among the calls served at once; `None` over the capacity (the call gets a 429).
    fn admit(&self) -> Option<Serving> {
        let serving = self.counts.serving.fetch_add(1, Ordering::SeqCst) + 1;
        let slot = Serving(self.counts.clone());
        if self.config.capacity.is_some_and(|capacity| serving > capacity) {
            self.counts.throttled.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        self.counts.peak.fetch_max(serving, Ordering::Relaxed);
        Some(slot)
    }
}

/// A call being served; its place is given back when it is dropped (answered, or cut off).
struct Serving(Arc<Counts>);

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.serving.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The provider's documents say nothing of rate limits: the sandbox answers as HTTP says
/// (RFC 6585, RFC 9110): 429, `Retry-After` in seconds, and the documents' error body.
fn too_many() -> Response {
    let body = json!({"success": false, "message": "Too many requests"});
    (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "1")], axum::Json(body)).into_response()
}

type Config = State<Arc<AppState>>;

const HTML_PAGE: &str = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>\
<body><h1>Bad Gateway</h1><p>The upstream server returned an invalid response.</p></body></html>";

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"success": false, "message": message}))).into_response()
}

fn html() -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], HTML_PAGE).into_response()
}

fn bearer_ok(headers: &HeaderMap, key: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| given == key)
}

/// `POST /api/bill/inquiry`.
pub async fn inquiry(State(state): Config, headers: HeaderMap, body: Bytes) -> Response {
    state.inquiry_calls.fetch_add(1, Ordering::Relaxed);
    let Some(_serving) = state.admit() else { return too_many() };
    let config = &state.config;
    tokio::time::sleep(config.latency).await;
    if !bearer_ok(&headers, &config.inquiry_key) {
        return error(StatusCode::UNAUTHORIZED, "Invalid API key");
    }
    let Ok(request) = serde_json::from_slice::<InquiryRequest>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "Invalid parameters: serviceCode and reference_client are required",
        );
    };
    let Ok(biller) = request.service_code.parse::<Biller>() else {
        return error(StatusCode::BAD_REQUEST, "Invalid parameters: unknown serviceCode");
    };
    match fixtures::inquiry(biller, request.reference_client.trim()) {
        InquiryFixture::Bills(bills) => {
            let envelope = InquiryEnvelope {
                success: true,
                message: "Bill fetched".to_owned(),
                data: InquiryData { bills },
            };
            axum::Json(envelope).into_response()
        }
        InquiryFixture::Raw(body) => axum::Json(body).into_response(),
        InquiryFixture::NotFound => error(StatusCode::BAD_REQUEST, "Bill not found"),
        InquiryFixture::Unauthorized => error(StatusCode::UNAUTHORIZED, "Invalid API key"),
        InquiryFixture::Maintenance => error(StatusCode::FORBIDDEN, "API under maintenance"),
        InquiryFixture::ServerError => error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
        InquiryFixture::Slow => {
            tokio::time::sleep(config.slow).await;
            error(StatusCode::BAD_REQUEST, "Bill not found")
        }
        InquiryFixture::Garbage => html(),
    }
}

fn status_auth(headers: &HeaderMap, config: &SandboxConfig) -> Option<Response> {
    let merchant_ok =
        headers.get("MerchantId").and_then(|v| v.to_str().ok()) == Some(config.merchant_id.as_str());
    (!bearer_ok(headers, &config.status_key) || !merchant_ok)
        .then(|| error(StatusCode::UNAUTHORIZED, "Unauthorized"))
}

fn not_found() -> Response {
    let body = json!({"success": false, "code": "404", "message": "Transaction not found", "data": null});
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}

/// `GET /bill/status/{orderNo}` (and POST, as in the document's curl sample).
pub async fn status(State(state): Config, headers: HeaderMap, Path(order_no): Path<String>) -> Response {
    let config = &state.config;
    state.status_calls.fetch_add(1, Ordering::Relaxed);
    let Some(_serving) = state.admit() else { return too_many() };
    tokio::time::sleep(config.latency).await;
    if let Some(refused) = status_auth(&headers, config) {
        return refused;
    }
    let Ok(order) = OrderNo::parse(&order_no) else {
        return not_found();
    };
    let fixture = if order.digits() == fixtures::orders::DELIVERED_LATER {
        let first = *state
            .first_asked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(order.digits().to_owned())
            .or_insert_with(tokio::time::Instant::now);
        fixtures::delivered_later(first.elapsed() >= config.deliver_after)
    } else if order.digits().starts_with(fixtures::orders::LOAD_PREFIX) {
        fixtures::load_order(order.digits())
    } else {
        fixtures::status(order.digits())
    };
    match fixture {
        StatusFixture::Verbatim(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        StatusFixture::Order(data) => axum::Json(json!({
            "success": true,
            "code": "00000",
            "message": "Fetched successfully",
            "data": data,
        }))
        .into_response(),
        StatusFixture::NotFound => not_found(),
        StatusFixture::Maintenance => error(StatusCode::FORBIDDEN, "API under maintenance"),
        StatusFixture::ServerError => error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
        StatusFixture::Slow => {
            tokio::time::sleep(config.slow).await;
            not_found()
        }
        StatusFixture::Garbage => html(),
    }
}

/// `GET /bill/history`.
pub async fn history(State(state): Config, headers: HeaderMap) -> Response {
    let Some(_serving) = state.admit() else { return too_many() };
    let config = &state.config;
    tokio::time::sleep(config.latency).await;
    if let Some(refused) = status_auth(&headers, config) {
        return refused;
    }
    let data = fixtures::history();
    axum::Json(json!({
        "success": true,
        "code": "00000",
        "message": "Fetched successfully",
        "data": data,
        "total_count": data.len(),
    }))
    .into_response()
}
