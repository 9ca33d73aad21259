//! 50 join/leave cycles of a third publisher beside two steady ones: the steady ones keep at
//! least 25 fps throughout; afterwards the room's element count, the server's open fds and
//! threads are back where they were and RSS grew less than 20 MB; when the last participant
//! leaves, the room is gone within 5 s and the server is back to its idle fds and threads.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tessera::client::{PeerOptions, TestPeer};

/// Polls until the room's element count is `want` and the server's fds and threads have held
/// still for three readings 100 ms apart (threads of a torn-down branch exit asynchronously);
/// returns the settled (fds, threads, RSS). Fails after 10 s.
async fn settle(server: &ServerProcess, want: u64) -> (usize, u64, f64) {
    let deadline = Instant::now() + secs(10);
    let mut readings: Vec<(usize, u64)> = Vec::new();
    loop {
        assert!(Instant::now() < deadline, "server never settled: {readings:?}");
        let r = server.resources();
        readings.push((r.0, r.1));
        let n = readings.len();
        if room_elements(server).await == want && n >= 3 && readings[n - 3..].iter().all(|x| *x == readings[n - 1]) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn room_elements(server: &ServerProcess) -> u64 {
    let (status, body) = http(server.addr, "GET", "/api/rooms/churn", None).await;
    body["pipelineElements"].as_u64().unwrap_or_else(|| {
        dump_log(server);
        panic!("no element count: {status} {body}")
    })
}

/// The server's warnings and errors (and leaves for another reason than leaving).
fn dump_log(server: &ServerProcess) {
    let notable = |l: &&String| {
        l.contains("pausing")
            || l.contains("WARN")
            || l.contains("ERROR")
            || (l.contains(" leave ") && !l.contains("\"left\""))
    };
    for line in server.log.lock().unwrap().iter().filter(notable) {
        println!("server: {line}");
    }
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
    let elements0 = room_elements(&server).await;
    // One warm-up cycle so one-time allocations (codec and thread pools) are in the baseline.
    let warm = TestPeer::join(addr, PeerOptions::publisher("churn", "warm", GREEN, 600.0)).await?;
    warm.wait_for(secs(10), |p| p.received().frames() > 0).await?;
    warm.leave().await?;
    let before = settle(&server, elements0).await;

    // TESSERA_CHURN_CYCLES raises the count for soak runs.
    let cycles: usize = std::env::var("TESSERA_CHURN_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let start = Instant::now();
    let mut rss = Vec::new();
    // Per cycle: seconds since start, then RTP packets, keyframes and decoded frames per steady peer.
    let mut trace = Vec::new();
    for i in 0..cycles {
        let churner = TestPeer::join(addr, PeerOptions::publisher("churn", &format!("c{i}"), GREEN, 600.0)).await?;
        churner.wait_for(secs(10), |p| p.received().frames() > 0).await?;
        churner.leave().await?;
        let counts = |p: &TestPeer| {
            let r = p.received().rtp();
            (r.video_packets, r.keyframes, p.received().frames(), r.audio_packets)
        };
        trace.push(format!("{:.1}s red {:?} blue {:?}", start.elapsed().as_secs_f64(), counts(&red), counts(&blue)));
        if i % 10 == 9 {
            rss.push(format!("{:.1}", server.resources().2));
        }
    }
    let end = Instant::now();
    println!("RSS (MiB) every 10 cycles: {}", rss.join(" "));
    tokio::time::sleep(secs(2)).await;
    let (elements1, after) = (room_elements(&server).await, server.resources());
    println!("{cycles} cycles in {:.1} s", (end - start).as_secs_f64());
    for (name, p) in [("red", &red), ("blue", &blue)] {
        let (gap, worst) = smoothness(&p.received().frame_arrivals(), start, end);
        println!("{name}: largest frame gap {gap:?}, worst 1 s window {worst} frames");
        if worst < 25 {
            dump_log(&server);
            println!("per cycle (packets, keyframes, frames, audio packets):\n{}", trace.join("\n"));
            for p in [&red, &blue] {
                let webrtc = p
                    .media()
                    .pipeline()
                    .iterate_recurse()
                    .into_iter()
                    .flatten()
                    .find(|e| e.factory().is_some_and(|f| f.name() == "webrtcbin"))
                    .unwrap();
                let (promise, rx) = tessera::client::promise();
                use gst::prelude::*;
                webrtc.emit_by_name::<()>("get-stats", &[&None::<gst::Pad>, &promise]);
                let stats = rx.await;
                println!("stats: {stats:?}");
            }
        }
        assert!(worst >= 25, "{name} dropped to {worst} fps during churn");
    }
    dump_log(&server);
    println!("room elements {elements0} -> {elements1}");
    println!(
        "server fds {} -> {}, threads {} -> {}, RSS {:.1} -> {:.1} MiB",
        before.0, after.0, before.1, after.1, before.2, after.2
    );
    assert_eq!(elements1, elements0, "elements leaked");
    // A leak is growth; fewer threads afterwards is GLib's thread pool retiring idle workers.
    assert!(after.0 <= before.0 + 4, "fds leaked");
    assert!(after.1 <= before.1 + 4, "threads leaked");
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
    assert!(empty.0 <= idle.0 + 4 && empty.1 <= idle.1 + 4, "an empty server holds what a room held");
    assert!(server.log.lock().unwrap().iter().any(|l| l.contains("room closed")));
    Ok(())
}
