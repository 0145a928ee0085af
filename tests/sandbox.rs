//! The real clients against the sandbox over loopback: every fixture gives its documented case.

mod common;

use billbot::domain::{Biller, Currency, InquiryResult, OrderStatus};
use billbot::sandbox::fixtures::{self, orders, refs};
use billbot::upstream::error::Unavailable;
use billbot::upstream::{ErrorKind, InquiryClient, StatusClient, UpstreamError};
use common::*;
use secrecy::SecretString;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[tokio::test]
async fn postpaid_fixtures_give_one_bill_several_bills_and_all_paid_for_both_postpaid_billers() {
    let sb = sandbox().await;
    let (inquiry, _) = sandbox_clients(&sb);
    for biller in [Biller::SenEau, Biller::Senelec] {
        let bills = |result: InquiryResult| match result {
            InquiryResult::Bills { bills, .. } => bills,
            InquiryResult::Meter { .. } => panic!("postpaid gives bills"),
        };
        let one = bills(inquiry.inquire(&reference(biller, refs::ONE_BILL)).await.unwrap());
        assert_eq!(one.len(), 1);
        assert!(!one[0].paid);
        let several = bills(inquiry.inquire(&reference(biller, refs::SEVERAL_BILLS)).await.unwrap());
        assert_eq!(several.len(), 3);
        assert_eq!(several.iter().filter(|b| !b.paid).count(), 2);
        let paid = bills(inquiry.inquire(&reference(biller, refs::ALL_PAID)).await.unwrap());
        assert!(paid.iter().all(|b| b.paid) && !paid.is_empty());
        let special = bills(inquiry.inquire(&reference(biller, refs::SPECIAL_NAME)).await.unwrap());
        assert_eq!(special[0].holder.as_deref(), Some(fixtures::SPECIAL_HOLDER));
        let loose = bills(inquiry.inquire(&reference(biller, refs::LOOSE_TYPES)).await.unwrap());
        assert_eq!(loose[0].total.amount(), 12600.into(), "string amounts, null total");
        for bill in one.iter().chain(&several) {
            assert_eq!(bill.total.amount(), bill.amount.amount() + bill.fee.amount());
            assert_eq!(bill.amount.currency(), Currency::Xof);
        }
    }
}

#[tokio::test]
async fn woyofal_fixtures_are_meters_with_zero_amount_status_address_and_name() {
    let sb = sandbox().await;
    let (inquiry, _) = sandbox_clients(&sb);
    let InquiryResult::Meter { meter, reference: found } =
        inquiry.inquire(&reference(Biller::Woyofal, refs::METER)).await.unwrap()
    else {
        panic!("a meter expected")
    };
    assert_eq!(found.as_str(), refs::METER);
    assert_eq!(meter.status.as_deref(), Some("ACTIVE"));
    assert!(meter.address.is_some() && meter.holder.is_some() && meter.session.is_some());
    let InquiryResult::Meter { meter, .. } =
        inquiry.inquire(&reference(Biller::Woyofal, refs::METER_SPECIAL)).await.unwrap()
    else {
        panic!("a meter expected")
    };
    assert_eq!(meter.status.as_deref(), Some("BLOCKED"));
    assert!(meter.address.unwrap().contains('<'));
}

#[tokio::test]
async fn error_fixtures_give_every_error_kind_for_every_biller() {
    let sb = sandbox().await;
    let (inquiry, _) = sandbox_clients(&sb);
    let cases = [
        (refs::NOT_FOUND, ErrorKind::NotFound),
        (refs::UNAUTHORIZED, ErrorKind::Unauthorized),
        (refs::MAINTENANCE, ErrorKind::Maintenance),
        (refs::SERVER_ERROR, ErrorKind::Unavailable),
        (refs::GARBAGE, ErrorKind::Unreadable),
        (refs::SLOW, ErrorKind::Unavailable),
    ];
    for biller in Biller::ALL {
        for (text, kind) in cases {
            let err = inquiry.inquire(&reference(biller, text)).await.unwrap_err();
            assert_eq!(err.kind(), kind, "{biller} {text}: {err}");
        }
    }
    let err = inquiry.inquire(&reference(Biller::Woyofal, "14999999999")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "an unknown meter");
    let err = inquiry.inquire(&reference(Biller::SenEau, refs::SLOW)).await.unwrap_err();
    assert_eq!(err, UpstreamError::Unavailable(Unavailable::Timeout));
}

