//! The room's one mix-minus engine (`tesseramix`): every voice is summed once per 20 ms frame;
//! the full mix leaves on `src` (viewers, recordings, and every listener who is not talking);
//! a talker's mix is that sum less their own voice, pushed on their own `minus_N` pad.
//!
//! Listeners who contribute nothing to a frame (silent below [`pcm::GATE_PEAK`], muted,
//! viewers) hear exactly the full mix, so they share its one Opus encode: their stream
//! switches per frame between the shared encode and their own ([`Route`]), and their own
//! encoder runs only while they talk (plus a 500 ms hangover). Before it takes over, it is
//! given the last three frames of the full mix so its state starts where the shared encoder's
//! is. Agents and G.711 listeners ([`Listen::Always`]) get their mix on every frame.
//!
//! Timing is `audiomixer`'s: the engine is a `GstAudioAggregator` with the same settings
//! (pipelines/audio-mix.txt).

mod imp;
pub(super) mod pcm;

pub(in crate::media) use imp::pcm_caps;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};

use anyhow::anyhow;
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;

glib::wrapper! {
    /// The engine element.
    pub struct MixEngine(ObjectSubclass<imp::MixEngine>)
        @extends gst_audio::AudioAggregator, gst_base::Aggregator, gst::Element, gst::Object;
}

/// Registers `tesseramix` with GStreamer (once per process), so launch strings can name it.
pub fn register() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Err(e) = gst::Element::register(None, "tesseramix", gst::Rank::NONE, MixEngine::static_type()) {
            tracing::error!("registering tesseramix: {e}");
        }
    });
}

/// When a listener's pad carries their mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    /// Only in frames where their own voice is in the sum: otherwise they take the shared
    /// encode of the full mix.
    WhenTalking,
    /// Every frame (an agent's raw ear; a G.711 encode, stateless and nearly free).
    Always,
}

/// Which encode a [`Listen::WhenTalking`] listener takes, frame by frame. The engine sets it
/// before pushing a frame anywhere; both encodes and the merge run on the engine's thread, so
/// the two probes that read it see each frame's decision.
#[derive(Debug)]
pub struct Route {
    own: AtomicBool,
    /// PTS of the first frame of the current own period.
    own_from: AtomicU64,
    switches: AtomicU64,
    own_frames: AtomicU64,
    shared_frames: AtomicU64,
}

/// How far an encoded frame's PTS may lie before its raw frame's (Opus stamps its output its
/// lookahead early: 2.5 ms in CELT-only mode, 6.5 ms otherwise) and still count as that frame.
const ENCODED_SLACK_NS: u64 = 10_000_000;

impl Route {
    fn new() -> Self {
        Self {
            own: AtomicBool::new(false),
            own_from: AtomicU64::new(0),
            switches: AtomicU64::new(0),
            own_frames: AtomicU64::new(0),
            shared_frames: AtomicU64::new(0),
        }
    }

    fn set(&self, own: bool, pts: u64) {
        if self.own.swap(own, Relaxed) != own {
            self.switches.fetch_add(1, Relaxed);
            if own {
                self.own_from.store(pts, Relaxed);
            }
        }
        let counter = if own { &self.own_frames } else { &self.shared_frames };
        counter.fetch_add(1, Relaxed);
    }

    /// Whether an encoded frame of the listener's own encoder at `pts` goes out (warm-up
    /// frames do not).
    pub fn takes_own(&self, pts: Option<gst::ClockTime>) -> bool {
        let from = self.own_from.load(Relaxed);
        self.own.load(Relaxed) && pts.is_none_or(|p| p.nseconds() + ENCODED_SLACK_NS >= from)
    }

    /// Whether the shared encode's current frame goes out.
    pub fn takes_shared(&self) -> bool {
        !self.own.load(Relaxed)
    }

    /// Frames taken from their own encode and from the shared one, and switches between them.
    pub fn counts(&self) -> RouteCounts {
        RouteCounts {
            own_frames: self.own_frames.load(Relaxed),
            shared_frames: self.shared_frames.load(Relaxed),
            switches: self.switches.load(Relaxed),
            on_own: u64::from(self.own.load(Relaxed)),
        }
    }
}

