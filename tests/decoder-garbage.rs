//! A publisher whose video cannot be decoded (its VP8 payloads are scrambled after the frame
//! header) is removed with an `error` to it alone; the room goes on.

mod common;

use std::time::{Duration, Instant};

use common::*;
use gst::prelude::*;
use tessera::client::{PeerOptions, TestPeer};
use tessera::protocol::{ErrorCode, ServerMessage};

/// Scrambles every VP8 RTP packet after its payload descriptor and the 10-byte frame header, so
/// packets still parse and frames still look like frames, but the decoder chokes on them.
fn payloader(peer: &TestPeer) -> Option<gst::Element> {
    peer.media()
        .pipeline()
        .iterate_recurse()
        .into_iter()
        .flatten()
        .find(|e| e.factory().is_some_and(|f| f.name() == "rtpvp8pay"))
}

fn scramble_vp8(pay: &gst::Element) {
    pay.static_pad("src").unwrap().add_probe(gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST, |_, info| {
        let scramble = |b: &mut gst::Buffer| {
            let mut map = b.make_mut().map_writable().unwrap();
            // 12-byte RTP header + 4-byte VP8 descriptor (15-bit picture id) + 10-byte frame header.
            for (i, byte) in map.iter_mut().enumerate().skip(26) {
                *byte ^= 0x5a ^ (i as u8);
            }
        };
        match &mut info.data {
            Some(gst::PadProbeData::Buffer(b)) => scramble(b),
            Some(gst::PadProbeData::BufferList(l)) => l.make_mut().foreach_mut(|mut b, _| {
                scramble(&mut b);
                std::ops::ControlFlow::Continue(Some(b))
            }),
            _ => {}
        }
        gst::PadProbeReturn::Ok
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_publisher_is_removed_alone() -> anyhow::Result<()> {
    let server = start_server().await;
    let mut red = TestPeer::join(server.addr, PeerOptions::publisher("garbage", "red", RED, 440.0)).await?;
    red.wait_for(secs(15), |p| shows_tiles(p, &[RED])).await?;
    let mut bad = TestPeer::join(server.addr, PeerOptions::publisher("garbage", "bad", BLUE, 1000.0)).await?;
    // The publisher builds its sources when the offer arrives.
    bad.wait_for(secs(10), |p| payloader(p).is_some()).await?;
    scramble_vp8(&payloader(&bad).unwrap());
    let start = Instant::now();

    let told = bad.wait_message(secs(10), |m| matches!(m, ServerMessage::Error { .. })).await?;
    println!("garbage publisher told {told:?} after {:?}", start.elapsed());
    assert!(matches!(told, ServerMessage::Error { code: ErrorCode::MediaError, .. }), "{told:?}");
    let bad_id = bad.id();
    red.wait_message(
        secs(2),
        |m| matches!(m, ServerMessage::ParticipantLeft { participant_id } if *participant_id == bad_id),
    )
    .await?;
    assert!(red.next_message(Duration::from_millis(200)).await.is_none(), "red got no error of its own");
    red.wait_for(secs(3), |p| shows_tiles(p, &[RED])).await?;
    tokio::time::sleep(secs(1)).await;
    let (gap, worst) = smoothness(&red.received().frame_arrivals(), start, Instant::now());
    println!("red meanwhile: largest gap {gap:?}, worst 1 s window {worst} frames");
    assert!(gap < Duration::from_millis(300) && worst >= 25, "the room went on");
    server.stop().await;
    Ok(())
}
