//! PostgreSQL for tests: a store in a schema of its own on the server named by
//! `BILLBOT_TEST_DATABASE_URL` (CI sets it: `.ci/run`), dropped when the test ends.
//!
//! Without the variable (a machine with no PostgreSQL), the PostgreSQL tests say so on standard
//! error and pass, so that plain `cargo test` runs everything else; with it, a server that cannot
//! be reached fails them.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use billbot::store::Store;
use billbot::store::postgres::PgSettings;
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

pub const URL_VAR: &str = "BILLBOT_TEST_DATABASE_URL";

/// Drops its schema when dropped.
pub struct Schema {
    url: String,
    pub name: String,
}

impl Schema {
    /// The URL of this schema (its `search_path`), for a `billbot` process.
    pub fn url(&self) -> String {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        let name = &self.name;
        format!("{}{separator}options=-c%20search_path%3D{name}&application_name={name}", self.url)
    }

    /// Connections to this schema, named after it (so that its drop can end the ones left open).
    pub fn options(&self) -> PgConnectOptions {
        PgConnectOptions::from_str(&self.url)
            .unwrap()
            .options([("search_path", self.name.as_str())])
            .application_name(&self.name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // Dropping happens inside a test's runtime, which cannot block on itself: a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                if let Ok(mut conn) = PgConnection::connect(&url).await {
                    // A connection of the test's still open in a transaction (its runtime ended
                    // mid-query) would hold the schema's locks, and the drop would wait forever.
                    let _ = sqlx::query(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                         WHERE application_name = $1 AND pid <> pg_backend_pid()",
                    )
                    .bind(&name)
                    .execute(&mut conn)
                    .await;
                    let _ = sqlx::query("SET lock_timeout = '10s'").execute(&mut conn).await;
                    let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// A fresh, empty schema, or `None` (said on standard error) when no test database is configured.
pub async fn schema(test: &str) -> Option<Schema> {
    let Some(url) = std::env::var(URL_VAR).ok().filter(|u| !u.trim().is_empty()) else {
        // Straight to standard error, past the test harness's capture: whoever runs `cargo test`
        // sees which tests did not run.
        use std::io::Write;
        let line = format!("{test}: not run: {URL_VAR} is not set (PostgreSQL tests need a server)\n");
        let _ = std::io::stderr().write_all(line.as_bytes());
        return None;
    };
    static N: AtomicU64 = AtomicU64::new(0);
    let name = format!("billbot_test_{}_{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst));
    let mut conn = PgConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{URL_VAR} is set but PostgreSQL cannot be reached: {e}"));
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).execute(&mut conn).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {name}")).execute(&mut conn).await.unwrap();
    Some(Schema { url, name })
}

/// A PostgreSQL store in a fresh schema.
pub async fn store(test: &str) -> Option<(Store, Schema)> {
    let schema = schema(test).await?;
    let store = Store::connect_with(schema.options(), &PgSettings::default()).await.unwrap();
    Some((store, schema))
}
