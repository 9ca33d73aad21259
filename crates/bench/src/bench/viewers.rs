//! The viewer sweep: what each extra receive-only viewer costs the server.
//!
//! The sweep runs in rounds on the same room size, every count once a round (none among them),
//! the counts in turn forward and backward, so a machine that speeds up or slows down over the
//! minutes of the sweep weighs on both ends alike. The figure is the least-squares slope of the
//! server's CPU over every run; each round's own slope shows the spread. Its baseline is its own
//! run at 0 viewers: the publisher sweep's run at the same size comes minutes earlier and after
//! timed joins and churn, and as a baseline it moved the figure from 0.0025 to 0.0071 core over
//! three benches while the step from 10 to 30 viewers alone read 0.0014 to 0.0023.

use super::{Plan, Results, derived};
use crate::loadgen::{Clips, LoadOptions, LoadReport};

/// The thread group that sends an output's packets to each of its receivers (`egress_gate`).
const FANOUT: &str = "fanout:src";

/// The thread group that composites and encodes.
const COMPOSITOR: &str = "compositor:src";

/// How far the compositor's thread may move within a round, as the ratio of its highest
/// reading to its lowest. Its work does not change with viewers (one composite, one encode),
/// so more than this is the machine changing speed under the round: in one sweep it read
/// 0.220 core at 0 viewers and 0.292 at 10, and the round's slope tripled.
const STEADY: f64 = 1.15;

/// Attempts at a steady round before the last one is kept as it is.
const ATTEMPTS: usize = 3;

/// Runs the sweep: `plan.viewer_rounds` rounds of every count in `plan.viewers`, each round
/// run again (up to [`ATTEMPTS`] times) while the machine's speed moved under it. Returns the
/// runs and how many rounds were run again.
pub(super) async fn measure(
    plan: &Plan,
    base: &LoadOptions,
    clips: &Clips,
    latency_floor_ms: f64,
) -> anyhow::Result<(Vec<LoadReport>, usize)> {
    let (mut runs, mut rerun) = (Vec::new(), 0);
    for round in 0..plan.viewer_rounds {
        for attempt in 1..=ATTEMPTS {
            let mut this = Vec::new();
            for v in in_turn(&plan.viewers, round) {
                tracing::info!(viewers = v, round, attempt, "tessera, viewer sweep");
                let load = LoadOptions { publishers: plan.viewer_room, viewers: v, ..base.clone() };
                let report = super::measure_tessera(load, &[], clips).await?;
                super::latency_floor::refuse_impossible_latency(&report, latency_floor_ms)?;
                this.push(report);
            }
            let compositor: Vec<f64> = this.iter().map(compositor_cores).collect();
            if spread(compositor.iter().copied()) <= STEADY || attempt == ATTEMPTS {
                runs.extend(this);
                break;
            }
            tracing::warn!(round, ?compositor, "the compositor's thread moved within the round: running it again");
            rerun += 1;
        }
    }
    Ok((runs, rerun))
}

/// The highest of `readings` over the lowest.
fn spread(readings: impl Iterator<Item = f64>) -> f64 {
    let (low, high) = readings.fold((f64::MAX, 0.0f64), |(l, h), c| (l.min(c), h.max(c)));
    if low > 0.0 { high / low } else { f64::INFINITY }
}

/// Runs the sweep of a full plan alone (`--only viewers`) and prints its section.
pub(super) async fn alone(
    plan: &Plan,
    base: &LoadOptions,
    clips: &Clips,
    mut results: Results,
) -> anyhow::Result<Results> {
    results.plan = plan.clone();
    (results.viewers, results.viewer_rounds_rerun) = measure(plan, base, clips, results.latency_floor_ms).await?;
    let mut section = String::new();
    super::report::viewers(&mut section, &results, &derived::Derived::of(&results));
    println!("{section}");
    Ok(results)
}

/// The counts of round `round`: forward in even rounds, backward in odd ones.
fn in_turn(counts: &[usize], round: usize) -> Vec<usize> {
    let mut counts = counts.to_vec();
    if round % 2 == 1 {
        counts.reverse();
    }
    counts
}

/// What an extra viewer costs, in cores.
#[derive(Debug, Clone, PartialEq)]
pub struct PerViewer {
    /// The server's CPU, least squares over every run of the sweep.
    pub cores: f64,
    /// The same, each round on its own.
    pub rounds: Vec<f64>,
    /// Of it, the fan-out threads' (each output's sends to its receivers).
    pub fanout: f64,
    /// Rounds run again because the machine's speed moved under them.
    pub rerun: usize,
}

