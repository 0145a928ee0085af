//! Logging: tracing to standard error, filtered by `RUST_LOG` (or the command's default), as
//! text or, with `BILLBOT_LOG_FORMAT=json`, one JSON object a line.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `default_filter` applies when `RUST_LOG` is unset: the
/// one-shot commands keep standard error for their one-line answers (`off`), servers log `info`.
pub fn init(default_filter: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let json = std::env::var("BILLBOT_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    // A second init (tests) keeps the first subscriber; that is fine.
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}
