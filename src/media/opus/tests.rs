use gst::prelude::*;

/// Runs `launch` (ending in `appsink name=out`) to the end; returns the decoded samples and
/// the output buffers' (pts, duration) in nanoseconds.
fn decode(launch: &str) -> (Vec<i16>, Vec<(u64, u64)>) {
    gst::init().unwrap();
    super::register();
    let pipeline = gst::parse::launch(launch).unwrap().downcast::<gst::Pipeline>().unwrap();
    let sink = pipeline.by_name("out").unwrap().downcast::<gst_app::AppSink>().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let (mut samples, mut times) = (Vec::new(), Vec::new());
    while let Ok(sample) = sink.pull_sample() {
        let buffer = sample.buffer().unwrap();
        times.push((buffer.pts().unwrap().nseconds(), buffer.duration().unwrap().nseconds()));
        let map = buffer.map_readable().unwrap();
        samples.extend(map.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])));
    }
    let bus = pipeline.bus().unwrap();
    let error = bus.pop_filtered(&[gst::MessageType::Error]);
    pipeline.set_state(gst::State::Null).unwrap();
    assert!(error.is_none(), "{error:?}");
    (samples, times)
}

/// Zero crossings per second / 2.
fn frequency(samples: &[i16]) -> f64 {
    let crossings = samples.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
    crossings as f64 / 2.0 / (samples.len() as f64 / 48_000.0)
}

fn dbfs(samples: &[i16]) -> f64 {
    let power = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / samples.len() as f64;
    10.0 * (power.sqrt() / 32768.0).log10() * 2.0
}

#[test]
fn rtp_opus_decodes_to_the_mix_format_at_its_frequency_and_level() {
    let (samples, times) = decode(
        "audiotestsrc num-buffers=50 samplesperbuffer=960 freq=1000 volume=0.5 \
         ! audio/x-raw,rate=48000,channels=2 ! opusenc frame-size=20 ! rtpopuspay ! rtpopusdepay \
         ! tesseraopusdec ! audio/x-raw,format=S16LE,rate=48000,channels=1,layout=interleaved \
         ! appsink name=out sync=false",
    );
    // The encoder adds one frame at the end for its look-ahead.
    assert_eq!(samples.len(), 51 * 960, "one 20 ms frame out per packet in");
    let steady = &samples[4800..];
    assert!((frequency(steady) - 1000.0).abs() < 10.0, "heard {} Hz", frequency(steady));
    assert!((dbfs(steady) + 9.0).abs() < 1.5, "level {:.1} dBFS", dbfs(steady));
    // The first packet starts at the encoder's look-ahead (6.5 ms) before 0, clipped to 0.
    let contiguous = times[1..].windows(2).all(|w| w[0].0 + w[0].1 == w[1].0);
    assert!(contiguous, "timestamps with holes: {times:?}");
}

/// (pts, duration) of each encoded frame of 10 frames of a tone through `encoder`.
fn encoded_times(encoder: &str) -> Vec<(u64, u64)> {
    gst::init().unwrap();
    super::register();
    let launch = format!(
        "audiotestsrc num-buffers=10 samplesperbuffer=960 freq=1000 \
         ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! {encoder} ! appsink name=out sync=false"
    );
    let pipeline = gst::parse::launch(&launch).unwrap().downcast::<gst::Pipeline>().unwrap();
    let sink = pipeline.by_name("out").unwrap().downcast::<gst_app::AppSink>().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut times = Vec::new();
    while let Ok(sample) = sink.pull_sample() {
        let b = sample.buffer().unwrap();
        times.push((b.pts().unwrap().nseconds(), b.duration().unwrap().nseconds()));
    }
    pipeline.set_state(gst::State::Null).unwrap();
    times
}

#[test]
fn the_encoder_sounds_and_times_its_frames_as_opusenc_does() {
    // Decoded by GStreamer's own decoder: the tone at its frequency and level.
    let (samples, _) = decode(
        "audiotestsrc num-buffers=50 samplesperbuffer=960 freq=1000 volume=0.5 \
         ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! tesseraopusenc bitrate=32000 \
         ! rtpopuspay ! rtpopusdepay ! opusdec ! audio/x-raw,rate=48000,channels=1 \
         ! appsink name=out sync=false",
    );
    let steady = &samples[4800..];
    assert!((frequency(steady) - 1000.0).abs() < 10.0, "heard {} Hz", frequency(steady));
    assert!((dbfs(steady) + 9.0).abs() < 1.5, "level {:.1} dBFS", dbfs(steady));
    // The same frame times as `opusenc` with the settings it replaces (look-ahead taken off
    // the first frame), but for the frame `opusenc` adds at the end to drain its look-ahead.
    let ours = encoded_times("tesseraopusenc");
    let theirs = encoded_times("opusenc audio-type=restricted-lowdelay frame-size=20");
    assert_eq!(ours[..], theirs[..ours.len()], "frame times differ");
    assert_eq!(ours.len(), 10);
}

