//! The page follows `videoConstraints` with `RTCRtpSender.setParameters`, in Chromium and
//! Firefox: on a 1280x720 canvas its camera (larger than a quarter tile) is sent at the size of
//! its 640x360 cell once three Rust publishers join, and at the 160x90 floor (5 fps) when a
//! spotlight on someone else hides it. Measured from what the server decodes (`videoSize` in
//! `GET /api/rooms/{room}`), not from what the page says it set.

use std::time::Instant;

use crate::common::browser::{Browser, Kind, page};
use crate::common::*;
use tessera::layout::Size;
use tessera_client::{PeerOptions, TestPeer};

const HD: Size = Size::new(1280, 720);

/// The size the server decodes of participant `id` in room `room`.
async fn decoded(addr: std::net::SocketAddr, room: &str, id: &str) -> Option<Size> {
    let (_, detail) = http(addr, "GET", &format!("/api/rooms/{room}"), None).await;
    let p = detail["participants"].as_array()?.iter().find(|p| p["id"] == id)?.clone();
    Some(Size::new(p["videoSize"]["width"].as_u64()? as u32, p["videoSize"]["height"].as_u64()? as u32))
}

/// The camera's size, scaled down to fit `width` x `height` as the protocol says.
fn fitted(camera: Size, width: u32, height: u32) -> Size {
    let by = (camera.width as f64 / width as f64).max(camera.height as f64 / height as f64).max(1.0);
    Size::new((camera.width as f64 / by) as u32, (camera.height as f64 / by) as u32)
}

/// Waits until the server decodes `id` within 2 pixels of `want` (browsers round scaled sizes
/// their own way). The page asks for `maintain-resolution`: without it, Chromium restarted at
/// 240x180 after each change and took 11-24 s to climb back (its quality scaler).
async fn server_decodes(
    addr: std::net::SocketAddr,
    room: &str,
    id: &str,
    want: Size,
    what: &str,
) -> anyhow::Result<()> {
    let start = Instant::now();
    let near = |s: Size| s.width.abs_diff(want.width) <= 2 && s.height.abs_diff(want.height) <= 2;
    let mut seen = Vec::new();
    loop {
        let got = decoded(addr, room, id).await;
        if seen.last() != Some(&got) {
            seen.push(got);
        }
        if got.is_some_and(near) {
            println!("{what}: the server decodes {got:?} (want {want:?}) after {:?}; seen {seen:?}", start.elapsed());
            return Ok(());
        }
        anyhow::ensure!(start.elapsed() < secs(40), "{what}: the server decodes {got:?}, want {want:?}; seen {seen:?}");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

async fn follows(kind: Kind) -> anyhow::Result<()> {
    let config = test_config_with(|c| {
        c.ice.addresses = tessera::config::default_ice_addresses();
        c.composite.canvas = tessera::config::Canvas(HD);
    });
    let server = start_server_with(config).await;
    let (addr, room) = (server.addr, format!("fit-{kind:?}").to_lowercase());
    let mut b = Browser::launch(kind, true, None).await?;
    let page = b.open(&format!("http://{addr}/?room={room}")).await?;
    b.type_into(page, "#name", "Cam").await?;
    b.click(page, "#join-publisher").await?;
    b.wait_for(page, "window.tessera.state === 'connected'", secs(20)).await?;
    let id = b.eval(page, "window.tessera.participantId").await?.as_str().unwrap_or_default().to_owned();
    let alone = b.wait_for(page, "window.tessera.constraints", secs(10)).await?;
    let camera = Size::new(
        alone["applied"]["track"]["width"].as_u64().unwrap_or_default() as u32,
        alone["applied"]["track"]["height"].as_u64().unwrap_or_default() as u32,
    );
    println!("{kind:?} alone: {alone}");
    assert!(camera.width > 640 || camera.height > 360, "{kind:?}: a camera of {camera:?} would need no scaling");

    let mut others = Vec::new();
    for (i, rgb) in [RED, BLUE, GREEN].into_iter().enumerate() {
        others.push(TestPeer::join(addr, PeerOptions::publisher(&room, &format!("r{i}"), rgb, 500.0)).await?);
    }
    let quarter = "(c => c && c.requested.width === 640 && c)(window.tessera.constraints)";
    let set = b.wait_for(page, quarter, secs(15)).await?;
    println!("{kind:?} in a 2x2 grid: {set}");
    assert_eq!(set["applied"]["maxBitrate"], set["requested"]["maxBitrate"]);
    let params = b.eval(page, SENDER_PARAMS).await?;
    println!("{kind:?} sender parameters: {params}");
    let by = camera.width as f64 / 640.0;
    let by = by.max(camera.height as f64 / 360.0);
    assert!((params["scaleResolutionDownBy"].as_f64().unwrap_or_default() - by).abs() < 0.01, "{params}");
    server_decodes(addr, &room, &id, fitted(camera, 640, 360), &format!("{kind:?} 2x2")).await?;

    // A spotlight on someone else leaves the page off the stage: 160x90 at 5 fps.
    let body = serde_json::json!({"mode": "spotlight", "pinned": others[0].id().to_string()}).to_string();
    let (status, _) = http_body(addr, "PUT", &format!("/api/rooms/{room}/layout"), None, &body).await;
    assert_eq!(status, 200);
    let hidden = "(c => c && c.requested.fps === 5 && c)(window.tessera.constraints)";
    println!("{kind:?} hidden: {}", b.wait_for(page, hidden, secs(15)).await?);
    server_decodes(addr, &room, &id, fitted(camera, 160, 90), &format!("{kind:?} hidden")).await?;
    page::assert_clean(&mut b, page, &format!("http://{addr}")).await?;
    b.quit().await;
    server.stop().await;
    Ok(())
}

/// The page's video sender's first encoding, as the browser reports it.
const SENDER_PARAMS: &str = "(() => { const s = window.tessera.pc.getSenders().find((s) => s.track?.kind === 'video'); \
     const e = s.getParameters().encodings[0]; \
     return { scaleResolutionDownBy: e.scaleResolutionDownBy, maxBitrate: e.maxBitrate, maxFramerate: e.maxFramerate }; })()";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_sends_what_its_tile_needs() -> anyhow::Result<()> {
    follows(Kind::Chromium).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firefox_sends_what_its_tile_needs() -> anyhow::Result<()> {
    follows(Kind::Firefox).await
}
