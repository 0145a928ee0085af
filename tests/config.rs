//! Settings from the environment: defaults, required companions, validation, secrets kept out.

use std::collections::HashMap;
use std::time::Duration;

use billbot::config::{ConfigError, ProviderSettings};
use billbot::domain::Currency;
use secrecy::ExposeSecret;

fn settings(vars: &[(&str, &str)]) -> Result<ProviderSettings, ConfigError> {
    let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    ProviderSettings::from_lookup(|k| map.get(k).cloned())
}

#[test]
fn nothing_set_means_the_embedded_sandbox_and_default_timeouts() {
    let s = settings(&[]).unwrap();
    assert!(s.inquiry.is_none() && s.status.is_none());
    assert_eq!(s.status_currency, Currency::Xof);
    assert_eq!(s.http.timeout, Duration::from_secs(8));
    assert_eq!(s.http.connect_timeout, Duration::from_secs(3));
    assert_eq!(s.http.retries, 2);
}

#[test]
fn blank_values_count_as_unset() {
    let s = settings(&[("BILLBOT_INQUIRY_URL", "  "), ("BILLBOT_STATUS_URL", "")]).unwrap();
    assert!(s.inquiry.is_none() && s.status.is_none());
}

#[test]
fn a_configured_provider_needs_its_key_and_merchant_id() {
    let err = settings(&[("BILLBOT_STATUS_URL", "https://api.example.com"), ("BILLBOT_STATUS_API_KEY", "k")])
        .unwrap_err();
    assert_eq!(err, ConfigError::Missing { var: "BILLBOT_MERCHANT_ID", because: "BILLBOT_STATUS_URL" });
    let s = settings(&[
        ("BILLBOT_STATUS_URL", "https://api.example.com/v1"),
        ("BILLBOT_STATUS_API_KEY", "secret-status"),
        ("BILLBOT_MERCHANT_ID", "m-1"),
        ("BILLBOT_INQUIRY_URL", "https://api.example.com/bill/inquiry"),
        ("BILLBOT_INQUIRY_API_KEY", "secret-inquiry"),
        ("BILLBOT_STATUS_CURRENCY", "ngn"),
        ("BILLBOT_HTTP_TIMEOUT_MS", "2500"),
    ])
    .unwrap();
    let status = s.status.as_ref().unwrap();
    assert_eq!(status.base.as_str(), "https://api.example.com/v1");
    assert_eq!(status.key.expose_secret(), "secret-status");
    assert_eq!(s.inquiry.as_ref().unwrap().key.expose_secret(), "secret-inquiry");
    assert_eq!(s.status_currency, Currency::Ngn);
    assert_eq!(s.http.timeout, Duration::from_millis(2500));
    let debug = format!("{s:?}");
    assert!(!debug.contains("secret-status") && !debug.contains("secret-inquiry"), "{debug}");
}

#[test]
fn bad_values_are_named_without_echoing_secrets() {
    let err = settings(&[("BILLBOT_INQUIRY_URL", "ftp://x"), ("BILLBOT_INQUIRY_API_KEY", "k")]).unwrap_err();
    assert!(matches!(err, ConfigError::Invalid { var: "BILLBOT_INQUIRY_URL", .. }), "{err}");
    let err = settings(&[("BILLBOT_INQUIRY_URL", "not a url")]).unwrap_err();
    assert!(matches!(err, ConfigError::Invalid { var: "BILLBOT_INQUIRY_URL", .. }));
    let err = settings(&[("BILLBOT_HTTP_TIMEOUT_MS", "soon")]).unwrap_err();
    assert!(err.to_string().starts_with("BILLBOT_HTTP_TIMEOUT_MS is not valid"));
    let err = settings(&[("BILLBOT_STATUS_CURRENCY", "EUR")]).unwrap_err();
    assert!(matches!(err, ConfigError::Invalid { var: "BILLBOT_STATUS_CURRENCY", .. }));
}

#[test]
fn provider_and_channel_urls_must_be_https_except_to_this_machine() {
    let with = |url: &str| {
        settings(&[("BILLBOT_INQUIRY_URL", url), ("BILLBOT_INQUIRY_API_KEY", "k")])
            .map(|s| s.inquiry.is_some())
    };
    for ok in [
        "https://api.example.sn/inquiry",
        "http://127.0.0.1:8080/x",
        "http://localhost/x",
        "http://[::1]:9/x",
    ] {
        assert_eq!(with(ok), Ok(true), "{ok}");
    }
    for refused in ["http://api.example.sn/inquiry", "http://10.0.0.5/inquiry", "ftp://127.0.0.1/x"] {
        assert!(
            matches!(with(refused), Err(ConfigError::Invalid { var: "BILLBOT_INQUIRY_URL", .. })),
            "{refused}"
        );
    }
    let telegram = |url: &str| {
        billbot::config::TelegramSettings::from_lookup(|k| match k {
            "TELOXIDE_TOKEN" => Some("1:x".into()),
            "TELOXIDE_API_URL" => Some(url.into()),
            _ => None,
        })
        .map(|_| ())
    };
    assert!(telegram("https://botapi.internal").is_ok());
    assert!(matches!(
        telegram("http://botapi.internal"),
        Err(ConfigError::Invalid { var: "TELOXIDE_API_URL", .. })
    ));
}
