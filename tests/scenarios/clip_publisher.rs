//! The load generator's building blocks: a publisher replaying a pre-encoded clip appears in the
//! composite (and moves), and a viewer that does not decode counts packets and keyframes.

use crate::common::*;
use tessera_client::{EncodedClip, PeerOptions, TestPeer, VideoSource};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clip_publisher_reaches_decoding_and_counting_viewers() -> anyhow::Result<()> {
    let server = start_server().await;
    let clip = EncodedClip::vp8(320, 180, 30, 2, 300)?;
    assert_eq!(clip.frames.len(), 60);
    let mut opts = PeerOptions::publisher("clips", "clip", RED, 440.0);
    opts.video = Some(VideoSource::Clip(clip));
    let _publisher = TestPeer::join(server.addr, opts).await?;
    let viewer = TestPeer::join(server.addr, PeerOptions::viewer("clips", "decoding")).await?;
    let counter =
        TestPeer::join(server.addr, PeerOptions { decode: false, ..PeerOptions::viewer("clips", "counting") }).await?;

    // Colour bars fill the tile; they scroll, so a point's colour changes over time.
    let centre = |p: &TestPeer| p.received().latest_frame().map(|f| colour_in(&f, tile(0, 1)));
    viewer.wait_for(secs(15), |p| centre(p).is_some_and(|c| c.iter().any(|v| *v > 60))).await?;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..20 {
        seen.extend(centre(&viewer));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    println!("colours seen at the tile centre over 1 s: {}", seen.len());
    assert!(seen.len() > 1, "the clip should move");

    counter
        .wait_for(secs(10), |p| p.received().rtp().video_packets > 60 && p.received().rtp().audio_packets > 25)
        .await?;
    let rtp = counter.received().rtp();
    println!("counting viewer: {rtp:?}");
    assert!(rtp.keyframes >= 1, "the first composite frame a receiver gets must be a keyframe");
    assert_eq!(counter.received().frames(), 0, "a counting viewer decodes nothing");
    server.stop().await;
    Ok(())
}