#[tokio::test]
async fn the_sandbox_refuses_wrong_keys_and_a_missing_merchant_id() {
    let sb = sandbox().await;
    let wrong = SecretString::from("not-the-key");
    let inquiry = InquiryClient::new(sb.inquiry_url(), wrong.clone(), fast_http()).unwrap();
    let err = inquiry.inquire(&reference(Biller::Senelec, refs::ONE_BILL)).await.unwrap_err();
    assert_eq!(err, UpstreamError::Unauthorized);
    let status =
        StatusClient::new(sb.status_base(), wrong, billbot::sandbox::MERCHANT_ID, Currency::Xof, fast_http())
            .unwrap();
    assert_eq!(status.history().await.unwrap_err(), UpstreamError::Unauthorized);
    let right_key = SecretString::from(billbot::sandbox::STATUS_KEY);
    let status =
        StatusClient::new(sb.status_base(), right_key, "someone-else", Currency::Xof, fast_http()).unwrap();
    assert_eq!(status.status(&order(orders::DOC_SAMPLE)).await.unwrap_err(), UpstreamError::Unauthorized);

    let raw =
        reqwest::Client::new().get(sb.status_base().join("bill/history").unwrap()).send().await.unwrap();
    assert_eq!(raw.status(), 401, "no key at all");
}

#[tokio::test]
async fn order_fixtures_cover_every_status() {
    let sb = sandbox().await;
    let (_, status) = sandbox_clients(&sb);
    let cases = [
        (orders::DOC_SAMPLE, OrderStatus::Succeeded),
        (orders::DOC_HISTORY_GB, OrderStatus::Succeeded),
        (orders::PENDING, OrderStatus::Pending),
        (orders::PROCESSING, OrderStatus::Pending),
        (orders::SUCCESS_WITH_TOKEN, OrderStatus::Succeeded),
        (orders::SUCCESSFUL, OrderStatus::Succeeded),
        (orders::FAILED, OrderStatus::Failed),
        (orders::REFUNDED, OrderStatus::Refunded),
        (orders::DELIVERED_BUT_REFUNDED, OrderStatus::Refunded),
        (orders::UNKNOWN_STATUS, OrderStatus::Unknown),
    ];
    for (number, expected) in cases {
        let o = status.status(&order(number)).await.unwrap();
        assert_eq!(o.status, expected, "{number}");
        assert_eq!(o.order_no.as_ref().unwrap().digits(), number);
    }
    let token = status.status(&order(orders::SUCCESS_WITH_TOKEN)).await.unwrap();
    assert_eq!(token.purchased_code.as_deref(), Some("12345678901234567890"));
    assert!(token.units.is_some());
}

#[tokio::test]
async fn order_error_fixtures_give_their_error_kinds() {
    let sb = sandbox().await;
    let (_, status) = sandbox_clients(&sb);
    let cases = [
        (orders::UNKNOWN, ErrorKind::NotFound),
        (orders::MAINTENANCE, ErrorKind::Maintenance),
        (orders::SERVER_ERROR, ErrorKind::Unavailable),
        (orders::GARBAGE, ErrorKind::Unreadable),
        (orders::SLOW, ErrorKind::Unavailable),
    ];
    for (number, kind) in cases {
        assert_eq!(status.status(&order(number)).await.unwrap_err().kind(), kind, "{number}");
    }
}

#[tokio::test]
async fn the_document_sample_is_served_verbatim_and_status_also_answers_post() {
    let sb = sandbox().await;
    let url = sb.status_base().join("bill/status/GB%20-%20202206132206791818205").unwrap();
    let client = reqwest::Client::new();
    for request in [client.get(url.clone()), client.post(url)] {
        let body = request
            .bearer_auth(billbot::sandbox::STATUS_KEY)
            .header("MerchantId", billbot::sandbox::MERCHANT_ID)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(body, fixtures::STATUS_SAMPLE);
    }
}

