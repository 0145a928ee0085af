//! The bill-status client against a mock HTTP server: the document's samples, path encoding,
//! headers, payload quirks, error kinds and safe retries.

mod common;

use billbot::domain::{OrderStatus, reference::mask_tail};
use billbot::upstream::error::Unavailable;
use billbot::upstream::{ErrorKind, UpstreamError};
use common::*;
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const STATUS_SAMPLE: &str = include_str!("../src/sandbox/samples/status.json");
const HISTORY_SAMPLE: &str = include_str!("../src/sandbox/samples/history.json");
const ENCODED_PATH: &str = "/bill/status/GB%20-%20202206132206791818205";

#[tokio::test]
async fn the_documented_sample_decodes_with_spaces_percent_encoded_and_both_headers_sent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(ENCODED_PATH))
        .and(header("authorization", format!("Bearer {STATUS_KEY}").as_str()))
        .and(header("merchantid", MERCHANT))
        .respond_with(ResponseTemplate::new(200).set_body_raw(STATUS_SAMPLE, "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    let client = status_client(&server.uri());
    assert!(client.status_url(&order("gb-202206132206791818205")).as_str().ends_with(ENCODED_PATH));
    let o = client.status(&order(" gb 202206132206791818205 ")).await.unwrap();
    assert_eq!(o.order_no.as_ref().map(|o| o.to_string()).as_deref(), Some("GB - 202206132206791818205"));
    assert_eq!(o.status, OrderStatus::Succeeded);
    assert_eq!(o.provider_status, "delivered");
    assert_eq!(o.provider.as_deref(), Some("MTN"));
    assert_eq!(o.recipient.as_deref(), Some("07025150008"));
    assert_eq!(o.amount.unwrap().amount(), 500.into(), "\"500.00\" read exactly");
    assert_eq!(o.merchant.paid.unwrap().amount(), 490.into());
    assert_eq!(o.merchant.discount.unwrap().amount(), 10.into());
    assert_eq!(o.merchant.init_bal.unwrap().amount().to_string(), "95758.28");
    assert_eq!(o.merchant.channel.as_deref(), Some("WEBSITE"));
    assert!(!o.refunded, "refunded: false");
    assert_eq!(o.reference, None);
    assert_eq!(o.service_type, None);
    assert_eq!(o.created_at.unwrap().to_rfc3339(), "2022-06-13T21:06:57+00:00");
    assert_eq!(mask_tail(o.recipient.as_deref().unwrap(), 4), "•••••••0008");
}

#[tokio::test]
async fn a_base_url_with_a_path_keeps_it() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v2{ENCODED_PATH}")))
        .respond_with(ResponseTemplate::new(200).set_body_raw(STATUS_SAMPLE, "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    let client = status_client(&format!("{}/api/v2/", server.uri()));
    assert!(client.status(&order("202206132206791818205")).await.is_ok());
}

#[tokio::test]
async fn the_documented_history_decodes_every_quirk() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/bill/history"))
        .and(header("merchantid", MERCHANT))
        .respond_with(ResponseTemplate::new(200).set_body_raw(HISTORY_SAMPLE, "application/json"))
        .mount(&server)
        .await;
    let history = status_client(&server.uri()).history().await.unwrap();
    assert_eq!(history.total_count, Some(3));
    let statuses: Vec<_> = history.orders.iter().map(|o| o.status).collect();
    assert_eq!(statuses, vec![OrderStatus::Succeeded; 3], "delivered, SUCCESS, delivered");
    let third = &history.orders[2];
    assert_eq!(third.order_no.as_ref().unwrap().to_string(), "GB - 2022062913471514250236", "ref with GB");
    assert_eq!(third.amount.unwrap().amount(), 250.into());
    assert_eq!(third.merchant.new_bal.unwrap().amount().to_string(), "7045.78");
    let second = &history.orders[1];
    assert_eq!(second.order_no.as_ref().unwrap().digits(), "16383454911605187576", "known by trx");
    assert_eq!(second.reference.as_deref(), Some("211201134044913462"), "plain ref is the reseller's");
    assert_eq!(second.provider_status, "SUCCESS");
    assert_eq!(second.message, None);
}

#[tokio::test]
async fn refunded_as_one_or_as_text_wins_over_delivered() {
    for flag in [json!(1), json!("1"), json!(true), json!("true")] {
        let server = MockServer::start().await;
        let body = json!({"success": true, "data": {"orderNo": "GB - 202206132206791818205",
            "status": "delivered", "bill": {"amount": 100, "refunded": flag}}});
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;
        let o = status_client(&server.uri()).status(&order("202206132206791818205")).await.unwrap();
        assert_eq!(o.status, OrderStatus::Refunded, "refunded = {flag}");
        assert_eq!(o.amount.unwrap().amount(), 100.into(), "an amount as a number");
    }
}

#[tokio::test]
async fn success_false_or_a_json_404_is_not_found() {
    let answers = [
        ResponseTemplate::new(200)
            .set_body_json(json!({"success": false, "message": "Transaction not found"})),
        ResponseTemplate::new(404)
            .set_body_json(json!({"success": false, "message": "Transaction not found"})),
        ResponseTemplate::new(200).set_body_json(json!({"success": true, "data": null})),
        ResponseTemplate::new(400).set_body_json(json!({"message": "Invalid order"})),
    ];
    for answer in answers {
        let server = MockServer::start().await;
        Mock::given(method("GET")).respond_with(answer).mount(&server).await;
        let err = status_client(&server.uri()).status(&order("202206132206791818205")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
    }
}

#[tokio::test]
async fn status_401_403_and_html_map_to_their_kinds() {
    let cases = [
        (ResponseTemplate::new(401), ErrorKind::Unauthorized),
        (ResponseTemplate::new(403), ErrorKind::Maintenance),
        (
            ResponseTemplate::new(200).set_body_raw("<!DOCTYPE html><p>oops</p>", "text/html"),
            ErrorKind::Unreadable,
        ),
        (ResponseTemplate::new(200).set_body_json(json!([1, 2])), ErrorKind::Unreadable),
        (
            ResponseTemplate::new(200).set_body_json(json!({"success": true, "data": {"bill": "x"}})),
            ErrorKind::Unreadable,
        ),
        (ResponseTemplate::new(429), ErrorKind::Unavailable),
    ];
    for (answer, kind) in cases {
        let server = MockServer::start().await;
        Mock::given(method("GET")).respond_with(answer).mount(&server).await;
        let err = status_client(&server.uri()).status(&order("202206132206791818205")).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
    }
}

#[tokio::test]
async fn a_gateway_error_on_a_get_is_retried_and_the_retry_can_succeed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(STATUS_SAMPLE, "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    let o = status_client(&server.uri()).status(&order("202206132206791818205")).await.unwrap();
    assert_eq!(o.status, OrderStatus::Succeeded);
}

#[tokio::test]
async fn retries_are_bounded_and_a_plain_500_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(503)).expect(3).mount(&server).await;
    let err = status_client(&server.uri()).status(&order("202206132206791818205")).await.unwrap_err();
    assert_eq!(err, UpstreamError::Unavailable(Unavailable::Status(503)));
    drop(server); // verifies: 1 attempt + 2 retries

    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(500)).expect(1).mount(&server).await;
    let err = status_client(&server.uri()).status(&order("202206132206791818205")).await.unwrap_err();
    assert_eq!(err, UpstreamError::Unavailable(Unavailable::Status(500)));
}

#[tokio::test]
async fn a_refused_connection_is_unavailable() {
    let err = status_client(&closed_port_url()).history().await.unwrap_err();
    assert_eq!(err, UpstreamError::Unavailable(Unavailable::Connect));
}

#[tokio::test]
async fn no_error_text_contains_the_key() {
    let server = MockServer::start().await;
    let echo = json!({"success": false, "message": format!("bad token {STATUS_KEY}")});
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404).set_body_json(echo))
        .mount(&server)
        .await;
    let err = status_client(&server.uri()).status(&order("202206132206791818205")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(!format!("{err} {err:?}").contains(STATUS_KEY));
    assert!(format!("{err}").contains("[redacted]"));
}
