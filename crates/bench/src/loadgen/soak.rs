//! `tessera-bench soak`: thousands of join/leave cycles against one server, whose memory must stay
//! flat and whose file descriptors and threads must come back to where they were.
//!
//! Peers join 4 at a time (alternately publishers of the pre-encoded clip and counting viewers),
//! wait for media and leave; the room ends after every batch and the next batch builds it again,
//! so rooms and participants both churn. The server is sampled, settled, every `checkpoint`
//! cycles.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;

use super::procfs::ProcSample;
use super::{Clips, churn};

/// How to soak.
#[derive(Debug, Clone, clap::Args)]
pub struct SoakOptions {
    /// Join/leave cycles.
    #[arg(long, default_value_t = 2000)]
    pub cycles: usize,
    /// Sample the server every this many cycles.
    #[arg(long, default_value_t = 200)]
    pub checkpoint: usize,
    /// Allowed RSS growth from the first checkpoint to the last, MiB.
    #[arg(long, default_value_t = 20.0)]
    pub rss_growth_mib: f64,
    /// Soak this running server (with --server-pid) instead of starting one.
    #[arg(long, requires = "server_pid")]
    pub server: Option<SocketAddr>,
    /// The process id of --server, to sample it.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Directory for the JSON results.
    #[arg(long, default_value = "bench/results")]
    pub results: std::path::PathBuf,
    /// The Markdown page whose soak section is rewritten.
    #[arg(long, default_value = "docs/benchmarks.md")]
    pub docs: std::path::PathBuf,
    /// Print the report only; write neither results nor docs.
    #[arg(long)]
    pub dry_run: bool,
}

/// The server at one checkpoint, settled (its last batch gone a few seconds before).
#[derive(Debug, Clone, Serialize)]
pub struct Checkpoint {
    /// Cycles done.
    pub cycles: usize,
    /// Seconds since the soak started.
    pub secs: f64,
    /// Resident memory, MiB.
    pub rss_mib: f64,
    /// Open file descriptors.
    pub fds: u64,
    /// Threads.
    pub threads: u64,
}

/// What a soak found.
#[derive(Debug, Clone, Serialize)]
pub struct SoakReport {
    /// After one warm-up batch (GStreamer's process-wide threads and caches exist from the
    /// first room on): what fds and threads must come back to.
    pub baseline: Checkpoint,
    /// Every checkpoint, in order.
    pub checkpoints: Vec<Checkpoint>,
    /// RSS growth from the first checkpoint to the last, MiB.
    pub rss_growth_mib: f64,
    /// The server's `/api/stats` after the last leave.
    pub stats: serde_json::Value,
}

impl SoakReport {
    /// Fails when memory grew past `allowed` MiB, fds or threads did not come back, or a room,
    /// pipeline, `webrtcbin` or ICE object was left.
    pub fn verdict(&self, allowed: f64) -> anyhow::Result<()> {
        let last = self.checkpoints.last().context("no checkpoint")?;
        if self.rss_growth_mib > allowed {
            bail!("RSS grew {:.1} MiB (allowed {allowed})", self.rss_growth_mib);
        }
        if (last.fds, last.threads) != (self.baseline.fds, self.baseline.threads) {
            bail!(
                "fds/threads {}/{} after the last leave, {}/{} at the baseline",
                last.fds,
                last.threads,
                self.baseline.fds,
                self.baseline.threads
            );
        }
        let zero = |k: &str| self.stats[k].as_u64() == Some(0);
        if !["rooms", "roomPipelines", "webrtcbins", "iceAgents"].into_iter().all(zero) {
            bail!("left in the server: {}", self.stats);
        }
        Ok(())
    }
}

fn sample(pid: u32, cycles: usize, start: Instant) -> anyhow::Result<Checkpoint> {
    let s = ProcSample::read(Some(pid))?;
    let secs = start.elapsed().as_secs_f64();
    Ok(Checkpoint { cycles, secs, rss_mib: s.rss_mib, fds: s.fds, threads: s.threads })
}

/// Soaks the server at `addr` (process `pid`).
pub async fn run_against(addr: SocketAddr, pid: u32, opts: &SoakOptions, clips: &Clips) -> anyhow::Result<SoakReport> {
    let start = Instant::now();
    churn(addr, pid, "soak", 4, clips.clone()).await.context("warm-up")?;
    let baseline = sample(pid, 0, start)?;
    tracing::info!(?baseline, "soak baseline");
    let mut checkpoints = Vec::new();
    let mut done = 0;
    while done < opts.cycles {
        let n = opts.checkpoint.min(opts.cycles - done);
        churn(addr, pid, "soak", n, clips.clone()).await.with_context(|| format!("cycles {done}..{}", done + n))?;
        done += n;
        let point = sample(pid, done, start)?;
        tracing::info!(?point, "soak checkpoint");
        checkpoints.push(point);
    }
    let growth = match (checkpoints.first(), checkpoints.last()) {
        (Some(first), Some(last)) => last.rss_mib - first.rss_mib,
        _ => 0.0,
    };
    let (_, stats) = tessera_client::rest::request(addr, "GET", "/api/stats", None, "").await?;
    Ok(SoakReport { baseline, checkpoints, rss_growth_mib: growth, stats })
}

