//! The Bill Inquiry client against a mock HTTP server: request shape, envelopes, payload quirks,
//! every error kind, retries, and keys kept out of errors.

mod common;

use std::time::Duration;

use billbot::domain::{Biller, InquiryResult};
use billbot::upstream::error::Unavailable;
use billbot::upstream::{ErrorKind, UpstreamError};
use common::*;
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PATH: &str = "/v1/bills/inquiry";

async fn server_answering(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path(PATH)).respond_with(response).mount(&server).await;
    server
}

fn url(server: &MockServer) -> String {
    format!("{}{PATH}", server.uri())
}

fn one_bill() -> serde_json::Value {
    json!({
        "referenceClient": "1000000001", "referenceFacture": "F-1", "nom": "Moussa Diop",
        "montant": 12500, "frais": 100, "total": 12600, "dateEcheance": "2026-12-15", "paid": false
    })
}

async fn inquire(
    server: &MockServer,
    biller: Biller,
    reference_text: &str,
) -> Result<InquiryResult, UpstreamError> {
    inquiry_client(&url(server)).inquire(&reference(biller, reference_text)).await
}

#[tokio::test]
async fn the_request_is_a_post_with_bearer_key_and_the_documented_json_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .and(header("authorization", format!("Bearer {INQUIRY_KEY}").as_str()))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({"serviceCode": "SENELEC_SN_BILL", "reference_client": "1000000001"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([one_bill()])))
        .expect(1)
        .mount(&server)
        .await;
    let result = inquire(&server, Biller::Senelec, "10-0000-0001").await.unwrap();
    let InquiryResult::Bills { bills, reference } = result else { panic!("postpaid gives bills") };
    assert_eq!(reference.as_str(), "1000000001");
    assert_eq!(bills.len(), 1);
    assert_eq!(bills[0].amount.amount(), 12500.into());
    assert_eq!(bills[0].fee.amount(), 100.into());
    assert_eq!(bills[0].total.amount(), 12600.into());
    assert_eq!(bills[0].holder.as_deref(), Some("Moussa Diop"));
    assert_eq!(bills[0].bill_reference.as_deref(), Some("F-1"));
    assert_eq!(bills[0].due_date.as_deref(), Some("2026-12-15"));
    assert!(!bills[0].paid);
}

#[tokio::test]
async fn bills_are_found_at_the_top_level_under_bills_under_data_or_under_data_bills() {
    let envelopes = [
        json!([one_bill()]),
        json!({"bills": [one_bill()]}),
        json!({"success": true, "data": [one_bill()]}),
        json!({"success": true, "message": "ok", "data": {"bills": [one_bill()]}}),
    ];
    for body in envelopes {
        let server = server_answering(ResponseTemplate::new(200).set_body_json(&body)).await;
        let result = inquire(&server, Biller::SenEau, "1000000001").await;
        assert!(
            matches!(&result, Ok(InquiryResult::Bills { bills, .. }) if bills.len() == 1),
            "{body}: {result:?}"
        );
    }
}

#[tokio::test]
async fn loose_typing_is_tolerated_numbers_as_strings_nulls_flags_as_numbers_and_extra_fields() {
    let body = json!({"data": {"bills": [
        {"referenceClient": 1000000001u64, "referenceFacture": null, "nom": null, "montant": "12500",
         "frais": "100.00", "total": null, "dateEcheance": null, "paid": 0, "surprise": [1, 2]},
        {"montant": 5000.0, "paid": "1", "frais": null},
        {"montant": "7 000", "paid": true}
    ]}});
    let server = server_answering(ResponseTemplate::new(200).set_body_json(&body)).await;
    let err = inquire(&server, Biller::Senelec, "1000000001").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreadable, "an amount with a space inside is not guessed at: {err}");

    let body = json!({"data": {"bills": [
        {"referenceClient": 1000000001u64, "referenceFacture": null, "nom": null, "montant": "12500",
         "frais": "100.00", "total": null, "dateEcheance": null, "paid": 0, "surprise": [1, 2]},
        {"montant": 5000.0, "paid": "1", "frais": null}
    ]}});
    let server = server_answering(ResponseTemplate::new(200).set_body_json(&body)).await;
    let InquiryResult::Bills { bills, .. } = inquire(&server, Biller::Senelec, "1000000001").await.unwrap()
    else {
        panic!("bills expected")
    };
    assert_eq!(bills[0].amount.amount(), 12500.into());
    assert_eq!(bills[0].total.amount(), 12600.into(), "a missing total is amount + fee");
    assert_eq!(bills[0].holder, None);
    assert!(!bills[0].paid);
    assert_eq!(bills[1].amount.amount(), 5000.into());
    assert_eq!(bills[1].fee.amount(), 0.into());
    assert!(bills[1].paid);
}

#[tokio::test]
async fn a_woyofal_answer_is_a_meter_with_status_address_and_holder() {
    let body = json!({"bills": [{
        "referenceClient": "14000000001", "referenceFacture": "SESSION-1", "nom": "Awa Sarr",
        "montant": 0, "frais": 0, "total": 0, "address": "Dakar", "meterStatus": "ACTIVE"
    }]});
    let server = server_answering(ResponseTemplate::new(200).set_body_json(&body)).await;
    let InquiryResult::Meter { meter, .. } = inquire(&server, Biller::Woyofal, "14000000001").await.unwrap()
    else {
        panic!("a meter expected")
    };
    assert_eq!(meter.status.as_deref(), Some("ACTIVE"));
    assert_eq!(meter.address.as_deref(), Some("Dakar"));
    assert_eq!(meter.holder.as_deref(), Some("Awa Sarr"));
    assert_eq!(meter.session.as_deref(), Some("SESSION-1"));
}

