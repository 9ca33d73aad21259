//! 50 join/leave cycles of a third publisher beside two steady ones: the steady ones keep at
//! least 25 fps throughout; afterwards the room's element count, the server's open fds and
//! threads are back where they were and RSS grew less than 20 MB; when the last participant
//! leaves, the room is gone within 5 s and the server is back to its idle fds and threads.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tessera::client::{PeerOptions, TestPeer};

async fn room_elements(addr: std::net::SocketAddr) -> u64 {
    http(addr, "GET", "/api/rooms/churn", None).await.1["pipelineElements"].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_leaves_nothing_behind() -> anyhow::Result<()> {
    let server = ServerProcess::start(&[]).await?;
    let addr = server.addr;
    let idle = server.resources();
    let red = TestPeer::join(addr, PeerOptions::publisher("churn", "red", RED, 440.0)).await?;
    let blue = TestPeer::join(addr, PeerOptions::publisher("churn", "blue", BLUE, 1000.0)).await?;
    for p in [&red, &blue] {
        p.wait_for(secs(15), |p| shows_tiles(p, &[RED, BLUE])).await?;
    }
    // One warm-up cycle so one-time allocations (codec and thread pools) are in the baseline.
    let warm = TestPeer::join(addr, PeerOptions::publisher("churn", "warm", GREEN, 600.0)).await?;
    warm.wait_for(secs(10), |p| p.received().frames() > 0).await?;
    warm.leave().await?;
    tokio::time::sleep(secs(2)).await;
    let (elements0, before) = (room_elements(addr).await, server.resources());

    // TESSERA_CHURN_CYCLES raises the count for soak runs.
    let cycles: usize = std::env::var("TESSERA_CHURN_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let start = Instant::now();
    let mut rss = Vec::new();
    for i in 0..cycles {
        let churner = TestPeer::join(addr, PeerOptions::publisher("churn", &format!("c{i}"), GREEN, 600.0)).await?;
        churner.wait_for(secs(10), |p| p.received().frames() > 0).await?;
        churner.leave().await?;
        if i % 10 == 9 {
            rss.push(format!("{:.1}", server.resources().2));
        }
    }
    let end = Instant::now();
    println!("RSS (MiB) every 10 cycles: {}", rss.join(" "));
    tokio::time::sleep(secs(2)).await;
    let (elements1, after) = (room_elements(addr).await, server.resources());
    println!("{cycles} cycles in {:.1} s", (end - start).as_secs_f64());
    for (name, p) in [("red", &red), ("blue", &blue)] {
        let (gap, worst) = smoothness(&p.received().frame_arrivals(), start, end);
        println!("{name}: largest frame gap {gap:?}, worst 1 s window {worst} frames");
        assert!(worst >= 25, "{name} dropped to {worst} fps during churn");
    }
    println!("room elements {elements0} -> {elements1}");
    println!(
        "server fds {} -> {}, threads {} -> {}, RSS {:.1} -> {:.1} MiB",
        before.0, after.0, before.1, after.1, before.2, after.2
    );
    assert_eq!(elements1, elements0, "elements leaked");
    assert!(after.0.abs_diff(before.0) <= 4, "fds leaked");
    assert!(after.1.abs_diff(before.1) <= 4, "threads leaked");
    assert!(after.2 - before.2 < 20.0, "RSS grew {:.1} MiB", after.2 - before.2);

    // The last participants leave: the room and everything it held go away.
    red.leave().await?;
    blue.leave().await?;
    let left = Instant::now();
    while http(addr, "GET", "/api/rooms", None).await.1["rooms"].as_array().is_some_and(|r| !r.is_empty()) {
        assert!(left.elapsed() < secs(5), "room still listed 5 s after the last leave");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let gone_after = left.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let empty = server.resources();
    println!(
        "room gone {gone_after:?} after the last leave; idle fds {} / threads {} before any room, {} / {} after",
        idle.0, idle.1, empty.0, empty.1
    );
    assert!(empty.0.abs_diff(idle.0) <= 4 && empty.1.abs_diff(idle.1) <= 4, "an empty server holds what a room held");
    assert!(server.log.lock().unwrap().iter().any(|l| l.contains("room closed")));
    Ok(())
}
