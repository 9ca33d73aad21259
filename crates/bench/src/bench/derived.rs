//! The figures the bench's targets are judged on, derived from its results.

use super::Results;
use super::report::{TARGET_N, holds_30};
use crate::loadgen::LoadReport;

/// Least-squares slope of `y` against `x`.
pub fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let (mx, my) = (points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// Server CPU of a load report (0 when unmeasured).
pub(super) fn cpu(r: &LoadReport) -> f64 {
    r.server.as_ref().map_or(0.0, |s| s.cpu_cores)
}

/// Derived figures the targets are judged on.
pub struct Derived {
    /// Tessera ÷ floor at [`TARGET_N`] and whether 30 fps held there ([`super::paired`]).
    pub ratio_at_target: Option<(f64, bool)>,
    /// Added server CPU per viewer.
    pub per_viewer: Option<super::viewers::PerViewer>,
    /// Glass-to-glass minus the clients' own share, the worst over every size up to
    /// [`TARGET_N`] publishers: (p50, p95) ms and the sizes where each was read.
    pub added_latency: Option<WorstLatency>,
    /// Added RSS per publisher across the sweep, MiB.
    pub rss_per_publisher: Option<f64>,
}

/// The worst added latency over the sizes measured.
#[derive(Debug, Clone, Copy)]
pub struct WorstLatency {
    /// (publishers, ms) of the highest p50.
    pub p50: (usize, f64),
    /// (publishers, ms) of the highest p95.
    pub p95: (usize, f64),
    /// How many sizes were measured.
    pub sizes: usize,
}

impl Derived {
    /// Computes the derived figures of `r`.
    pub fn of(r: &Results) -> Self {
        let floor_at = |n: usize| r.floor.iter().find(|f| f.publishers == n).map(|f| f.cpu_cores);
        // Adjacent windows when run; the two sweeps (minutes apart) only with `--quick`.
        let swept = || {
            let t = r.tessera.iter().find(|t| t.publishers == TARGET_N)?;
            Some((cpu(t) / floor_at(TARGET_N)?, holds_30(t)))
        };
        let ratio_at_target = match &r.paired {
            Some(p) => p.ratio().map(|x| (x, p.holds_30())),
            None => swept(),
        };
        let client = r.client_latency.map(|c| c.p50_ms);
        let added: Vec<(usize, f64, f64)> = r
            .tessera
            .iter()
            .filter(|t| t.publishers <= TARGET_N)
            .filter_map(|t| Some((t.publishers, t.latency?.p50_ms - client?, t.latency?.p95_ms - client?)))
            .collect();
        let worst_by = |f: fn(&(usize, f64, f64)) -> f64| {
            added.iter().copied().max_by(|a, b| f(a).total_cmp(&f(b))).map(|w| (w.0, f(&w)))
        };
        let added_latency = match (worst_by(|a| a.1), worst_by(|a| a.2)) {
            (Some(p50), Some(p95)) => Some(WorstLatency { p50, p95, sizes: added.len() }),
            _ => None,
        };
        let rss: Vec<(f64, f64)> =
            r.tessera.iter().filter_map(|t| Some((t.publishers as f64, t.server.as_ref()?.at_end.rss_mib))).collect();
        Self {
            ratio_at_target,
            per_viewer: super::viewers::per_viewer(r),
            added_latency,
            rss_per_publisher: slope(&rss),
        }
    }
}
