//! The engine's GStreamer subclass: a `GstAudioAggregator` (so timing, live mode, latency and
//! resync on `DISCONT` are exactly `audiomixer`'s) that keeps each voice's share of the frame
//! it is mixing, and on finishing the frame pushes each listener's mix-minus on their own pad.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_audio::subclass::prelude::*;
use gst_base::prelude::*;

use super::{Listen, Route, SharedDemand, pcm};
use crate::media::opus::WARMUP_FRAMES;

/// Frames a listener keeps their own encode after their voice fell below the gate (500 ms):
/// the pauses inside a sentence cost no switch.
pub const HANGOVER_FRAMES: u32 = 25;

static CAT: LazyLock<gst::DebugCategory> =
    LazyLock::new(|| gst::DebugCategory::new("tesseramix", gst::DebugColorFlags::empty(), Some("Tessera mix-minus")));

/// One voice's share of the frame being mixed.
#[derive(Debug)]
struct Voice {
    samples: Vec<i16>,
    peak: i32,
}

/// Someone hearing the room through a `minus_N` pad.
#[derive(Debug)]
pub(super) struct Listener {
    pub(super) pad: gst::Pad,
    /// Their own voice: an input of this element, once they send audio.
    pub(super) voice: Option<gst::Pad>,
    pub(super) listen: Listen,
    pub(super) route: Arc<Route>,
    /// Stream-start, caps and segment still to be sent.
    pub(super) fresh: bool,
    /// Frames of own encode left after their voice fell silent.
    hang: u32,
    /// Whether the previous frame went out on their pad.
    pushed_last: bool,
}

impl Listener {
    pub(super) fn new(pad: gst::Pad, listen: Listen, route: Arc<Route>) -> Self {
        Self { pad, voice: None, listen, route, fresh: true, hang: 0, pushed_last: false }
    }
}

#[derive(Debug, Default)]
pub(super) struct State {
    sum: Vec<i32>,
    voices: HashMap<gst::Pad, Voice>,
    pub(super) listeners: Vec<Listener>,
    /// The last [`WARMUP_FRAMES`] full mixes.
    history: VecDeque<gst::Buffer>,
    pub(super) next_pad: u32,
}

#[derive(Debug, Default)]
pub struct MixEngine {
    pub(super) state: Mutex<State>,
    /// Whether a failed push of the full mix was logged (once per engine).
    full_mix_failed: std::sync::atomic::AtomicBool,
    /// Who hears the full mix's Opus encode.
    pub(super) demand: Arc<SharedDemand>,
}

#[glib::object_subclass]
impl ObjectSubclass for MixEngine {
    const NAME: &'static str = "TesseraMixEngine";
    type Type = super::MixEngine;
    type ParentType = gst_audio::AudioAggregator;
}

impl ObjectImpl for MixEngine {
    fn constructed(&self) {
        self.parent_constructed();
        // The end of the mix is the end of every listener's.
        let engine = self.downgrade();
        self.obj().src_pad().add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
            if let Some(gst::EventView::Eos(_)) = info.event().map(|e| e.view())
                && let Some(engine) = engine.upgrade()
            {
                let pads: Vec<gst::Pad> =
                    engine.state.lock().unwrap().listeners.iter().map(|l| l.pad.clone()).collect();
                for pad in pads {
                    pad.push_event(gst::event::Eos::new());
                }
            }
            gst::PadProbeReturn::Ok
        });
    }
}
impl GstObjectImpl for MixEngine {}

pub(in crate::media) fn pcm_caps() -> gst::Caps {
    gst::Caps::builder("audio/x-raw")
        .field("format", "S16LE")
        .field("rate", 48_000)
        .field("channels", 1)
        .field("layout", "interleaved")
        .build()
}

