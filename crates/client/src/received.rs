//! What a test peer has received: decoded frames and audio, RTP counts, DataChannel messages
//! and connection times; written from GStreamer threads, read by tests.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Instant;

use super::analysis::Frame;
use super::sources::{CODE_BAND, CODE_CELLS, read_flash_code};
use tessera_protocol::layout::Rect;

/// A watched picture turning bright: when, and which flash it showed (see
/// [`super::sources::flash_code`]), if its code could be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Onset {
    /// When the frame was decoded.
    pub at: Instant,
    /// The flash number mod 128, from the first frame of this bright spell whose code read.
    pub code: Option<u8>,
}

/// Seconds of received audio kept for analysis.
const AUDIO_KEEP_SECS: usize = 3;
/// Frame arrival times kept for smoothness analysis: about 11 minutes at 30 fps.
const ARRIVALS_KEPT: usize = 20_000;

/// What a peer has received so far; updated from GStreamer threads.
#[derive(Debug, Default)]
pub struct Received {
    video: Mutex<VideoState>,
    audio: Mutex<AudioState>,
    pub(super) rtp: Mutex<RtpCounts>,
    /// The picture of the composite watched for flashes, and whether its centre was bright.
    watch: Mutex<Option<(Rect, bool)>>,
    /// When the watched picture's centre turned bright, with the flash code read there.
    bright_onsets: Mutex<Vec<Onset>>,
    pub(super) keyframe_arrivals: Mutex<Vec<Instant>>,
    pub(super) keyframe_timestamps: Mutex<Vec<u32>>,
    channel: Mutex<Vec<String>>,
    connected: Mutex<Option<Instant>>,
    ice_connected: Mutex<Option<Instant>>,
    answered: Mutex<Option<Instant>>,
}

/// RTP packets counted by a peer that does not decode.
#[derive(Debug, Default, Clone, Copy)]
pub struct RtpCounts {
    /// Video RTP packets.
    pub video_packets: u64,
    /// VP8 keyframes started (packets carrying the first partition of a keyframe).
    pub keyframes: u64,
    /// Audio RTP packets.
    pub audio_packets: u64,
}

#[derive(Debug, Default)]
struct VideoState {
    latest: Option<Frame>,
    count: u64,
    first: Option<Instant>,
    arrivals: VecDeque<Instant>,
}

#[derive(Debug, Default)]
struct AudioState {
    samples: VecDeque<i16>,
    total: u64,
}

impl Received {
    /// Decoded video frames so far.
    pub fn frames(&self) -> u64 {
        self.video.lock().unwrap().count
    }

    /// The newest decoded frame.
    pub fn latest_frame(&self) -> Option<Frame> {
        self.video.lock().unwrap().latest.clone()
    }

    /// Messages received on the server's `tessera` DataChannel, parsed, oldest first.
    pub fn channel_messages(&self) -> Vec<serde_json::Value> {
        self.channel.lock().unwrap().iter().filter_map(|m| serde_json::from_str(m).ok()).collect()
    }

    /// Watches the centre of `picture` in every decoded frame and records when it turns bright,
    /// with the code of the flash shown there (for glass-to-glass latency and A/V marks with a
    /// flashing publisher).
    pub fn watch_flashes(&self, picture: Rect) {
        *self.watch.lock().unwrap() = Some((picture, false));
    }

    /// When the watched picture turned bright, oldest first.
    pub fn bright_onsets(&self) -> Vec<Instant> {
        self.bright_onsets.lock().unwrap().iter().map(|o| o.at).collect()
    }

    /// The watched picture's bright onsets with their flash codes, oldest first.
    pub fn flash_onsets(&self) -> Vec<Onset> {
        self.bright_onsets.lock().unwrap().clone()
    }

    /// When the first frame was decoded.
    pub fn first_frame_at(&self) -> Option<Instant> {
        self.video.lock().unwrap().first
    }

    /// When the peer connection first reached `connected` (ICE and DTLS done).
    pub fn connected_at(&self) -> Option<Instant> {
        *self.connected.lock().unwrap()
    }

    /// When ICE first reached `connected` or `completed` (before DTLS, unlike
    /// [`Received::connected_at`]).
    pub fn ice_connected_at(&self) -> Option<Instant> {
        *self.ice_connected.lock().unwrap()
    }

    /// Arrival times of the last [`ARRIVALS_KEPT`] frames, oldest first.
    pub fn frame_arrivals(&self) -> Vec<Instant> {
        self.video.lock().unwrap().arrivals.iter().copied().collect()
    }

    /// RTP packets and keyframe starts received so far, by decoding peers and counting ones.
    pub fn rtp(&self) -> RtpCounts {
        *self.rtp.lock().unwrap()
    }

