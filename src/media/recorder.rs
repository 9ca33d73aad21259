//! The recording branch: the room's encoded composite and full mix into a WebM file, with no
//! decode or encode. It starts on a keyframe (forced when it starts), stops by EOS so the
//! muxer writes its index, and fails alone: a write error never touches the room.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use gst::prelude::*;
use tokio::sync::mpsc::UnboundedSender;

use super::mixer::parse_fragment;
use super::{MediaError, MediaEvent, RoomMedia, ghost};
use crate::recording::RecordingId;

/// `pipelines/recorder.txt`: two leaky queues → webmmux → filesink.
pub const RECORDER: &str = include_str!("../../pipelines/recorder.txt");

/// One recording's branch and the mixer outputs feeding it.
#[derive(Debug)]
pub(super) struct Recorder {
    /// The bin, named `recorder-{id}`.
    bin: gst::Bin,
    /// Sink ghost pad for the encoded VP8.
    video_in: gst::GhostPad,
    /// Sink ghost pad for the encoded Opus.
    audio_in: gst::GhostPad,
    /// The video-mix output feeding it, until it is stopped.
    video_feed: Option<gst::GhostPad>,
    /// The full mix's output feeding it, until it is stopped.
    audio_feed: Option<gst::GhostPad>,
}

fn child(bin: &gst::Bin, name: &str) -> anyhow::Result<gst::Element> {
    bin.by_name(name).with_context(|| format!("recorder fragment has no {name}"))
}

impl Recorder {
    /// Builds the branch writing to `path`; reports its first keyframe and its end on `events`.
    fn new(id: RecordingId, path: &Path, events: UnboundedSender<MediaEvent>) -> anyhow::Result<Self> {
        let bin = parse_fragment(RECORDER, false)?;
        bin.set_property("name", format!("recorder-{id}"));
        child(&bin, "sink")?.set_property("location", path);
        let video_in = ghost::expose(&bin, &child(&bin, "video-queue")?.static_pad("sink").unwrap(), "video")?;
        let audio_in = ghost::expose(&bin, &child(&bin, "audio-queue")?.static_pad("sink").unwrap(), "audio")?;
        gate_on_keyframe(&video_in, &audio_in, id, events.clone());
        let sink_pad = child(&bin, "sink")?.static_pad("sink").unwrap();
        sink_pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
            if let Some(gst::PadProbeData::Event(ev)) = &info.data
                && ev.type_() == gst::EventType::Eos
            {
                let _ = events.send(MediaEvent::RecordingFinished { id });
            }
            gst::PadProbeReturn::Ok
        });
        Ok(Self { bin, video_in, audio_in, video_feed: None, audio_feed: None })
    }
}

/// Consumes the probed buffer. (Returning `Drop` instead makes GStreamer 1.22 unref a NULL
/// buffer behind gstreamer-rs 0.25, which logs a critical; `Handled` with the buffer taken does
/// not.)
fn discard(info: &mut gst::PadProbeInfo) -> gst::PadProbeReturn {
    drop(info.take_buffer());
    gst::PadProbeReturn::Handled
}

/// Drops video until the first keyframe, and audio until then too, so every file starts with a
/// decodable frame and its audio alongside it.
fn gate_on_keyframe(
    video: &gst::GhostPad,
    audio: &gst::GhostPad,
    id: RecordingId,
    events: UnboundedSender<MediaEvent>,
) {
    let open = Arc::new(AtomicBool::new(false));
    let gate = open.clone();
    video.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if gate.load(Ordering::Relaxed) {
            return gst::PadProbeReturn::Ok;
        }
        match info.buffer() {
            Some(b) if !b.flags().contains(gst::BufferFlags::DELTA_UNIT) => {
                gate.store(true, Ordering::Relaxed);
                let _ = events.send(MediaEvent::RecordingRunning { id });
                gst::PadProbeReturn::Ok
            }
            _ => discard(info),
        }
    });
    audio.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if open.load(Ordering::Relaxed) { gst::PadProbeReturn::Ok } else { discard(info) }
    });
}

impl RoomMedia {
    /// Starts recording the composite and the full mix into `path` (which must be writable).
    pub fn start_recording(&mut self, id: RecordingId, path: &Path) -> Result<(), MediaError> {
        let failed = |e: anyhow::Error| MediaError::Recording { recording: id, source: e };
        let Some(video) = &self.video else {
            return Err(failed(anyhow::anyhow!(
                "this server runs audio-only rooms (--video false); recordings need the composite"
            )));
        };
        let mut rec = Recorder::new(id, path, self.events.clone()).map_err(failed)?;
        self.pipeline.add(&rec.bin).map_err(|e| failed(e.into()))?;
        if let Err(e) = rec.bin.sync_state_with_parent() {
            let _ = rec.bin.set_state(gst::State::Null);
            let _ = self.pipeline.remove(&rec.bin);
            return Err(failed(anyhow::anyhow!("cannot open {}: {e}", path.display())));
        }
        // The branch runs before the tees feed it; then ask for the keyframe it starts on.
        let linked = (|| -> anyhow::Result<()> {
            let video = video.add_encoded_output(&format!("rec-{id}"))?;
            rec.video_feed = Some(video.clone());
            video.link(&rec.video_in)?;
            let audio = self.audio.add_encoded_output(&format!("rec-{id}"))?;
            rec.audio_feed = Some(audio.clone());
            audio.link(&rec.audio_in)?;
            Ok(())
        })();
        // Restored when the recording's first keyframe arrives (MediaEvent::RecordingRunning).
        video.set_immediate_keyframes(true);
        let keyframe = gst_video::UpstreamForceKeyUnitEvent::builder().all_headers(true).build();
        rec.video_in.push_event(keyframe);
        self.recorders.insert(id, rec);
        if let Err(e) = linked {
            self.drop_recording(id);
            return Err(failed(e));
        }
        Ok(())
    }

    /// Cuts the recording's feeds and sends EOS through it; [`MediaEvent::RecordingFinished`]
    /// follows once the file is finalized. False if there is no such running recording.
    pub fn stop_recording(&mut self, id: RecordingId) -> bool {
        let Some(rec) = self.recorders.get_mut(&id) else { return false };
        if let (Some(feed), Some(video)) = (rec.video_feed.take(), &self.video) {
            video.remove_encoded_output(&feed);
        }
        if let Some(feed) = rec.audio_feed.take() {
            self.audio.remove_encoded_output(&feed);
        }
        rec.video_in.send_event(gst::event::Eos::new());
        rec.audio_in.send_event(gst::event::Eos::new());
        true
    }

    /// Removes a recording's branch at once (finished, failed or stuck).
    pub fn drop_recording(&mut self, id: RecordingId) {
        let Some(mut rec) = self.recorders.remove(&id) else { return };
        if let (Some(feed), Some(video)) = (rec.video_feed.take(), &self.video) {
            video.remove_encoded_output(&feed);
        }
        if let Some(feed) = rec.audio_feed.take() {
            self.audio.remove_encoded_output(&feed);
        }
        let _ = rec.bin.set_state(gst::State::Null);
        let _ = self.pipeline.remove(&rec.bin);
        if let Some(video) = &self.video {
            video.set_immediate_keyframes(false);
        }
    }

    /// Writes the pipeline graph (when GST_DEBUG_DUMP_DOT_DIR is set), for a recording that
    /// would not finalize.
    pub fn dump_graph(&self, name: &str) {
        self.pipeline.debug_to_dot_file_with_ts(gst::DebugGraphDetails::all(), name);
    }
}
