//! An agent's audio is paced, not dropped: 5 s of tone sent in 200 ms (text-to-speech output
//! comes faster than real time) plays out in 5 s without a missing frame; `clearAudio` (barge-in)
//! silences it within 40 ms. A second agent listens: its mix-minus comes in 20 ms frames with
//! their arrival times, so what played and when is read frame by frame.

use std::time::{Duration, Instant};

use crate::common::*;
use tessera_client::agent::{AgentClient, sine};
use tessera_client::tone_dbfs;

const HZ: f64 = 700.0;
/// A frame holding the tone (sent at −12 dBFS) reads above this; silence reads −200.
const TONE_FLOOR: f64 = -30.0;

/// The listener's frames since `from` that hold the tone: (index among them, arrival).
fn tone_frames(listener: &AgentClient, from: Instant) -> (Vec<(usize, Instant)>, usize) {
    listener.received(|r| {
        let frames: Vec<&(Instant, Vec<i16>)> = r.frames.iter().filter(|(t, _)| *t >= from).collect();
        let toned = frames
            .iter()
            .enumerate()
            .filter(|(_, (_, pcm))| tone_dbfs(pcm, 16_000.0, HZ) > TONE_FLOOR)
            .map(|(i, (t, _))| (i, *t))
            .collect();
        (toned, frames.len())
    })
}

/// How long the tone sounded in the listener's stream since `from`, to 2 ms: from the first to
/// the last 2 ms block (32 samples at 16 kHz) whose RMS shows the tone (sent at −12 dBFS, RMS
/// about 5800; nothing else sounds in the room).
fn tone_duration(listener: &AgentClient, from: Instant) -> Duration {
    const BLOCK: usize = 32;
    let loud: Vec<bool> = listener.received(|r| {
        let pcm: Vec<i16> = r.frames.iter().filter(|(t, _)| *t >= from).flat_map(|(_, pcm)| pcm.clone()).collect();
        pcm.chunks_exact(BLOCK)
            .map(|b| (b.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / BLOCK as f64).sqrt() > 1000.0)
            .collect()
    });
    match (loud.iter().position(|&l| l), loud.iter().rposition(|&l| l)) {
        (Some(first), Some(last)) => Duration::from_millis(2 * (last - first + 1) as u64),
        _ => Duration::ZERO,
    }
}

async fn two_agents(server: &TestServer, room: &str) -> anyhow::Result<(AgentClient, AgentClient)> {
    let speaker = AgentClient::connect(server.addr, &format!("room={room}&name=Speaker")).await?;
    let listener = AgentClient::connect(server.addr, &format!("room={room}&name=Listener")).await?;
    for a in [&speaker, &listener] {
        a.wait_message(secs(10), |m| m["type"] == "joined").await?;
    }
    listener.wait_for(secs(5), |a| a.received(|r| r.frame_arrivals.len()) > 25).await?;
    Ok((speaker, listener))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_plays_out_in_real_time_and_clear_audio_cuts_it() -> anyhow::Result<()> {
    let server = start_server().await;
    let (speaker, listener) = two_agents(&server, "pace").await?;

    // 5 s of tone in ten bursts of 0.5 s, 20 ms apart: sent within 200 ms.
    let from = Instant::now();
    let frames = sine(16_000, HZ, 0.25, 5.0);
    for chunk in frames.chunks(25) {
        speaker.play(chunk.to_vec());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(secs(7)).await;
    let (toned, _) = tone_frames(&listener, from);
    let (first, last) = (toned.first().copied().unwrap(), toned.last().copied().unwrap());
    let span = last.1 - first.1;
    let missing = (last.0 - first.0 + 1) - toned.len();
    println!("{} frames of tone over {span:?}, {missing} missing inside", toned.len());
    assert!((249..=252).contains(&toned.len()), "{} frames of tone, sent 250", toned.len());
    // Where the tone broke, as (index after the first tone frame, ms since the first), and the
    // listener's frame arrivals around it: a gap says which side lost its timing.
    let gaps: Vec<(usize, u128)> = toned
        .windows(2)
        .filter(|w| w[1].0 != w[0].0 + 1)
        .map(|w| (w[0].0 - first.0, (w[0].1 - first.1).as_millis()))
        .collect();
    assert_eq!(missing, 0, "no frame lost inside the tone; breaks after (frame, ms): {gaps:?}");
    assert!(span >= Duration::from_millis(4900) && span <= Duration::from_millis(5150), "played over {span:?}");

    // Barge-in: 10 s queued, cleared 2 s after it started.
    let sent = Instant::now();
    speaker.play(sine(16_000, HZ, 0.25, 9.9));
    listener.wait_for(secs(5), |l| !tone_frames(l, sent).0.is_empty()).await?;
    let onset = tone_frames(&listener, sent).0[0].1;
    let path = onset - sent;
    tokio::time::sleep_until((sent + secs(2)).into()).await;
    let cleared = Instant::now();
    speaker.send_json(serde_json::json!({"type": "clearAudio"}));
    tokio::time::sleep(secs(1)).await;
    let (toned, _) = tone_frames(&listener, sent);
    let end = toned.last().unwrap().1;
    let wall = (end - cleared).saturating_sub(path);
    // Counted in media time: how long the tone sounded against the time it was allowed to
    // play. The pacer starts at its first tick after the frames came (0-20 ms after `sent`),
    // so `beyond` ≤ 20 ms means the tone stopped within 40 ms of `clearAudio`. Arrival times
    // (`wall`) add the path's jitter to both ends and are printed only.
    let missing = (toned.last().unwrap().0 - toned[0].0 + 1) - toned.len();
    assert_eq!(missing, 0, "no frame lost inside the tone before the barge-in");
    let heard = tone_duration(&listener, sent);
    let allowed = cleared - sent;
    let beyond = heard.as_secs_f64() * 1000.0 - allowed.as_secs_f64() * 1000.0;
    println!(
        "tone arrived {path:?} after it was sent; after clearAudio it went on for {beyond:.1} ms of audio \
         ({heard:?} heard in {allowed:?}; by arrival times {wall:?})"
    );
    assert!(beyond <= 20.0, "clearAudio let {beyond:.1} ms of tone play on (the bound is 20 ms, i.e. 40 ms of tail)");
    assert!(beyond >= -60.0, "the tone stopped {beyond:.1} ms before clearAudio");
    server.stop().await;
    Ok(())
}
