//! What metrics and webhooks cost: the same room of publishers measured four times in turn,
//! without them (`--media-metrics false`, no webhooks, no scrapes) and with them (media metrics
//! on, `--webhook-url` to a receiver in this process, `/metrics` scraped every second). Each
//! configuration's two runs differ by the run-to-run noise; the target is a difference no larger
//! than that noise.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::server::{ADMIN_KEY, Server};
use super::{Plan, Results};
use crate::loadgen::{self, LoadOptions};

/// The four runs and what they tell.
#[derive(Debug, Clone, Serialize)]
pub struct ObservabilityRun {
    /// Publishers in the room.
    pub publishers: usize,
    /// Server CPU (cores) of the two runs without metrics scraping or webhooks.
    pub without_cpu_cores: [f64; 2],
    /// Server CPU (cores) of the two runs with both.
    pub with_cpu_cores: [f64; 2],
    /// Probe frames/s of the runs without.
    pub without_probe_fps: [f64; 2],
    /// Probe frames/s of the runs with both.
    pub with_probe_fps: [f64; 2],
    /// Scrapes of `/metrics` answered during the runs with both.
    pub scrapes: u64,
    /// Webhook requests the receiver took during the runs with both.
    pub webhooks: u64,
}

impl ObservabilityRun {
    /// Mean extra CPU with metrics and webhooks, cores.
    pub fn extra(&self) -> f64 {
        (self.with_cpu_cores[0] + self.with_cpu_cores[1] - self.without_cpu_cores[0] - self.without_cpu_cores[1]) / 2.0
    }

    /// The run-to-run noise, cores: the root mean square of how far each configuration's two
    /// runs differ. One pair alone is a single sample of it and can read 0 by chance (0.5904
    /// and 0.5909 cores in one bench, whose runs with read 0.581 and 0.620).
    pub fn noise(&self) -> f64 {
        let without = self.without_cpu_cores[0] - self.without_cpu_cores[1];
        let with = self.with_cpu_cores[0] - self.with_cpu_cores[1];
        ((without * without + with * with) / 2.0).sqrt()
    }

    /// Whether the extra is within the noise.
    pub fn met(&self) -> bool {
        self.extra() <= self.noise()
    }
}

/// A webhook receiver answering `200` to everything; counts requests.
async fn receiver(count: Arc<AtomicU64>) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                // Bodies are small: one read holds the request.
                if stream.read(&mut buf).await.unwrap_or(0) > 0 {
                    count.fetch_add(1, Ordering::Relaxed);
                    let _ =
                        stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
                }
            });
        }
    });
    Ok(addr)
}

