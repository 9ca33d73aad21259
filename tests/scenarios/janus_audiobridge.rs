//! The benchmark's peer server works: Janus (Debian package) starts with the benchmark's own
//! configuration, and two AudioBridge participants driven over its HTTP API each receive a
//! steady Opus mix (about 50 packets/s). Without this, `make bench` could compare against a
//! Janus that mixes nothing.

use std::sync::Arc;
use std::time::Duration;

use tessera_bench::bench::janus::Janus;
use tessera_bench::bench::janus_peer::JanusPeer;
use tessera_client::EncodedClip;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_audiobridge_participants_receive_the_mix() -> anyhow::Result<()> {
    let clip = EncodedClip::opus(440.0, 5)?;
    let janus = Arc::new(Janus::start().await?);
    let a = JanusPeer::join(janus.clone(), "a", &clip).await?;
    let b = JanusPeer::join(janus.clone(), "b", &clip).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = [a.received.rtp().audio_packets, b.received.rtp().audio_packets];
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = [a.received.rtp().audio_packets, b.received.rtp().audio_packets];
    let pps: Vec<f64> = before.iter().zip(after).map(|(b, a)| (a - b) as f64 / 3.0).collect();
    println!("mix packets/s per participant: {pps:?}");
    if pps.iter().any(|p| *p < 40.0) {
        println!("janus log:\n{}", janus.log());
    }
    assert!(pps.iter().all(|p| *p >= 40.0), "each participant gets a ~50 packets/s mix: {pps:?}");
    Ok(())
}
