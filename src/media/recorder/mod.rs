//! The recording branch: the room's encoded composite and full mix into a WebM file, with no
//! decode or encode. It starts on a keyframe (forced when it starts), stops by EOS so the
//! muxer writes its index, and fails alone: a write error never touches the room. A disk too
//! slow for the stream loses frames in the branch's queues, never blocks the room: each loss
//! is counted and logged (rate-limited), and video then skips to the next keyframe (requested
//! at once) so every frame in the file stays decodable.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use gst::prelude::*;
use tessera_webrtc::codecs::Codec;
use tokio::sync::mpsc::UnboundedSender;

use super::mixer::parse_fragment;
use super::{MediaError, MediaEvent, RoomMedia, ghost};
use crate::recording::{RecordingId, RecordingProgress};

use crate::pipelines::RECORDER;

/// At most one "frames dropped" warning per recording in this interval.
const DROP_WARNING_INTERVAL: Duration = Duration::from_secs(5);

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
    /// Lets video through from a keyframe on.
    gate: Arc<Gate>,
}

/// Whether video may enter the recording: closed until the first keyframe, and again from a
/// lost frame to the next keyframe (the frames between would not decode).
#[derive(Debug, Default)]
struct Gate {
    /// Video passes.
    open: AtomicBool,
    /// The first keyframe went in (audio passes from then on).
    started: AtomicBool,
}

fn child(bin: &gst::Bin, name: &str) -> anyhow::Result<gst::Element> {
    bin.by_name(name).with_context(|| format!("recorder fragment has no {name}"))
}

impl Recorder {
    /// Builds the branch writing to `path`; reports its first keyframe and its end on `events`
    /// and what it writes or loses into `progress`.
    fn new(
        id: RecordingId,
        path: &Path,
        events: UnboundedSender<MediaEvent>,
        progress: Arc<RecordingProgress>,
    ) -> anyhow::Result<Self> {
        let bin = parse_fragment(RECORDER, false)?;
        bin.set_property("name", format!("recorder-{id}"));
        child(&bin, "sink")?.set_property("location", path);
        let (video_queue, audio_queue) = (child(&bin, "video-queue")?, child(&bin, "audio-queue")?);
        let video_in = ghost::expose(&bin, &video_queue.static_pad("sink").unwrap(), "video")?;
        let audio_in = ghost::expose(&bin, &audio_queue.static_pad("sink").unwrap(), "audio")?;
        let gate = Arc::new(Gate::default());
        gate_on_keyframe(&video_in, &audio_in, id, &gate, &progress, events.clone());
        count_losses(id, &video_queue, &audio_queue, &video_in, &gate, &progress);
        for queue in [&video_queue, &audio_queue] {
            track_written(&queue.static_pad("src").unwrap(), progress.clone());
        }
        let sink_pad = child(&bin, "sink")?.static_pad("sink").unwrap();
        sink_pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
            if let Some(gst::PadProbeData::Event(ev)) = &info.data
                && ev.type_() == gst::EventType::Eos
            {
                let _ = events.send(MediaEvent::RecordingFinished { id });
            }
            gst::PadProbeReturn::Ok
        });
        Ok(Self { bin, video_in, audio_in, video_feed: None, audio_feed: None, gate })
    }

    /// Whether the recording is still waiting for its first keyframe.
    fn waiting_for_first_keyframe(&self) -> bool {
        !self.gate.started.load(Ordering::Relaxed)
    }
}