/// The packets `tesseraopusenc` (with `props`) makes of 20 frames of two tones (the same
/// input every time: no noise source, whose seed changes from run to run).
fn encoded_packets(props: &str) -> Vec<Vec<u8>> {
    gst::init().unwrap();
    super::register();
    let launch = format!(
        "audiotestsrc num-buffers=20 samplesperbuffer=960 freq=440 volume=0.3 ! audiomixer name=m \
         ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! tesseraopusenc bitrate=32000 {props} \
         ! appsink name=out sync=false \
         audiotestsrc num-buffers=20 samplesperbuffer=960 freq=3150 volume=0.1 ! m."
    );
    let pipeline = gst::parse::launch(&launch).unwrap().downcast::<gst::Pipeline>().unwrap();
    let sink = pipeline.by_name("out").unwrap().downcast::<gst_app::AppSink>().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut packets = Vec::new();
    while let Ok(sample) = sink.pull_sample() {
        packets.push(sample.buffer().unwrap().map_readable().unwrap().to_vec());
    }
    pipeline.set_state(gst::State::Null).unwrap();
    packets
}

#[test]
fn complexity_reaches_the_encoder_and_the_room_s_setting_sounds_right() {
    // The same input codes to the same packets at one complexity, and differently at another.
    let (low, high) = (encoded_packets("complexity=4"), encoded_packets("complexity=10"));
    assert_eq!((low.len(), high.len()), (20, 20));
    assert_eq!(high, encoded_packets("complexity=10"), "the control: one complexity, the same packets");
    assert!(low.iter().zip(&high).filter(|(a, b)| a != b).count() > 10, "complexity made no difference");
    // The room's setting reaches the element.
    let mut config = crate::config::Config::default();
    config.composite.audio_complexity = 7;
    let element = gst::ElementFactory::make("tesseraopusenc").build().unwrap();
    crate::media::encoder::configure(&element, tessera_webrtc::codecs::Codec::Opus, &config);
    assert_eq!(element.property::<i32>("complexity"), 7);
    // At the room's default (4), GStreamer's decoder hears the tone at its frequency and level.
    let (samples, _) = decode(
        "audiotestsrc num-buffers=50 samplesperbuffer=960 freq=1000 volume=0.5 \
         ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! tesseraopusenc bitrate=32000 complexity=4 \
         ! rtpopuspay ! rtpopusdepay ! opusdec ! audio/x-raw,rate=48000,channels=1 \
         ! appsink name=out sync=false",
    );
    let steady = &samples[4800..];
    assert!((frequency(steady) - 1000.0).abs() < 10.0, "heard {} Hz", frequency(steady));
    assert!((dbfs(steady) + 9.0).abs() < 1.5, "level {:.1} dBFS", dbfs(steady));
    assert_eq!(crate::config::Config::default().composite.audio_complexity, 4);
}

/// Frames nobody hears are not put out, and the times of the frames after them are those of a
/// steady encoder: the first ten skipped, the eleventh comes out at 200 ms less the 2.5 ms
/// look-ahead (taken off the stream's first frame, the skipped one), without a clipping meta.
#[test]
fn skipped_frames_leave_the_times_of_the_frames_after_them_alone() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    gst::init().unwrap();
    super::register();
    let pipeline = gst::parse::launch(
        "audiotestsrc num-buffers=20 samplesperbuffer=960 freq=1000 volume=0.5 \
         ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! tesseraopusenc name=enc bitrate=32000 \
         ! appsink name=out sync=false",
    )
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let asked = Arc::new(AtomicUsize::new(0));
    let count = asked.clone();
    let enc = pipeline.by_name("enc").unwrap().downcast::<super::OpusEncoder>().unwrap();
    enc.set_heard(move || count.fetch_add(1, Ordering::Relaxed) >= 10).unwrap();
    let sink = pipeline.by_name("out").unwrap().downcast::<gst_app::AppSink>().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut out = Vec::new();
    while let Ok(sample) = sink.pull_sample() {
        let buffer = sample.buffer().unwrap();
        let clipped = buffer.meta::<gst_audio::AudioClippingMeta>().is_some();
        out.push((buffer.pts().unwrap().nseconds(), buffer.duration().unwrap().nseconds(), clipped));
    }
    pipeline.set_state(gst::State::Null).unwrap();
    assert_eq!(asked.load(Ordering::Relaxed), 20, "asked once per frame");
    assert_eq!(out.len(), 10, "only the frames someone hears: {out:?}");
    assert_eq!(out[0], (197_500_000, 20_000_000, false));
    for (i, &(pts, duration, clipped)) in out.iter().enumerate() {
        assert_eq!((pts, duration, clipped), (197_500_000 + i as u64 * 20_000_000, 20_000_000, false));
    }
}
