//! Recordings survive the process: SIGTERM finalizes every open recording (two rooms, each
//! recording) and SIGINT one (the files have a duration); after SIGKILL the file still decodes
//! to at least the recorded time minus 2 s.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::common::*;
use tessera_client::{PeerOptions, TestPeer};

async fn record_for(server: &ServerProcess, room: &str, secs_: u64) -> anyhow::Result<(PeerStop, PathBuf, Instant)> {
    let peer = TestPeer::join(server.addr, PeerOptions::publisher(room, "red", RED, 440.0)).await?;
    peer.wait_for(secs(15), |p| p.received().frames() > 10).await?;
    let (status, started) = http(server.addr, "POST", &format!("/api/rooms/{room}/recordings"), None).await;
    assert_eq!(status, 201, "{started}");
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs_)).await;
    Ok((PeerStop(peer), PathBuf::from(started["path"].as_str().unwrap()), t0))
}

/// Keeps the peer alive until the server is gone.
struct PeerStop(#[allow(dead_code)] TestPeer);

fn frames_in(path: &std::path::Path) -> anyhow::Result<(usize, Duration)> {
    let (mut frames, mut last) = (0, Duration::ZERO);
    recording::decode(path, |t, _| {
        frames += 1;
        last = t;
    })?;
    Ok((frames, last))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finalizes_and_sigkill_leaves_a_playable_file() -> anyhow::Result<()> {
    let dir = record_dir("crash");
    let dir_arg = dir.to_string_lossy().to_string();

    for (signal, rooms, seconds) in [("TERM", &["term-a", "term-b"][..], 5), ("INT", &["int"][..], 3)] {
        let mut server = ServerProcess::start(&["--record-dir", &dir_arg]).await?;
        let mut recordings = Vec::new();
        for room in rooms {
            recordings.push(record_for(&server, room, seconds).await?);
        }
        let sent = Instant::now();
        assert!(
            std::process::Command::new("kill")
                .arg(format!("-{signal}"))
                .arg(server.pid().to_string())
                .status()?
                .success()
        );
        let status = tokio::time::timeout(secs(5), server.child.wait()).await??;
        let took = sent.elapsed();
        assert!(status.success());
        println!("SIG{signal} with {} rooms recording: exit {status} in {took:?}", rooms.len());
        for (_peer, path, t0) in &recordings {
            let recorded = sent - *t0;
            let found = recording::discover(path)?;
            println!("  {}: recorded {recorded:?}, file duration {:?}", path.display(), found.duration);
            let duration = found.duration.unwrap_or_else(|| {
                eprintln!("server log:\n{}", server.log.lock().unwrap().join("\n"));
                panic!("SIG{signal} finalizes {} (a duration)", path.display())
            });
            assert!((duration.as_secs_f64() - recorded.as_secs_f64()).abs() < 0.6);
        }
    }

    let mut server = ServerProcess::start(&["--record-dir", &dir_arg]).await?;
    let (_peer, path, t0) = record_for(&server, "kill", 6).await?;
    let recorded = t0.elapsed();
    server.child.start_kill()?;
    server.child.wait().await?;
    let (frames, last) = frames_in(&path)?;
    println!(
        "SIGKILL after {recorded:?}: {} bytes on disk decode to {frames} frames, up to {last:?}",
        std::fs::metadata(&path)?.len()
    );
    assert!(last + Duration::from_secs(2) >= recorded, "lost more than the last 2 s");
    assert!(frames as f64 >= 30.0 * (recorded.as_secs_f64() - 2.0));
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
