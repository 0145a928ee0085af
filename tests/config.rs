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
fn the_sandbox_capacity_is_unlimited_unless_set_to_a_whole_number_above_zero() {
    assert_eq!(settings(&[]).unwrap().sandbox.capacity, None);
    let set = settings(&[("BILLBOT_SANDBOX_CAPACITY", "200")]).unwrap();
    assert_eq!(set.sandbox.capacity, Some(200));
    for bad in ["0", "-1", "many"] {
        let e = settings(&[("BILLBOT_SANDBOX_CAPACITY", bad)]).unwrap_err().to_string();
        assert!(e.contains("BILLBOT_SANDBOX_CAPACITY"), "{e}");
    }
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

fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
}

#[test]
fn secrets_checked_by_billbot_need_16_characters_and_a_short_one_stops_the_start() {
    use billbot::config::{TelegramSettings, TrackingSettings, WhatsAppSettings};
    let telegram = |secret: &str| {
        TelegramSettings::from_lookup(lookup(&[
            ("TELOXIDE_TOKEN", "1:x"),
            ("BILLBOT_WEBHOOK_URL", "https://bot.example.sn/telegram"),
            ("BILLBOT_WEBHOOK_SECRET", secret),
        ]))
    };
    let short = telegram("short-Secret").unwrap_err();
    assert!(matches!(short, ConfigError::Invalid { var: "BILLBOT_WEBHOOK_SECRET", .. }), "{short}");
    assert!(short.to_string().contains("16 to 256"), "{short}");
    assert!(!short.to_string().contains("short-Secret"), "the value is never echoed: {short}");
    assert!(telegram("a-long-enough_secret").is_ok());
    assert!(telegram(&"x".repeat(257)).is_err());
    assert!(telegram("sixteen chars ok").is_err(), "a space is not allowed by Telegram");
    // Unset, one is generated (64 hex characters).
    let generated = TelegramSettings::from_lookup(lookup(&[
        ("TELOXIDE_TOKEN", "1:x"),
        ("BILLBOT_WEBHOOK_URL", "https://bot.example.sn/telegram"),
    ]))
    .unwrap();
    assert!(generated.webhook.unwrap().secret.is_none());

    let whatsapp = |verify: &str| {
        WhatsAppSettings::from_lookup(lookup(&[
            ("BILLBOT_WHATSAPP_TOKEN", "EAAG-token"),
            ("BILLBOT_WHATSAPP_PHONE_NUMBER_ID", "123456789012345"),
            ("BILLBOT_WHATSAPP_APP_SECRET", "app-secret"),
            ("BILLBOT_WHATSAPP_VERIFY_TOKEN", verify),
        ]))
    };
    let short = whatsapp("choose-one").unwrap_err();
    assert!(matches!(short, ConfigError::Invalid { var: "BILLBOT_WHATSAPP_VERIFY_TOKEN", .. }), "{short}");
    assert!(short.to_string().contains("at least 16"), "{short}");
    assert!(!short.to_string().contains("choose-one"), "{short}");
    assert_eq!(whatsapp("a verify token, 16+").unwrap().verify_token.expose_secret(), "a verify token, 16+");

    let callback = |secret: &str| {
        TrackingSettings::from_lookup(lookup(&[
            ("BILLBOT_CALLBACK_LISTEN", "127.0.0.1:8088"),
            ("BILLBOT_CALLBACK_SECRET", secret),
        ]))
    };
    assert!(matches!(
        callback("fifteen-chars-x"),
        Err(ConfigError::Invalid { var: "BILLBOT_CALLBACK_SECRET", .. })
    ));
    assert!(callback("sixteen-chars-xy").is_ok());
    // `serve` stops on them with the variable named.
    let serve = billbot::app::Settings::for_serve_from(lookup(&[
        ("TELOXIDE_TOKEN", "1:x"),
        ("BILLBOT_WEBHOOK_URL", "https://bot.example.sn/telegram"),
        ("BILLBOT_WEBHOOK_SECRET", "tiny"),
        ("BILLBOT_SANDBOX", "1"),
    ]));
    assert!(serve.unwrap_err().to_string().starts_with("BILLBOT_WEBHOOK_SECRET is not valid"));
}

#[test]
fn the_metrics_listener_is_loopback_unless_another_address_is_allowed_by_name() {
    use billbot::config::metrics_listen;
    assert_eq!(metrics_listen(lookup(&[])).unwrap(), None);
    for ok in ["127.0.0.1:9090", "[::1]:9090", "127.0.0.2:9090"] {
        assert_eq!(
            metrics_listen(lookup(&[("BILLBOT_METRICS_LISTEN", ok)])).unwrap(),
            Some(ok.parse().unwrap())
        );
    }
    for exposed in ["0.0.0.0:9090", "10.0.0.5:9090", "[::]:9090"] {
        let err = metrics_listen(lookup(&[("BILLBOT_METRICS_LISTEN", exposed)])).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { var: "BILLBOT_METRICS_LISTEN", .. }), "{exposed}");
        assert!(err.to_string().contains("BILLBOT_METRICS_ALLOW_REMOTE=1"), "{err}");
        let allowed = metrics_listen(lookup(&[
            ("BILLBOT_METRICS_LISTEN", exposed),
            ("BILLBOT_METRICS_ALLOW_REMOTE", "1"),
        ]));
        assert_eq!(allowed.unwrap(), Some(exposed.parse().unwrap()));
    }
    assert!(metrics_listen(lookup(&[("BILLBOT_METRICS_LISTEN", "9090")])).is_err());
}

