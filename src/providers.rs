//! Both provider clients, built from the settings: against the configured providers, or against
//! an embedded sandbox on a loopback port when a URL is not configured. They share one connection
//! pool.

use crate::config::ProviderSettings;
use crate::sandbox::{self, RunningSandbox};
use crate::upstream::status::StatusClientError;
use crate::upstream::{InquiryClient, StatusClient};

/// The clients, and the embedded sandbox when one was started (it stops when this is dropped).
#[derive(Debug)]
pub struct Providers {
    pub inquiry: InquiryClient,
    pub status: StatusClient,
    pub sandbox: Option<RunningSandbox>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProvidersError {
    #[error("the embedded sandbox could not start: {0}")]
    Sandbox(#[from] std::io::Error),
    #[error("the inquiry client could not be built: {0}")]
    Inquiry(reqwest::Error),
    #[error("the status client could not be built: {0}")]
    Status(#[from] StatusClientError),
}

impl Providers {
    /// Builds the clients; starts the embedded sandbox first if either URL is missing.
    pub async fn connect(settings: &ProviderSettings) -> Result<Providers, ProvidersError> {
        let mut sandbox: Option<RunningSandbox> = None;
        let http = settings.http.clone();
        let inquiry = match &settings.inquiry {
            Some(endpoint) => InquiryClient::new(endpoint.url.clone(), endpoint.key.clone(), http.clone()),
            None => {
                let sb = embedded(&mut sandbox, settings).await?;
                InquiryClient::new(
                    sb.inquiry_url(),
                    settings.sandbox.inquiry_key.clone().into(),
                    http.clone(),
                )
            }
        }
        .map_err(ProvidersError::Inquiry)?;
        let currency = settings.status_currency;
        let status = match &settings.status {
            Some(endpoint) => StatusClient::new(
                endpoint.base.clone(),
                endpoint.key.clone(),
                &endpoint.merchant_id,
                currency,
                http,
            )?,
            None => {
                let sb = embedded(&mut sandbox, settings).await?;
                let key = settings.sandbox.status_key.clone().into();
                StatusClient::new(sb.status_base(), key, &settings.sandbox.merchant_id, currency, http)?
            }
        };
        let status = status.sharing_connections_with(&inquiry);
        Ok(Providers { inquiry, status, sandbox })
    }
}

/// The embedded sandbox, started on first need.
async fn embedded<'a>(
    slot: &'a mut Option<RunningSandbox>,
    settings: &ProviderSettings,
) -> std::io::Result<&'a RunningSandbox> {
    Ok(match slot {
        Some(running) => running,
        None => slot.insert(sandbox::spawn_on_loopback(settings.sandbox.clone()).await?),
    })
}
