//! Everything the room's rules know about one participant, in one record.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use crate::access::rate::Bucket;
use crate::layout::Size;
use crate::media::{InboundRates, InboundSnapshot, VideoProgress};
use crate::protocol::{ParticipantInfo, VideoConstraints};

/// `setLayout` and `mute` messages a participant may send in a burst...
pub(crate) const BURST: f64 = 10.0;
/// ...and per second after that. A person clicking is far below; a script flooding the room
/// (every message relayouts and is told to everyone) is cut off.
pub(crate) const PER_SECOND: f64 = 2.0;

/// A participant's microphone and camera, as they last said.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Muted {
    /// Microphone off.
    pub audio: bool,
    /// Camera off.
    pub video: bool,
}

/// What a participant sends us, as the room last read it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Inbound {
    /// The counters at the last tick, and when they were read.
    pub(super) last: (Instant, InboundSnapshot),
    /// Rates over the last tick.
    pub(super) rates: InboundRates,
    /// Since when video RTP has been arriving without a decoded frame.
    pub(super) undecodable_since: Option<Instant>,
}

/// A publisher's video as the media layer reported it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Video {
    /// A decoder is linked: frames can be shown.
    pub(super) flowing: bool,
    /// The decoded size and pixel aspect ratio, once known.
    pub(super) format: Option<(Size, (u32, u32))>,
}

/// One participant.
#[derive(Debug, Clone)]
pub struct Participant {
    /// Id, name and role.
    pub info: ParticipantInfo,
    /// Microphone and camera, as they said.
    pub muted: Muted,
    /// When they were admitted (the room's clock, for timeouts).
    pub(super) joined: Instant,
    /// When they were admitted (wall clock, for the REST API).
    pub joined_at: SystemTime,
    /// Whether their peer connection reached `connected`.
    pub(super) connected: bool,
    /// Their video, once it flows.
    pub(super) video: Video,
    /// Their inbound counters and rates.
    pub(super) inbound: Inbound,
    /// Their `setLayout`/`mute` allowance.
    pub(super) budget: Bucket,
    /// Whether they may change the layout (their token, or a publisher in `--dev` mode).
    pub(super) may_set_layout: bool,
    /// Their recent video progress, to notice stalled video.
    pub(super) video_history: VecDeque<(Instant, VideoProgress)>,
    /// Whether their video showed no new frame lately (then the placeholder is shown).
    pub(super) stalled: bool,
    /// Since when their audio has been quiet.
    pub(super) quiet_since: Option<Instant>,
    /// The video constraints they were last told (publishers, once connected).
    pub(super) constraints_sent: Option<VideoConstraints>,
    /// When they were last told new constraints.
    pub(super) constraints_at: Option<Instant>,
}

impl Participant {
    pub(super) fn new(info: ParticipantInfo, now: Instant, joined_at: SystemTime) -> Self {
        Self {
            info,
            muted: Muted::default(),
            joined: now,
            joined_at,
            connected: false,
            video: Video::default(),
            inbound: Inbound {
                last: (now, InboundSnapshot::default()),
                rates: InboundRates::default(),
                undecodable_since: None,
            },
            budget: Bucket::new(PER_SECOND, BURST),
            may_set_layout: false,
            video_history: VecDeque::new(),
            stalled: false,
            quiet_since: None,
            constraints_sent: None,
            constraints_at: None,
        }
    }

    /// The size of their decoded video, as the server last saw it (publishers with video).
    pub fn video_size(&self) -> Option<Size> {
        self.video.format.map(|(size, _)| size)
    }

    /// The video constraints they were last told.
    pub fn video_constraints(&self) -> Option<VideoConstraints> {
        self.constraints_sent
    }

    /// What they sent us over the last tick.
    pub fn rates(&self) -> InboundRates {
        self.inbound.rates
    }

    /// Whether their video has shown no new frame for `stall_after`, given their video now.
    pub(super) fn video_stalled(&mut self, video: VideoProgress, now: Instant, stall_after: Duration) -> bool {
        self.video_history.push_back((now, video));
        while self.video_history.len() > 2 && now - self.video_history[1].0 >= stall_after {
            self.video_history.pop_front();
        }
        self.video.flowing
            && self.video_history.front().is_some_and(|(t, v)| now - *t >= stall_after && v.frames == video.frames)
    }

    /// Whether video bytes arrived over the window [`Participant::video_stalled`] judges.
    pub(super) fn video_arrived_in_window(&self, video: VideoProgress) -> bool {
        self.video_history.front().is_some_and(|(_, v)| video.bytes > v.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_two_per_second() {
        let t0 = Instant::now();
        let mut b = Bucket::new(PER_SECOND, BURST);
        let sent = (0..50).filter(|_| b.take(t0)).count();
        assert_eq!(sent, BURST as usize, "a burst of 10, then refused");
        assert!(!b.take(t0 + Duration::from_millis(400)), "0.8 of a token after 400 ms");
        assert!(b.take(t0 + Duration::from_millis(500)), "one token per 500 ms");
        assert!(!b.take(t0 + Duration::from_millis(600)));
        // A flood of 100 messages a second for 10 s gets 10 + 2 per second through.
        let mut b = Bucket::new(PER_SECOND, BURST);
        let sent = (0..1000).filter(|i| b.take(t0 + Duration::from_millis(i * 10))).count();
        assert!((29..=31).contains(&sent), "{sent} let through");
        // Someone toggling mute every 2 s is never refused, and refills to a full burst.
        let mut b = Bucket::new(PER_SECOND, BURST);
        assert!((0..100).all(|i| b.take(t0 + Duration::from_secs(2 * i))));
        b.take(t0 + Duration::from_secs(1000));
        assert!((0..9).all(|_| b.take(t0 + Duration::from_secs(1000))), "capped at the burst");
    }
}
