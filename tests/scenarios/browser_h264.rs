//! Chromium publishes H.264 beside a VP8 publisher. A page opened with `?codec=h264` puts
//! H.264 first on its video transceiver (`setCodecPreferences`) and sends in it (the encoding's
//! `codec` in `setParameters`: Chromium otherwise sends the offer's first codec, VP8); a Rust
//! peer publishes VP8 in the same room. Chromium's fake camera plays a solid blue Y4M file and
//! its fake microphone a 700 Hz tone, so both ends can be checked by colour and frequency:
//! the Rust peer sees red|blue and hears the tone; the page's own composite shows red|blue in
//! every one of 60 presented frames. That the server really received H.264 is proven twice:
//! the page's getStats says its outbound video is video/H264, and the room's pipeline holds
//! one avdec_h264. The page also accepts VP8, so its composite comes in VP8 (the server's
//! preference) and no x264 runs.

use std::time::{Duration, Instant};

use crate::common::browser::page;
use crate::common::browser::{Browser, Page, write_colour_y4m, write_tone_wav};
use crate::common::*;
use tessera_client::{PeerOptions, TestPeer, close_to};

const ROOM: &str = "h264web";
/// Chromium's fake microphone plays this; the Rust peer's tone is `RUST_HZ`.
const CHROMIUM_HZ: f64 = 700.0;
const RUST_HZ: f64 = 300.0;

/// The room's pipeline inventory from `GET /api/rooms/{room}`: elements made by `factory`.
async fn elements(addr: std::net::SocketAddr, factory: &str) -> u64 {
    let (status, detail) = http(addr, "GET", &format!("/api/rooms/{ROOM}"), None).await;
    assert_eq!(status, 200, "{detail}");
    detail["pipeline"]["byFactory"][factory].as_u64().unwrap_or(0)
}