/// Drops video while the gate is closed, up to a keyframe, and audio until the first one, so
/// every file starts with a decodable frame and its audio alongside it. Video dropped after
/// the start (waiting to recover from a loss) counts as lost.
fn gate_on_keyframe(
    video: &gst::GhostPad,
    audio: &gst::GhostPad,
    id: RecordingId,
    gate: &Arc<Gate>,
    progress: &Arc<RecordingProgress>,
    events: UnboundedSender<MediaEvent>,
) {
    let (video_gate, progress) = (gate.clone(), progress.clone());
    video.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if video_gate.open.load(Ordering::Relaxed) {
            return gst::PadProbeReturn::Ok;
        }
        match info.buffer() {
            Some(b) if !b.flags().contains(gst::BufferFlags::DELTA_UNIT) => {
                video_gate.open.store(true, Ordering::Relaxed);
                if !video_gate.started.swap(true, Ordering::Relaxed) {
                    let _ = events.send(MediaEvent::RecordingRunning { id });
                } else {
                    tracing::info!(recording = %id, "recording's video resumes at a keyframe");
                }
                gst::PadProbeReturn::Ok
            }
            _ => {
                if video_gate.started.load(Ordering::Relaxed) {
                    progress.drop_video();
                }
                super::discard::discard(info)
            }
        }
    });
    let audio_gate = gate.clone();
    audio.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if audio_gate.started.load(Ordering::Relaxed) { gst::PadProbeReturn::Ok } else { super::discard::discard(info) }
    });
}

/// Counts what a full queue (`leaky=upstream`: the incoming frame is dropped) loses. A lost
/// video frame closes the gate until the next keyframe, which is requested at once. Logged at
/// most every [`DROP_WARNING_INTERVAL`].
fn count_losses(
    id: RecordingId,
    video_queue: &gst::Element,
    audio_queue: &gst::Element,
    video_in: &gst::GhostPad,
    gate: &Arc<Gate>,
    progress: &Arc<RecordingProgress>,
) {
    let warned: Arc<Mutex<Option<Instant>>> = Arc::default();
    let warn = {
        let (warned, progress) = (warned.clone(), progress.clone());
        move || {
            let mut last = warned.lock().unwrap();
            if last.is_none_or(|t| t.elapsed() >= DROP_WARNING_INTERVAL) {
                *last = Some(Instant::now());
                let (video, audio) = progress.dropped();
                tracing::warn!(
                    recording = %id, video, audio,
                    "the disk cannot keep up with the recording: frames dropped so far (video resumes at the next keyframe)"
                );
            }
        }
    };
    let (gate, video_progress, video_warn, pad) = (gate.clone(), progress.clone(), warn.clone(), video_in.downgrade());
    video_queue.connect("overrun", false, move |args| {
        gate.open.store(false, Ordering::Relaxed);
        video_progress.drop_video();
        video_warn();
        // Off the streaming thread: the request travels up through the tee into the encoder.
        let pad = pad.clone();
        if let Ok(queue) = args[0].get::<gst::Element>() {
            queue.call_async(move |_| {
                if let Some(pad) = pad.upgrade() {
                    pad.push_event(gst_video::UpstreamForceKeyUnitEvent::builder().all_headers(true).build());
                }
            });
        }
        None
    });
    let audio_progress = progress.clone();
    audio_queue.connect("overrun", false, move |_| {
        audio_progress.drop_audio();
        warn();
        None
    });
}

/// Reports the running time of every buffer leaving `pad` (into the muxer) to `progress`.
fn track_written(pad: &gst::Pad, progress: Arc<RecordingProgress>) {
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let Some(buffer) = info.buffer() else { return gst::PadProbeReturn::Ok };
        let Some(pts) = buffer.pts() else { return gst::PadProbeReturn::Ok };
        let segment = pad.sticky_event::<gst::event::Segment>(0);
        let running = segment
            .as_ref()
            .and_then(|s| s.segment().downcast_ref::<gst::ClockTime>().and_then(|s| s.to_running_time(pts)));
        if let Some(start) = running {
            let end = start + buffer.duration().unwrap_or(gst::ClockTime::ZERO);
            progress.written(start.nseconds(), end.nseconds());
        }
        gst::PadProbeReturn::Ok
    });
}

