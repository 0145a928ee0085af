//! The bill-status client: `GET {base}/bill/status/{orderNo}` and `GET {base}/bill/history`, with
//! `Authorization: Bearer <key>` and `MerchantId: <id>`.

use chrono::{DateTime, NaiveDateTime, Utc};
use reqwest::Url;
use reqwest::header::HeaderValue;
use rust_decimal::Decimal;
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::HttpOptions;
use super::error::{Unavailable, UpstreamError};
use super::http;
use super::wire::status::{Envelope, WireHistoryItem, WireMoney, WireStatus};
use crate::domain::{Currency, MerchantFields, Money, Order, OrderNo, OrderStatus};

/// A bill-status client. Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct StatusClient {
    http: reqwest::Client,
    base: Url,
    key: SecretString,
    merchant_id: HeaderValue,
    currency: Currency,
    opts: HttpOptions,
}

impl std::fmt::Debug for StatusClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusClient").field("base", &self.base.as_str()).finish_non_exhaustive()
    }
}

/// The merchant's transactions, newest first as the provider sends them.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    pub orders: Vec<Order>,
    /// `total_count`, when sent.
    pub total_count: Option<u64>,
}

/// Why a status client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StatusClientError {
    #[error("the merchant id cannot be sent in an HTTP header")]
    BadMerchantId,
    #[error("the status URL cannot be a base URL: {0}")]
    BadBase(String),
    #[error("the HTTP client could not be built: {0}")]
    Http(#[from] reqwest::Error),
}

impl StatusClient {
    /// `base` is the API's base URL; `currency` is the one the provider's amounts are in (the
    /// document does not say, so it is configuration).
    pub fn new(
        base: Url,
        key: SecretString,
        merchant_id: &str,
        currency: Currency,
        opts: HttpOptions,
    ) -> Result<Self, StatusClientError> {
        if base.cannot_be_a_base() {
            return Err(StatusClientError::BadBase(base.to_string()));
        }
        let merchant_id = HeaderValue::from_str(merchant_id).map_err(|_| StatusClientError::BadMerchantId)?;
        Ok(StatusClient { http: http::build_client(&opts)?, base, key, merchant_id, currency, opts })
    }

    /// This client, sending through `inquiry`'s connections: the two APIs are one provider's,
    /// usually on one host, and one pool keeps one connection per call in flight rather than one
    /// per call in flight per API (a burst otherwise holds twice the sockets and their buffers).
    /// Both clients are built with the same [`HttpOptions`], so the timeouts are the same.
    pub fn sharing_connections_with(self, inquiry: &super::InquiryClient) -> StatusClient {
        StatusClient { http: inquiry.connections().clone(), ..self }
    }

