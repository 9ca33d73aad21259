//! What switching between the shared encode and a talker's own costs the talker's decoder,
//! measured offline (no network, no clock): the room's real branch (`mixminus-pN`: own Opus
//! encoder, funnel, routes, payloader) fed by the engine, decoded by `opusdec`.

use gst::prelude::*;

use super::*;
use crate::ids::ParticipantId;

const SECONDS: u64 = 20;

/// The steady tone: a whole number of its periods fits in no talk spurt or pause, so an
/// encoder that resumed from stale state would be heard out of phase.
const TONE: u32 = 997;

/// 20 s of a talker who makes 100 ms of noise every second (40 switches, far more than speech
/// makes) beside a steady 997 Hz tone: what they decode is the tone alone, within the
/// codec's own noise, across every switch. Here a viewer takes the shared encode, so it runs
/// on every frame.
#[test]
fn switching_encodes_leaves_no_audible_seam() {
    let (frames, shared_encoded) = talk_in_bursts(true);
    assert_eq!(shared_encoded, frames, "a steady output takes every frame of the shared encode");
}

/// The same talker alone in the room: nobody hears the shared encode while they talk, so it
/// skips those frames and warms up again before each switch back; the seam bound holds.
#[test]
fn a_shared_encode_that_skipped_frames_switches_without_a_seam() {
    let (frames, shared_encoded) = talk_in_bursts(false);
    // 600 ms of each second on their own encode: 100 ms of noise and the 500 ms hangover.
    assert!(
        (frames * 35 / 100..=frames * 45 / 100).contains(&shared_encoded),
        "the shared encode ran {shared_encoded} of {frames} frames, not those nobody but the talker hears"
    );
}

/// Runs the talker of [`switching_encodes_leaves_no_audible_seam`] with the shared encode
/// heard steadily (a viewer) or only as the route asks, checks the seams, and returns the
/// frames mixed and the frames the shared encode put out.
fn talk_in_bursts(viewer: bool) -> (u64, u64) {
    gst::init().unwrap();
    register();
    let frames = SECONDS * 50;
    let pipeline = gst::parse::launch(&format!(
        "tesseramix name=mix output-buffer-duration=20000000 ! tee name=full ! queue ! fakesink sync=false \
         audiotestsrc num-buffers={frames} samplesperbuffer=960 freq={TONE} volume=0.3 ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! mix.sink_0 \
         audiotestsrc name=talker num-buffers={frames} samplesperbuffer=960 wave=pink-noise volume=0.5 ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! mix.sink_1 \
         rtpopusdepay name=depay ! opusdec ! appsink name=heard sync=false"
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    // The talker is silent but for the first 100 ms of each second.
    pipeline.by_name("talker").unwrap().static_pad("src").unwrap().add_probe(gst::PadProbeType::BUFFER, |_, info| {
        let Some(buffer) = info.buffer_mut() else { return gst::PadProbeReturn::Ok };
        let talking = buffer.pts().is_some_and(|t| t.mseconds() % 1000 < 100);
        if !talking && let Ok(mut map) = buffer.make_mut().map_writable() {
            map.fill(0);
        }
        gst::PadProbeReturn::Ok
    });
    let engine = pipeline.by_name("mix").unwrap().downcast::<MixEngine>().unwrap();
    let (minus, route) = engine.add_listener(Listen::WhenTalking).unwrap();
    engine.set_voice(&minus, engine.static_pad("sink_1").as_ref());
    let config = crate::config::Config::default();
    let key = (tessera_webrtc::codecs::Codec::Opus, 111);
    let branch = crate::media::mixminus::encoded_branch(ParticipantId::next(), key, &route, &config).unwrap();
    let shared = crate::media::mixer::parse_fragment(crate::pipelines::OPUS_ENCODER, true).unwrap();
    // Bitrate and complexity as the room sets them on its shared encoder and each own one.
    let opusenc = shared.by_name("opusenc").unwrap();
    crate::media::encoder::configure(&opusenc, key.0, &config);
    let demand = engine.shared_demand();
    if viewer {
        demand.add_steady();
    }
    opusenc.downcast::<crate::media::opus::OpusEncoder>().unwrap().set_heard(move || demand.heard()).unwrap();
    let shared_encoded = Arc::new(AtomicU64::new(0));
    let count = shared_encoded.clone();
    shared.by_name("encoded").unwrap().static_pad("sink").unwrap().add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        count.fetch_add(1, Relaxed);
        gst::PadProbeReturn::Ok
    });
    pipeline.add_many([branch.upcast_ref::<gst::Element>(), shared.upcast_ref()]).unwrap();
    let full = pipeline.by_name("full").unwrap();
    full.link_pads(Some("src_%u"), &shared, Some("sink")).unwrap();
    let encoded = shared.by_name("encoded").unwrap();
    let encoded_src = encoded.request_pad_simple("src_%u").unwrap();
    let shared_in = gst::GhostPad::with_target(&encoded_src).unwrap();
    shared.add_pad(&shared_in).unwrap();
    shared_in.link(&branch.static_pad("shared").unwrap()).unwrap();
    minus.link(&branch.static_pad("sink").unwrap()).unwrap();
    branch.static_pad("rtp").unwrap().link(&pipeline.by_name("depay").unwrap().static_pad("sink").unwrap()).unwrap();
    let heard = pipeline.by_name("heard").unwrap().downcast::<gst_app::AppSink>().unwrap();

    pipeline.set_state(gst::State::Playing).unwrap();
    let mut samples = Vec::new();
    while let Ok(sample) = heard.pull_sample() {
        let map = sample.buffer().unwrap().map_readable().unwrap();
        samples.extend(map.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])));
    }
    pipeline.set_state(gst::State::Null).unwrap();

    let counts = route.counts();
    assert_eq!(counts.switches, 2 * SECONDS, "two switches a burst: {counts:?}");
    // Every window of whole 20 ms frames after the first second (the encoders' start).
    let whole = samples.len() / 960 - 1; // the last frame is cut by the end of the stream
    let mut residuals: Vec<f64> = samples
        .chunks_exact(960)
        .take(whole)
        .skip(50)
        .map(|w| tessera_client::tone_residual_db(w, 48_000.0, f64::from(TONE)))
        .collect();
    residuals.sort_by(f64::total_cmp);
    let at = |q: f64| residuals[((residuals.len() - 1) as f64 * q) as usize];
    let (median, worst) = (at(0.5), at(1.0));
    println!(
        "{} windows of 20 ms, {} switches: residual against the {TONE} Hz tone median {median:.1} dB, p99 {:.1} dB, \
         worst {worst:.1} dB (the seam is the worst window above the codec's own noise: {:.1} dB)",
        residuals.len(),
        counts.switches,
        at(0.99),
        worst - median
    );
    assert!(median < -25.0, "the codec's own noise");
    // Measured with both encoders as the room sets them (32 kbit/s, complexity 4): median
    // -33.8, worst -30.8 dB, with the shared encode steady and skipping alike. A dropped,
    // repeated or mismatched frame at a switch reads -5 dB or worse (seen with the `voice`
    // encoder setting on the live path); a shared encode resuming without its warm-up, -7.6.
    assert!(worst < -30.0 && worst - median < 6.0, "a switch left a seam: worst window {worst:.1} dB against the tone");
    (counts.own_frames + counts.shared_frames, shared_encoded.load(Relaxed))
}