#[test]
fn connection_limits_default_to_64_a_client_with_loopback_trusted_and_can_be_set() {
    use billbot::config::connection_limits;
    use billbot::http::{AddrRange, ConnectionLimits};
    let defaults = connection_limits(lookup(&[])).unwrap();
    assert_eq!(defaults, ConnectionLimits::default());
    assert_eq!(defaults.per_client, 64);
    assert_eq!(defaults.max_connections, 1024);
    assert_eq!(defaults.trusted_proxies, AddrRange::loopback());
    let set = connection_limits(lookup(&[
        ("BILLBOT_MAX_CONNECTIONS_PER_CLIENT", "8"),
        ("BILLBOT_TRUSTED_PROXIES", " 10.0.0.0/8, 192.0.2.7 ,fd00::/8"),
    ]))
    .unwrap();
    assert_eq!(set.per_client, 8);
    let trusted: Vec<String> = set.trusted_proxies.iter().map(ToString::to_string).collect();
    assert_eq!(trusted, ["10.0.0.0/8", "192.0.2.7/32", "fd00::/8"]);
    let none = connection_limits(lookup(&[("BILLBOT_TRUSTED_PROXIES", "none")])).unwrap();
    assert!(none.trusted_proxies.is_empty());
    for (var, bad) in [
        ("BILLBOT_MAX_CONNECTIONS_PER_CLIENT", "0"),
        ("BILLBOT_MAX_CONNECTIONS_PER_CLIENT", "many"),
        ("BILLBOT_TRUSTED_PROXIES", "10.0.0.0/40"),
        ("BILLBOT_TRUSTED_PROXIES", "proxy.internal"),
    ] {
        let err = connection_limits(lookup(&[(var, bad)])).unwrap_err();
        assert!(err.to_string().starts_with(&format!("{var} is not valid")), "{bad}: {err}");
    }
}

#[test]
fn the_web_chat_needs_a_secret_of_32_bytes_and_takes_origins_as_browsers_send_them() {
    use billbot::config::WebChatSettings;
    let secret = "0123456789abcdef0123456789abcdef";
    assert!(WebChatSettings::from_lookup(lookup(&[("BILLBOT_WEBCHAT_SECRET", secret)])).unwrap().is_none());
    let missing =
        WebChatSettings::from_lookup(lookup(&[("BILLBOT_WEBCHAT_LISTEN", "127.0.0.1:8445")])).unwrap_err();
    assert_eq!(
        missing,
        ConfigError::Missing { var: "BILLBOT_WEBCHAT_SECRET", because: "BILLBOT_WEBCHAT_LISTEN" }
    );
    let short_secret = &secret[..31];
    let short = WebChatSettings::from_lookup(lookup(&[
        ("BILLBOT_WEBCHAT_LISTEN", "127.0.0.1:8445"),
        ("BILLBOT_WEBCHAT_SECRET", short_secret),
    ]))
    .unwrap_err();
    assert!(short.to_string().contains("at least 32 bytes"), "{short}");
    assert!(!short.to_string().contains(short_secret), "the value is never echoed: {short}");
    let with = |origins: &str| {
        WebChatSettings::from_lookup(lookup(&[
            ("BILLBOT_WEBCHAT_LISTEN", "0.0.0.0:8445"),
            ("BILLBOT_WEBCHAT_SECRET", secret),
            ("BILLBOT_WEBCHAT_ORIGINS", origins),
        ]))
    };
    let settings = with(" https://WWW.Senelec.sn , https://pay.example.sn:443/ ,http://localhost:3000")
        .unwrap()
        .unwrap();
    assert_eq!(
        settings.origins,
        ["https://www.senelec.sn", "https://pay.example.sn", "http://localhost:3000"]
    );
    assert_eq!(settings.listen.port(), 8445);
    assert_eq!(settings.secret.expose_secret(), secret);
    for bad in ["http://www.senelec.sn", "https://www.senelec.sn/chat", "www.senelec.sn", "https://x.sn/?a=1"]
    {
        let err = with(bad).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { var: "BILLBOT_WEBCHAT_ORIGINS", .. }), "{bad}: {err}");
    }
    let bad_listen = WebChatSettings::from_lookup(lookup(&[
        ("BILLBOT_WEBCHAT_LISTEN", "localhost"),
        ("BILLBOT_WEBCHAT_SECRET", secret),
    ]));
    assert!(matches!(bad_listen, Err(ConfigError::Invalid { var: "BILLBOT_WEBCHAT_LISTEN", .. })));
}

#[test]
fn a_web_chat_session_cannot_be_the_support_desk() {
    let err =
        billbot::config::support_from_lookup(lookup(&[("BILLBOT_SUPPORT_CHAT", "web:0123456789abcdef")]))
            .unwrap_err();
    assert!(matches!(err, ConfigError::Invalid { var: "BILLBOT_SUPPORT_CHAT", .. }), "{err}");
}

#[test]
fn serve_runs_with_the_web_chat_alone_and_stops_on_its_bad_settings() {
    let serve = |secret: &str| {
        billbot::app::Settings::for_serve_from(lookup(&[
            ("BILLBOT_SANDBOX", "1"),
            ("BILLBOT_WEBCHAT_LISTEN", "127.0.0.1:8445"),
            ("BILLBOT_WEBCHAT_SECRET", secret),
        ]))
    };
    let settings = serve("0123456789abcdef0123456789abcdef").unwrap();
    assert!(settings.telegram.is_none() && settings.whatsapp.is_none());
    assert_eq!(settings.webchat.unwrap().listen.port(), 8445);
    assert!(serve("short").unwrap_err().to_string().starts_with("BILLBOT_WEBCHAT_SECRET is not valid"));
}
