//! Opus DTX: a participant who pauses sends nothing for most of the pause (Tessera's SDP asks
//! for `usedtx=1`, and browsers then do so). Their stream has holes of 300 ms, and the mix
//! must place what comes after a hole where it belongs: a talker's first words after a pause
//! are heard in full and on time, and a listener who sends almost nothing still gets their
//! mix.

use crate::common::*;
use tessera_client::{AudioSource, EncodedClip, PeerOptions, TestPeer};

/// A burst of tone as heard, in ms.
#[derive(Debug)]
struct Burst {
    /// Which stretch of audio it was found in.
    window: usize,
    /// Its first 10 ms block from the stretch's start.
    start: u32,
    /// How long the tone sounded (blocks above the floor, from the burst's first to its last).
    heard: u32,
    /// How long it lasted: its first block to its last.
    span: u32,
}

/// The bursts of `hz` in `samples` (48 kHz), measured in 10 ms blocks (a whole number of
/// periods at 700 Hz, so a block's level does not depend on the tone's phase) above `floor`
/// dBFS; any pause under 100 ms is inside a burst. Bursts cut by either end of `samples` are
/// left out.
fn bursts(window: usize, samples: &[i16], hz: f64, floor: f64) -> Vec<Burst> {
    let on: Vec<bool> = samples.chunks_exact(480).map(|b| tessera_client::tone_dbfs(b, 48_000.0, hz) > floor).collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < on.len() {
        if !on[i] {
            i += 1;
            continue;
        }
        let (start, mut last, mut sounding) = (i, i, 1);
        i += 1;
        while i < on.len() && i - last <= 10 {
            if on[i] {
                sounding += 1;
                last = i;
            }
            i += 1;
        }
        if start > 0 && i < on.len() {
            let ms = |blocks: usize| (blocks * 10) as u32;
            found.push(Burst { window, start: ms(start), heard: ms(sounding), span: ms(last - start + 1) });
        }
    }
    found
}

/// What `samples` (48 kHz) hold of `hz`, per 10 ms: `#` above -30 dBFS, `+` above -60, `.`.
fn pattern(samples: &[i16], hz: f64) -> String {
    let mark = |b: &[i16]| match tessera_client::tone_dbfs(b, 48_000.0, hz) {
        l if l > -30.0 => '#',
        l if l > -60.0 => '+',
        _ => '.',
    };
    samples.chunks_exact(480).map(mark).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_talker_is_heard_in_full_after_each_silent_gap() -> anyhow::Result<()> {
    let server = start_server().await;
    let mut talker = PeerOptions::publisher("dtx", "talker", RED, 0.0);
    talker.audio = Some(AudioSource::Clip(EncodedClip::opus_bursts(700.0, 10)?));
    let talker = TestPeer::join(server.addr, talker).await?;
    let mut ear = PeerOptions::publisher("dtx", "ear", BLUE, 0.0);
    ear.audio = Some(AudioSource::Clip(EncodedClip::opus_silent(10)?));
    let ear = TestPeer::join(server.addr, ear).await?;
    wait_tone(&ear, 700.0, -30.0, 1000).await?;
    // Past the mixers' start, then two 3 s stretches of what the listener decodes (what the
    // peer keeps), back to back: four to six whole bursts.
    tokio::time::sleep(secs(2)).await;
    let (mut heard_bursts, mut level) = (Vec::new(), f64::NEG_INFINITY);
    for window in 0..2 {
        let from = ear.received().audio_samples();
        ear.wait_for(secs(15), |p| p.received().audio_samples() >= from + 3 * 48_000).await?;
        let heard = ear.received().last_audio(3000);
        println!("700 Hz per 10 ms (# above -30 dBFS, + above -60): {}", pattern(&heard, 700.0));
        heard_bursts.extend(bursts(window, &heard, 700.0, -30.0));
        level = level.max(tessera_client::tone_dbfs(&heard, 48_000.0, 700.0));
    }
    println!(
        "the listener hears 700 Hz at {level:.1} dBFS, in bursts of {heard_bursts:?} \
         (sent: 500 ms each, 1000 ms apart)"
    );
    assert!(level > -20.0, "the talker is heard at about their level (-10 dBFS while sounding)");
    assert!(heard_bursts.len() >= 4, "the bursts were heard as separate bursts: {heard_bursts:?}");
    // Each burst heard whole (a first frame after a hole dropped costs 20 ms), and each
    // starting about 1000 ms after the one before, as sent (one mixed where the frame before
    // the hole ended would start hundreds of ms early). About one burst in ten is spread over
    // 530 ms with 20 ms missing inside, and the next starts 20 ms late: the talker's jitter
    // buffer moved its timing by a frame (this test's clip player runs late now and then on a
    // loaded machine) and the mix follows it, as it does to keep lip sync
    // (`media::audio_timing`); seen with and without DTX.
    for (i, b) in heard_bursts.iter().enumerate() {
        assert!(b.span <= 540, "a burst of 500 ms was spread over {} ms: {heard_bursts:?}", b.span);
        assert!((490..=520).contains(&b.heard), "a burst of 500 ms was heard for {} ms: {heard_bursts:?}", b.heard);
        if let Some(prev) = heard_bursts.get(i.wrapping_sub(1)).filter(|p| p.window == b.window) {
            let gap = b.start - prev.start;
            assert!((980..=1030).contains(&gap), "bursts 1000 ms apart were heard {gap} ms apart: {heard_bursts:?}");
        }
    }
    // The talker, who pauses, and the listener, who sends almost nothing, both get their mix.
    for (name, peer) in [("talker", &talker), ("ear", &ear)] {
        let rtp = peer.received().rtp();
        println!("{name} received {} mix packets", rtp.audio_packets);
        assert!(rtp.audio_packets > 200, "{name} got no steady mix: {} packets", rtp.audio_packets);
    }
    drop((talker, ear));
    server.stop().await;
    Ok(())
}
