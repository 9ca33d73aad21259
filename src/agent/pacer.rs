//! The agent's jitter and burst buffer: frames queued as they arrive, played one per 20 ms.
//!
//! Text-to-speech output arrives faster than real time; it is queued (up to
//! [`MAX_QUEUED`]) and played out at the real rate, so a burst is paced, not dropped. Beyond that,
//! frames are refused (`agent_audio_overflow`). `clearAudio` empties the queue: the agent falls
//! silent at the next tick (barge-in).

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;

use crate::protocol::agent::FRAME_MS;

/// How far ahead of real time an agent may send: 10 s of audio.
pub const MAX_QUEUED_AUDIO: Duration = Duration::from_secs(10);
/// [`MAX_QUEUED_AUDIO`] in frames.
pub const MAX_QUEUED: usize = (MAX_QUEUED_AUDIO.as_millis() / FRAME_MS as u128) as usize;
/// An overflow ends once a second of room is free again: a flood that goes on is told once,
/// though every 20 ms tick frees room for one more frame.
const RESUME_BELOW: usize = MAX_QUEUED - 1000 / FRAME_MS as usize;

/// The queue of an agent's frames waiting to play.
#[derive(Debug, Default)]
pub struct Pacer {
    queue: VecDeque<Bytes>,
    /// Set from the first refused frame until the queue is below [`RESUME_BELOW`] again, so the
    /// agent is told once per overflow.
    overflowing: bool,
}

/// What became of a frame offered to the [`Pacer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offered {
    /// Queued.
    Queued,
    /// Refused: the queue is full; the first refusal of an overflow says so.
    Refused {
        /// This is the first frame refused since the queue last had room.
        first: bool,
    },
}

impl Pacer {
    /// Queues a frame, unless [`MAX_QUEUED`] are waiting.
    pub fn offer(&mut self, frame: Bytes) -> Offered {
        if self.queue.len() >= MAX_QUEUED {
            let first = !self.overflowing;
            self.overflowing = true;
            return Offered::Refused { first };
        }
        if self.queue.len() < RESUME_BELOW {
            self.overflowing = false;
        }
        self.queue.push_back(frame);
        Offered::Queued
    }

    /// The frame to play at this tick, if any.
    pub fn next(&mut self) -> Option<Bytes> {
        self.queue.pop_front()
    }

    /// Drops everything queued; returns how many frames.
    pub fn clear(&mut self) -> usize {
        let n = self.queue.len();
        self.queue.clear();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_paced_then_refused_beyond_ten_seconds() {
        let mut p = Pacer::default();
        assert_eq!(MAX_QUEUED, 500);
        for _ in 0..MAX_QUEUED {
            assert_eq!(p.offer(Bytes::from_static(&[0; 4])), Offered::Queued);
        }
        assert_eq!(p.offer(Bytes::new()), Offered::Refused { first: true });
        assert_eq!(p.offer(Bytes::new()), Offered::Refused { first: false }, "told once per overflow");
        // A flood that goes on: each tick frees one place, taken; still one overflow.
        for _ in 0..100 {
            assert!(p.next().is_some());
            assert_eq!(p.offer(Bytes::new()), Offered::Queued, "one played, one more fits");
            assert_eq!(p.offer(Bytes::new()), Offered::Refused { first: false });
        }
        // Once a second of room is free, a new overflow is told again.
        (0..60).for_each(|_| drop(p.next()));
        (0..60).for_each(|_| assert_eq!(p.offer(Bytes::new()), Offered::Queued));
        assert_eq!(p.offer(Bytes::new()), Offered::Refused { first: true });
        assert_eq!(p.clear(), MAX_QUEUED);
        assert_eq!(p.next(), None);
    }
}
