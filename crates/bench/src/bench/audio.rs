//! Audio-only rooms: Tessera's one mix-minus engine against Janus's AudioBridge, with everyone
//! talking, and with only two talkers in a room of N (most of a real conversation: the others
//! listen, sending Opus DTX, and in Tessera they share one Opus encode).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use tessera_client::EncodedClip;

use super::{Plan, Results, janus, janus_peer, measure_tessera};
use crate::loadgen::procfs::{ProcSample, ThreadGroup, thread_groups, thread_times};
use crate::loadgen::{self, LoadOptions};

/// How many talk in the "few talkers" runs.
pub const FEW_TALKERS: usize = 2;

/// Tessera's audio-only room next to Janus's AudioBridge.
#[derive(Debug, Clone, Serialize)]
pub struct AudioRun {
    /// Participants, each sending Opus and receiving its mix-minus.
    pub participants: usize,
    /// How many of them talk (the others send silence); none: all of them.
    pub talkers: Option<usize>,
    /// Tessera's CPU in cores (mean of its windows; so are the figures below).
    pub tessera_cpu_cores: f64,
    /// Tessera's RSS, MiB.
    pub tessera_rss_mib: f64,
    /// Mix packets per second each participant received from Tessera.
    pub tessera_pps: f64,
    /// Where Tessera's CPU went, by thread group.
    pub tessera_threads: Vec<ThreadGroup>,
    /// Janus's CPU in cores.
    pub janus_cpu_cores: f64,
    /// Janus's RSS, MiB.
    pub janus_rss_mib: f64,
    /// Mix packets per second each participant received from Janus.
    pub janus_pps: f64,
    /// Where Janus's CPU went, by thread group (its threads are named by Janus and GLib).
    pub janus_threads: Vec<ThreadGroup>,
    /// Each round's cores, Tessera and Janus (the figures above are their means).
    pub rounds: Vec<[f64; 2]>,
}

impl AudioRun {
    fn ratio(&self) -> f64 {
        self.tessera_cpu_cores / self.janus_cpu_cores
    }
}

/// Every configuration of the plan: all talking at each N, then two talkers at the largest N.
pub async fn measure_all(plan: &Plan, base: &LoadOptions, clips: &loadgen::Clips) -> anyhow::Result<Vec<AudioRun>> {
    let mut runs = Vec::new();
    for &n in &plan.audio {
        tracing::info!(participants = n, "audio-only: tessera and janus");
        runs.push(measure(n, None, plan, base, clips).await?);
    }
    if let Some(&n) = plan.audio.last() {
        tracing::info!(participants = n, talkers = FEW_TALKERS, "audio-only: tessera and janus");
        runs.push(measure(n, Some(FEW_TALKERS), plan, base, clips).await?);
    }
    Ok(runs)
}

/// Windows of each server per configuration, taking turns at going first. Back-to-back runs of
/// one binary read up to a quarter apart on this machine, and a server measured only before
/// the other would carry any drift of the machine's speed alone. With 2 rounds the ratio at
/// N=4 swung ±9 % between rounds (0.91 and 1.09 in one bench), so it is the mean of 4.
pub const ROUNDS: usize = 4;

/// One window of a server's room: cores, RSS, mix packets/s per participant, threads.
type Window = (f64, f64, f64, Vec<ThreadGroup>);

async fn measure(
    n: usize,
    talkers: Option<usize>,
    plan: &Plan,
    base: &LoadOptions,
    clips: &loadgen::Clips,
) -> anyhow::Result<AudioRun> {
    let (mut tessera, mut janus) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        if round % 2 == 1 {
            janus.push(janus_window(n, talkers, plan, clips).await?);
        }
        tessera.push(tessera_window(n, talkers, base, clips).await?);
        if round % 2 == 0 {
            janus.push(janus_window(n, talkers, plan, clips).await?);
        }
    }
    // A server that mixes nothing costs nothing: such a comparison would be meaningless.
    let pps = [
        ("Tessera", tessera.iter().map(|t| t.2).fold(f64::MAX, f64::min)),
        ("Janus", janus.iter().map(|j| j.2).fold(f64::MAX, f64::min)),
    ];
    for (server, pps) in pps {
        anyhow::ensure!(pps >= 40.0, "{server}'s participants got {pps:.1} mix packets/s, not ~50; see its log");
    }
    let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len().max(1) as f64;
    Ok(AudioRun {
        participants: n,
        talkers,
        tessera_cpu_cores: mean(tessera.iter().map(|t| t.0).collect()),
        tessera_rss_mib: mean(tessera.iter().map(|t| t.1).collect()),
        tessera_pps: mean(tessera.iter().map(|t| t.2).collect()),
        tessera_threads: mean_threads(tessera.iter().map(|t| t.3.as_slice())),
        janus_cpu_cores: mean(janus.iter().map(|j| j.0).collect()),
        janus_rss_mib: mean(janus.iter().map(|j| j.1).collect()),
        janus_pps: mean(janus.iter().map(|j| j.2).collect()),
        janus_threads: mean_threads(janus.iter().map(|j| j.3.as_slice())),
        rounds: tessera.iter().zip(&janus).map(|(t, j)| [t.0, j.0]).collect(),
    })
}

