//! The retention job: what has been kept long enough is forgotten (data protection: the periods
//! are `BILLBOT_KEEP_ORDERS_DAYS` and `BILLBOT_KEEP_IDLE_DIALOGUE_DAYS`, see `config::Retention`).

use std::future::Future;

use crate::store::Store;

/// How often what has been kept long enough is swept (first a minute after start).
const RETENTION_SWEEP: std::time::Duration = std::time::Duration::from_secs(3600);

/// Forgets, every hour until `shutdown`, orders and lookups older than the retention period and
/// the dialogue state of chats idle for longer than theirs. Every instance may sweep: a sweep is
/// a few deletes, and two at once delete the same rows.
pub async fn run(store: Store, retention: crate::config::Retention, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut first = true;
    loop {
        let wait = if first { std::time::Duration::from_secs(60) } else { RETENTION_SWEEP };
        first = false;
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(wait) => {}
        }
        let now = chrono::Utc::now();
        let ago = |d: std::time::Duration| now - chrono::Duration::from_std(d).unwrap_or_default();
        match store.sweep_expired(ago(retention.orders), ago(retention.idle_dialogue)).await {
            Ok(swept) if swept == Default::default() => {}
            Ok(swept) => tracing::info!(
                orders = swept.orders,
                lookups = swept.activity,
                dialogues = swept.dialogues,
                "kept long enough: forgotten"
            ),
            Err(e) => tracing::error!(error = %e, "the retention sweep failed"),
        }
    }
}
