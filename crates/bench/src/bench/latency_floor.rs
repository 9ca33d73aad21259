//! The least glass-to-glass delay a run can show, below which a measurement is refused.
//!
//! A flash reaches the probe through the publisher's encoder and the probe's jitter buffer and
//! decoder (the client loopback, [`tessera_client::latency::loopback`]), and through the server,
//! which cannot send the composite frame that shows it before encoding that frame. So no delay
//! can be shorter than the loopback's shortest plus the shortest encode of one canvas frame with
//! the server's own encoder settings. Everything else the server does (receive, decode,
//! composite on its frame clock) only adds to that.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use gst::prelude::*;

use tessera::config::Config;
use tessera::pipelines::VP8_ENCODER;

/// Frames encoded to find the shortest encode.
const FRAMES: u32 = 90;

/// The shortest time `vp8enc`, configured as in `pipelines/vp8-encoder.txt`, took to encode one
/// moving canvas-sized frame of `config`'s.
pub fn shortest_encode(config: &Config) -> anyhow::Result<Duration> {
    gst::init()?;
    let vp8enc = super::floor::element(VP8_ENCODER, "vp8enc").context("no vp8enc in vp8-encoder.txt")?;
    let desc = format!(
        "videotestsrc num-buffers={FRAMES} pattern=ball ! video/x-raw,format=I420,width={},height={},framerate={}/1 \
         ! {vp8enc} name=enc target-bitrate={} ! fakesink sync=false",
        config.composite.canvas.0.width,
        config.composite.canvas.0.height,
        config.composite.fps,
        config.composite.video_bitrate * 1000
    );
    let pipeline = gst::parse::launch(&desc)?.downcast::<gst::Pipeline>().expect("a pipeline");
    let enc = pipeline.by_name("enc").context("encoder")?;
    let started: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let shortest = Arc::new(Mutex::new(Duration::MAX));
    let into = started.clone();
    enc.static_pad("sink").context("encoder sink")?.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if let Some(pts) = info.buffer().and_then(|b| b.pts()) {
            into.lock().unwrap().insert(pts.nseconds(), Instant::now());
        }
        gst::PadProbeReturn::Ok
    });
    let out = shortest.clone();
    enc.static_pad("src").context("encoder src")?.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        let pts = info.buffer().and_then(|b| b.pts()).map(|p| p.nseconds());
        if let Some(at) = pts.and_then(|p| started.lock().unwrap().remove(&p)) {
            let mut shortest = out.lock().unwrap();
            *shortest = (*shortest).min(at.elapsed());
        }
        gst::PadProbeReturn::Ok
    });
    pipeline.set_state(gst::State::Playing)?;
    let bus = pipeline.bus().expect("a bus");
    let ended =
        bus.timed_pop_filtered(gst::ClockTime::from_seconds(60), &[gst::MessageType::Eos, gst::MessageType::Error]);
    tessera_webrtc::teardown::stop(pipeline.upcast_ref()).map_err(anyhow::Error::msg)?;
    match ended.map(|m| m.type_()) {
        Some(gst::MessageType::Eos) => {}
        other => anyhow::bail!("encoding {FRAMES} frames ended with {other:?}"),
    }
    let shortest = *shortest.lock().unwrap();
    anyhow::ensure!(shortest < Duration::MAX, "no frame came out of the encoder");
    Ok(shortest)
}

/// Fails a run whose glass-to-glass latency went below `floor_ms` (see `latency_floor`): such a
/// delay would pair a flash with a frame that cannot show it, a bug in the measurement, and is
/// not reported as a figure.
pub(super) fn refuse_impossible_latency(report: &crate::loadgen::LoadReport, floor_ms: f64) -> anyhow::Result<()> {
    let Some(latency) = &report.latency else { return Ok(()) };
    anyhow::ensure!(
        latency.min_ms >= floor_ms,
        "{} publishers, {} viewers: a glass-to-glass delay of {:.1} ms is below the {floor_ms:.1} ms any \
         frame needs (client loopback + one canvas encode): the measurement is wrong, refusing to report it",
        report.publishers,
        report.viewers,
        latency.min_ms,
    );
    Ok(())
}
