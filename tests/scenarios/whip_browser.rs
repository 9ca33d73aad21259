//! Chromium on the WHIP and WHEP pages (assets/whip.html, assets/whep.html). One room, a Rust
//! peer publishing red beside Chromium publishing through whip.html: its fake camera plays
//! solid green (a Y4M file) and its fake microphone a 700 Hz tone. The Rust peer sees the
//! page's green tile and hears its tone; a whep.html page in the same browser plays the
//! composite, red and green in their tiles on every frame drawn on a canvas. Each page's Stop
//! button DELETEs its session: the participant is gone from the REST API within 2 s.

use std::net::SocketAddr;
use std::time::Instant;

use crate::common::browser::page;
use crate::common::browser::{Browser, Page, write_colour_y4m, write_tone_wav};
use crate::common::*;
use tessera_client::{PeerOptions, TestPeer, close_to};

const ROOM: &str = "whip-web";
const RUST_HZ: f64 = 300.0;
const CHROMIUM_HZ: f64 = 700.0;

/// The room's participants as the REST API details them.
async fn room_people(addr: SocketAddr) -> Vec<serde_json::Value> {
    let (_, detail) = http(addr, "GET", &format!("/api/rooms/{ROOM}"), None).await;
    detail["participants"].as_array().cloned().unwrap_or_default()
}

/// The (name, role) of every participant in the room.
async fn participants(addr: SocketAddr) -> Vec<(String, String)> {
    let people = room_people(addr).await;
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    people.iter().map(|p| (text(&p["name"]), text(&p["role"]))).collect()
}

