//! `[metrics]`: what `/metrics` measures; `[webhooks]`: where events go and how they are
//! signed (see `crate::metrics` and `crate::webhooks`).

use serde::{Deserialize, Serialize};

/// `[metrics]`: what `/metrics` measures beyond its counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// Per-room media metrics: the composite's frame rate and encoder time (pad probes) and
    /// each participant's loss, jitter, NACKs and PLIs (`get-stats` once a second).
    pub media: bool,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self { media: true }
    }
}

/// `[webhooks]`: URLs that receive signed JSON events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// `http://` URLs each event is POSTed to (in order, per URL).
    pub urls: Vec<String>,
    /// Key of the HMAC-SHA256 signature in `Tessera-Signature`; required with URLs. Never
    /// printed.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "super::sections::masked")]
    pub secret: Option<String>,
    /// Seconds an event is retried (with backoff) before it counts as failed.
    pub retry_for: u64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self { urls: Vec::new(), secret: None, retry_for: 60 }
    }
}

impl WebhookSettings {
    /// Checks URLs, secret and retry time.
    pub(super) fn check(&self) -> anyhow::Result<()> {
        super::within("retry_for", self.retry_for, 1, 24 * 3600)?;
        for url in &self.urls {
            let uri: hyper::Uri = url.parse().map_err(|e| anyhow::anyhow!("webhook URL {url:?}: {e}"))?;
            anyhow::ensure!(
                uri.scheme_str() == Some("http") && uri.host().is_some(),
                "webhook URL {url:?}: only http://host[:port]/path URLs (put a TLS proxy in front for https)"
            );
        }
        anyhow::ensure!(
            self.urls.is_empty() || self.secret.as_ref().is_some_and(|s| !s.is_empty()),
            "--webhook-url needs --webhook-secret: receivers check every event's signature"
        );
        Ok(())
    }
}
