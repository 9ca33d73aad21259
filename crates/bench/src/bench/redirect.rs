//! The join latency a fleet's redirect adds: two nodes sharing a real Redis, a room on one of
//! them, and viewers joining it one after another, alternately through its node (direct) and
//! through the other node (which answers `redirect`; the viewer opens a second WebSocket on the
//! room's node and joins again). Each time is from opening the first WebSocket to `joined`.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde::Serialize;
use tessera_client::{PeerOptions, TestPeer};

use super::redis::Redis;
use super::server::Server;
use crate::loadgen::Percentiles;

/// Direct and redirected joins of one run.
#[derive(Debug, Clone, Serialize)]
pub struct RedirectRun {
    /// Joins through the room's node.
    pub direct: Percentiles,
    /// Joins through the other node, redirected.
    pub redirected: Percentiles,
    /// The first redirected join, before the others (not in `redirected`): the other node's
    /// first join ever.
    pub first_redirected_ms: f64,
}

impl RedirectRun {
    /// What the redirect adds at the median, ms.
    pub fn added_p50_ms(&self) -> f64 {
        self.redirected.p50_ms - self.direct.p50_ms
    }
}

/// Measures `joins` direct and `joins` redirected joins.
pub async fn measure(joins: usize) -> anyhow::Result<RedirectRun> {
    let redis = Redis::start().await?;
    let url = redis.url();
    let a = Server::start(&["--redis-url", &url]).await?;
    let b = Server::start(&["--redis-url", &url]).await?;
    // The room stays open (and placed) while its first viewer is in.
    let anchor = TestPeer::join(a.addr, PeerOptions::viewer("redirect", "anchor")).await?;
    let owner = anchor.server();
    let other = if owner == a.addr { b.addr } else { a.addr };
    // One of each first, not counted: a freshly started node's first joins are slower (cold
    // code paths), and the first direct join (the anchor's) is not measured either.
    let warm = |via| async move {
        let started = Instant::now();
        let peer = TestPeer::join(via, PeerOptions::viewer("redirect", "warm-up")).await?;
        let took = started.elapsed();
        peer.leave().await?;
        anyhow::Ok(took)
    };
    warm(owner).await?;
    let first_redirected_ms = warm(other).await?.as_secs_f64() * 1000.0;
    let (mut direct, mut redirected) = (Vec::new(), Vec::new());
    for i in 0..joins {
        for (via, times) in [(owner, &mut direct), (other, &mut redirected)] {
            let started = Instant::now();
            let peer = TestPeer::join(via, PeerOptions::viewer("redirect", &format!("v{i}"))).await?;
            times.push(started.elapsed());
            anyhow::ensure!(peer.server() == owner, "a viewer of the room ended on {}", peer.server());
            peer.leave().await?;
        }
    }
    drop(anchor);
    let stats = |t: &[Duration]| Percentiles::of(t).ok_or_else(|| anyhow::anyhow!("no joins measured"));
    Ok(RedirectRun { direct: stats(&direct)?, redirected: stats(&redirected)?, first_redirected_ms })
}

/// The target: a redirect adds at most this to a join's median (a second WebSocket and one
/// Redis lookup on a LAN).
pub const TARGET_MS: f64 = 50.0;

/// The Targets table's cells: what was measured, and whether it met [`TARGET_MS`].
pub fn measured(run: Option<&RedirectRun>) -> (String, Option<bool>) {
    let Some(r) = run else { return ("–".into(), None) };
    let text = format!(
        "+{:.1} ms (direct p50 {:.1} ms, redirected {:.1} ms)",
        r.added_p50_ms(),
        r.direct.p50_ms,
        r.redirected.p50_ms
    );
    (text, Some(r.added_p50_ms() <= TARGET_MS))
}

/// The section about the fleet's redirect.
pub fn section(s: &mut String, run: Option<&RedirectRun>) {
    let Some(r) = run else { return };
    let _ = writeln!(
        s,
        "## A fleet's redirect\n\n\
         Two nodes sharing one Redis; {} viewers joined one room one after another through its node \
         and {} through the other node, which answered `redirect` (a second WebSocket to the room's \
         node, the same `join`). From opening the first WebSocket to `joined`: direct p50 {:.1} ms, \
         p95 {:.1} ms; redirected p50 {:.1} ms, p95 {:.1} ms. A redirect adds {:.1} ms at the median. \
         Not counted: one join of each kind before them (the first redirected one, the other node's \
         first join ever, took {:.0} ms).\n",
        r.direct.samples,
        r.redirected.samples,
        r.direct.p50_ms,
        r.direct.p95_ms,
        r.redirected.p50_ms,
        r.redirected.p95_ms,
        r.added_p50_ms(),
        r.first_redirected_ms
    );
}