/// Waits until the server decodes every publisher's video at 20 fps or more. A publisher
/// starved of CPU (Chromium starting its pages, the test's own peer beside it) can send no
/// frame for a second; the server then rightly draws its placeholder (logged as "video
/// stalled" with `arriving=false`), which the frames sampled next would show.
async fn publishers_flowing(addr: SocketAddr) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let people = room_people(addr).await;
        let publishers: Vec<_> = people.iter().filter(|p| p["role"] == "publisher").collect();
        let fps: Vec<f64> = publishers.iter().map(|p| p["inbound"]["fps"].as_f64().unwrap_or(0.0)).collect();
        if fps.len() == 2 && fps.iter().all(|f| *f >= 20.0) {
            return Ok(());
        }
        anyhow::ensure!(started.elapsed() < secs(10), "publishers' decoded fps after 10 s: {fps:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Opens a WHIP or WHEP page and waits for its connection.
async fn open_connected(b: &mut Browser, url: &str, status: &str) -> anyhow::Result<Page> {
    let page = b.open(url).await?;
    let connected = b.wait_for(page, &format!("window.{status}.state === 'connected'"), secs(20)).await;
    let shown = page::state_history(b, page).await?;
    if let Err(e) = connected {
        let badge =
            b.eval(page, "[location.href, document.title, document.querySelector('#state')?.textContent]").await?;
        anyhow::bail!("{e:#}; {url}: badge {badge} (history {shown:?}), console {:?}", b.errors(page).await?);
    }
    // The badge said "Connecting…" before the probe watched it (the page's module runs first).
    assert_eq!(shown.last(), Some(&("Connected".to_owned(), true)), "{url}: {shown:?}");
    Ok(page)
}

/// Clicks the page's Stop; the participant named `name` leaves the room within 2 s and the page
/// (whose state object is `window.{status}`) shows Stopped once its DELETE is answered.
async fn stop(b: &mut Browser, page: Page, addr: SocketAddr, name: &str, status: &str) -> anyhow::Result<()> {
    let clicked = Instant::now();
    // Clicked from the page's script: a CDP mouse click on a page that is not the front tab
    // waits for a frame the background page does not render.
    b.eval(page, "document.querySelector('#stop').click()").await?;
    while participants(addr).await.iter().any(|(n, _)| n == name) {
        anyhow::ensure!(clicked.elapsed() < secs(2), "{name} still in the room 2 s after Stop");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    println!("{name} left {:?} after Stop", clicked.elapsed());
    // The server removes the participant before its answer to the DELETE reaches the page.
    b.wait_for(page, &format!("window.{status}.state === 'stopped'"), secs(2)).await?;
    let shown = page::state_history(b, page).await?;
    assert_eq!(shown.last(), Some(&("Stopped".to_owned(), true)), "{shown:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_publishes_over_whip_and_watches_over_whep() -> anyhow::Result<()> {
    let server = start_server_with(browser_media_config()).await;
    let (addr, origin) = (server.addr, format!("http://{}", server.addr));
    let rust = TestPeer::join(addr, PeerOptions::publisher(ROOM, "rust", RED, RUST_HZ)).await?;
    let dir = std::env::temp_dir();
    let (video, audio) = (dir.join("tessera-whip-green.y4m"), dir.join("tessera-whip-700.wav"));
    write_colour_y4m(&video, GREEN, 320, 180, 30)?;
    write_tone_wav(&audio, CHROMIUM_HZ, 120)?;
    let mut b = Browser::launch_chromium_with_files(&video, &audio).await?;
    println!("browser: {}", b.version);

    let publisher = open_connected(&mut b, &format!("{origin}/whip.html?room={ROOM}&name=Chromium"), "whip").await?;
    let waited = rust
        .wait_for(secs(15), |p| shows_tiles(p, &[RED, GREEN]))
        .await
        .map_err(|e| anyhow::anyhow!("{e}; the Rust peer sees {}", describe(&rust, 2)))?;
    println!("Rust peer sees red|green (Chromium over WHIP) after {waited:?}: {}", describe(&rust, 2));
    wait_tone(&rust, CHROMIUM_HZ, -35.0, 1000).await?;
    let (hears_page, hears_self) = (rust.tone_dbfs(CHROMIUM_HZ, 1000), rust.tone_dbfs(RUST_HZ, 1000));
    println!("Rust peer hears the page's {CHROMIUM_HZ} Hz at {hears_page:.1} dBFS, itself at {hears_self:.1} dBFS");
    assert!(hears_page - hears_self >= 20.0, "mix-minus: the Rust peer's own tone must be well below");
    let expected = [("rust".to_owned(), "publisher".to_owned()), ("Chromium".to_owned(), "publisher".to_owned())];
    assert_eq!(participants(addr).await, expected);

    let viewer = open_connected(&mut b, &format!("{origin}/whep.html?room={ROOM}&name=Watcher"), "whep").await?;
    // The page starts itself, with no click: if Chromium held back playback, click as a person would.
    let (video, play) = ("document.querySelector('#composite')", "document.querySelector('#play')");
    let shown = b.wait_for(viewer, &format!("{video}.videoWidth > 0 || !{play}.hidden"), secs(15)).await;
    if let Err(e) = shown {
        let inbound = "window.whep.pc.getStats().then((r) => [...r.values()].filter((s) => s.type === 'inbound-rtp' || s.type === 'codec'))";
        let sdp = "window.whep.pc.remoteDescription.sdp + ' ||| ' + window.whep.pc.localDescription.sdp + JSON.stringify((v => [v.srcObject?.getTracks().map((t) => [t.kind, t.readyState, t.muted]), v.readyState, v.paused, v.networkState, v.error?.message])(document.querySelector('#composite')))";
        anyhow::bail!(
            "{e:#}; WHEP page's inbound {}; answer {}",
            b.eval(viewer, inbound).await?,
            b.eval(viewer, sdp).await?
        );
    }
    if b.eval(viewer, &format!("!{play}.hidden")).await? == true {
        println!("Chromium held back playback: clicking the page's play button");
        b.click(viewer, "#play").await?;
    }
    b.wait_for(viewer, &format!("{video}.videoWidth > 0 && !{video}.paused"), secs(15)).await?;
    publishers_flowing(addr).await?;
    let s = page::sample_frames(&mut b, viewer, 60, &[tile(0, 2).centre(), tile(1, 2).centre()]).await?;
    let both =
        s.frames.iter().filter(|f| close_to(f.probes[0], RED, TOLERANCE) && close_to(f.probes[1], GREEN, TOLERANCE));
    let both = both.count();
    println!(
        "WHEP page: {} presented frames in {:.0} ms, {both} with red|green; first frame's probes {:?}",
        s.frames.len(),
        s.ms,
        s.frames.first().map(|f| &f.probes)
    );
    assert!(s.rvfc && !s.paused && !s.play_shown && s.frames.len() >= 60, "the video plays: {s:?}");
    let other: Vec<_> = s
        .frames
        .iter()
        .enumerate()
        .filter(|(_, f)| !(close_to(f.probes[0], RED, TOLERANCE) && close_to(f.probes[1], GREEN, TOLERANCE)))
        .map(|(i, f)| (i, f.presented, &f.probes))
        .collect();
    assert_eq!(both, s.frames.len(), "every frame shows the Rust peer's red and the WHIP page's green: {other:?}");
    let size = b
        .eval(
            viewer,
            "[document.querySelector('#composite').videoWidth, document.querySelector('#composite').videoHeight]",
        )
        .await?;
    assert_eq!(size, serde_json::json!([CANVAS.width, CANVAS.height]), "the whole composite");
    // The mix arrives too: the audio receiver reports energy.
    let level = "window.whep.pc.getStats().then((r) => [...r.values()].find((s) => s.type === 'inbound-rtp' \
                 && s.kind === 'audio' && s.audioLevel > 0.01)?.audioLevel)";
    let level = b.wait_for(viewer, level, secs(10)).await?;
    println!("WHEP page's audio level: {level}");
    assert!(participants(addr).await.contains(&("Watcher".to_owned(), "viewer".to_owned())));

    stop(&mut b, publisher, addr, "Chromium", "whip").await?;
    stop(&mut b, viewer, addr, "Watcher", "whep").await?;
    assert_eq!(participants(addr).await, [("rust".to_owned(), "publisher".to_owned())]);
    for (p, kind) in [(publisher, "whip"), (viewer, "whep")] {
        let errors = b.errors(p).await?;
        assert!(errors.is_empty(), "the {kind} page's console: {errors:?}");
    }
    b.quit().await;
    drop(rust);
    server.stop().await;
    Ok(())
}
