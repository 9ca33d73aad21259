use super::*;

fn tone_level(samples: &[i16], freq: f64) -> f64 {
    // Goertzel power at `freq`, as an amplitude relative to full scale.
    let w = 2.0 * std::f64::consts::PI * freq / 48_000.0;
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for x in samples {
        let s = f64::from(*x) / 32768.0 + 2.0 * w.cos() * s1 - s2;
        (s2, s1) = (s1, s);
    }
    let power = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
    2.0 * power.sqrt() / samples.len() as f64
}

fn collect(pad: &gst::Pad, pipeline: &gst::Pipeline, name: &str) -> Arc<std::sync::Mutex<Vec<i16>>> {
    let sink = gst_app::AppSink::builder().name(name).sync(false).build();
    // The silent listener's sink gets no buffer to preroll with.
    sink.set_property("async", false);
    pipeline.add(&sink).unwrap();
    pad.link(&sink.static_pad("sink").unwrap()).unwrap();
    let got = Arc::new(std::sync::Mutex::new(Vec::new()));
    let into = got.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let map = sample.buffer().unwrap().map_readable().unwrap();
                into.lock().unwrap().extend(map.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])));
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    got
}

/// Two talkers and a silent listener: each talker hears the other and not themselves, the
/// silent one is never pushed a frame of their own (they share the full mix's encode).
#[test]
fn talkers_hear_everyone_but_themselves_and_the_silent_share_the_full_mix() {
    gst::init().unwrap();
    register();
    let pipeline = gst::parse::launch(
        "tesseramix name=mix output-buffer-duration=20000000 ! fakesink sync=false \
         audiotestsrc num-buffers=100 samplesperbuffer=960 freq=440 volume=0.5 ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! mix.sink_0 \
         audiotestsrc num-buffers=100 samplesperbuffer=960 freq=1000 volume=0.5 ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! mix.sink_1 \
         audiotestsrc num-buffers=100 samplesperbuffer=960 wave=silence ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! mix.sink_2",
    )
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let engine = pipeline.by_name("mix").unwrap().downcast::<MixEngine>().unwrap();
    let voices: Vec<gst::Pad> = (0..3).map(|i| engine.static_pad(&format!("sink_{i}")).unwrap()).collect();
    let mut heard = Vec::new();
    let mut routes = Vec::new();
    for (i, voice) in voices.iter().enumerate() {
        let (pad, route) = engine.add_listener(Listen::WhenTalking).unwrap();
        engine.set_voice(&pad, Some(voice));
        heard.push(collect(&pad, &pipeline, &format!("minus{i}")));
        routes.push(route);
    }
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let msg =
        bus.timed_pop_filtered(gst::ClockTime::from_seconds(10), &[gst::MessageType::Eos, gst::MessageType::Error]);
    assert!(matches!(msg.map(|m| m.type_()), Some(gst::MessageType::Eos)), "the mix ran to the end");
    pipeline.set_state(gst::State::Null).unwrap();

    let (a, b) = (heard[0].lock().unwrap().clone(), heard[1].lock().unwrap().clone());
    assert_eq!(a.len(), 100 * 960, "the 440 Hz talker got every frame");
    assert!(tone_level(&a, 1000.0) > 0.45, "440 Hz talker hears 1000 Hz: {}", tone_level(&a, 1000.0));
    assert!(tone_level(&a, 440.0) < 1e-4, "440 Hz talker hears themselves: {}", tone_level(&a, 440.0));
    assert!(tone_level(&b, 440.0) > 0.45 && tone_level(&b, 1000.0) < 1e-4);
    assert!(heard[2].lock().unwrap().is_empty(), "the silent listener shares the full mix");
    let counts: Vec<RouteCounts> = routes.iter().map(|r| r.counts()).collect();
    assert_eq!(counts[0], RouteCounts { own_frames: 100, shared_frames: 0, switches: 1, on_own: 1 });
    assert_eq!(counts[2], RouteCounts { own_frames: 0, shared_frames: 100, switches: 0, on_own: 0 });
}

/// [`Route::takes_own`] matches an encoded frame to its raw frame by PTS: the room's Opus
/// encoder stamps its output no more than its lookahead (2.5 ms in CELT-only mode) before its
/// input, also after the gap between two of a listener's talk spurts.
#[test]
fn the_opus_encoder_keeps_frame_times_across_a_gap() {
    gst::init().unwrap();
    let encoder = crate::media::mixer::parse_fragment(crate::pipelines::OPUS_ENCODER, true).unwrap();
    let pipeline = gst::Pipeline::new();
    let src = gst_app::AppSrc::builder().format(gst::Format::Time).caps(&imp::pcm_caps()).build();
    let sink = gst_app::AppSink::builder().sync(false).build();
    pipeline.add_many([src.upcast_ref::<gst::Element>(), encoder.upcast_ref(), sink.upcast_ref()]).unwrap();
    src.link(&encoder).unwrap();
    encoder.by_name("encoded").unwrap().link(&sink).unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let starts = [1000, 1020, 1040, 1060, 3000, 3020, 3040];
    for ms in starts {
        let mut buffer = gst::Buffer::with_size(1920).unwrap();
        let b = buffer.get_mut().unwrap();
        b.set_pts(gst::ClockTime::from_mseconds(ms));
        b.set_duration(gst::ClockTime::from_mseconds(20));
        src.push_buffer(buffer).unwrap();
    }
    for ms in starts {
        let sample = sink.try_pull_sample(gst::ClockTime::from_seconds(5)).expect("one frame out per frame in");
        let pts = sample.buffer().unwrap().pts().unwrap().nseconds();
        let input = ms * 1_000_000;
        assert!(pts <= input && pts + ENCODED_SLACK_NS > input, "frame at {ms} ms came out at {pts} ns");
    }
    pipeline.set_state(gst::State::Null).unwrap();
}