    /// This client, making each call once: for a caller that paces its calls and retries on its
    /// own schedule (the tracker), so that no call escapes its pacing.
    pub fn without_retries(&self) -> StatusClient {
        StatusClient { opts: HttpOptions { retries: 0, ..self.opts.clone() }, ..self.clone() }
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The URL of `{base}/bill/status/{orderNo}`, the order number in its canonical form
    /// (`GB - 2022…`) percent-encoded as one path segment (`GB%20-%202022…`).
    pub fn status_url(&self, order: &OrderNo) -> Url {
        self.endpoint(&["bill", "status", &order.to_string()])
    }

    fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        // Checked in `new`: the base can be a base, so this cannot fail.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// One order's status.
    #[tracing::instrument(name = "status", skip_all, fields(order = %order))]
    pub async fn status(&self, order: &OrderNo) -> Result<Order, UpstreamError> {
        let envelope: Envelope<WireStatus> =
            super::observed("status", Box::pin(self.get(self.status_url(order), "status"))).await?;
        let data = envelope.data.ok_or(UpstreamError::NotFound { message: None })?;
        Ok(self.order_from_status(data))
    }

    /// The merchant's transaction history. The document defines no paging parameters, so the
    /// whole list is fetched and callers page through it.
    #[tracing::instrument(name = "history", skip_all)]
    pub async fn history(&self) -> Result<History, UpstreamError> {
        let url = self.endpoint(&["bill", "history"]);
        let envelope: Envelope<Vec<WireHistoryItem>> =
            super::observed("history", Box::pin(self.get(url, "history"))).await?;
        let orders =
            envelope.data.unwrap_or_default().into_iter().map(|i| self.order_from_history(i)).collect();
        Ok(History { orders, total_count: envelope.total_count })
    }

    /// Reads a status answer (`status`, raw `body`) as [`StatusClient::status`] does: what the
    /// fuzz targets feed (`billbot::fuzzing`).
    #[cfg(feature = "fuzzing")]
    pub(crate) fn decode_status(
        &self,
        status: reqwest::StatusCode,
        body: &[u8],
    ) -> Result<Order, UpstreamError> {
        let json = http::read_json(status, body, &[&self.key])?;
        let envelope: Envelope<WireStatus> = self.decode_envelope(json)?;
        let data = envelope.data.ok_or(UpstreamError::NotFound { message: None })?;
        Ok(self.order_from_status(data))
    }

    /// Reads a history answer as [`StatusClient::history`] does (for `billbot::fuzzing`).
    #[cfg(feature = "fuzzing")]
    pub(crate) fn decode_history(
        &self,
        status: reqwest::StatusCode,
        body: &[u8],
    ) -> Result<History, UpstreamError> {
        let json = http::read_json(status, body, &[&self.key])?;
        let envelope: Envelope<Vec<WireHistoryItem>> = self.decode_envelope(json)?;
        let orders =
            envelope.data.unwrap_or_default().into_iter().map(|i| self.order_from_history(i)).collect();
        Ok(History { orders, total_count: envelope.total_count })
    }

    /// GETs are idempotent: gateway errors are retried too.
    async fn get<T: DeserializeOwned>(
        &self,
        url: Url,
        what: &'static str,
    ) -> Result<Envelope<T>, UpstreamError> {
        let auth =
            http::bearer(&self.key).map_err(|e| UpstreamError::Unavailable(Unavailable::Transport(e)))?;
        let started = std::time::Instant::now();
        let result = http::with_retries(&self.opts, true, what, || async {
            let request = self
                .http
                .get(url.clone())
                .header(reqwest::header::AUTHORIZATION, auth.clone())
                .header("MerchantId", self.merchant_id.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json");
            let (status, bytes) = http::send(request).await?;
            let json = http::read_json(status, &bytes, &[&self.key])?;
            self.decode_envelope(json)
        })
        .await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(_) => tracing::info!(elapsed_ms, "{what} answered"),
            Err(e) => {
                // The provider's words may quote a customer's number.
                let error = crate::domain::reference::mask_numbers(&e.to_string());
                tracing::warn!(elapsed_ms, error, "{what} failed")
            }
        }
        result
    }

    fn decode_envelope<T: DeserializeOwned>(&self, json: Value) -> Result<Envelope<T>, UpstreamError> {
        if !json.is_object() {
            return Err(UpstreamError::Unreadable("the answer is not a JSON object".to_owned()));
        }
        if json.get("success").and_then(Value::as_bool) == Some(false) {
            return Err(UpstreamError::NotFound { message: http::provider_message(&json, &[&self.key]) });
        }
        // serde quotes the value it could not read: the provider's text, scrubbed of the key.
        serde_json::from_value(json).map_err(|e| {
            UpstreamError::Unreadable(http::scrub(&format!("unexpected fields: {e}"), &[&self.key]))
        })
    }

    fn money(&self, value: Option<Decimal>) -> Option<Money> {
        value.map(|d| Money::new(d, self.currency))
    }

    fn merchant(&self, money: &WireMoney, channel: Option<String>) -> MerchantFields {
        MerchantFields {
            paid: self.money(money.paid),
            discount: self.money(money.discount),
            voucher: self.money(money.voucher),
            init_bal: self.money(money.init_bal),
            new_bal: self.money(money.new_bal),
            cg: self.money(money.cg),
            init_cg: self.money(money.init_cg),
            new_cg: self.money(money.new_cg),
            debit: money.debit.clone(),
            channel,
        }
    }

    fn order_from_status(&self, data: WireStatus) -> Order {
        let bill = data.bill.unwrap_or_default();
        let refunded = bill.refunded.unwrap_or(false);
        let provider_status = data.status.unwrap_or_default();
        Order {
            order_no: data
                .order_no
                .as_deref()
                .and_then(|o| OrderNo::parse(o).ok())
                .or_else(|| trx_order(&data.trx)),
            trx: data.trx,
            reference: data.reference,
            status: OrderStatus::from_provider(&provider_status, refunded),
            provider_status,
            message: data.error_msg,
            service_type: data.service_type,
            provider: bill.provider,
            recipient: bill.recipient,
            amount: self.money(bill.money.amount),
            fee: self.money(bill.money.fee),
            purchased_code: bill.purchased_code,
            units: bill.units,
            refunded,
            created_at: parse_time(data.created_at.as_deref()),
            updated_at: parse_time(data.updated_at.as_deref()),
            merchant: self.merchant(&bill.money, data.channel),
        }
    }

    /// History items have no `orderNo`: their `ref` is the order number when it has the `GB`
    /// prefix (as in the document's third sample); otherwise `ref` is the reseller's reference
    /// and the order is known by its `trx`.
    fn order_from_history(&self, item: WireHistoryItem) -> Order {
        let refunded = item.refunded.unwrap_or(false);
        let provider_status = item.status.unwrap_or_default();
        let ref_order =
            item.reference.as_deref().filter(|r| OrderNo::looks_like(r)).and_then(|r| OrderNo::parse(r).ok());
        let reference = if ref_order.is_some() { None } else { item.reference };
        Order {
            order_no: ref_order.or_else(|| trx_order(&item.trx)),
            trx: item.trx,
            reference,
            status: OrderStatus::from_provider(&provider_status, refunded),
            provider_status,
            message: item.error_msg,
            service_type: item.service_type,
            provider: item.provider,
            recipient: item.recipient,
            amount: self.money(item.money.amount),
            fee: self.money(item.money.fee),
            purchased_code: item.purchased_code,
            units: item.units,
            refunded,
            created_at: parse_time(item.created_at.as_deref()),
            updated_at: parse_time(item.updated_at.as_deref()),
            merchant: self.merchant(&item.money, item.channel),
        }
    }
}

fn trx_order(trx: &Option<String>) -> Option<OrderNo> {
    trx.as_deref().and_then(|t| OrderNo::parse(t).ok())
}

/// The provider's timestamps (`2022-06-13T21:06:57.000000Z`), or the same without a zone, taken
/// as UTC. Dakar is on UTC all year, so UTC is also the customers' local time.
fn parse_time(text: Option<&str>) -> Option<DateTime<Utc>> {
    let text = text?.trim();
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").ok().map(|n| n.and_utc()))
}
