//! The Bill Inquiry client: `POST {url}` with `Authorization: Bearer <key>` and a JSON body.

use reqwest::Url;
use secrecy::SecretString;
use serde_json::Value;

use super::HttpOptions;
use super::error::UpstreamError;
use super::http;
use super::wire::inquiry::{InquiryRequest, WireBill, find_bills};
use crate::domain::{Bill, BillerKind, Currency, CustomerReference, InquiryResult, Meter, Money};

/// A Bill Inquiry client. Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct InquiryClient {
    http: reqwest::Client,
    url: Url,
    key: SecretString,
    opts: HttpOptions,
}

impl std::fmt::Debug for InquiryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InquiryClient").field("url", &self.url.as_str()).finish_non_exhaustive()
    }
}

impl InquiryClient {
    /// `url` is the full URL of the inquiry endpoint: the document does not give its path.
    pub fn new(url: Url, key: SecretString, opts: HttpOptions) -> Result<Self, reqwest::Error> {
        Ok(InquiryClient { http: http::build_client(&opts)?, url, key, opts })
    }

    /// The connection pool, for [`super::StatusClient::sharing_connections_with`].
    pub(crate) fn connections(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Looks up the bills (or the meter) behind a reference.
    ///
    /// An inquiry reads and changes nothing, but it is a POST, so only a connection that was
    /// never made is retried: a gateway error may come after the provider did the work.
    #[tracing::instrument(name = "inquiry", skip_all, fields(reference = %reference.for_log()))]
    pub async fn inquire(&self, reference: &CustomerReference) -> Result<InquiryResult, UpstreamError> {
        super::observed("inquiry", Box::pin(self.call(reference))).await
    }

    async fn call(&self, reference: &CustomerReference) -> Result<InquiryResult, UpstreamError> {
        let body = InquiryRequest {
            service_code: reference.biller().service_code().to_owned(),
            reference_client: reference.as_str().to_owned(),
        };
        let auth = http::bearer(&self.key)
            .map_err(|e| UpstreamError::Unavailable(super::error::Unavailable::Transport(e)))?;
        let started = std::time::Instant::now();
        let result = http::with_retries(&self.opts, false, "inquiry", || async {
            let request = self
                .http
                .post(self.url.clone())
                .header(reqwest::header::AUTHORIZATION, auth.clone())
                .json(&body);
            let (status, bytes) = http::send(request).await?;
            let json = http::read_json(status, &bytes, &[&self.key])?;
            decode(&json, reference, &[&self.key])
        })
        .await;
        match &result {
            Ok(_) => tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "inquiry answered"),
            Err(e) => {
                // The provider's words may quote the reference.
                let error = crate::domain::reference::mask_numbers(&e.to_string());
                tracing::warn!(elapsed_ms = started.elapsed().as_millis() as u64, error, "inquiry failed")
            }
        }
        result
    }
}

/// Reads an answer (`status`, raw `body`) as [`InquiryClient::inquire`] does, for `reference`:
/// what the fuzz targets feed (`billbot::fuzzing`).
#[cfg(feature = "fuzzing")]
pub(crate) fn decode_answer(
    status: reqwest::StatusCode,
    body: &[u8],
    reference: &CustomerReference,
    key: &SecretString,
) -> Result<InquiryResult, UpstreamError> {
    let json = http::read_json(status, body, &[key])?;
    decode(&json, reference, &[key])
}

/// Decodes a success body into the result for `reference`'s biller.
fn decode(
    body: &Value,
    reference: &CustomerReference,
    keys: &[&SecretString],
) -> Result<InquiryResult, UpstreamError> {
    if body.get("success").and_then(Value::as_bool) == Some(false) {
        return Err(UpstreamError::NotFound { message: http::provider_message(body, keys) });
    }
    let raw = find_bills(body)
        .ok_or_else(|| UpstreamError::Unreadable("no bills[] array in the answer".to_owned()))?;
    let bills: Vec<WireBill> = raw
        .iter()
        .map(|b| serde_json::from_value(b.clone()))
        .collect::<Result<_, _>>()
        // serde quotes the value it could not read: the provider's text, scrubbed of the key.
        .map_err(|e| {
            UpstreamError::Unreadable(http::scrub(&format!("a bill could not be read: {e}"), keys))
        })?;
    let Some(first) = bills.first() else {
        return Err(UpstreamError::NotFound { message: None });
    };
    let reference = reference.clone();
    Ok(match reference.biller().kind() {
        BillerKind::Prepaid => InquiryResult::Meter {
            meter: Meter {
                meter_number: first.reference_client.clone(),
                holder: first.nom.clone(),
                address: first.address.clone(),
                status: first.meter_status.clone(),
                session: first.reference_facture.clone(),
            },
            reference,
        },
        BillerKind::Postpaid => {
            InquiryResult::Bills { bills: bills.iter().map(to_bill).collect::<Result<_, _>>()?, reference }
        }
    })
}

fn to_bill(wire: &WireBill) -> Result<Bill, UpstreamError> {
    let xof = |d| Money::new(d, Currency::Xof);
    let amount = wire
        .montant
        .map(xof)
        .ok_or_else(|| UpstreamError::Unreadable("a bill has no amount (montant)".to_owned()))?;
    let fee = wire.frais.map(xof).unwrap_or(Money::zero(Currency::Xof));
    let total = match wire.total {
        Some(t) => xof(t),
        None => amount
            .checked_add(&fee)
            .ok_or_else(|| UpstreamError::Unreadable("a bill's amount and fee do not add up".to_owned()))?,
    };
    // A bill is an amount to pay: a negative figure is no bill billbot can show.
    if [amount, fee, total].iter().any(|m| m.amount().is_sign_negative() && !m.is_zero()) {
        return Err(UpstreamError::Unreadable("a bill with a negative amount".to_owned()));
    }
    Ok(Bill {
        bill_reference: wire.reference_facture.clone(),
        holder: wire.nom.clone(),
        amount,
        fee,
        total,
        due_date: wire.date_echeance.clone(),
        paid: wire.paid.unwrap_or(false),
    })
}
