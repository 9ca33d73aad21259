//! The viewer sweep: what each extra receive-only viewer costs the server.
//!
//! The sweep runs in rounds on one room size, each round every count once (0 among them), the
//! rounds in turn forward and backward. With an even number of rounds, every count sits at the
//! same mean position in the sweep, so a machine that speeds up or slows down steadily over its
//! minutes weighs on every count alike. Its baseline is its own run at 0 viewers, for the same
//! reason: a run from elsewhere in the bench would be minutes apart from the rest.
//!
//! A shared machine also changes speed in steps. The compositor's thread is the gauge: within a
//! round it does the same work at every count (one composite, one encode, whoever receives it),
//! so when its reading moves by more than [`MAX_COMPOSITOR_SPREAD`] the round is run again. The
//! attempts thrown away are kept in the results, and a round still unsteady at its last attempt
//! is kept and named.
//!
//! The figure judged is the larger of two slopes: the server's, and its fan-out threads' (each
//! output's sends to its receivers). A viewer costs at least its sends, so a server slope below
//! theirs means something else got cheaper as viewers were added, which is not the viewers'
//! doing.

use serde::Serialize;

use super::{Plan, Results, derived};
use crate::loadgen::{Clips, LoadOptions, LoadReport, procfs};

/// The thread group that sends an output's packets to each of its receivers (`egress_gate`).
pub(super) const FANOUT: &str = "fanout:src";

/// The thread group that composites and encodes.
pub(super) const COMPOSITOR: &str = "compositor:src";

/// The most the compositor's thread may move within a round: its highest reading over its
/// lowest.
pub(super) const MAX_COMPOSITOR_SPREAD: f64 = 1.15;

/// Attempts at a round before the last is kept as it is.
pub(super) const ATTEMPTS: usize = 3;

/// What the sweep ran again, and why.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SweepLog {
    /// Attempts thrown away: the compositor's thread moved too far within them.
    pub discarded: Vec<Discarded>,
    /// Rounds kept although their last attempt moved too far too.
    pub unsteady_kept: Vec<usize>,
}

/// An attempt at a round, thrown away.
#[derive(Debug, Clone, Serialize)]
pub struct Discarded {
    /// The round, from 0.
    pub round: usize,
    /// The attempt, from 1.
    pub attempt: usize,
    /// The compositor's thread at each of its counts, in the order run.
    pub compositor_cores: Vec<f64>,
}

/// Runs the sweep; the runs kept go round by round into the results' `viewers`.
pub(super) async fn measure(
    plan: &Plan,
    base: &LoadOptions,
    clips: &Clips,
    latency_floor_ms: f64,
) -> anyhow::Result<(Vec<LoadReport>, SweepLog)> {
    let (mut kept, mut log) = (Vec::new(), SweepLog::default());
    for round in 0..plan.viewer_rounds {
        for attempt in 1..=ATTEMPTS {
            let mut round_runs = Vec::new();
            for v in in_turn(&plan.viewers, round) {
                tracing::info!(viewers = v, round, attempt, "tessera, viewer sweep");
                let load = LoadOptions { publishers: plan.viewer_room, viewers: v, ..base.clone() };
                let report = super::measure_tessera(load, &[], clips).await?;
                super::latency_floor::refuse_impossible_latency(&report, latency_floor_ms)?;
                round_runs.push(report);
            }
            let compositor = round_runs
                .iter()
                .map(|t| thread_cores(t, COMPOSITOR))
                .collect::<Option<Vec<f64>>>()
                .ok_or_else(|| anyhow::anyhow!("no `{COMPOSITOR}` thread in the server's readings"))?;
            let steady = spread(&compositor) <= MAX_COMPOSITOR_SPREAD;
            if steady || attempt == ATTEMPTS {
                if !steady {
                    log.unsteady_kept.push(round);
                }
                kept.extend(round_runs);
                break;
            }
            tracing::warn!(round, ?compositor, "the compositor's thread moved within the round: running it again");
            log.discarded.push(Discarded { round, attempt, compositor_cores: compositor });
        }
    }
    Ok((kept, log))
}

/// Runs the sweep alone (`--only viewers`) and prints its section and target.
pub(super) async fn alone(
    plan: &Plan,
    base: &LoadOptions,
    clips: &Clips,
    mut results: Results,
) -> anyhow::Result<Results> {
    anyhow::ensure!(
        plan.viewer_rounds > 0,
        "the quick plan has no viewer sweep: run `--only viewers` without `--quick`"
    );
    (results.viewers, results.viewer_sweep) = measure(plan, base, clips, results.latency_floor_ms).await?;
    let derived = derived::Derived::of(&results);
    let mut section = String::new();
    super::report::viewers(&mut section, &results, &derived);
    section.push_str("| Target | Measured | |\n|---|---|---|\n");
    super::report::viewer_target(&mut section, &derived);
    println!("{section}");
    Ok(results)
}

/// What round `round` runs of `items`: forward in even rounds, backward in odd ones.
pub(super) fn in_turn<T: Clone>(items: &[T], round: usize) -> Vec<T> {
    let mut items = items.to_vec();
    if round % 2 == 1 {
        items.reverse();
    }
    items
}

/// The highest of `readings` over the lowest.
fn spread(readings: &[f64]) -> f64 {
    let (low, high) = readings.iter().fold((f64::MAX, 0.0f64), |(l, h), &c| (l.min(c), h.max(c)));
    if low > 0.0 { high / low } else { f64::INFINITY }
}

