//! A crashed server is survivable: `kill -9` the server under a Chromium page that publishes in
//! a room; a supervisor restarts it as the shipped systemd unit does (`RestartSec` read from
//! `deploy/tessera.service`) on the same address, and the page, without a reload, is back in
//! its room with video. Measures the time from the kill to the first frames decoded again.

use std::time::{Duration, Instant};

use crate::common::browser::{Browser, Kind, page};
use crate::common::*;

/// The restart delay of the shipped systemd unit.
fn restart_sec() -> anyhow::Result<Duration> {
    let unit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/tessera.service"))?;
    let value =
        unit.lines().find_map(|l| l.strip_prefix("RestartSec=")).ok_or_else(|| anyhow::anyhow!("no RestartSec"))?;
    Ok(Duration::from_secs_f64(value.trim().parse()?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_is_back_with_video_after_kill_9_and_a_restart() -> anyhow::Result<()> {
    let delay = restart_sec()?;
    let addr = free_port();
    let origin = format!("http://{addr}");
    let mut server = ServerProcess::start_on(addr, &[]).await?;
    let mut b = Browser::launch(Kind::Chromium, true, None).await?;
    let page = page::join_as_publisher(&mut b, &origin, "phoenix", "Survivor").await?;
    b.wait_for(page, "window.tessera.stats().then((s) => s && s.framesDecoded >= 30)", secs(20)).await?;
    b.eval(page, "window.marker = 'same page'").await?;

    // kill -9, then what systemd does: notice the exit, wait RestartSec, start it again.
    let killed = Instant::now();
    server.child.start_kill()?;
    let status = server.child.wait().await?;
    assert!(!status.success(), "killed: {status}");
    tokio::time::sleep(delay).await;
    let _server = ServerProcess::start_on(addr, &[]).await?;
    let restarted = killed.elapsed();

    b.wait_for(page, "window.tessera.state === 'connected'", secs(30)).await?;
    let rejoined = killed.elapsed();
    // A new connection: its decoder counts from zero.
    b.wait_for(page, "window.tessera.stats().then((s) => s && s.framesDecoded >= 1)", secs(20)).await?;
    let video = killed.elapsed();
    println!(
        "kill -9 -> restarted {restarted:?} (RestartSec {delay:?}) -> page in the room {rejoined:?} -> video {video:?}"
    );
    assert_eq!(b.eval(page, "window.marker").await?, "same page", "no reload");
    b.wait_for(page, "window.tessera.stats().then((s) => s && s.framesDecoded >= 30)", secs(10)).await?;
    assert!(video < delay + Duration::from_secs(8), "back with video only after {video:?}");
    b.quit().await;
    Ok(())
}
