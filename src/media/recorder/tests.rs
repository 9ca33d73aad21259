//! The recording branch on a disk that stalls: real encoded media into a [`Recorder`] whose
//! file writes stop for longer than its queues hold.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gst::prelude::*;

use super::Recorder;
use crate::media::MediaEvent;
use crate::recording::{RecordingId, RecordingProgress};

/// How long the recorder's queues hold in this test (3 s in production), so the stall that
/// overflows them stays short.
const QUEUED: Duration = Duration::from_millis(500);

/// Video frames of `path` as (pts, keyframe), demuxed without decoding.
fn video_frames(path: &std::path::Path) -> Vec<(Duration, bool)> {
    let desc = format!(
        "filesrc location={} ! matroskademux name=d d.video_0 ! queue ! appsink name=v sync=false \
         d.audio_0 ! queue ! fakesink sync=false",
        path.display()
    );
    let pipeline = gst::parse::launch(&desc).unwrap().downcast::<gst::Pipeline>().unwrap();
    let sink = pipeline.by_name("v").unwrap().downcast::<gst_app::AppSink>().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut frames = Vec::new();
    while let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_seconds(5)) {
        let b = sample.buffer().unwrap();
        let pts = Duration::from_nanos(b.pts().map_or(0, |t| t.nseconds()));
        frames.push((pts, !b.flags().contains(gst::BufferFlags::DELTA_UNIT)));
    }
    pipeline.set_state(gst::State::Null).unwrap();
    frames
}

/// A disk that stalls for longer than the queues hold loses frames: each is counted, video
/// resumes at a keyframe requested at once (the encoder makes none on its own here), so no
/// frame in the file follows a gap without being a keyframe, and the file goes on after it.
#[test]
fn a_stalled_disk_loses_frames_but_every_frame_stays_decodable() {
    gst::init().unwrap();
    let pipeline = gst::parse::launch(
        "videotestsrc is-live=true pattern=ball ! video/x-raw,width=160,height=120,framerate=30/1 \
           ! vp8enc deadline=1 cpu-used=16 threads=1 keyframe-max-dist=100000 \
             min-force-key-unit-interval=800000000 ! tee name=v allow-not-linked=true \
         audiotestsrc is-live=true ! audio/x-raw,rate=48000,channels=1 ! opusenc frame-size=20 \
           ! tee name=a allow-not-linked=true",
    )
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let path = std::env::temp_dir().join(format!("tessera-stall-{}.webm", std::process::id()));
    let (events, mut notices) = tokio::sync::mpsc::unbounded_channel();
    let progress = Arc::new(RecordingProgress::default());
    let id: RecordingId = "rec1".parse().unwrap();
    let rec = Recorder::new(id, &path, events, progress.clone()).unwrap();
    for queue in ["video-queue", "audio-queue"] {
        rec.bin.by_name(queue).unwrap().set_property("max-size-time", QUEUED.as_nanos() as u64);
    }
    let stalled = Arc::new(AtomicBool::new(false));
    let stall = stalled.clone();
    rec.bin.by_name("sink").unwrap().static_pad("sink").unwrap().add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        while stall.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(10));
        }
        gst::PadProbeReturn::Ok
    });
    pipeline.add(&rec.bin).unwrap();
    rec.bin.sync_state_with_parent().unwrap();
    let feeds: Vec<gst::Pad> = [("v", &rec.video_in), ("a", &rec.audio_in)]
        .into_iter()
        .map(|(tee, input)| {
            let src = pipeline.by_name(tee).unwrap().request_pad_simple("src_%u").unwrap();
            src.link(input).unwrap();
            src
        })
        .collect();
    pipeline.set_state(gst::State::Playing).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    stalled.store(true, Ordering::Relaxed);
    std::thread::sleep(Duration::from_secs(2));
    let dropped_in_stall = progress.dropped();
    stalled.store(false, Ordering::Relaxed);
    std::thread::sleep(Duration::from_secs(2));
    for (tee, feed) in [("v", &feeds[0]), ("a", &feeds[1])] {
        pipeline.by_name(tee).unwrap().release_request_pad(feed);
    }
    rec.video_in.send_event(gst::event::Eos::new());
    rec.audio_in.send_event(gst::event::Eos::new());
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut finished = false;
    while !finished && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        finished =
            std::iter::from_fn(|| notices.try_recv().ok()).any(|e| matches!(e, MediaEvent::RecordingFinished { .. }));
    }
    pipeline.set_state(gst::State::Null).unwrap();
    assert!(finished, "the file was finalized");

    let frames = video_frames(&path);
    let gaps: Vec<(Duration, Duration, bool)> = frames
        .windows(2)
        .filter(|w| w[1].0 - w[0].0 > Duration::from_millis(50))
        .map(|w| (w[0].0, w[1].0 - w[0].0, w[1].1))
        .collect();
    let (video, audio) = progress.dropped();
    println!(
        "{} video frames written, {video} video and {audio} audio frames lost ({dropped_in_stall:?} during the \
         stall); gaps (after, length, resumed on a keyframe): {gaps:?}; media written {:?}",
        frames.len(),
        progress.duration()
    );
    assert!(video > 0 && audio > 0, "a stall longer than the queues loses frames, and they are counted");
    assert!(frames.first().is_some_and(|f| f.1), "the file starts on a keyframe");
    assert!(!gaps.is_empty(), "the lost frames left a gap");
    assert!(gaps.iter().all(|g| g.2), "after every gap the next frame is a keyframe: {gaps:?}");
    let last = frames.last().unwrap().0;
    let resumed = gaps.last().map(|g| g.0 + g.1).unwrap();
    assert!(last > resumed + Duration::from_secs(1), "recording went on after the stall: {resumed:?}..{last:?}");
    std::fs::remove_file(&path).unwrap();
}