/// What a [`Route`] counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteCounts {
    /// Frames of their own encode.
    pub own_frames: u64,
    /// Frames of the shared encode.
    pub shared_frames: u64,
    /// Switches between the two.
    pub switches: u64,
    /// Listeners on their own encode at the last frame.
    pub on_own: u64,
}

impl std::ops::AddAssign for RouteCounts {
    fn add_assign(&mut self, o: Self) {
        self.own_frames += o.own_frames;
        self.shared_frames += o.shared_frames;
        self.switches += o.switches;
        self.on_own += o.on_own;
    }
}

/// Who hears the full mix's Opus encode: outputs that take every frame of it (viewers,
/// recordings) and, frame by frame, the listeners who are not talking. When nobody does (every
/// listener talks, nobody watches or records) the encode skips the frame
/// ([`crate::media::opus::OpusEncoder::set_heard`]): a room of talkers costs one encode per
/// talker, not one more.
#[derive(Debug, Default)]
pub struct SharedDemand {
    /// Outputs that take every frame (viewers' and recordings').
    steady: AtomicUsize,
    /// Whether a listener takes the frame being mixed; outside the engine's push of a frame it
    /// reads true, so an encode that ran outside that push would never skip.
    listeners: AtomicBool,
}

impl SharedDemand {
    /// Whether anyone hears the frame being encoded.
    pub fn heard(&self) -> bool {
        self.steady.load(Relaxed) > 0 || self.listeners.load(Relaxed)
    }

    /// An output that takes every frame was added.
    pub fn add_steady(&self) {
        self.steady.fetch_add(1, Relaxed);
    }

    /// An output of [`SharedDemand::add_steady`] was removed.
    pub fn remove_steady(&self) {
        let before = self.steady.fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1));
        debug_assert!(before.is_ok(), "a steady output removed twice");
    }

    /// Whether a listener takes the frame being mixed from the shared encode (the engine sets
    /// it before pushing the frame, and back to true after).
    fn set_listeners(&self, any: bool) {
        self.listeners.store(any, Relaxed);
    }
}

impl MixEngine {
    /// Who hears the full mix's Opus encode (see [`SharedDemand`]).
    pub fn shared_demand(&self) -> Arc<SharedDemand> {
        self.imp().demand.clone()
    }

    /// A new listener: a `minus_N` source pad, active, on the engine, and its route.
    pub fn add_listener(&self, listen: Listen) -> anyhow::Result<(gst::Pad, Arc<Route>)> {
        let templ = self.pad_template("minus_%u").ok_or_else(|| anyhow!("tesseramix has no minus_%u template"))?;
        let n = {
            let mut state = self.imp().state.lock().unwrap();
            state.next_pad += 1;
            state.next_pad
        };
        let engine = self.downgrade();
        let pad = gst::Pad::builder_from_template(&templ)
            .name(format!("minus_{n}"))
            // Latency and caps are the mix's: asked of the engine's own source pad.
            .query_function(move |_, _, query| engine.upgrade().is_some_and(|e| e.src_pad().query(query)))
            .event_function(|_, _, _| true)
            .build();
        pad.set_active(true)?;
        self.add_pad(&pad)?;
        let route = Arc::new(Route::new());
        self.imp().state.lock().unwrap().listeners.push(imp::Listener::new(pad.clone(), listen, route.clone()));
        Ok((pad, route))
    }

    /// Tells the engine which input is `listener`'s own voice (none: they send no audio).
    pub fn set_voice(&self, listener: &gst::Pad, voice: Option<&gst::Pad>) {
        let mut state = self.imp().state.lock().unwrap();
        if let Some(l) = state.listeners.iter_mut().find(|l| &l.pad == listener) {
            l.voice = voice.cloned();
        }
    }

    /// Forgets the listener behind `pad` and removes the pad.
    pub fn remove_listener(&self, pad: &gst::Pad) {
        self.imp().state.lock().unwrap().listeners.retain(|l| &l.pad != pad);
        let _ = pad.set_active(false);
        let _ = self.remove_pad(pad);
    }
}

#[cfg(test)]
mod switch_tests;
#[cfg(test)]
mod tests;
