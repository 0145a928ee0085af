//! Bill-status wire format: `GET {base}/bill/status/{orderNo}` and `GET {base}/bill/history`, both
//! answering `{success, code, message, data}`; the history adds `total_count`.
//!
//! The document's curl sample says `-X POST` but its text says GET: GET is what billbot sends and
//! what the sandbox serves. The document shows no not-found answer; billbot takes any
//! `success: false` body (with any HTTP status) as "no such order", and the sandbox answers an
//! unknown order with 404 and `{"success":false,"code":"404","message":"Transaction not found","data":null}`.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::lenient;

/// The envelope of both endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub success: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub code: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub message: Option<String>,
    #[serde(default = "none")]
    pub data: Option<T>,
    #[serde(default, deserialize_with = "lenient::opt_u64", skip_serializing_if = "Option::is_none")]
    pub total_count: Option<u64>,
}

fn none<T>() -> Option<T> {
    None
}

/// `data` of `/bill/status/{orderNo}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WireStatus {
    #[serde(deserialize_with = "lenient::opt_string")]
    pub trx: Option<String>,
    #[serde(rename = "orderNo", deserialize_with = "lenient::opt_string")]
    pub order_no: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub reference: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub status: Option<String>,
    #[serde(rename = "errorMsg", deserialize_with = "lenient::opt_string")]
    pub error_msg: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub service_type: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub channel: Option<String>,
    pub bill: Option<WireStatusBill>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub created_at: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub updated_at: Option<String>,
}

/// `data.bill` of `/bill/status/{orderNo}`: the money and the merchant's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WireStatusBill {
    #[serde(deserialize_with = "lenient::opt_string")]
    pub provider: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub recipient: Option<String>,
    #[serde(flatten)]
    pub money: WireMoney,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub purchased_code: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub units: Option<String>,
    #[serde(deserialize_with = "lenient::opt_bool")]
    pub refunded: Option<bool>,
}

/// The amounts both endpoints carry, all strings on the wire.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WireMoney {
    #[serde(deserialize_with = "lenient::opt_decimal", serialize_with = "lenient::ser_decimal_string")]
    pub amount: Option<Decimal>,
    #[serde(deserialize_with = "lenient::opt_decimal", serialize_with = "lenient::ser_decimal_string")]
    pub discount: Option<Decimal>,
    #[serde(deserialize_with = "lenient::opt_decimal", serialize_with = "lenient::ser_decimal_string")]
    pub fee: Option<Decimal>,
    #[serde(deserialize_with = "lenient::opt_decimal", serialize_with = "lenient::ser_decimal_string")]
    pub voucher: Option<Decimal>,
    #[serde(deserialize_with = "lenient::opt_decimal", serialize_with = "lenient::ser_decimal_string")]
    pub paid: Option<Decimal>,
    #[serde(deserialize_with = "lenient::opt_decimal", serialize_with = "lenient::ser_decimal_string")]
    pub init_bal: Option<Decimal>,
    #[serde(deserialize_with = "lenient::opt_decimal", serialize_with = "lenient::ser_decimal_string")]
    pub new_bal: Option<Decimal>,
    #[serde(deserialize_with = "lenient::opt_decimal", serialize_with = "lenient::ser_decimal_string")]
    pub cg: Option<Decimal>,
    #[serde(deserialize_with = "lenient::opt_decimal", serialize_with = "lenient::ser_decimal_string")]
    pub init_cg: Option<Decimal>,
    #[serde(deserialize_with = "lenient::opt_decimal", serialize_with = "lenient::ser_decimal_string")]
    pub new_cg: Option<Decimal>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub debit: Option<String>,
}

/// One element of `/bill/history`'s `data`: the same facts, flat.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WireHistoryItem {
    #[serde(deserialize_with = "lenient::opt_u64")]
    pub id: Option<u64>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub service_type: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub provider: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub recipient: Option<String>,
    #[serde(flatten)]
    pub money: WireMoney,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub trx: Option<String>,
    #[serde(rename = "ref", deserialize_with = "lenient::opt_string")]
    pub reference: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub api_req_id: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub channel: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub purchased_code: Option<String>,
    pub cards: Option<Value>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub units: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub status: Option<String>,
    #[serde(rename = "errorMsg", deserialize_with = "lenient::opt_string")]
    pub error_msg: Option<String>,
    #[serde(deserialize_with = "lenient::opt_bool")]
    pub refunded: Option<bool>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub created_at: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub updated_at: Option<String>,
}