/// Tessera's audio-only room for one window (the load generator's warm-up and window).
async fn tessera_window(
    n: usize,
    talkers: Option<usize>,
    base: &LoadOptions,
    clips: &loadgen::Clips,
) -> anyhow::Result<Window> {
    let audio_only = LoadOptions { publishers: n, audio_only: true, latency: false, talkers, ..base.clone() };
    let tessera = measure_tessera(audio_only, &["--video", "false"], clips).await?;
    let server = tessera.server.context("no server sample")?;
    Ok((server.cpu_cores, server.at_end.rss_mib, tessera.publisher_audio_pps, server.threads))
}

/// Janus's AudioBridge for one window.
async fn janus_window(n: usize, talkers: Option<usize>, plan: &Plan, clips: &loadgen::Clips) -> anyhow::Result<Window> {
    let janus = Arc::new(janus::Janus::start().await?);
    let silent = loadgen::blocking(|| EncodedClip::opus_silent(10)).await?;
    let mut peers = Vec::new();
    for i in 0..n {
        let clip = if talkers.is_some_and(|t| i >= t) { &silent } else { &clips.audio };
        peers.push(janus_peer::JanusPeer::join(janus.clone(), &format!("p{i}"), clip).await?);
    }
    tokio::time::sleep(Duration::from_secs(plan.warmup)).await;
    let packets = |peers: &[janus_peer::JanusPeer]| peers.iter().map(|p| p.received.rtp().audio_packets).sum::<u64>();
    let pid = janus.pid();
    let (t0, s0, th0, p0) = (Instant::now(), ProcSample::read(Some(pid))?, thread_times(pid)?, packets(&peers));
    tokio::time::sleep(Duration::from_secs(plan.window)).await;
    let (t1, s1, th1, p1) = (Instant::now(), ProcSample::read(Some(pid))?, thread_times(pid)?, packets(&peers));
    let secs = t1.duration_since(t0).as_secs_f64();
    drop(peers);
    let threads = thread_groups(&th0, &th1, secs);
    Ok((s0.cores_until(&s1, secs), s1.rss_mib, (p1 - p0) as f64 / secs / n as f64, threads))
}

/// Each thread group's mean over the windows, busiest first.
fn mean_threads<'a>(windows: impl Iterator<Item = &'a [ThreadGroup]>) -> Vec<ThreadGroup> {
    let mut groups: Vec<ThreadGroup> = Vec::new();
    let mut count = 0.0;
    for window in windows {
        count += 1.0;
        for g in window {
            match groups.iter_mut().find(|m| m.name == g.name) {
                Some(m) => {
                    m.threads = m.threads.max(g.threads);
                    m.cores += g.cores;
                }
                None => groups.push(g.clone()),
            }
        }
    }
    groups.iter_mut().for_each(|g| g.cores /= f64::max(count, 1.0));
    groups.sort_by(|a, b| b.cores.total_cmp(&a.cores));
    groups
}

/// `--only audio`: this step alone, its table printed.
pub async fn alone(
    plan: &Plan,
    base: &LoadOptions,
    clips: &loadgen::Clips,
    mut results: Results,
) -> anyhow::Result<Results> {
    results.audio = measure_all(plan, base, clips).await?;
    for a in &results.audio {
        for (server, threads) in [("Tessera", &a.tessera_threads), ("Janus", &a.janus_threads)] {
            println!("{server}'s threads, {} participants, {:?} talking:", a.participants, a.talkers);
            for g in threads.iter().filter(|g| g.cores > 0.0) {
                println!("  {:<28} {:>3} threads {:.4} cores", g.name, g.threads, g.cores);
            }
        }
    }
    let mut table = String::new();
    section(&mut table, &results);
    let _ = writeln!(table, "| Target | Measured | |\n|---|---|---|");
    target_rows(&mut table, &results, super::report::mark);
    println!("{table}");
    Ok(results)
}

