//! One fast round of every abrupt departure `tessera-bench stress` repeats (`scripts/stress.sh` runs
//! hundreds): a connected publisher's socket dropped, peers vanishing during ICE (also after
//! trickling a browser's mDNS candidate), during DTLS and mid-stream, a kick, a room closed
//! while peers join, a raw socket that joins and vanishes. The server and this process (whose
//! test peers tear down too) must survive, a steady room beside them keeps its frame rate, and
//! afterwards no room, pipeline, `webrtcbin` or ICE object is left.

use crate::common::*;
use tessera_bench::loadgen::stress::{Departure, StressOptions, run_against};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_departure_once_leaves_nothing_behind() -> anyhow::Result<()> {
    let server = start_server().await;
    // Two of each: one in a fresh room (which ends with it), one beside the steady room.
    let cycles = 2 * Departure::ALL.len();
    let opts = StressOptions { server: Some(server.addr), cycles, parallel: 4, admin_key: None };
    let report = run_against(server.addr, &opts).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    report.verdict()?;
    assert_eq!(report.cycles, cycles);
    assert!(report.steady_fps_min >= 20.0, "the steady room stalled: {} fps", report.steady_fps_min);
    server.stop().await;
    Ok(())
}
