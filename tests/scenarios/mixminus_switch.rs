//! The room's one mix-minus engine shares the full mix's Opus encode with every listener who is
//! not talking; a talker gets their own encode while they talk (and 500 ms after). A talker who
//! speaks in bursts therefore switches between the two encodes twice a burst. What a switch
//! costs them is measured in what they decode: beside a steady 1000 Hz tone from another
//! publisher, everything they hear that is not that tone (their own beeps, coding noise, and
//! any seam where the stream switched encoders) is the residual, per 20 ms window.

use crate::common::*;
use tessera_client::{AudioSource, PeerOptions, TestPeer, VideoSource, VideoSpec};

async fn mix_minus_counts(addr: std::net::SocketAddr, room: &str) -> serde_json::Value {
    let (status, detail) = http(addr, "GET", &format!("/api/rooms/{room}"), None).await;
    assert_eq!(status, 200, "{detail}");
    detail["pipeline"]["mixMinus"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_talker_switching_encodes_hears_no_seam() -> anyhow::Result<()> {
    let server = start_server().await;
    let mut steady = PeerOptions::publisher("switch", "steady", BLUE, 0.0);
    steady.audio = Some(AudioSource::ToneAt { hz: 1000.0, volume: 0.3 });
    let steady = TestPeer::join(server.addr, steady).await?;
    let mut talker = PeerOptions::publisher("switch", "talker", [0, 0, 0], 0.0);
    talker.video = Some(VideoSource::Flash(VideoSpec { rgb: [0, 0, 0], width: 320, height: 180, fps: 30 }));
    // 100 ms of 440 Hz every second: two switches a second, far more than speech makes.
    talker.audio = Some(AudioSource::Beep(440.0));
    let talker = TestPeer::join(server.addr, talker).await?;
    wait_tone(&talker, 1000.0, -20.0, 1000).await?;
    wait_tone(&steady, 440.0, -40.0, 1000).await?;
    let before = mix_minus_counts(server.addr, "switch").await;
    // Two 3 s stretches of what the talker decodes, back to back.
    let mut heard = Vec::new();
    for _ in 0..2 {
        let from = talker.received().audio_samples();
        talker.wait_for(secs(15), |p| p.received().audio_samples() >= from + 3 * 48_000).await?;
        heard.extend(talker.received().last_audio(3000));
    }
    let after = mix_minus_counts(server.addr, "switch").await;
    let switches = after["switches"].as_u64().unwrap() - before["switches"].as_u64().unwrap();
    let own = after["ownFrames"].as_u64().unwrap() - before["ownFrames"].as_u64().unwrap();
    let shared = after["sharedFrames"].as_u64().unwrap() - before["sharedFrames"].as_u64().unwrap();
    println!("over ~6 s: {switches} switches, {own} own-encoded and {shared} shared frames (both listeners)");
    assert!(switches >= 10, "the talker switched encodes with each beep: {switches}");
    // The steady publisher talks all the time (own encode, ~300 frames); the talker shares the
    // full mix's encode from 500 ms after each beep to the next: ~40 % of their ~300 frames.
    assert!(shared >= 80, "the talker shared the full mix's encode between beeps: {shared} frames");

    let mut residuals: Vec<f64> =
        heard.chunks_exact(960).map(|w| tessera_client::tone_residual_db(w, 48_000.0, 1000.0)).collect();
    let own_tone = tessera_client::tone_dbfs(&heard, 48_000.0, 440.0);
    let tone = tessera_client::tone_dbfs(&heard, 48_000.0, 1000.0);
    residuals.sort_by(f64::total_cmp);
    let at = |q: f64| residuals[((residuals.len() - 1) as f64 * q) as usize];
    println!(
        "the talker hears 1000 Hz at {tone:.1} dBFS, their own 440 Hz at {own_tone:.1} dBFS; residual per 20 ms \
         (dB against the tone): median {:.1}, p95 {:.1}, worst {:.1}",
        at(0.5),
        at(0.95),
        at(1.0)
    );
    assert!(tone > -15.0, "the other publisher is heard");
    assert!(own_tone < tone - 30.0, "own beeps rejected by at least 30 dB");
    // The seam itself is bounded offline, free of network and scheduling jitter
    // (`media::mixengine::switch_tests`); here, most windows carry the tone alone.
    assert!(at(0.5) < -20.0, "the talker's stream is mostly the other's tone: median residual {:.1} dB", at(0.5));
    drop((steady, talker));
    server.stop().await;
    Ok(())
}