/// Waits until the room's pipeline holds `count` elements of `factory`.
async fn wait_elements(addr: std::net::SocketAddr, factory: &str, count: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + secs(15);
    loop {
        let n = elements(addr, factory).await;
        if n == count {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "{n} {factory} in the room's pipeline, wanted {count}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Opens the page with `?codec=h264`, joins as a publisher and waits for "Connected".
async fn join_publishing_h264(b: &mut Browser, origin: &str) -> anyhow::Result<Page> {
    let page = b.open(&format!("{origin}/?room={ROOM}&codec=h264")).await?;
    b.type_into(page, "#name", "Chromium").await?;
    b.click(page, "#join-publisher").await?;
    let connected = b.wait_for(page, "window.tessera.state === 'connected'", secs(20)).await;
    let said = page::problem_history(b, page).await?;
    connected.map_err(|e| anyhow::anyhow!("{e:#}; problems {said:?}"))?;
    // The option survives the page's own rewrite of its address after joining.
    assert_eq!(b.eval(page, "new URLSearchParams(location.search).get('codec')").await?, "h264");
    Ok(page)
}

/// The page's composite shows the Rust peer's red in the first tile and its own blue in the
/// second, in every one of 60 presented frames.
async fn page_sees_red_and_blue(b: &mut Browser, page: Page) -> anyhow::Result<()> {
    let probes = [tile(0, 2).centre(), tile(1, 2).centre()];
    let both = |f: &page::SampledFrame| close_to(f.probes[0], RED, TOLERANCE) && close_to(f.probes[1], BLUE, TOLERANCE);
    // Chromium's own video reaches its composite a moment after the Rust peer sees it.
    let deadline = Instant::now() + secs(10);
    let s = loop {
        let s = page::sample_frames(b, page, 60, &probes).await?;
        if s.frames.iter().all(both) || Instant::now() >= deadline {
            break s;
        }
    };
    let correct = s.frames.iter().filter(|f| both(f)).count();
    println!(
        "page composite: {} presented frames in {:.0} ms, {correct} with red|blue; first frame's probes {:?}",
        s.frames.len(),
        s.ms,
        s.frames.first().map(|f| &f.probes)
    );
    assert!(s.rvfc && !s.paused && s.frames.len() >= 60, "the page's video plays: {s:?}");
    assert_eq!(correct, s.frames.len(), "every frame shows red|blue");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_publishes_h264_beside_a_vp8_publisher() -> anyhow::Result<()> {
    let server = start_server_with(browser_media_config()).await;
    let addr = server.addr;
    let origin = format!("http://{addr}");
    let rust = TestPeer::join(addr, PeerOptions::publisher(ROOM, "rust", RED, RUST_HZ)).await?;
    let dir = std::env::temp_dir();
    let (camera, microphone) = (
        dir.join(format!("tessera-h264-blue-{}.y4m", std::process::id())),
        dir.join(format!("tessera-h264-tone-{}.wav", std::process::id())),
    );
    write_colour_y4m(&camera, BLUE, SOURCE.width, SOURCE.height, 30)?;
    write_tone_wav(&microphone, CHROMIUM_HZ, 120)?;
    let mut b = Browser::launch_chromium_with_files(&camera, &microphone).await?;
    println!("browser: {}", b.version);
    let started = Instant::now();
    let page = join_publishing_h264(&mut b, &origin).await?;
    let id = b.eval(page, "window.tessera.participantId").await?.as_str().unwrap_or_default().to_owned();
    // The tile would show this colour if Chromium's video never arrived: it must not pass for blue.
    let placeholder = tessera::draw::tile_colour(id.parse()?);
    assert!(!close_to(placeholder, BLUE, TOLERANCE), "placeholder {placeholder:?} looks like blue");

    // What Chromium sends, by its own account; and the server decodes it as H.264.
    let sent = "window.tessera.stats().then((s) => s && s.videoSentCodec && s.framesDecoded >= 30 && s)";
    let stats = b.wait_for(page, sent, secs(20)).await?;
    println!("Chromium getStats after {:?}: {stats}", started.elapsed());
    assert_eq!(stats["videoSentCodec"], "video/H264", "Chromium publishes H.264");
    assert_eq!(stats["videoReceivedCodec"], "video/VP8", "the server sends its preference among what the page takes");
    wait_elements(addr, "avdec_h264", 1).await?;
    assert_eq!(elements(addr, "x264enc").await, 0, "nobody takes H.264 only: no x264");

    // The Rust peer sees red|blue and hears Chromium.
    let waited = rust
        .wait_for(secs(15), |p| shows_tiles(p, &[RED, BLUE]))
        .await
        .map_err(|e| anyhow::anyhow!("{e}; rust sees {}", describe(&rust, 2)))?;
    wait_tone(&rust, CHROMIUM_HZ, -40.0, 500).await?;
    println!(
        "rust peer sees {} after {waited:?}; hears Chromium at {:.1} dBFS",
        describe(&rust, 2),
        rust.tone_dbfs(CHROMIUM_HZ, 500)
    );
    page_sees_red_and_blue(&mut b, page).await?;
    // By now (seconds in) Chromium's sender has ramped up from its first frames.
    let (_, info) = http(addr, "GET", &format!("/api/rooms/{ROOM}"), None).await;
    let me = info["participants"].as_array().and_then(|p| p.iter().find(|p| p["id"] == id.as_str())).cloned();
    let fps = me.as_ref().and_then(|p| p["inbound"]["fps"].as_f64()).unwrap_or(0.0);
    println!(
        "server receives Chromium's H.264 at {fps:.1} fps, {started:?} after the page opened",
        started = started.elapsed()
    );
    assert!(fps >= 10.0, "{me:?}");
    page::assert_clean(&mut b, page, &origin).await?;
    b.quit().await;
    let _ = std::fs::remove_file(&camera);
    let _ = std::fs::remove_file(&microphone);
    server.stop().await;
    Ok(())
}