impl RoomMedia {
    /// Starts recording the composite and the full mix into `path` (which must be writable).
    pub fn start_recording(
        &mut self,
        id: RecordingId,
        path: &Path,
        progress: Arc<RecordingProgress>,
    ) -> Result<(), MediaError> {
        let failed = |e: anyhow::Error| MediaError::Recording { recording: id, source: e };
        if self.video.is_none() {
            return Err(failed(anyhow::anyhow!(
                "this server runs audio-only rooms (--video false); recordings need the composite"
            )));
        }
        let mut rec = Recorder::new(id, path, self.events.clone(), progress).map_err(failed)?;
        self.pipeline.add(&rec.bin).map_err(|e| failed(e.into()))?;
        if let Err(e) = rec.bin.sync_state_with_parent() {
            if let Err(stop) = tessera_webrtc::teardown::stop(rec.bin.upcast_ref()) {
                tracing::warn!(recording = %id, "recorder branch did not stop: {stop}");
            }
            let _ = self.pipeline.remove(&rec.bin);
            return Err(failed(anyhow::anyhow!("cannot open {}: {e}", path.display())));
        }
        // The branch runs before the tees feed it; then ask for the keyframe it starts on.
        let config = self.config.clone();
        let video = self.video.as_mut().expect("checked above");
        let linked = (|| -> anyhow::Result<()> {
            let out = video.add_encoded_output(Codec::Vp8, &format!("rec-{id}"), &config)?;
            rec.video_feed = Some(out.clone());
            out.link(&rec.video_in)?;
            let out = self.audio.add_encoded_output(Codec::Opus, &format!("rec-{id}"), &config)?;
            rec.audio_feed = Some(out.clone());
            out.link(&rec.audio_in)?;
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
        if let (Some(feed), Some(video)) = (rec.video_feed.take(), &mut self.video) {
            video.remove_encoded_output(Codec::Vp8, &feed);
        }
        if let Some(feed) = rec.audio_feed.take() {
            self.audio.remove_encoded_output(Codec::Opus, &feed);
        }
        rec.video_in.send_event(gst::event::Eos::new());
        rec.audio_in.send_event(gst::event::Eos::new());
        true
    }

    /// Removes a recording's branch at once (finished, failed or stuck). The branch stops on
    /// its own thread: a filesink stuck in a write to a hung disk would block its state change,
    /// and the room must go on.
    pub fn drop_recording(&mut self, id: RecordingId) {
        let Some(mut rec) = self.recorders.remove(&id) else { return };
        if let (Some(feed), Some(video)) = (rec.video_feed.take(), &mut self.video) {
            video.remove_encoded_output(Codec::Vp8, &feed);
        }
        if let Some(feed) = rec.audio_feed.take() {
            self.audio.remove_encoded_output(Codec::Opus, &feed);
        }
        let _ = self.pipeline.remove(&rec.bin);
        let bin = rec.bin.clone();
        let stop = move || {
            if let Err(e) = tessera_webrtc::teardown::stop(bin.upcast_ref()) {
                tracing::warn!(recording = %id, "recorder branch did not stop: {e}");
            }
        };
        if let Err(e) = std::thread::Builder::new().name(format!("stop-recorder-{id}")).spawn(stop) {
            // No thread to spare: stop it here (the room's thread, none of the branch's own).
            tracing::warn!(recording = %id, "cannot start a thread to stop the recorder ({e}); stopping it here");
            if let Err(e) = tessera_webrtc::teardown::stop(rec.bin.upcast_ref()) {
                tracing::warn!(recording = %id, "recorder branch did not stop: {e}");
            }
        }
        self.restore_keyframe_interval();
    }

    /// Restores the encoder's keyframe merging once no recording waits for its first keyframe.
    pub(super) fn restore_keyframe_interval(&self) {
        if let Some(video) = &self.video
            && !self.recorders.values().any(Recorder::waiting_for_first_keyframe)
        {
            video.set_immediate_keyframes(false);
        }
    }

    /// Writes the pipeline graph (when GST_DEBUG_DUMP_DOT_DIR is set), for a recording that
    /// would not finalize.
    pub fn dump_graph(&self, name: &str) {
        self.pipeline.debug_to_dot_file_with_ts(gst::DebugGraphDetails::all(), name);
    }
}

#[cfg(test)]
mod tests;