/// A thread group's cores in `t`; `None` when the server or the group went unread.
fn thread_cores(t: &LoadReport, group: &str) -> Option<f64> {
    procfs::group_cores(&t.server.as_ref()?.threads, group)
}

/// One run of the sweep as the figure needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Run {
    /// Viewers.
    pub viewers: f64,
    /// The server's cores.
    pub server: f64,
    /// Its fan-out threads' cores.
    pub fanout: f64,
    /// Its compositor's thread's cores.
    pub compositor: f64,
}

impl Run {
    /// `t` as a run of the sweep; `None` when a reading is missing.
    pub fn of(t: &LoadReport) -> Option<Self> {
        Some(Self {
            viewers: t.viewers as f64,
            server: t.server.as_ref()?.cpu_cores,
            fanout: thread_cores(t, FANOUT)?,
            compositor: thread_cores(t, COMPOSITOR)?,
        })
    }
}

/// What an extra viewer costs, in cores.
#[derive(Debug, Clone, PartialEq)]
pub struct PerViewer {
    /// The figure judged: the larger of `server` and `fanout`.
    pub judged: f64,
    /// The server's slope, least squares over every run kept.
    pub server: f64,
    /// The fan-out threads' slope.
    pub fanout: f64,
    /// The compositor's thread's slope, which should be about 0.
    pub compositor: f64,
    /// The server's slope in each round on its own.
    pub rounds: Vec<f64>,
    /// From each count to the next: (from, to, the server's mean step per viewer).
    pub steps: Vec<(f64, f64, f64)>,
}

impl PerViewer {
    /// The figure of `runs`, round after round of `per_round` runs; `None` without a run at 0
    /// viewers.
    pub fn of(runs: &[Run], per_round: usize) -> Option<Self> {
        if !runs.iter().any(|r| r.viewers == 0.0) {
            return None;
        }
        let slope = |runs: &[Run], of: fn(&Run) -> f64| {
            derived::slope(&runs.iter().map(|r| (r.viewers, of(r))).collect::<Vec<_>>())
        };
        let server = slope(runs, |r| r.server)?;
        let fanout = slope(runs, |r| r.fanout)?;
        let mut counts: Vec<f64> = runs.iter().map(|r| r.viewers).collect();
        counts.sort_by(f64::total_cmp);
        counts.dedup();
        let mean_at = |v: f64| {
            let at: Vec<f64> = runs.iter().filter(|r| r.viewers == v).map(|r| r.server).collect();
            at.iter().sum::<f64>() / at.len() as f64
        };
        Some(Self {
            judged: server.max(fanout),
            server,
            fanout,
            compositor: slope(runs, |r| r.compositor)?,
            rounds: runs.chunks(per_round.max(1)).filter_map(|round| slope(round, |r| r.server)).collect(),
            steps: counts.windows(2).map(|w| (w[0], w[1], (mean_at(w[1]) - mean_at(w[0])) / (w[1] - w[0]))).collect(),
        })
    }
}

/// The figure of `r`'s sweep.
pub fn per_viewer(r: &Results) -> Option<PerViewer> {
    let runs: Vec<Run> = r.viewers.iter().filter_map(Run::of).collect();
    PerViewer::of(&runs, r.plan.viewers.len())
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
        assert!(spread(&[0.239, 0.230, 0.228]) <= MAX_COMPOSITOR_SPREAD);
        assert!(spread(&[0.220, 0.292, 0.282]) > MAX_COMPOSITOR_SPREAD);
        assert!(spread(&[0.0, 0.2]) > MAX_COMPOSITOR_SPREAD, "an idle compositor is no gauge");
    }

    fn run(viewers: f64, server: f64, fanout: f64) -> Run {
        Run { viewers, server, fanout, compositor: 0.25 }
    }

    #[test]
    fn the_figure_is_the_server_s_slope_over_every_run_and_each_round_s() {
        // Two rounds, forward and backward; the second a little dearer throughout.
        let runs = [
            run(0.0, 0.40, 0.02),
            run(10.0, 0.42, 0.04),
            run(30.0, 0.46, 0.08),
            run(30.0, 0.50, 0.08),
            run(10.0, 0.46, 0.04),
            run(0.0, 0.44, 0.02),
        ];
        let v = PerViewer::of(&runs, 3).unwrap();
        assert!((v.server - 0.002).abs() < 1e-9, "{v:?}");
        assert!((v.fanout - 0.002).abs() < 1e-9, "{v:?}");
        assert_eq!(v.judged, v.server.max(v.fanout));
        assert_eq!(v.rounds.len(), 2);
        assert!(v.rounds.iter().all(|r| (r - 0.002).abs() < 1e-9), "{v:?}");
        assert_eq!(v.compositor, 0.0);
        assert_eq!(v.steps.len(), 2);
        assert!((v.steps[0].2 - 0.002).abs() < 1e-9 && (v.steps[1].2 - 0.002).abs() < 1e-9, "{v:?}");
    }

    #[test]
    fn a_viewer_costs_at_least_its_sends() {
        // The server's slope below the fan-out's: something else got cheaper, the figure is
        // the sends'.
        let runs = [run(0.0, 0.40, 0.02), run(30.0, 0.43, 0.11)];
        let v = PerViewer::of(&runs, 2).unwrap();
        assert!((v.server - 0.001).abs() < 1e-9 && (v.judged - 0.003).abs() < 1e-9, "{v:?}");
    }

    #[test]
    fn no_figure_without_a_run_at_0_viewers() {
        assert_eq!(PerViewer::of(&[run(10.0, 0.4, 0.04), run(30.0, 0.5, 0.1)], 2), None);
    }
}