/// The figure of `r`'s sweep; `None` without a sweep, or without a run at 0 viewers in it.
pub fn per_viewer(r: &Results) -> Option<PerViewer> {
    if !r.viewers.iter().any(|t| t.viewers == 0) {
        return None;
    }
    let at = |runs: &[LoadReport], of: fn(&LoadReport) -> f64| -> Option<f64> {
        derived::slope(&runs.iter().map(|t| (t.viewers as f64, of(t))).collect::<Vec<_>>())
    };
    let rounds = r.viewers.chunks(r.plan.viewers.len().max(1)).filter_map(|round| at(round, derived::cpu)).collect();
    Some(PerViewer {
        cores: at(&r.viewers, derived::cpu)?,
        rounds,
        fanout: at(&r.viewers, fanout_cores)?,
        rerun: r.viewer_rounds_rerun,
    })
}

/// The fan-out threads' cores in `t`.
pub(super) fn fanout_cores(t: &LoadReport) -> f64 {
    thread_cores(t, FANOUT)
}

/// The compositor's thread's cores in `t`.
pub(super) fn compositor_cores(t: &LoadReport) -> f64 {
    thread_cores(t, COMPOSITOR)
}

fn thread_cores(t: &LoadReport, group: &str) -> f64 {
    t.server.as_ref().map_or(0.0, |s| s.threads.iter().filter(|g| g.name == group).map(|g| g.cores).sum())
}

/// The same figure from a results file read as JSON (an older file, in `compare`): its own
/// run at 0 viewers when the sweep has one, else the publisher sweep's run at the same size.
pub fn per_viewer_of_json(r: &serde_json::Value) -> Option<f64> {
    let cpu = |t: &serde_json::Value| Some((t["viewers"].as_f64()?, t.pointer("/server/cpu_cores")?.as_f64()?));
    let mut points: Vec<(f64, f64)> = r["viewers"].as_array()?.iter().filter_map(cpu).collect();
    if !points.iter().any(|p| p.0 == 0.0) {
        let room = r.pointer("/plan/viewer_room").and_then(serde_json::Value::as_u64).unwrap_or(4);
        let base =
            r["tessera"].as_array()?.iter().find(|t| t["publishers"].as_u64() == Some(room) && t["viewers"] == 0);
        points.extend(base.and_then(cpu));
    }
    derived::slope(&points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_alternate_their_order() {
        assert_eq!(in_turn(&[0, 10, 30], 0), [0, 10, 30]);
        assert_eq!(in_turn(&[0, 10, 30], 1), [30, 10, 0]);
        assert_eq!(in_turn(&[0, 10, 30], 2), [0, 10, 30]);
    }

    #[test]
    fn a_round_is_steady_while_the_compositor_holds_within_15_percent() {
        // Two rounds of one sweep: steady, then the machine slowing under the second.
        assert!(spread([0.239, 0.230, 0.228].into_iter()) <= STEADY);
        assert!(spread([0.220, 0.292, 0.282].into_iter()) > STEADY);
        assert!(spread([0.0, 0.2].into_iter()) > STEADY, "an unmeasured compositor is not steady");
    }

    #[test]
    fn an_older_file_takes_its_baseline_from_the_publisher_sweep() {
        let old = serde_json::json!({
            "plan": {"viewer_room": 4},
            "tessera": [{"publishers": 4, "viewers": 0, "server": {"cpu_cores": 0.4}}],
            "viewers": [{"viewers": 10, "server": {"cpu_cores": 0.46}}, {"viewers": 30, "server": {"cpu_cores": 0.58}}],
        });
        let slope = per_viewer_of_json(&old).unwrap();
        assert!((slope - 0.006).abs() < 1e-9, "{slope}");
        let new = serde_json::json!({
            "plan": {"viewer_room": 4},
            "tessera": [{"publishers": 4, "viewers": 0, "server": {"cpu_cores": 9.0}}],
            "viewers": [
                {"viewers": 0, "server": {"cpu_cores": 0.5}}, {"viewers": 30, "server": {"cpu_cores": 0.59}},
                {"viewers": 30, "server": {"cpu_cores": 0.61}}, {"viewers": 0, "server": {"cpu_cores": 0.5}},
            ],
        });
        let slope = per_viewer_of_json(&new).unwrap();
        assert!((slope - 0.0033333).abs() < 1e-6, "its own baseline, not the sweep's: {slope}");
    }
}
