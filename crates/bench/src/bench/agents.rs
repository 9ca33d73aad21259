//! What agents on `/agent` cost (docs/agents.md): a room of 4 publishers plus 1, 4 and 10
//! agents, each speaking a tone in real time and hearing its mix-minus; the agent's
//! mouth-to-ear latency (its tone's onset to a publisher's decoded audio); and the cadence of
//! its frames (longest gap over the window).
//!
//! The cost is compared in rounds of three rooms: 4 publishers alone, with 4 more publishers,
//! and with the most agents, the rooms taking turns at going first. One more publisher adds
//! less than two runs minutes apart differ by on this machine, so the comparison adds four
//! and divides, and averages the rounds.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde::Serialize;
use tessera_client::agent::{AgentClient, sine};
use tessera_client::{PeerOptions, TestPeer};

use super::server::Server;
use super::{Plan, Results};
use crate::loadgen::{ProcSample, procfs};

/// Publishers in every agent room.
const PUBLISHERS: usize = 4;
/// Publishers added in the room an agent is compared with.
const MORE_PUBLISHERS: usize = 4;
/// Agent counts measured; the last is the one compared.
const AGENTS: [usize; 3] = [1, 4, 10];
/// Rounds of the comparison, an even number, so each room goes first as often as last.
const ROUNDS: usize = 4;
/// The agents' tone.
const HZ: f64 = 700.0;

/// One room measured.
#[derive(Debug, Clone, Serialize)]
pub struct AgentRun {
    /// Publishers in the room.
    pub publishers: usize,
    /// Agents in the room.
    pub agents: usize,
    /// Server CPU, cores.
    pub cpu_cores: f64,
    /// Of it, the compositor's thread (compositing, the one encode): what the layout costs.
    pub compositor_cores: f64,
    /// The longest gap between two frames an agent received in the window, ms.
    pub max_frame_gap_ms: f64,
    /// Frames per second each agent received.
    pub frames_per_sec: f64,
}

/// One round of the cost comparison.
#[derive(Debug, Clone, Serialize)]
pub struct CostRound {
    /// The publishers alone.
    pub baseline: AgentRun,
    /// With [`MORE_PUBLISHERS`] more.
    pub more_publishers: AgentRun,
    /// With the most agents.
    pub agents: AgentRun,
}

impl CostRound {
    /// CPU per agent and per added publisher, cores.
    fn per_agent(&self) -> (f64, f64) {
        let base = self.baseline.cpu_cores;
        let added = (self.more_publishers.publishers - self.baseline.publishers).max(1);
        (
            (self.agents.cpu_cores - base) / self.agents.agents.max(1) as f64,
            (self.more_publishers.cpu_cores - base) / added as f64,
        )
    }
}

/// Everything the agent step measured.
#[derive(Debug, Clone, Serialize)]
pub struct AgentBench {
    /// The cost comparison, round by round.
    pub rounds: Vec<CostRound>,
    /// 4 publishers and each agent count but the last, once (the last is in the rounds).
    pub runs: Vec<AgentRun>,
    /// Mouth-to-ear latency of an agent's tone at a publisher, each onset, ms.
    pub mouth_to_ear_ms: Vec<f64>,
}

impl AgentBench {
    /// CPU per agent with the most agents, and per added publisher, cores: the means over the
    /// rounds.
    pub fn per_agent(&self) -> Option<(f64, f64)> {
        let n = self.rounds.len();
        (n > 0).then(|| {
            let (a, p) = self.rounds.iter().map(CostRound::per_agent).fold((0.0, 0.0), |s, r| (s.0 + r.0, s.1 + r.1));
            (a / n as f64, p / n as f64)
        })
    }

    /// The median mouth-to-ear latency, ms.
    pub fn median_latency(&self) -> Option<f64> {
        let mut v = self.mouth_to_ear_ms.clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    }

