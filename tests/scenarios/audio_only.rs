//! `--video false`: rooms mix audio only. Publishers hear each other (mix-minus) and a viewer
//! hears both; nobody is offered or sent video, and a recording is refused with a clear error.

use crate::common::*;
use tessera_client::{PeerOptions, TestPeer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_only_rooms_mix_minus_without_video() -> anyhow::Result<()> {
    let server = start_server_with(test_config_with(|c| c.composite.video = false)).await;
    let addr = server.addr;
    let red = TestPeer::join(addr, PeerOptions::publisher("talk", "red", RED, 440.0)).await?;
    let blue = TestPeer::join(addr, PeerOptions::publisher("talk", "blue", BLUE, 1000.0)).await?;
    let viewer = TestPeer::join(addr, PeerOptions::viewer("talk", "ear")).await?;
    for p in [&red, &blue, &viewer] {
        p.wait_for(secs(15), |p| p.tone_dbfs(440.0, 1000) > -30.0 || p.tone_dbfs(1000.0, 1000) > -30.0).await?;
    }
    // The first second after the tones arrive can still hold the mixers' start-up gap.
    tokio::time::sleep(secs(3)).await;
    let hears = |p: &TestPeer| (p.tone_dbfs(440.0, 1500), p.tone_dbfs(1000.0, 1500));
    let (r440, r1000) = hears(&red);
    let (b440, b1000) = hears(&blue);
    let (v440, v1000) = hears(&viewer);
    println!(
        "red hears 440 Hz {r440:.1} / 1000 Hz {r1000:.1} dBFS; blue {b440:.1} / {b1000:.1}; viewer {v440:.1} / {v1000:.1}"
    );
    assert!(r1000 > -20.0 && r1000 - r440 >= 30.0, "red hears blue, not itself");
    assert!(b440 > -20.0 && b440 - b1000 >= 30.0, "blue hears red, not itself");
    assert!(v440 > -20.0 && v1000 > -20.0, "the viewer hears both");
    for (name, p) in [("red", &red), ("blue", &blue), ("viewer", &viewer)] {
        let rtp = p.received().rtp();
        println!(
            "{name}: {} audio packets, {} video packets, {} frames",
            rtp.audio_packets,
            rtp.video_packets,
            p.received().frames()
        );
        assert!(rtp.audio_packets > 50, "{name} receives the mix");
        assert_eq!((rtp.video_packets, p.received().frames()), (0, 0), "{name} was sent video");
    }
    let (status, reply) = http_body(addr, "POST", "/api/rooms/talk/recordings", None, "").await;
    println!("recording: {status} {reply}");
    assert_eq!((status, reply["error"]["code"].as_str()), (409, Some("audio_only_room")));
    let (_, room) = http(addr, "GET", "/api/rooms/talk", None).await;
    assert_eq!(room["participants"].as_array().map(Vec::len), Some(3), "everyone stays: {room}");
    server.stop().await;
    Ok(())
}
