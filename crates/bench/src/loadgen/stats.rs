//! Summaries of measured delays.

use std::time::Duration;

use serde::Serialize;

/// Percentiles of a set of delays, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// How many were measured.
    pub samples: usize,
    /// Smallest.
    pub min_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile (nearest rank).
    pub p95_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl Percentiles {
    /// Summarises `delays`; `None` when there are none.
    pub fn of(delays: &[Duration]) -> Option<Self> {
        let mut ms: Vec<f64> = delays.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        ms.sort_by(f64::total_cmp);
        let rank = |p: f64| ms[((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
        (!ms.is_empty()).then(|| Self {
            samples: ms.len(),
            min_ms: ms[0],
            p50_ms: rank(0.5),
            p95_ms: rank(0.95),
            max_ms: ms[ms.len() - 1],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let delays: Vec<Duration> = (1..=20).rev().map(|i| Duration::from_millis(i * 10)).collect();
        let p = Percentiles::of(&delays).unwrap();
        assert_eq!((p.samples, p.p50_ms, p.p95_ms, p.max_ms), (20, 100.0, 190.0, 200.0));
        assert_eq!(Percentiles::of(&[Duration::from_millis(7)]).unwrap().p95_ms, 7.0);
        assert!(Percentiles::of(&[]).is_none());
    }
}