    /// When each VP8 keyframe started arriving (peers that do not decode).
    pub fn keyframe_arrivals(&self) -> Vec<Instant> {
        self.keyframe_arrivals.lock().unwrap().clone()
    }

    /// The RTP timestamp (90 kHz, the sender's clock) of each VP8 keyframe, in arrival order:
    /// their spacing is the encoder's, free of network and scheduling jitter.
    pub fn keyframe_timestamps(&self) -> Vec<u32> {
        self.keyframe_timestamps.lock().unwrap().clone()
    }

    /// Decoded audio samples (48 kHz mono) so far.
    pub fn audio_samples(&self) -> u64 {
        self.audio.lock().unwrap().total
    }

    /// The last `ms` milliseconds of received audio, 48 kHz mono S16.
    pub fn last_audio(&self, ms: u32) -> Vec<i16> {
        let audio = self.audio.lock().unwrap();
        let n = (ms as usize * 48).min(audio.samples.len());
        audio.samples.iter().skip(audio.samples.len() - n).copied().collect()
    }

    /// A DataChannel message arrived.
    pub(super) fn record_channel_message(&self, text: &str) {
        self.channel.lock().unwrap().push(text.to_owned());
    }

    /// The peer connection is connected (the first time counts).
    pub(super) fn mark_connected(&self) {
        self.connected.lock().unwrap().get_or_insert_with(Instant::now);
    }

    /// Our answer went to the server and is our local description: ICE starts.
    pub(super) fn mark_answered(&self) {
        self.answered.lock().unwrap().get_or_insert_with(Instant::now);
    }

    /// When our answer was sent and set (ICE checks start from here).
    pub fn answered_at(&self) -> Option<Instant> {
        *self.answered.lock().unwrap()
    }

    /// ICE is connected (the first time counts).
    pub(super) fn mark_ice_connected(&self) {
        self.ice_connected.lock().unwrap().get_or_insert_with(Instant::now);
    }

    /// Records a decoded frame (and a bright onset at the watched point).
    pub(super) fn record_video(&self, sample: &gst::Sample) {
        let (Some(buffer), Some(caps)) = (sample.buffer_owned(), sample.caps()) else { return };
        let Ok(info) = gst_video::VideoInfo::from_caps(caps) else { return };
        let mut v = self.video.lock().unwrap();
        let now = Instant::now();
        if let Some((picture, was)) = self.watch.lock().unwrap().as_mut() {
            let frame = Frame::new(buffer.clone(), info.clone());
            let (x, y) = picture.centre();
            let bright = frame.rgb_at(x, y, 4).iter().all(|c| *c > 160);
            if bright {
                let mut onsets = self.bright_onsets.lock().unwrap();
                if !*was {
                    onsets.push(Onset { at: now, code: None });
                }
                // The first frame of a flash may be too blurred to read; a later one may not.
                if let Some(last) = onsets.last_mut().filter(|o| o.code.is_none()) {
                    last.code = read_code(&frame, *picture);
                }
            }
            *was = bright;
        }
        v.latest = Some(Frame::new(buffer, info));
        v.count += 1;
        v.first.get_or_insert(now);
        v.arrivals.push_back(now);
        if v.arrivals.len() > ARRIVALS_KEPT {
            v.arrivals.pop_front();
        }
    }

    /// Records decoded audio, keeping the last few seconds.
    pub(super) fn record_audio(&self, sample: &gst::Sample) {
        let Some(buffer) = sample.buffer() else { return };
        let Ok(map) = buffer.map_readable() else { return };
        let mut a = self.audio.lock().unwrap();
        for pair in map.chunks_exact(2) {
            a.samples.push_back(i16::from_le_bytes([pair[0], pair[1]]));
        }
        a.total += (map.len() / 2) as u64;
        let keep = AUDIO_KEEP_SECS * 48_000;
        let excess = a.samples.len().saturating_sub(keep);
        a.samples.drain(..excess);
    }
}

/// Reads the flash code in `picture`'s code band: each cell's centre is white or black; a grey
/// cell (blurred, or not a flash at all) reads as nothing.
fn read_code(frame: &Frame, picture: Rect) -> Option<u8> {
    let y = picture.y + (f64::from(picture.h) * (CODE_BAND.0 + CODE_BAND.1) / 2.0) as u32;
    let side = (picture.w / CODE_CELLS / 3).clamp(1, 8);
    let mut cells = [false; CODE_CELLS as usize];
    for (i, cell) in cells.iter_mut().enumerate() {
        let x = picture.x + picture.w * (2 * i as u32 + 1) / (2 * CODE_CELLS);
        let [r, g, b] = frame.rgb_at(x, y, side);
        let level = (u32::from(r) + u32::from(g) + u32::from(b)) / 3;
        *cell = match level {
            0..=90 => false,
            170.. => true,
            _ => return None,
        };
    }
    read_flash_code(cells)
}