/// One run; with `observed`, media metrics are on, webhooks go to a receiver here and
/// `/metrics` is scraped each second; without, all three are off.
async fn one(load: &LoadOptions, observed: bool, clips: &loadgen::Clips) -> anyhow::Result<(f64, f64, u64, u64)> {
    let hooks = Arc::new(AtomicU64::new(0));
    let flags = if observed {
        let url = format!("http://{}/tessera", receiver(hooks.clone()).await?);
        vec!["--webhook-url".to_owned(), url, "--webhook-secret".to_owned(), "bench-webhook-secret".to_owned()]
    } else {
        vec!["--media-metrics".to_owned(), "false".to_owned()]
    };
    let server = Server::start(&flags.iter().map(String::as_str).collect::<Vec<_>>()).await?;
    let scrapes = Arc::new(AtomicU64::new(0));
    let scraper = observed.then(|| {
        let (addr, scrapes) = (server.addr, scrapes.clone());
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            loop {
                every.tick().await;
                if let Ok((200, text)) =
                    tessera_client::rest::request_text(addr, "GET", "/metrics", Some(ADMIN_KEY), "").await
                    && text.contains("tessera_rooms")
                {
                    scrapes.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    });
    let load = LoadOptions { server: server.addr, server_pid: Some(server.pid()), ..load.clone() };
    let report = loadgen::run_with(&load, clips).await;
    if let Some(scraper) = scraper {
        scraper.abort();
    }
    let report = report.with_context(|| format!("{} publishers, observed: {observed}", load.publishers))?;
    let cpu = report.server.as_ref().map(|s| s.cpu_cores).context("no server sample")?;
    Ok((cpu, report.probe_fps_mean, scrapes.load(Ordering::Relaxed), hooks.load(Ordering::Relaxed)))
}

/// Measures without, with, without, with.
pub async fn measure(plan: &Plan, base: &LoadOptions, clips: &loadgen::Clips) -> anyhow::Result<ObservabilityRun> {
    let publishers = if plan.publishers.contains(&16) { 16 } else { plan.viewer_room };
    let load = LoadOptions { publishers, latency: false, ..base.clone() };
    let mut run = ObservabilityRun {
        publishers,
        without_cpu_cores: [0.0; 2],
        with_cpu_cores: [0.0; 2],
        without_probe_fps: [0.0; 2],
        with_probe_fps: [0.0; 2],
        scrapes: 0,
        webhooks: 0,
    };
    tracing::info!(publishers, "metrics and webhooks: without, with, without, with");
    for i in 0..2 {
        tracing::info!(publishers, run = i + 1, "without metrics scraping or webhooks");
        (run.without_cpu_cores[i], run.without_probe_fps[i], ..) = one(&load, false, clips).await?;
        tracing::info!(publishers, run = i + 1, "with metrics scraped every second and webhooks");
        let (cpu, fps, scrapes, hooks) = one(&load, true, clips).await?;
        (run.with_cpu_cores[i], run.with_probe_fps[i]) = (cpu, fps);
        run.scrapes += scrapes;
        run.webhooks += hooks;
    }
    // A comparison in which nothing was scraped or sent would measure nothing.
    anyhow::ensure!(run.scrapes >= plan.window, "only {} scrapes of /metrics answered", run.scrapes);
    anyhow::ensure!(run.webhooks >= 2 * publishers as u64, "the receiver took only {} webhooks", run.webhooks);
    Ok(run)
}

/// Runs this step alone: prints its JSON and its table, writes nothing.
pub async fn alone(
    plan: &Plan,
    base: &LoadOptions,
    clips: &loadgen::Clips,
    mut results: Results,
) -> anyhow::Result<Results> {
    let run = measure(plan, base, clips).await?;
    println!("{}", serde_json::to_string_pretty(&run)?);
    results.observability = Some(run);
    let mut table = String::new();
    section(&mut table, &results);
    println!("{table}");
    Ok(results)
}

/// The report's section.
pub fn section(s: &mut String, r: &Results) {
    let Some(o) = &r.observability else { return };
    let _ = writeln!(
        s,
        "## Metrics and webhooks\n\n\
         The same room of {} publishers measured four times in turn: without, with, without, with. \
         \"Without\" is `--media-metrics false`, no webhooks and no scrapes; \"with\" is media metrics \
         on (composite probes, `get-stats` once a second per participant), `--webhook-url` to a \
         receiver in the load generator and `/metrics` scraped every second. The run-to-run noise is \
         the root mean square of how far each configuration's two runs differ.\n\n\
         | Without (cores) | With (cores) | Extra | Run-to-run noise | Probe fps without | Probe fps with | Scrapes | Webhooks |\n\
         |---|---|---|---|---|---|---|---|\n\
         | {:.3}, {:.3} | {:.3}, {:.3} | {:+.3} | {:.3} | {:.1}, {:.1} | {:.1}, {:.1} | {} | {} |\n",
        o.publishers,
        o.without_cpu_cores[0],
        o.without_cpu_cores[1],
        o.with_cpu_cores[0],
        o.with_cpu_cores[1],
        o.extra(),
        o.noise(),
        o.without_probe_fps[0],
        o.without_probe_fps[1],
        o.with_probe_fps[0],
        o.with_probe_fps[1],
        o.scrapes,
        o.webhooks,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_noise_is_pooled_over_both_configurations() {
        let run = |without: [f64; 2], with: [f64; 2]| ObservabilityRun {
            publishers: 16,
            without_cpu_cores: without,
            with_cpu_cores: with,
            without_probe_fps: [30.0; 2],
            with_probe_fps: [30.0; 2],
            scrapes: 0,
            webhooks: 0,
        };
        // The bench of 2026-12-06T09:57: the runs without agreed by chance.
        let o = run([0.5904, 0.5909], [0.5814, 0.6204]);
        assert!((o.noise() - 0.0276).abs() < 1e-3, "{}", o.noise());
        assert!((o.extra() - 0.0103).abs() < 1e-3 && o.met());
        // A cost well above both pairs' spread is missed.
        assert!(!run([0.50, 0.52], [0.60, 0.61]).met());
    }
}
