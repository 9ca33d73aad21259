//! A publisher whose video cannot be decoded is removed with an `error` (`media_error`) to it
//! alone; the other participant never gets an error and keeps its frame rate. Two kinds of
//! garbage: VP8 payloads scrambled after the frame header (they reach the decoder, which fails),
//! and RTP payloads replaced by random bytes (mostly dropped by the depayloader: noticed as
//! video that keeps arriving without a decodable frame).

use std::time::{Duration, Instant};

use crate::common::*;
use gst::prelude::*;
use tessera_client::{PeerOptions, TestPeer};
use tessera_protocol::{ErrorCode, ServerMessage};

/// The test peer's VP8 payloader (its src pad carries RTP into webrtcbin).
fn payloader(peer: &TestPeer) -> Option<gst::Element> {
    peer.media()
        .pipeline()
        .iterate_recurse()
        .into_iter()
        .flatten()
        .find(|e| e.factory().is_some_and(|f| f.name() == "rtpvp8pay"))
}

/// Where an RTP packet's payload starts (after CSRCs and a header extension).
fn payload_offset(rtp: &[u8]) -> usize {
    let csrcs = usize::from(rtp[0] & 0x0f) * 4;
    let mut offset = 12 + csrcs;
    if rtp[0] & 0x10 != 0 && rtp.len() >= offset + 4 {
        offset += 4 + usize::from(u16::from_be_bytes([rtp[offset + 2], rtp[offset + 3]])) * 4;
    }
    offset.min(rtp.len())
}

/// Rewrites every RTP packet leaving `pay` with `garble(payload, sequence number)`.
fn garble_rtp(pay: &gst::Element, garble: fn(&mut [u8], u16)) {
    pay.static_pad("src").unwrap().add_probe(
        gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
        move |_, info| {
            let apply = |b: &mut gst::Buffer| {
                let mut map = b.make_mut().map_writable().unwrap();
                let seq = u16::from_be_bytes([map[2], map[3]]);
                let offset = payload_offset(&map);
                garble(&mut map[offset..], seq);
            };
            match &mut info.data {
                Some(gst::PadProbeData::Buffer(b)) => apply(b),
                Some(gst::PadProbeData::BufferList(l)) => l.make_mut().foreach_mut(|mut b, _| {
                    apply(&mut b);
                    std::ops::ControlFlow::Continue(Some(b))
                }),
                _ => {}
            }
            gst::PadProbeReturn::Ok
        },
    );
}

/// Keeps the 4-byte VP8 descriptor (15-bit picture id) and the 10-byte frame header, scrambles
/// the rest: packets parse and frames look like frames, but the decoder chokes on them.
fn scramble_after_header(payload: &mut [u8], _seq: u16) {
    for (i, byte) in payload.iter_mut().enumerate().skip(14) {
        *byte ^= 0x5a ^ (i as u8);
    }
}

/// Replaces the whole payload with pseudo-random bytes (xorshift, seeded by the sequence number).
fn random_payload(payload: &mut [u8], seq: u16) {
    let mut x = 0x9e37_79b9_u32 ^ (u32::from(seq) << 8 | 1);
    for byte in payload {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *byte = x as u8;
    }
}

/// Reads `red`'s messages until `who` has left, keeping every `error` red was sent.
async fn wait_left(
    red: &mut TestPeer,
    who: tessera_protocol::ids::ParticipantId,
    errors: &mut Vec<ServerMessage>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + secs(3);
    loop {
        match red.next_message(deadline.saturating_duration_since(Instant::now())).await {
            Some(ServerMessage::ParticipantLeft { participant_id }) if participant_id == who => return Ok(()),
            Some(m @ ServerMessage::Error { .. }) => errors.push(m),
            Some(_) => {}
            None => anyhow::bail!("red never saw {who} leave"),
        }
    }
}

async fn garbage_publisher_is_removed_alone(garble: fn(&mut [u8], u16), what: &str) -> anyhow::Result<()> {
    let server = start_server().await;
    let mut red = TestPeer::join(server.addr, PeerOptions::publisher("garbage", "red", RED, 440.0)).await?;
    red.wait_for(secs(15), |p| shows_tiles(p, &[RED])).await?;
    let mut bad = TestPeer::join(server.addr, PeerOptions::publisher("garbage", "bad", BLUE, 1000.0)).await?;
    // The publisher builds its sources when the offer arrives.
    bad.wait_for(secs(10), |p| payloader(p).is_some()).await?;
    garble_rtp(&payloader(&bad).unwrap(), garble);
    let start = Instant::now();

    let told = bad.wait_message(secs(10), |m| matches!(m, ServerMessage::Error { .. })).await?;
    println!("{what}: the publisher was told {told:?} after {:?}", start.elapsed());
    assert!(matches!(told, ServerMessage::Error { code: ErrorCode::MediaError, .. }), "{told:?}");
    let mut red_errors = Vec::new();
    wait_left(&mut red, bad.id(), &mut red_errors).await?;
    red.wait_for(secs(3), |p| shows_tiles(p, &[RED])).await?;
    // The room goes on: a further second of frames, then everything red was ever sent.
    let more = red.received().frames() + 30;
    red.wait_for(secs(3), |p| p.received().frames() >= more).await?;
    let (gap, worst) = smoothness(&red.received().frame_arrivals(), start, Instant::now());
    while let Some(m) = red.next_message(Duration::ZERO).await {
        if matches!(m, ServerMessage::Error { .. }) {
            red_errors.push(m);
        }
    }
    println!("{what}: red meanwhile: largest gap {gap:?}, worst 1 s window {worst} frames, errors {red_errors:?}");
    assert!(red_errors.is_empty(), "red was sent {red_errors:?}");
    assert!(gap < Duration::from_millis(300) && worst >= 25, "the room went on");
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrambled_vp8_publisher_is_removed_alone() -> anyhow::Result<()> {
    garbage_publisher_is_removed_alone(scramble_after_header, "scrambled VP8").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_rtp_payload_publisher_is_removed_alone() -> anyhow::Result<()> {
    garbage_publisher_is_removed_alone(random_payload, "random RTP payload").await
}
