//! An aiortc viewer (an independent WebRTC stack) in a room of two GStreamer publishers:
//! it decodes the composite with both tiles in their colours and hears both tones.

use crate::common::aiortc::{AiortcOptions, AiortcPeer, Mode, probe_rgb, tone};
use crate::common::*;
use tessera_client::{PeerOptions, TestPeer, close_to};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aiortc_viewer_sees_both_tiles_and_hears_both_tones() -> anyhow::Result<()> {
    let server = start_server().await;
    let red = TestPeer::join(server.addr, PeerOptions::publisher("watch", "red", RED, 440.0)).await?;
    let blue = TestPeer::join(server.addr, PeerOptions::publisher("watch", "blue", BLUE, 1000.0)).await?;
    red.wait_for(secs(15), |p| shows_tiles(p, &[RED, BLUE])).await?;

    let options = AiortcOptions {
        mode: Mode::Ws,
        room: "watch".into(),
        name: "aiortc".into(),
        publish: None,
        probes: vec![tile(0, 2), tile(1, 2)],
        tones: vec![440.0, 1000.0],
    };
    let mut viewer = AiortcPeer::start(server.addr, options).await?;
    let sees_both = |r: &serde_json::Value| {
        [RED, BLUE].iter().enumerate().all(|(i, c)| probe_rgb(r, i).is_some_and(|rgb| close_to(rgb, *c, TOLERANCE)))
    };
    let report = viewer.wait_report(secs(15), sees_both).await?;
    println!("aiortc viewer sees red|blue after {} ms: {}", report["elapsedMs"], report["probes"]);
    assert_eq!(report["frameSize"], serde_json::json!([CANVAS.width, CANVAS.height]), "the whole composite");
    let report = viewer.wait_report(secs(15), |r| tone(r, 440.0) > -20.0 && tone(r, 1000.0) > -20.0).await?;
    println!(
        "aiortc viewer hears 440 Hz at {:.1} dBFS and 1000 Hz at {:.1} dBFS after {} ms",
        tone(&report, 440.0),
        tone(&report, 1000.0),
        report["elapsedMs"]
    );
    // The mix holds nothing else loud: the dominant frequency is one of the two tones.
    let dominant = report["dominantHz"].as_f64().unwrap_or_default();
    assert!([440.0, 1000.0].iter().any(|hz| (dominant - hz).abs() <= 2.0), "dominant {dominant} Hz");
    viewer.leave().await?;
    drop((red, blue));
    server.stop().await;
    Ok(())
}
