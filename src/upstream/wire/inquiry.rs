//! Bill Inquiry wire format: `POST {url}` with `{serviceCode, reference_client}`.
//!
//! The document leaves the success envelope unstated. The client accepts the `bills[]` array at
//! the top level of the body, under a `bills` key, under a `data` key, or under `data.bills`
//! ([`find_bills`]); the sandbox answers `{"success":true,"message":…,"data":{"bills":[…]}}`.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::lenient;

/// The request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InquiryRequest {
    #[serde(rename = "serviceCode")]
    pub service_code: String,
    pub reference_client: String,
}

/// One element of `bills[]`. For Woyofal, `bills[0]` is the meter (`montant` 0).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WireBill {
    #[serde(rename = "referenceClient", deserialize_with = "lenient::opt_string")]
    pub reference_client: Option<String>,
    #[serde(rename = "referenceFacture", deserialize_with = "lenient::opt_string")]
    pub reference_facture: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub nom: Option<String>,
    #[serde(deserialize_with = "lenient::opt_decimal", serialize_with = "lenient::ser_decimal_number")]
    pub montant: Option<Decimal>,
    #[serde(deserialize_with = "lenient::opt_decimal", serialize_with = "lenient::ser_decimal_number")]
    pub frais: Option<Decimal>,
    #[serde(deserialize_with = "lenient::opt_decimal", serialize_with = "lenient::ser_decimal_number")]
    pub total: Option<Decimal>,
    #[serde(
        rename = "dateEcheance",
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub date_echeance: Option<String>,
    #[serde(deserialize_with = "lenient::opt_bool")]
    pub paid: Option<bool>,
    #[serde(deserialize_with = "lenient::opt_string", skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(
        rename = "meterStatus",
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub meter_status: Option<String>,
}

/// The envelope the sandbox sends.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InquiryEnvelope {
    pub success: bool,
    pub message: String,
    pub data: InquiryData,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InquiryData {
    pub bills: Vec<WireBill>,
}

/// The body of an error answer (400/401/403), as far as one is sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorBody {
    pub success: bool,
    pub message: String,
}

/// Where the `bills[]` array sits in a success body, if anywhere.
pub fn find_bills(body: &Value) -> Option<&Vec<Value>> {
    match body {
        Value::Array(bills) => Some(bills),
        Value::Object(map) => match (map.get("bills"), map.get("data")) {
            (Some(Value::Array(bills)), _) => Some(bills),
            (_, Some(Value::Array(bills))) => Some(bills),
            (_, Some(data @ Value::Object(_))) => match data.get("bills") {
                Some(Value::Array(bills)) => Some(bills),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    }
}