/// Starts a server of this binary and soaks it.
pub async fn run(opts: &SoakOptions) -> anyhow::Result<SoakReport> {
    use tessera_client::{ClipLadder, EncodedClip};
    let clips = super::blocking(|| {
        Ok(super::Clips { ladder: ClipLadder::vp8(&[(320, 180)], 30, 10, 300)?, audio: EncodedClip::opus(440.0, 10)? })
    })
    .await?;
    if let (Some(addr), Some(pid)) = (opts.server, opts.server_pid) {
        return run_against(addr, pid, opts, &clips).await;
    }
    let mut server = crate::bench::server::Server::start(&[]).await?;
    let report = run_against(server.addr, server.pid(), opts, &clips).await;
    if let Some(status) = server.exited()? {
        bail!("the server exited during the soak: {status}; its log: {}", server.log_path().display());
    }
    // Leave the server a moment to log its last teardown before it is stopped.
    tokio::time::sleep(Duration::from_millis(200)).await;
    report
}

/// Marks the soak's section of `docs/benchmarks.md`; `tessera-bench bench` keeps it when it
/// regenerates the rest of the page.
pub const SECTION_BEGIN: &str = "<!-- soak: written by `tessera-bench soak` -->";
/// Ends the soak's section.
pub const SECTION_END: &str = "<!-- /soak -->";

impl SoakReport {
    /// The soak's section of `docs/benchmarks.md`, markers included.
    pub fn markdown(&self, when: &str, json: &std::path::Path, allowed: f64) -> String {
        use std::fmt::Write;
        let mut s = format!("{SECTION_BEGIN}\n## Memory under churn\n\n");
        let verdict = if self.verdict(allowed).is_ok() { "met" } else { "**missed**" };
        let _ = writeln!(
            s,
            "`scripts/soak.sh` (`tessera-bench soak`) on {when}: {} join/leave cycles against one release server, 4 \
             peers at a time (publishers of a 320x180 clip and counting viewers); the room ends after each batch \
             and the next builds it again. The server is sampled 3 s after each checkpoint's last leave. Target: \
             RSS at the last checkpoint within +{allowed} MiB of the first, fds and threads back to the baseline \
             (after one warm-up batch), nothing left in the server: **{verdict}** (RSS {:+.1} MiB). Raw results: \
             [`{}`](../{}).\n",
            self.checkpoints.last().map_or(0, |c| c.cycles),
            self.rss_growth_mib,
            json.display(),
            json.display()
        );
        let _ = writeln!(s, "| Cycles | RSS MiB | fds | Threads | Seconds |\n|---|---|---|---|---|");
        for c in std::iter::once(&self.baseline).chain(&self.checkpoints) {
            let _ = writeln!(s, "| {} | {:.1} | {} | {} | {:.0} |", c.cycles, c.rss_mib, c.fds, c.threads, c.secs);
        }
        let _ = writeln!(
            s,
            "\nAfter the last leave the server held {} rooms, {} room pipelines, {} `webrtcbin`s and {} ICE objects. \
             Why the allocator is tuned as it is: [memory.md](memory.md).\n{SECTION_END}",
            self.stats["rooms"], self.stats["roomPipelines"], self.stats["webrtcbins"], self.stats["iceAgents"]
        );
        s
    }
}

/// `page` with its soak section replaced by `section` (appended when it has none).
pub fn with_section(page: &str, section: &str) -> String {
    match (page.find(SECTION_BEGIN), page.find(SECTION_END)) {
        (Some(begin), Some(end)) if end > begin => {
            format!("{}{section}{}", &page[..begin], &page[end + SECTION_END.len()..])
        }
        _ => format!("{}\n{section}\n", page.trim_end()),
    }
}

/// The soak section of `page`, if it has one.
pub fn section(page: &str) -> Option<&str> {
    let begin = page.find(SECTION_BEGIN)?;
    let end = page.find(SECTION_END)?;
    (end > begin).then(|| &page[begin..end + SECTION_END.len()])
}

/// Writes the report to `results/soak-<date>.json` and its section into `docs`.
pub fn write(report: &SoakReport, opts: &SoakOptions) -> anyhow::Result<()> {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    std::fs::create_dir_all(&opts.results)?;
    let json = opts.results.join(format!("soak-{}.json", &now[..10]));
    std::fs::write(&json, serde_json::to_string_pretty(report)? + "\n")?;
    let page = std::fs::read_to_string(&opts.docs).unwrap_or_default();
    std::fs::write(&opts.docs, with_section(&page, &report.markdown(&now, &json, opts.rss_growth_mib)))?;
    println!("wrote {} and the soak section of {}", json.display(), opts.docs.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_is_replaced_in_place_or_appended() {
        let section = format!("{SECTION_BEGIN}\nnew\n{SECTION_END}");
        let page = format!("# B\n\nbefore\n{SECTION_BEGIN}\nold\n{SECTION_END}\nafter\n");
        assert_eq!(with_section(&page, &section), format!("# B\n\nbefore\n{section}\nafter\n"));
        assert_eq!(with_section("# B\n", &section), format!("# B\n{section}\n"));
        assert_eq!(super::section(&with_section("# B\n", &section)), Some(section.as_str()));
        assert_eq!(super::section("# B\n"), None);
    }
}
