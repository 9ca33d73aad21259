//! The mandatory codecs in one room: an H.264 publisher beside a VP8 one (one composite, the
//! H.264 receiver's copy encoded once and only while it is there), a PCMU publisher beside an
//! Opus one (one mix, each hears the other at the right frequency), and receivers that take
//! only H.264 or only PCMU/PCMA.

use crate::common::*;
use tessera_client::{Codec, PeerOptions, TestPeer};

/// The room's pipeline inventory from `GET /api/rooms/{room}`: elements by factory.
async fn elements(addr: std::net::SocketAddr, room: &str, factory: &str) -> u64 {
    let (status, detail) = http(addr, "GET", &format!("/api/rooms/{room}"), None).await;
    assert_eq!(status, 200, "{detail}");
    detail["pipeline"]["byFactory"][factory].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264_and_vp8_publishers_share_one_composite() -> anyhow::Result<()> {
    let server = start_server().await;
    let vp8 = TestPeer::join(server.addr, PeerOptions::publisher("mixed", "vp8", RED, 440.0)).await?;
    let h264 = PeerOptions::publisher("mixed", "h264", BLUE, 1000.0).with_codecs(Codec::H264, Codec::Opus);
    let h264 = TestPeer::join(server.addr, h264).await?;
    for (name, peer) in [("vp8", &vp8), ("h264", &h264)] {
        let waited = peer
            .wait_for(secs(15), |p| shows_tiles(p, &[RED, BLUE]))
            .await
            .map_err(|e| anyhow::anyhow!("{name}: {e}; sees {}", describe(peer, 2)))?;
        println!("{name} publisher decodes red|blue after {waited:?}: {}", describe(peer, 2));
    }
    wait_tone(&vp8, 1000.0, -20.0, 1000).await?;
    wait_tone(&h264, 440.0, -20.0, 1000).await?;
    // One x264 for the room, and the H.264 publisher decoded by one avdec_h264.
    assert_eq!(elements(server.addr, "mixed", "x264enc").await, 1);
    assert_eq!(elements(server.addr, "mixed", "avdec_h264").await, 1);
    assert_eq!(elements(server.addr, "mixed", "vp8enc").await, 1);

    // A second H.264-only receiver shares the encoder and its payloader.
    let viewer = PeerOptions::viewer("mixed", "h264-viewer").with_codecs(Codec::H264, Codec::Opus);
    let viewer = TestPeer::join(server.addr, viewer).await?;
    viewer.wait_for(secs(15), |p| shows_tiles(p, &[RED, BLUE])).await?;
    assert_eq!(elements(server.addr, "mixed", "x264enc").await, 1);
    assert_eq!(elements(server.addr, "mixed", "rtph264pay").await, 1);
    println!("H.264 viewer decodes red|blue: {}", describe(&viewer, 2));

    // The H.264 encoder runs only while someone receives it.
    drop(viewer);
    h264.leave().await?;
    let deadline = std::time::Instant::now() + secs(5);
    while elements(server.addr, "mixed", "x264enc").await > 0 {
        assert!(std::time::Instant::now() < deadline, "x264enc still running with no H.264 receiver");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    vp8.wait_for(secs(5), |p| shows_tiles(p, &[RED])).await?;
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g711_and_opus_publishers_hear_each_other() -> anyhow::Result<()> {
    let server = start_server().await;
    let opus = TestPeer::join(server.addr, PeerOptions::publisher("phone", "opus", RED, 440.0)).await?;
    let pcmu = PeerOptions::publisher("phone", "pcmu", BLUE, 1000.0).with_codecs(Codec::Vp8, Codec::Pcmu);
    let pcmu = TestPeer::join(server.addr, pcmu).await?;
    let pcma = PeerOptions::publisher("phone", "pcma", GREEN, 700.0).with_codecs(Codec::Vp8, Codec::Pcma);
    let pcma = TestPeer::join(server.addr, pcma).await?;
    // Each hears the others at their frequencies (G.711 carries up to 4 kHz) and not itself.
    for (name, peer, own, others) in [
        ("opus", &opus, 440.0, [1000.0, 700.0]),
        ("pcmu", &pcmu, 1000.0, [440.0, 700.0]),
        ("pcma", &pcma, 700.0, [440.0, 1000.0]),
    ] {
        for f in others {
            wait_tone(peer, f, -25.0, 1500).await.map_err(|e| anyhow::anyhow!("{name} hearing {f} Hz: {e}"))?;
        }
        // Each level is the median of five 500 ms readings a quarter second apart: a steady
        // level, not one window a momentary glitch can move (seen beside a busy loop: one tone
        // read 2.2 dB above the other in a single 1.5 s window, none in the next).
        let mut readings = Vec::new();
        for _ in 0..5 {
            readings.push(others.map(|f| peer.tone_dbfs(f, 500)));
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        let median = |i: usize| {
            let mut r: Vec<f64> = readings.iter().map(|levels| levels[i]).collect();
            r.sort_by(f64::total_cmp);
            r[r.len() / 2]
        };
        let heard = [median(0), median(1)];
        let itself = peer.tone_dbfs(own, 1500);
        println!("{name} hears {others:?} Hz at {heard:.1?} dBFS, itself at {itself:.1} dBFS");
        for level in &heard {
            assert!(level - itself >= 25.0, "{name}: mix-minus must keep its own tone 25 dB below the others");
        }
        // The others' tones are sent at one volume: a G.711 publisher is as loud as an Opus one.
        assert!((heard[0] - heard[1]).abs() <= 2.0, "{name}: the others' levels differ by more than 2 dB: {heard:?}");
    }
    // G.711 is encoded once per mix that needs it: none in the full mix (no G.711 viewer),
    // one in each G.711 publisher's mix-minus.
    assert_eq!(elements(server.addr, "phone", "mulawenc").await, 1);
    assert_eq!(elements(server.addr, "phone", "alawenc").await, 1);

    // A viewer taking only PCMU hears everyone in the full mix, encoded once more for it.
    let viewer = PeerOptions::viewer("phone", "pcmu-viewer").with_codecs(Codec::Vp8, Codec::Pcmu);
    let viewer = TestPeer::join(server.addr, viewer).await?;
    for f in [440.0, 1000.0, 700.0] {
        wait_tone(&viewer, f, -25.0, 1500).await.map_err(|e| anyhow::anyhow!("PCMU viewer hearing {f} Hz: {e}"))?;
    }
    assert_eq!(elements(server.addr, "phone", "mulawenc").await, 2);
    viewer.wait_for(secs(15), |p| shows_tiles(p, &[RED, BLUE, GREEN])).await?;
    drop(viewer);
    let deadline = std::time::Instant::now() + secs(5);
    while elements(server.addr, "phone", "mulawenc").await > 1 {
        assert!(std::time::Instant::now() < deadline, "the full mix's PCMU encoder outlived its last receiver");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    server.stop().await;
    Ok(())
}
