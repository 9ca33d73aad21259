//! Tessera against the floor at the target size, in adjacent windows.
//!
//! The publisher sweep and the floor's sweep run minutes apart, and this machine's speed moves
//! by up to a third over minutes: at 16 publishers the two sweeps' ratio read 0.92, 1.01 and
//! 0.60 in three benches of nearly the same code, the last with the floor 25 % dearer than the
//! bench before and Tessera 25 % cheaper. The target is judged here instead: rounds of a
//! Tessera window and a floor window back to back, taking turns at going first (as the viewer
//! sweep does), so that a steady drift weighs on both alike.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::report::{TARGET_N, holds_30};
use super::{Plan, derived::cpu, floor, measure_tessera};
use crate::loadgen::{self, LoadOptions};

/// Rounds of the pair; even, so that each side goes first equally often.
pub const ROUNDS: usize = 4;

/// One round: each side's cores, and whether the probe saw 30 fps in Tessera's window.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PairRound {
    /// Tessera's server, cores.
    pub tessera_cores: f64,
    /// The floor's `gst-launch-1.0`, cores.
    pub floor_cores: f64,
    /// Probe frame rate in Tessera's window, mean.
    pub probe_fps_mean: f64,
    /// Its worst second.
    pub probe_fps_min: f64,
    /// Whether that is 30 fps held ([`holds_30`]).
    pub held_30: bool,
    /// The floor's encoded frame rate.
    pub floor_fps: f64,
    /// Whether Tessera's window went first.
    pub tessera_first: bool,
}

/// Tessera ÷ floor at [`TARGET_N`] publishers over adjacent rounds.
#[derive(Debug, Clone, Serialize)]
pub struct Paired {
    /// Publishers on each side.
    pub publishers: usize,
    /// Every round, in the order run.
    pub rounds: Vec<PairRound>,
}

impl Paired {
    /// Tessera's mean cores over the floor's.
    pub fn ratio(&self) -> Option<f64> {
        let mean = |f: fn(&PairRound) -> f64| self.rounds.iter().map(f).sum::<f64>() / self.rounds.len() as f64;
        let floor = mean(|r| r.floor_cores);
        (!self.rounds.is_empty() && floor > 0.0).then(|| mean(|r| r.tessera_cores) / floor)
    }

    /// Whether 30 fps held in every one of Tessera's windows.
    pub fn holds_30(&self) -> bool {
        !self.rounds.is_empty() && self.rounds.iter().all(|r| r.held_30)
    }
}

/// Runs the rounds: Tessera with `base`'s load at [`TARGET_N`] publishers, the floor decoding
/// `file` as many times.
pub async fn measure(
    plan: &Plan,
    base: &LoadOptions,
    clips: &loadgen::Clips,
    file: &Path,
    dir: &Path,
) -> anyhow::Result<Paired> {
    let mut rounds = Vec::new();
    for round in 0..ROUNDS {
        let tessera_first = round % 2 == 0;
        tracing::info!(publishers = TARGET_N, round, tessera_first, "tessera against the floor, adjacent windows");
        let floor_before = if tessera_first { None } else { Some(floor::measure(TARGET_N, file, plan, dir)?) };
        let t = measure_tessera(LoadOptions { publishers: TARGET_N, ..base.clone() }, &[], clips).await?;
        let f = match floor_before {
            Some(f) => f,
            None => floor::measure(TARGET_N, file, plan, dir)?,
        };
        rounds.push(PairRound {
            tessera_cores: cpu(&t),
            floor_cores: f.cpu_cores,
            probe_fps_mean: t.probe_fps_mean,
            probe_fps_min: t.probe_fps_min,
            held_30: holds_30(&t),
            floor_fps: f.fps,
            tessera_first,
        });
    }
    Ok(Paired { publishers: TARGET_N, rounds })
}

/// The page's section: every round.
pub fn section(s: &mut String, paired: Option<&Paired>) {
    let Some(p) = paired else { return };
    let _ = writeln!(
        s,
        "## Tessera against the floor, adjacent windows\n\n\
         The target row above is judged here, not on the two sweeps, which run minutes apart while \
         this machine's speed moves by up to a third: {} rounds at {} publishers, a Tessera window \
         and a floor window back to back, taking turns at going first. The ratio is Tessera's mean \
         over the floor's.\n\n\
         | Round | First | Tessera CPU | Floor CPU | Tessera ÷ floor | Probe fps (mean / worst 1 s) | Floor fps |\n\
         |---|---|---|---|---|---|---|",
        p.rounds.len(),
        p.publishers
    );
    for (i, r) in p.rounds.iter().enumerate() {
        let _ = writeln!(
            s,
            "| {} | {} | {:.3} | {:.3} | {:.2} | {:.1} / {:.0} | {:.1} |",
            i + 1,
            if r.tessera_first { "Tessera" } else { "floor" },
            r.tessera_cores,
            r.floor_cores,
            r.tessera_cores / r.floor_cores,
            r.probe_fps_mean,
            r.probe_fps_min,
            r.floor_fps
        );
    }
    if let Some(ratio) = p.ratio() {
        let _ = writeln!(s, "\nMeans: {ratio:.2} ×, 30 fps {}.\n", if p.holds_30() { "held" } else { "not held" });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(tessera: f64, floor: f64, held_30: bool) -> PairRound {
        let (probe_fps_mean, probe_fps_min) = if held_30 { (30.0, 30.0) } else { (27.0, 20.0) };
        PairRound {
            tessera_cores: tessera,
            floor_cores: floor,
            probe_fps_mean,
            probe_fps_min,
            held_30,
            floor_fps: 30.0,
            tessera_first: true,
        }
    }

    #[test]
    fn the_ratio_is_of_the_means_and_30_fps_must_hold_in_every_round() {
        let p = Paired { publishers: 16, rounds: vec![round(0.6, 0.8, true), round(1.0, 0.8, true)] };
        assert!((p.ratio().unwrap() - 1.0).abs() < 1e-9, "{:?}", p.ratio());
        assert!(p.holds_30());
        let slow = Paired { publishers: 16, rounds: vec![round(0.6, 0.8, true), round(1.0, 0.8, false)] };
        assert!(!slow.holds_30(), "one round did not hold 30 fps");
        let none = Paired { publishers: 16, rounds: vec![] };
        assert_eq!(none.ratio(), None);
        assert!(!none.holds_30());
    }
}
