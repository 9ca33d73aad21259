//! aiortc over WHIP and WHEP (RFC 9725): an independent WebRTC stack that offers by one HTTP
//! POST instead of speaking `/ws`. A WHIP publisher is a participant like any other (a tile, a
//! voice, listed by the REST API) and is gone once it DELETEs its session; a WHEP viewer
//! decodes the composite and the full mix.

use std::time::Instant;

use crate::common::aiortc::{AiortcOptions, AiortcPeer, Mode, probe_rgb, tone};
use crate::common::*;
use tessera_client::{PeerOptions, TestPeer, close_to};

/// The names of the room's participants, as `GET /api/rooms/{room}` lists them.
async fn participant_names(addr: std::net::SocketAddr, room: &str) -> Vec<String> {
    let (_, detail) = http(addr, "GET", &format!("/api/rooms/{room}"), None).await;
    let people = detail["participants"].as_array().cloned().unwrap_or_default();
    people.iter().filter_map(|p| p["name"].as_str().map(str::to_owned)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aiortc_publishes_over_whip_and_leaves_by_delete() -> anyhow::Result<()> {
    let server = start_server().await;
    let red = TestPeer::join(server.addr, PeerOptions::publisher("whip-in", "red", RED, 440.0)).await?;
    let options = AiortcOptions {
        mode: Mode::Whip,
        room: "whip-in".into(),
        name: "aiortc-whip".into(),
        publish: Some((GREEN, 660.0)),
        probes: vec![],
        tones: vec![],
    };
    let mut green = AiortcPeer::start(server.addr, options).await?;
    green.wait_report(secs(15), |r| r["connectionState"] == "connected").await?;

    let waited = red
        .wait_for(secs(15), |p| shows_tiles(p, &[RED, GREEN]))
        .await
        .map_err(|e| anyhow::anyhow!("{e}; the GStreamer peer sees {}", describe(&red, 2)))?;
    println!("GStreamer peer sees red|green (aiortc over WHIP) after {waited:?}: {}", describe(&red, 2));
    wait_tone(&red, 660.0, -14.0, 1500).await?;
    let (hears_aiortc, hears_self) = (red.tone_dbfs(660.0, 1500), red.tone_dbfs(440.0, 1500));
    println!("GStreamer peer hears aiortc's 660 Hz at {hears_aiortc:.1} dBFS, itself at {hears_self:.1} dBFS");
    assert!(hears_aiortc - hears_self >= 30.0, "mix-minus: the GStreamer peer's own tone must be 30 dB below");

    let names = participant_names(server.addr, "whip-in").await;
    assert_eq!(names, ["red", "aiortc-whip"], "the WHIP publisher is a participant");

    // Closing stdin makes the peer DELETE its session's Location, then exit.
    let left = Instant::now();
    green.leave().await?;
    let deadline = left + secs(2);
    while participant_names(server.addr, "whip-in").await.len() != 1 {
        assert!(Instant::now() < deadline, "the WHIP publisher still listed 2 s after its DELETE");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    println!("the WHIP publisher left the room {:?} after its peer began to exit", left.elapsed());
    assert_eq!(participant_names(server.addr, "whip-in").await, ["red"]);
    drop(red);
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aiortc_watches_over_whep_both_tiles_and_both_tones() -> anyhow::Result<()> {
    let server = start_server().await;
    let red = TestPeer::join(server.addr, PeerOptions::publisher("whep-out", "red", RED, 440.0)).await?;
    let blue = TestPeer::join(server.addr, PeerOptions::publisher("whep-out", "blue", BLUE, 1000.0)).await?;
    red.wait_for(secs(15), |p| shows_tiles(p, &[RED, BLUE])).await?;

    let options = AiortcOptions {
        mode: Mode::Whep,
        room: "whep-out".into(),
        name: "aiortc-whep".into(),
        publish: None,
        probes: vec![tile(0, 2), tile(1, 2)],
        tones: vec![440.0, 1000.0],
    };
    let mut viewer = AiortcPeer::start(server.addr, options).await?;
    let sees_both = |r: &serde_json::Value| {
        [RED, BLUE].iter().enumerate().all(|(i, c)| probe_rgb(r, i).is_some_and(|rgb| close_to(rgb, *c, TOLERANCE)))
    };
    let report = viewer.wait_report(secs(15), sees_both).await?;
    println!("WHEP viewer sees red|blue after {} ms: {}", report["elapsedMs"], report["probes"]);
    assert_eq!(report["frameSize"], serde_json::json!([CANVAS.width, CANVAS.height]), "the whole composite");
    let report = viewer.wait_report(secs(15), |r| tone(r, 440.0) > -20.0 && tone(r, 1000.0) > -20.0).await?;
    println!(
        "WHEP viewer hears 440 Hz at {:.1} dBFS and 1000 Hz at {:.1} dBFS after {} ms",
        tone(&report, 440.0),
        tone(&report, 1000.0),
        report["elapsedMs"]
    );
    let dominant = report["dominantHz"].as_f64().unwrap_or_default();
    assert!([440.0, 1000.0].iter().any(|hz| (dominant - hz).abs() <= 2.0), "dominant {dominant} Hz");
    viewer.leave().await?;
    drop((red, blue));
    server.stop().await;
    Ok(())
}