impl ElementImpl for MixEngine {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Tessera mix-minus engine",
                "Generic/Audio",
                "Sums every input once; the full mix on src, each listener's mix without their own voice on minus_%u",
                "Tessera",
            )
        });
        Some(&META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = pcm_caps();
            let pad = gst_audio::AudioAggregatorPad::static_type();
            use gst::{PadDirection::*, PadPresence::*};
            vec![
                gst::PadTemplate::with_gtype("src", Src, Always, &caps, pad).expect("valid template"),
                gst::PadTemplate::with_gtype("sink_%u", Sink, Request, &caps, pad).expect("valid template"),
                gst::PadTemplate::new("minus_%u", Src, Sometimes, &caps).expect("valid template"),
            ]
        });
        TEMPLATES.as_ref()
    }
}

impl AggregatorImpl for MixEngine {
    fn finish_buffer(&self, mut buffer: gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        let pushes = {
            let mut state = self.state.lock().unwrap();
            let State { sum, voices, listeners, history, .. } = &mut *state;
            if !voices.is_empty()
                && let Ok(mut map) = buffer.make_mut().map_writable()
                && map.len() == sum.len() * 2
            {
                pcm::write_mix(sum, None, &mut map);
            }
            let pushes: Vec<_> =
                listeners.iter_mut().filter_map(|l| frame_for(l, sum, voices, history, &buffer)).collect();
            // Before the full mix goes out: its encode runs in this push and asks.
            self.demand
                .set_listeners(listeners.iter().any(|l| l.listen == Listen::WhenTalking && l.route.takes_shared()));
            history.push_back(buffer.clone());
            if history.len() > WARMUP_FRAMES {
                history.pop_front();
            }
            pushes
        };
        let result = self.parent_finish_buffer(buffer);
        // The shared encode ran inside that push (no queue before it, pipelines/audio-mix.txt);
        // anything else that asks hears "heard" and encodes.
        self.demand.set_listeners(true);
        let src = self.obj().src_pad().clone();
        for (pad, fresh, buffers) in pushes {
            if fresh && !send_stream_events(&src, &pad) {
                continue;
            }
            for buffer in buffers {
                if let Err(e) = pad.push(buffer) {
                    gst::debug!(CAT, obj = pad, "mix-minus push: {e:?}");
                    break;
                }
            }
        }
        survive(result, &self.full_mix_failed)
    }
}

/// What the aggregator makes of the full mix's push. A flow error from downstream (an
/// encoder; a tee that failed a push while a receiver was added, before `ghost::install`)
/// would stop the aggregation, and with it every listener's mix: the room fails
/// (`concurrent_rooms` saw it once in CI). Passed over, it costs that frame of the full mix,
/// logged once; flushing and EOS still stop the engine.
fn survive(
    result: Result<gst::FlowSuccess, gst::FlowError>,
    warned: &std::sync::atomic::AtomicBool,
) -> Result<gst::FlowSuccess, gst::FlowError> {
    use gst::FlowError::{Eos, Flushing};
    crate::media::ghost::absorb(result, &[Flushing, Eos], warned, |e| {
        gst::warning!(CAT, "the full mix's downstream returned {e:?}; the frame is dropped, the mix goes on");
        tracing::warn!("audio mix: downstream returned {e:?}; the frame is dropped, the mix goes on");
    })
}