#[tokio::test]
async fn status_400_is_not_found_with_the_provider_message() {
    let body = json!({"success": false, "message": "Bill not found"});
    let server = server_answering(ResponseTemplate::new(400).set_body_json(body)).await;
    let err = inquire(&server, Biller::SenEau, "1000000001").await.unwrap_err();
    assert_eq!(err, UpstreamError::NotFound { message: Some("Bill not found".into()) });
}

#[tokio::test]
async fn an_empty_bills_array_or_success_false_is_not_found() {
    for body in [json!({"bills": []}), json!({"success": false, "message": "Référence inconnue"})] {
        let server = server_answering(ResponseTemplate::new(200).set_body_json(&body)).await;
        let err = inquire(&server, Biller::SenEau, "1000000001").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{body}");
    }
}

#[tokio::test]
async fn status_401_is_unauthorized_403_is_maintenance() {
    let server = server_answering(ResponseTemplate::new(401)).await;
    assert_eq!(
        inquire(&server, Biller::SenEau, "1000000001").await.unwrap_err(),
        UpstreamError::Unauthorized
    );
    let server = server_answering(ResponseTemplate::new(403).set_body_string("maintenance")).await;
    assert_eq!(inquire(&server, Biller::SenEau, "1000000001").await.unwrap_err(), UpstreamError::Maintenance);
}

#[tokio::test]
async fn server_errors_are_unavailable_and_a_post_is_not_retried_after_reaching_the_provider() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(503)).expect(1).mount(&server).await;
    let err = inquire(&server, Biller::SenEau, "1000000001").await.unwrap_err();
    assert_eq!(err, UpstreamError::Unavailable(Unavailable::Status(503)));
}

#[tokio::test]
async fn a_slow_provider_times_out_as_unavailable() {
    let slow =
        ResponseTemplate::new(200).set_body_json(json!([one_bill()])).set_delay(Duration::from_secs(3));
    let server = server_answering(slow).await;
    let started = std::time::Instant::now();
    let err = inquire(&server, Biller::SenEau, "1000000001").await.unwrap_err();
    assert_eq!(err, UpstreamError::Unavailable(Unavailable::Timeout));
    assert!(started.elapsed() < Duration::from_secs(3), "the timeout cut the wait short");
}

#[tokio::test]
async fn a_refused_connection_is_unavailable() {
    let client = inquiry_client(&format!("{}{PATH}", closed_port_url()));
    let err = client.inquire(&reference(Biller::SenEau, "1000000001")).await.unwrap_err();
    assert_eq!(err, UpstreamError::Unavailable(Unavailable::Connect));
}

#[tokio::test]
async fn an_html_page_with_status_200_is_unreadable() {
    let html = ResponseTemplate::new(200).set_body_raw("<html><body>Bad gateway</body></html>", "text/html");
    let server = server_answering(html).await;
    let err = inquire(&server, Biller::SenEau, "1000000001").await.unwrap_err();
    assert_eq!(err, UpstreamError::Unreadable("an HTML page instead of JSON".into()));
}

#[tokio::test]
async fn json_without_bills_or_with_a_malformed_bill_is_unreadable() {
    for body in [json!({"result": "ok"}), json!({"bills": [{"montant": {"value": 1}}]}), json!("text")] {
        let server = server_answering(ResponseTemplate::new(200).set_body_json(&body)).await;
        let err = inquire(&server, Biller::SenEau, "1000000001").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unreadable, "{body}");
    }
}

#[tokio::test]
async fn a_404_html_page_means_a_wrong_url_and_is_unavailable_not_not_found() {
    let server = server_answering(ResponseTemplate::new(404).set_body_string("<h1>Not Found</h1>")).await;
    let err = inquire(&server, Biller::SenEau, "1000000001").await.unwrap_err();
    assert_eq!(err, UpstreamError::Unavailable(Unavailable::Status(404)));
}

#[tokio::test]
async fn no_error_text_ever_contains_the_api_key_even_when_the_provider_echoes_it() {
    let echo = json!({"success": false, "message": format!("Invalid key Bearer {INQUIRY_KEY} for merchant")});
    for response in [
        ResponseTemplate::new(400).set_body_json(&echo),
        ResponseTemplate::new(200).set_body_json(&echo),
        ResponseTemplate::new(401).set_body_json(&echo),
        ResponseTemplate::new(500).set_body_json(&echo),
        ResponseTemplate::new(200).set_body_string(format!("<html>{INQUIRY_KEY}</html>")),
    ] {
        let server = server_answering(response).await;
        let err = inquire(&server, Biller::SenEau, "1000000001").await.unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains(INQUIRY_KEY), "key leaked: {text}");
    }
    let client = inquiry_client("http://127.0.0.1:9/x");
    assert!(!format!("{client:?}").contains(INQUIRY_KEY));
}

#[tokio::test]
async fn an_answer_over_a_mebibyte_is_not_read_and_is_unreadable() {
    // A list of bills that goes on and on: a broken or hostile provider must not fill memory.
    let bill = one_bill();
    let many: Vec<_> = (0..8_000).map(|_| bill.clone()).collect();
    let body = serde_json::to_vec(&json!({ "bills": many })).unwrap();
    assert!(body.len() > 1024 * 1024, "{}", body.len());
    let server = server_answering(ResponseTemplate::new(200).set_body_raw(body, "application/json")).await;
    let err = inquire(&server, Biller::SenEau, "1000000001").await.unwrap_err();
    assert_eq!(err, UpstreamError::Unreadable("an answer over 1024 KiB".into()));
}
