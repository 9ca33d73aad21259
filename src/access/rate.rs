//! Token buckets: how many messages of each kind one socket may send.

use std::time::Instant;

/// A bucket of `burst` tokens refilled at `per_sec`; each message takes one.
#[derive(Debug, Clone)]
pub struct Bucket {
    tokens: f64,
    burst: f64,
    per_sec: f64,
    last: Option<Instant>,
}

impl Bucket {
    /// A full bucket.
    pub const fn new(per_sec: f64, burst: f64) -> Self {
        Self { tokens: burst, burst, per_sec, last: None }
    }

    /// Takes a token at `now`; false when none is left.
    pub fn take(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last {
            self.tokens =
                (self.tokens + now.saturating_duration_since(last).as_secs_f64() * self.per_sec).min(self.burst);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether the bucket would be full again at `now` (nothing left to remember).
    pub fn is_full_at(&self, now: Instant) -> bool {
        let elapsed = self.last.map_or(f64::INFINITY, |l| now.saturating_duration_since(l).as_secs_f64());
        self.tokens + elapsed * self.per_sec >= self.burst
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bursts_then_refills_at_its_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(2.0, 3.0);
        assert!((0..3).all(|_| b.take(t0)));
        assert!(!b.take(t0));
        assert!(!b.take(t0 + Duration::from_millis(400)));
        assert!(b.take(t0 + Duration::from_millis(600)), "one token after 0.5 s at 2/s");
        assert!(!b.is_full_at(t0 + Duration::from_millis(600)));
        assert!(b.is_full_at(t0 + Duration::from_secs(3)));
        let after = t0 + Duration::from_secs(60);
        assert!((0..3).all(|_| b.take(after)) && !b.take(after), "never more than the burst");
    }
}