/// What `listener` gets of this frame (`full`), with the warm-up frames before it when their
/// own encode starts; nothing while they share the full mix's encode.
fn frame_for(
    listener: &mut Listener,
    sum: &[i32],
    voices: &HashMap<gst::Pad, Voice>,
    history: &VecDeque<gst::Buffer>,
    full: &gst::Buffer,
) -> Option<(gst::Pad, bool, Vec<gst::Buffer>)> {
    let own = listener.voice.as_ref().and_then(|v| voices.get(v));
    if own.is_some_and(|v| v.peak > pcm::GATE_PEAK) {
        listener.hang = HANGOVER_FRAMES;
    } else {
        listener.hang = listener.hang.saturating_sub(1);
    }
    let takes_own = listener.listen == Listen::Always || listener.hang > 0;
    let pts = full.pts().map_or(0, gst::ClockTime::nseconds);
    listener.route.set(takes_own, pts);
    if !takes_own {
        listener.pushed_last = false;
        return None;
    }
    let mut buffers = Vec::with_capacity(WARMUP_FRAMES + 1);
    if !listener.pushed_last && listener.listen == Listen::WhenTalking {
        buffers.extend(history.iter().cloned());
    }
    buffers.push(match own {
        Some(own) if sum.len() * 2 == full.size() => {
            let mut minus = gst::Buffer::with_size(full.size()).ok()?;
            {
                let b = minus.get_mut().expect("new buffer");
                b.set_pts(full.pts());
                b.set_duration(full.duration());
                b.set_offset(full.offset());
                b.set_offset_end(full.offset_end());
                let mut map = b.map_writable().ok()?;
                pcm::write_mix(sum, Some(&own.samples), &mut map);
            }
            minus
        }
        _ => full.clone(),
    });
    listener.pushed_last = true;
    let fresh = std::mem::replace(&mut listener.fresh, false);
    Some((listener.pad.clone(), fresh, buffers))
}

/// Stream-start, the mix's caps and segment on a listener's pad before its first buffer.
fn send_stream_events(src: &gst_base::AggregatorPad, pad: &gst::Pad) -> bool {
    let (Some(caps), Some(segment)) = (src.current_caps(), src.sticky_event::<gst::event::Segment>(0)) else {
        return false;
    };
    pad.push_event(gst::event::StreamStart::new(&format!("tessera-mix/{}", pad.name())))
        && pad.push_event(gst::event::Caps::new(&caps))
        && pad.push_event(segment)
}

impl AudioAggregatorImpl for MixEngine {
    fn create_output_buffer(&self, num_frames: u32) -> Option<gst::Buffer> {
        let mut state = self.state.lock().unwrap();
        state.sum.clear();
        state.sum.resize(num_frames as usize, 0);
        state.voices.clear();
        drop(state);
        self.parent_create_output_buffer(num_frames)
    }

    fn aggregate_one_buffer(
        &self,
        pad: &gst_audio::AudioAggregatorPad,
        inbuf: &gst::BufferRef,
        in_offset: u32,
        _outbuf: &mut gst::BufferRef,
        out_offset: u32,
        num_frames: u32,
    ) -> bool {
        if inbuf.flags().contains(gst::BufferFlags::GAP) {
            return false;
        }
        let Ok(map) = inbuf.map_readable() else { return false };
        let (start, end) = (in_offset as usize * 2, (in_offset + num_frames) as usize * 2);
        let Some(samples) = map.get(start..end) else { return false };
        let mut state = self.state.lock().unwrap();
        let State { sum, voices, .. } = &mut *state;
        let len = sum.len();
        if out_offset as usize + num_frames as usize > len {
            return false;
        }
        let voice = voices.entry(pad.clone().upcast()).or_insert_with(|| Voice { samples: vec![0; len], peak: 0 });
        let peak = pcm::accumulate(sum, &mut voice.samples, out_offset as usize, samples);
        voice.peak = voice.peak.max(peak);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_downstream_error_costs_a_frame_but_flushing_and_eos_still_stop_the_mix() {
        gst::init().unwrap();
        let warned = std::sync::atomic::AtomicBool::new(false);
        assert_eq!(survive(Err(gst::FlowError::Error), &warned), Ok(gst::FlowSuccess::Ok));
        assert_eq!(survive(Err(gst::FlowError::NotNegotiated), &warned), Ok(gst::FlowSuccess::Ok));
        assert!(warned.load(std::sync::atomic::Ordering::Relaxed), "told once");
        assert_eq!(survive(Err(gst::FlowError::Flushing), &warned), Err(gst::FlowError::Flushing));
        assert_eq!(survive(Err(gst::FlowError::Eos), &warned), Err(gst::FlowError::Eos));
    }
}