    /// Every room measured with agents in it, fewest agents first.
    fn agent_runs(&self) -> impl Iterator<Item = &AgentRun> {
        self.runs.iter().chain(self.rounds.iter().map(|r| &r.agents))
    }
}

/// Streams a tone in real time, one 20 ms frame per tick, until dropped.
fn speak(agent: &AgentClient) -> Vec<Vec<u8>> {
    sine(agent.rate(), HZ, 0.1, 1.0)
}

async fn room(publishers: usize, agents: usize, plan: &Plan, window: u64) -> anyhow::Result<AgentRun> {
    let server = Server::start(&[]).await?;
    let mut peers = Vec::new();
    for i in 0..publishers {
        let mut o =
            PeerOptions::publisher("agents", &format!("p{i}"), [200, (i * 50) as u8, 40], 300.0 + 100.0 * i as f64);
        o.decode = false;
        peers.push(TestPeer::join(server.addr, o).await?);
    }
    let mut speakers = Vec::new();
    for i in 0..agents {
        speakers.push(AgentClient::connect(server.addr, &format!("room=agents&name=agent{i}")).await?);
    }
    // Each agent speaks in real time: a second of tone, then the next, queued one ahead.
    let second = speakers.first().map(speak).unwrap_or_default();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let warm_until = Instant::now() + Duration::from_secs(plan.warmup);
    while Instant::now() < warm_until {
        tick.tick().await;
        speakers.iter().for_each(|a| a.play(second.clone()));
    }
    let (t0, s0) = (Instant::now(), ProcSample::read(Some(server.pid()))?);
    let threads0 = procfs::thread_times(server.pid())?;
    let end = t0 + Duration::from_secs(window);
    while Instant::now() < end {
        tick.tick().await;
        speakers.iter().for_each(|a| a.play(second.clone()));
    }
    let (t1, s1) = (Instant::now(), ProcSample::read(Some(server.pid()))?);
    let secs = t1.duration_since(t0).as_secs_f64();
    let groups = procfs::thread_groups(&threads0, &procfs::thread_times(server.pid())?, secs);
    let compositor_cores = procfs::group_cores(&groups, super::viewers::COMPOSITOR).unwrap_or(0.0);
    let (mut max_gap, mut frames) = (Duration::ZERO, 0usize);
    for a in &speakers {
        a.received(|r| {
            let inside: Vec<Instant> = r.frame_arrivals.iter().copied().filter(|t| *t >= t0 && *t < t1).collect();
            frames += inside.len();
            max_gap = max_gap.max(inside.windows(2).map(|w| w[1] - w[0]).max().unwrap_or_default());
        });
    }
    Ok(AgentRun {
        publishers,
        agents,
        cpu_cores: s0.cores_until(&s1, secs),
        compositor_cores,
        max_frame_gap_ms: max_gap.as_secs_f64() * 1000.0,
        frames_per_sec: frames as f64 / secs / agents.max(1) as f64,
    })
}

