//! The provider calls of the load benchmarks' yardsticks (`bare_bot.rs`, `bare_web.rs`): the same
//! sandbox calls billbot makes for the same steps, through reqwest, with nothing kept.

#[derive(Clone)]
pub struct Provider {
    http: reqwest::Client,
    inquiry: String,
    inquiry_key: String,
    status: String,
    status_key: String,
    merchant: String,
}

impl Provider {
    pub fn from_env() -> Provider {
        let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
        Provider {
            http: reqwest::Client::new(),
            inquiry: var("BILLBOT_INQUIRY_URL"),
            inquiry_key: var("BILLBOT_INQUIRY_API_KEY"),
            status: var("BILLBOT_STATUS_URL"),
            status_key: var("BILLBOT_STATUS_API_KEY"),
            merchant: var("BILLBOT_MERCHANT_ID"),
        }
    }

    /// The first line of the provider's answer, or what went wrong.
    pub async fn inquire(&self, reference: &str) -> String {
        let body = serde_json::json!({"serviceCode": "SENELEC", "reference_client": reference});
        let request = self.http.post(&self.inquiry).bearer_auth(&self.inquiry_key).json(&body);
        Self::summary(request).await
    }

    pub async fn status(&self, order: &str) -> String {
        let url = format!("{}/bill/status/{order}", self.status.trim_end_matches('/'));
        let request = self.http.get(url).bearer_auth(&self.status_key).header("MerchantId", &self.merchant);
        Self::summary(request).await
    }

    async fn summary(request: reqwest::RequestBuilder) -> String {
        match request.send().await {
            Ok(response) => match response.json::<serde_json::Value>().await {
                Ok(json) => json.to_string().chars().take(200).collect(),
                Err(e) => format!("unreadable answer: {e}"),
            },
            Err(e) => format!("no answer: {e}"),
        }
    }
}