#[tokio::test]
async fn the_history_is_long_enough_to_page_and_ends_with_the_document_samples() {
    let sb = sandbox().await;
    let (_, status) = sandbox_clients(&sb);
    let history = status.history().await.unwrap();
    assert!(history.orders.len() >= 40, "{} orders", history.orders.len());
    assert_eq!(history.total_count, Some(history.orders.len() as u64));
    let last = &history.orders[history.orders.len() - 1];
    assert_eq!(last.trx.as_deref(), Some(orders::DOC_HISTORY_GB));
    for o in &history.orders {
        assert!(o.order_no.is_some() && o.amount.is_some() && o.created_at.is_some());
    }
}

#[tokio::test]
async fn over_its_capacity_the_sandbox_answers_429_with_retry_after_at_once() {
    let config = billbot::sandbox::SandboxConfig {
        capacity: Some(2),
        latency: std::time::Duration::from_millis(500),
        ..Default::default()
    };
    let sb = billbot::sandbox::spawn_on_loopback(config).await.unwrap();
    let client = reqwest::Client::new();
    let calls: Vec<_> = (0..5)
        .map(|_| {
            let request = client.post(sb.inquiry_url()).bearer_auth(billbot::sandbox::INQUIRY_KEY).json(
                &serde_json::json!({"serviceCode": "SENELEC_SN_BILL", "reference_client": refs::ONE_BILL}),
            );
            tokio::spawn(request.send())
        })
        .collect();
    let mut statuses = Vec::new();
    for call in calls {
        let answer = call.await.unwrap().unwrap();
        statuses.push(answer.status().as_u16());
        if answer.status() == 429 {
            assert_eq!(answer.headers()["retry-after"], "1");
            let body: serde_json::Value = answer.json().await.unwrap();
            assert_eq!(body["success"], false, "{body}");
        }
    }
    statuses.sort();
    assert_eq!(statuses, [200, 200, 429, 429, 429]);
    assert_eq!((sb.throttled_calls(), sb.peak_calls()), (3, 2));
}

/// A relay in front of `target` that counts the connections made to it.
async fn counting_relay(target: std::net::SocketAddr) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut outbound = tokio::net::TcpStream::connect(target).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    (addr, accepted)
}

#[tokio::test]
async fn the_inquiry_and_status_clients_of_one_provider_share_their_connections() {
    let sb = sandbox().await;
    let (relay, connections) = counting_relay(sb.addr()).await;
    let on_relay = |url: reqwest::Url| {
        let mut url = url;
        url.set_port(Some(relay.port())).unwrap();
        url.to_string()
    };
    let (inquiry_url, status_url) = (on_relay(sb.inquiry_url()), on_relay(sb.status_base()));
    let settings = billbot::config::ProviderSettings::from_lookup(|name| match name {
        "BILLBOT_INQUIRY_URL" => Some(inquiry_url.clone()),
        "BILLBOT_INQUIRY_API_KEY" => Some(billbot::sandbox::INQUIRY_KEY.to_owned()),
        "BILLBOT_STATUS_URL" => Some(status_url.clone()),
        "BILLBOT_STATUS_API_KEY" => Some(billbot::sandbox::STATUS_KEY.to_owned()),
        "BILLBOT_MERCHANT_ID" => Some(billbot::sandbox::MERCHANT_ID.to_owned()),
        _ => None,
    })
    .unwrap();
    let providers = billbot::providers::Providers::connect(&settings).await.unwrap();
    assert!(providers.sandbox.is_none(), "both URLs are set: no embedded sandbox");
    for _ in 0..3 {
        providers.inquiry.inquire(&reference(Biller::Senelec, refs::ONE_BILL)).await.unwrap();
        providers.status.status(&order(orders::DOC_SAMPLE)).await.unwrap();
        providers.status.without_retries().status(&order(orders::PENDING)).await.unwrap();
    }
    assert_eq!(sb.inquiry_calls(), 3);
    assert_eq!(sb.status_calls(), 6);
    assert_eq!(connections.load(Ordering::SeqCst), 1, "one kept-alive connection served both APIs");
}