/// An agent's tone onset (its first frame sent into an empty queue) to the moment a publisher's
/// decoded audio holds it, polled every 2 ms; `count` onsets a second apart.
async fn mouth_to_ear(count: usize) -> anyhow::Result<Vec<f64>> {
    let server = Server::start(&[]).await?;
    let mut o = PeerOptions::publisher("mouth", "ear", [0, 0, 255], 300.0);
    o.decode = true;
    let ear = TestPeer::join(server.addr, o).await?;
    let agent = AgentClient::connect(server.addr, "room=mouth&name=mouth").await?;
    agent.wait_message(Duration::from_secs(10), |m| m["type"] == "joined").await?;
    ear.wait_for(Duration::from_secs(15), |p| p.received().audio_samples() > 48_000).await?;
    let tone = sine(16_000, HZ, 0.25, 0.3);
    let mut delays = Vec::new();
    for _ in 0..count {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let sent = Instant::now();
        agent.play(tone.clone());
        while ear.tone_dbfs(HZ, 20) < -30.0 {
            anyhow::ensure!(sent.elapsed() < Duration::from_secs(2), "the publisher never heard the agent");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        delays.push(sent.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(delays)
}

/// Runs the agent step.
pub async fn measure(plan: &Plan) -> anyhow::Result<AgentBench> {
    // The cadence is checked over 30 s (10 s in the quick run).
    let long = if plan.window >= 20 { 30 } else { plan.window };
    let (&most, fewer) = AGENTS.split_last().expect("agent counts");
    let mut runs = Vec::new();
    for &n in fewer {
        tracing::info!(agents = n, "agents");
        runs.push(room(PUBLISHERS, n, plan, if n == 1 { long } else { plan.window }).await?);
    }
    let mut rounds = Vec::new();
    for round in 0..ROUNDS {
        let rooms = [(PUBLISHERS, 0), (PUBLISHERS + MORE_PUBLISHERS, 0), (PUBLISHERS, most)];
        let mut measured = Vec::new();
        for (publishers, agents) in super::viewers::in_turn(&rooms, round) {
            tracing::info!(publishers, agents, round, "agents: the cost comparison");
            measured.push(room(publishers, agents, plan, plan.window).await?);
        }
        let take = |p: usize, a: usize| {
            measured.iter().find(|r| r.publishers == p && r.agents == a).cloned().expect("measured above")
        };
        rounds.push(CostRound {
            baseline: take(PUBLISHERS, 0),
            more_publishers: take(PUBLISHERS + MORE_PUBLISHERS, 0),
            agents: take(PUBLISHERS, most),
        });
    }
    let mouth_to_ear_ms = mouth_to_ear(10).await?;
    Ok(AgentBench { rounds, runs, mouth_to_ear_ms })
}

/// The Targets table's rows.
pub fn target_rows(s: &mut String, r: &Results, mark: impl Fn(Option<bool>) -> &'static str) {
    let Some(a) = &r.agents else { return };
    let per = a.per_agent();
    let _ = writeln!(
        s,
        "| CPU per agent ≤ one publisher's | {} | {} |",
        per.map_or("–".into(), |(agent, publisher)| format!(
            "{agent:.4} core per agent, {publisher:.4} per publisher (means of {} rounds)",
            a.rounds.len()
        )),
        mark(per.map(|(agent, publisher)| agent <= publisher))
    );
    let median = a.median_latency();
    let _ = writeln!(
        s,
        "| agent mouth-to-ear ≤ 100 ms | {} | {} |",
        median.map_or("–".into(), |m| format!("median {m:.0} ms over {} onsets", a.mouth_to_ear_ms.len())),
        mark(median.map(|m| m <= 100.0))
    );
    let gap = a.agent_runs().map(|r| r.max_frame_gap_ms).reduce(f64::max);
    let _ = writeln!(
        s,
        "| agent frames every 20 ms, no gap over 60 ms | {} | {} |",
        gap.map_or("–".into(), |g| format!("longest gap {g:.0} ms")),
        mark(gap.map(|g| g <= 60.0))
    );
}

/// The report's section.
pub fn section(s: &mut String, r: &Results) {
    let Some(a) = &r.agents else { return };
    let _ = writeln!(
        s,
        "## Agents\n\n\
         A room of {PUBLISHERS} publishers (320x180 VP8 and Opus, not decoded by the load generator) \
         plus agents on `/agent`, each speaking a {HZ} Hz tone in real time (16 kHz) and hearing its \
         mix-minus. The cost is compared in {} rounds of three rooms, taking turns at going first: \
         the publishers alone, with {MORE_PUBLISHERS} more publishers (one alone adds less than the \
         run-to-run noise), and with {} agents. Mouth-to-ear: an agent's tone onset to the moment \
         a publisher's decoded audio holds it (median of {} onsets: {}).\n\n\
         | Round | Publishers | Agents | Server CPU (cores) | Compositor's thread | Per agent or added publisher | Frames/s per agent | Longest frame gap |\n\
         |---|---|---|---|---|---|---|---|",
        a.rounds.len(),
        AGENTS[AGENTS.len() - 1],
        a.mouth_to_ear_ms.len(),
        a.mouth_to_ear_ms.iter().map(|m| format!("{m:.0}")).collect::<Vec<_>>().join(", ")
    );
    let row = |s: &mut String, round: &str, run: &AgentRun, per: Option<f64>| {
        let frames = |x: f64| if run.agents == 0 { "–".to_owned() } else { format!("{x:.1}") };
        let gap = if run.agents == 0 { "–".to_owned() } else { format!("{:.0} ms", run.max_frame_gap_ms) };
        let _ = writeln!(
            s,
            "| {round} | {} | {} | {:.3} | {:.3} | {} | {} | {gap} |",
            run.publishers,
            run.agents,
            run.cpu_cores,
            run.compositor_cores,
            per.map_or("–".into(), |p| format!("{p:.4}")),
            frames(run.frames_per_sec),
        );
    };
    for (i, round) in a.rounds.iter().enumerate() {
        let (agent, publisher) = round.per_agent();
        let n = (i + 1).to_string();
        row(s, &n, &round.baseline, None);
        row(s, &n, &round.more_publishers, Some(publisher));
        row(s, &n, &round.agents, Some(agent));
    }
    for run in &a.runs {
        row(s, "cadence", run, None);
    }
    let _ = writeln!(s);
}

/// `tessera-bench bench --only agents`: this step alone, its rows printed.
pub async fn run_alone(plan: Plan, started: Instant) -> anyhow::Result<Results> {
    let agents = measure(&plan).await?;
    let results = Results {
        started: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        duration_secs: started.elapsed().as_secs_f64(),
        plan,
        machine: super::machine(),
        client_latency: None,
        latency_floor_ms: 0.0,
        tessera: Vec::new(),
        ignoring: Vec::new(),
        viewers: Vec::new(),
        viewer_sweep: Default::default(),
        floor: Vec::new(),
        paired: None,
        audio: Vec::new(),
        codecs: Vec::new(),
        redirect: None,
        observability: None,
        agents: Some(agents),
    };
    let mut s = String::from("| Target | Measured | |\n|---|---|---|\n");
    target_rows(&mut s, &results, super::report::mark);
    s.push('\n');
    section(&mut s, &results);
    println!("{s}");
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(publishers: usize, agents: usize, cpu_cores: f64) -> AgentRun {
        AgentRun { publishers, agents, cpu_cores, compositor_cores: 0.2, max_frame_gap_ms: 22.0, frames_per_sec: 50.0 }
    }

    #[test]
    fn the_cost_is_per_agent_and_per_added_publisher_averaged_over_rounds() {
        let round = |base: f64, more: f64, agents: f64| CostRound {
            baseline: run(4, 0, base),
            more_publishers: run(8, 0, more),
            agents: run(4, 10, agents),
        };
        let bench = AgentBench {
            rounds: vec![round(0.40, 0.48, 0.42), round(0.44, 0.56, 0.48)],
            runs: vec![run(4, 1, 0.41)],
            mouth_to_ear_ms: vec![],
        };
        let (agent, publisher) = bench.per_agent().unwrap();
        assert!((agent - 0.003).abs() < 1e-9, "(0.002 + 0.004) / 2: {agent}");
        assert!((publisher - 0.025).abs() < 1e-9, "(0.02 + 0.03) / 2: {publisher}");
        assert_eq!(bench.agent_runs().count(), 3, "the cadence run and each round's agents");
        let none = AgentBench { rounds: vec![], runs: vec![], mouth_to_ear_ms: vec![] };
        assert_eq!(none.per_agent(), None);
    }
}