fn per(cores: f64, n: usize) -> f64 {
    cores / n.max(1) as f64
}

/// The Targets table's rows: at most Janus's CPU with everyone talking, at every N; at most
/// half of it with two talkers at the largest N.
pub fn target_rows(s: &mut String, r: &Results, mark: impl Fn(Option<bool>) -> &'static str) {
    let all: Vec<&AudioRun> = r.audio.iter().filter(|a| a.talkers.is_none()).collect();
    let met = (!all.is_empty()).then(|| all.iter().all(|a| a.ratio() <= 1.0));
    let measured = all
        .iter()
        .map(|a| {
            let (n, t, j) = (a.participants, a.tessera_cpu_cores, a.janus_cpu_cores);
            format!("N={n}: {:.4} vs {:.4} ({:.2}×)", per(t, n), per(j, n), a.ratio())
        })
        .collect::<Vec<_>>()
        .join("; ");
    let _ = writeln!(
        s,
        "| audio-only room ≤ 1.0 × Janus AudioBridge per participant, all talking | {measured} | {} |",
        mark(met)
    );
    let few = r.audio.iter().find(|a| a.talkers.is_some());
    let _ = writeln!(
        s,
        "| audio-only room ≤ 0.5 × Janus at N={}, {FEW_TALKERS} talking | {} | {} |",
        few.map_or(16, |a| a.participants),
        few.map_or("–".into(), |a| format!(
            "{:.3} vs {:.3} cores ({:.2}×)",
            a.tessera_cpu_cores,
            a.janus_cpu_cores,
            a.ratio()
        )),
        mark(few.map(|a| a.ratio() <= 0.5))
    );
}

/// The report's section.
pub fn section(s: &mut String, r: &Results) {
    if r.audio.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "## Audio-only rooms: Tessera against Janus AudioBridge\n\n\
         N participants each send the same pre-encoded Opus clip (or, where only {FEW_TALKERS} talk, \
         the others send Opus silence with DTX: a comfort-noise packet every 400 ms, as browsers do \
         when the SDP asks for it, which Tessera's does) and receive their own mix-minus. Janus decodes everyone, mixes \
         and encodes one Opus stream per participant. Tessera sums everyone once \
         (`src/media/mixengine`) and encodes once for everyone who is not talking, plus once per \
         talker. Janus runs from the Debian package with only the AudioBridge plugin and its HTTP \
         transport, driven through its HTTP API; a 48 kHz room. Each server is measured {ROUNDS} times, \
         taking turns at going first (back-to-back runs of one binary read up to a quarter apart \
         here); the table gives the means, and each round's ratio.\n\n\
         | Participants | Talking | Tessera CPU | per participant | Janus CPU | per participant | Tessera ÷ Janus | each round | Mix packets/s per participant (Tessera / Janus) | RSS MiB (Tessera / Janus) |\n\
         |---|---|---|---|---|---|---|---|---|---|"
    );
    for a in &r.audio {
        let n = a.participants;
        let _ = writeln!(
            s,
            "| {n} | {} | {:.3} | {:.4} | {:.3} | {:.4} | {:.2} | {} | {:.0} / {:.0} | {:.0} / {:.0} |",
            a.talkers.map_or("all".into(), |t| t.to_string()),
            a.tessera_cpu_cores,
            per(a.tessera_cpu_cores, n),
            a.janus_cpu_cores,
            per(a.janus_cpu_cores, n),
            a.ratio(),
            a.rounds.iter().map(|[t, j]| format!("{:.2}", t / j)).collect::<Vec<_>>().join(", "),
            a.tessera_pps,
            a.janus_pps,
            a.tessera_rss_mib,
            a.janus_rss_mib
        );
    }
    let _ = writeln!(s);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str, threads: usize, cores: f64) -> ThreadGroup {
        ThreadGroup { name: name.into(), threads, cores }
    }

    /// Groups are matched by name across windows: a group seen in one window only counts as idle
    /// in the others.
    #[test]
    fn thread_groups_are_averaged_over_the_windows_busiest_first() {
        let a = [group("mixer:src", 1, 0.02), group("nicesrc#:src", 4, 0.01)];
        let b = [group("nicesrc#:src", 5, 0.03), group("timer", 1, 0.002)];
        let mean = mean_threads([&a[..], &b[..]].into_iter());
        let got: Vec<_> = mean.iter().map(|g| (g.name.as_str(), g.threads, (g.cores * 1000.0).round())).collect();
        assert_eq!(got, [("nicesrc#:src", 5, 20.0), ("mixer:src", 1, 10.0), ("timer", 1, 1.0)]);
    }
}
