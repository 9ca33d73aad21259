//! One webhook URL's worker: posts its queued events in order, each retried with exponential
//! backoff (0.25 s doubling up to 10 s) until delivered (any 2xx) or `retry_for` has passed.
//! Each attempt is signed anew, so a retry carries a fresh timestamp.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;

use super::{Payload, signature};

/// The HTTP client every worker shares.
pub(super) type HttpClient = Client<HttpConnector, Full<bytes::Bytes>>;

/// One attempt may take this long.
const ATTEMPT_LIMIT: Duration = Duration::from_secs(5);
/// The first wait after a failed attempt; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// A client for plain-HTTP URLs (`config` refuses others).
pub(super) fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build_http()
}

/// What one URL's worker needs.
pub(super) struct Worker {
    /// Where events go.
    pub url: String,
    /// Signs the bodies.
    pub secret: String,
    /// How long an event is retried.
    pub retry_for: Duration,
    /// Shared connections.
    pub client: HttpClient,
    /// Events not yet delivered or given up, over every URL (for the flush at shutdown).
    pub unfinished: Arc<std::sync::atomic::AtomicUsize>,
}

impl Worker {
    /// Posts events until the queue closes.
    pub(super) async fn run(self, mut queue: mpsc::Receiver<Arc<Payload>>) {
        while let Some(payload) = queue.recv().await {
            self.deliver(&payload).await;
            self.unfinished.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    async fn deliver(&self, payload: &Payload) {
        let give_up = Instant::now() + self.retry_for;
        let mut backoff = FIRST_BACKOFF;
        loop {
            let error = match tokio::time::timeout(ATTEMPT_LIMIT, self.attempt(payload)).await {
                Ok(Ok(())) => {
                    crate::metrics::webhook("delivered");
                    return;
                }
                Ok(Err(e)) => e,
                Err(_) => format!("no answer within {ATTEMPT_LIMIT:?}"),
            };
            if Instant::now() + backoff > give_up {
                crate::metrics::webhook("failed");
                tracing::warn!(url = %self.url, event = payload.kind, id = %payload.id, "webhook not delivered: {error}");
                return;
            }
            crate::metrics::get().webhook_retries.inc();
            tracing::debug!(url = %self.url, event = payload.kind, "webhook attempt failed ({error}); retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    async fn attempt(&self, payload: &Payload) -> Result<(), String> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let request = hyper::Request::post(&self.url)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::USER_AGENT, concat!("tessera/", env!("CARGO_PKG_VERSION")))
            .header("tessera-event", payload.kind)
            .header("tessera-event-id", &payload.id)
            .header(signature::HEADER, signature::sign(&self.secret, now, &payload.body))
            .body(Full::new(payload.body.clone()))
            .map_err(|e| e.to_string())?;
        let response = self.client.request(request).await.map_err(|e| e.to_string())?;
        match response.status() {
            s if s.is_success() => Ok(()),
            s => Err(format!("answered {s}")),
        }
    }
}
