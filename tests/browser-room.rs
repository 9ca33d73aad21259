//! Real browsers: a Rust peer publishing red joins; a Chromium page and a Firefox page join the
//! same room as publishers through the form. Each page decodes the composite (>= 60 frames), sees
//! red where the layout puts the Rust peer and hears audio; the Rust peer sees three tiles and
//! hears both browsers. Mute silences a browser for the others within 1 s and unmute restores
//! it; the camera button swaps the browser's tile for its placeholder and back; leave tells the
//! others; the state badge, the participant list and keyboard focus follow; no page logs a
//! console error or shows a problem.

mod common;

use std::time::{Duration, Instant};

use common::browser::{Browser, Kind, Page, sample_video_js, write_tone_wav};
use common::*;
use tessera::client::{PeerOptions, TestPeer, close_to};
use tessera::protocol::ServerMessage;

/// Chromium's fake microphone plays this (from a WAV); Firefox's fake microphone is 1 kHz.
const CHROMIUM_HZ: f64 = 700.0;
const FIREFOX_HZ: f64 = 1000.0;
const RUST_HZ: f64 = 300.0;

async fn join_as_publisher(b: &mut Browser, addr: std::net::SocketAddr, name: &str) -> anyhow::Result<Page> {
    let page = b.open(&format!("http://{addr}/?room=web")).await?;
    b.type_into(page, "#name", name).await?;
    b.click(page, "#join-publisher").await?;
    b.wait_for(page, "window.tessera.state === 'connected'", secs(20)).await?;
    // What a person sees: the state badge, and keyboard focus still in the call.
    b.wait_for(page, "document.querySelector('#state').textContent === 'Connected'", secs(2)).await?;
    assert_eq!(b.eval(page, "document.activeElement.id").await?, "mute-mic", "focus moves into the call");
    Ok(page)
}

/// A publisher's tile at the Rust peer shows its camera, not the placeholder drawn for a
/// participant without video. (Chromium's fake camera is mostly a still green frame, so motion
/// is not a usable test; the server's inbound frame rate is checked beside this.)
fn not_placeholder(rust: &TestPeer, index: usize, placeholder: [u8; 3]) -> anyhow::Result<()> {
    let t = tile(index, 3);
    let f = rust.received().latest_frame().expect("frames");
    let points: Vec<[u8; 3]> = (1..8)
        .flat_map(|i| (1..8).map(move |j| (i, j)))
        .map(|(i, j)| f.rgb_at(t.x + t.w * i / 8, t.y + t.h * j / 8, 0))
        .collect();
    let like = points.iter().filter(|c| close_to(**c, placeholder, 16)).count();
    println!("tile {index}: {like} of {} probe points look like its placeholder {placeholder:?}", points.len());
    anyhow::ensure!(like < points.len() / 2, "tile {index} is the placeholder");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_and_firefox_publish_into_a_room() -> anyhow::Result<()> {
    let server = start_server_with(browser_media_config()).await;
    let addr = server.addr;
    let mut rust = TestPeer::join(addr, PeerOptions::publisher("web", "rust", RED, RUST_HZ)).await?;
    let wav = std::env::temp_dir().join(format!("tessera-chromium-{}.wav", std::process::id()));
    write_tone_wav(&wav, CHROMIUM_HZ, 20)?;
    let mut chromium = Browser::launch(Kind::Chromium, true, Some(&wav)).await?;
    let mut firefox = Browser::launch(Kind::Firefox, true, None).await?;
    println!("browsers: {} / {}", chromium.version, firefox.version);
    let cp = join_as_publisher(&mut chromium, addr, "Chromium").await?;
    let fp = join_as_publisher(&mut firefox, addr, "Firefox").await?;

    // Each page decodes the composite, with red in the Rust peer's tile (the first of three).
    let (x, y) = tile(0, 3).centre();
    for (b, page) in [(&mut chromium, cp), (&mut firefox, fp)] {
        let stats =
            b.wait_for(page, "window.tessera.stats().then((s) => s && s.framesDecoded >= 60 && s)", secs(20)).await?;
        let red_at = b
            .wait_for(
                page,
                &format!(
                    "(() => {{ const c = {}; return c && c[0] > 200 && c[1] < 60 && c[2] < 60 && c; }})()",
                    sample_video_js(x, y)
                ),
                secs(10),
            )
            .await?;
        let level = b.wait_for(page, "window.tessera.receivedLevelDb().then((db) => db > -40 && db)", secs(10)).await?;
        println!("{:?}: {stats} red tile {red_at} received audio {level} dBFS", b.kind);
    }

    // The Rust peer sees three tiles (its red and the two browsers' fake cameras) and hears
    // both fake microphones.
    rust.wait_for(secs(10), |p| {
        p.received().latest_frame().is_some_and(|f| {
            close_to(colour_in(&f, tile(0, 3)), RED, TOLERANCE)
                && (1..3).all(|i| !close_to(colour_in(&f, tile(i, 3)), [0, 0, 0], 10))
        })
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}; rust sees {}", describe(&rust, 3)))?;
    // ...and they are the browsers' cameras: the server receives their video, and the tiles
    // are not placeholders.
    let (chromium_id, firefox_id) = (
        chromium.eval(cp, "window.tessera.participantId").await?.as_str().unwrap_or_default().to_owned(),
        firefox.eval(fp, "window.tessera.participantId").await?.as_str().unwrap_or_default().to_owned(),
    );
    let (_, room) = http(addr, "GET", "/api/rooms/web", None).await;
    for id in [&chromium_id, &firefox_id] {
        let p = room["participants"].as_array().unwrap().iter().find(|p| p["id"] == id.as_str()).cloned();
        let fps = p.as_ref().and_then(|p| p["inbound"]["fps"].as_f64()).unwrap_or(0.0);
        println!("server receives {id} at {fps:.1} fps");
        assert!(fps >= 10.0, "{id}: {p:?}");
    }
    for (i, id) in [(1, &chromium_id), (2, &firefox_id)] {
        not_placeholder(&rust, i, tessera::draw::tile_colour(id.parse()?))?;
    }
    for (b, page) in [(&mut chromium, cp), (&mut firefox, fp)] {
        let listed = b.eval(page, "document.querySelectorAll('#participants li').length").await?;
        assert_eq!(listed, 3, "{:?} lists everyone on screen", b.kind);
    }
    rust.wait_for(secs(10), |p| p.tone_dbfs(CHROMIUM_HZ, 500) > -40.0 && p.tone_dbfs(FIREFOX_HZ, 500) > -40.0).await?;
    println!(
        "rust peer sees {}; hears Chromium {:.1} dBFS, Firefox {:.1} dBFS",
        describe(&rust, 3),
        rust.tone_dbfs(CHROMIUM_HZ, 500),
        rust.tone_dbfs(FIREFOX_HZ, 500)
    );

    // A click on the composite picks the participant under it, from the DataChannel's tiles.
    let rust_id = rust.id().to_string();
    let tile_js = format!("window.tessera.tiles.participants.find((p) => p.id === '{rust_id}')?.tile");
    let t = chromium.wait_for(cp, &tile_js, secs(5)).await?;
    let rect = chromium.eval(cp, "(() => { const r = document.querySelector('video').getBoundingClientRect(); return [r.left, r.top, r.width]; })()").await?;
    let scale = rect[2].as_f64().unwrap() / f64::from(CANVAS.width);
    let cx = rect[0].as_f64().unwrap() + (t["x"].as_f64().unwrap() + t["w"].as_f64().unwrap() / 2.0) * scale;
    let cy = rect[1].as_f64().unwrap() + (t["y"].as_f64().unwrap() + t["h"].as_f64().unwrap() / 2.0) * scale;
    chromium.click_at(cp, cx, cy).await?;
    assert_eq!(
        chromium.eval(cp, "window.tessera.picked").await?,
        rust_id.as_str(),
        "a click on the red tile picks the Rust peer"
    );
    println!("clicked the composite at ({cx:.0}, {cy:.0}): picked {rust_id} via the DataChannel tiles {t}");

    // Mute and unmute each browser's microphone with its button: its tone leaves and returns.
    for (b, page, hz) in [(&mut chromium, cp, CHROMIUM_HZ), (&mut firefox, fp, FIREFOX_HZ)] {
        let clicked = Instant::now();
        b.click(page, "#mute-mic").await?;
        // Silent while the other browser is still heard, in the same window: a moment when the
        // Rust peer's own audio stalls (both tones gone) is not a mute.
        let other = if hz == CHROMIUM_HZ { FIREFOX_HZ } else { CHROMIUM_HZ };
        let muted_alone = |p: &TestPeer| p.tone_dbfs(hz, 200) < -60.0 && p.tone_dbfs(other, 200) > -40.0;
        rust.wait_for(secs(3), muted_alone).await.map_err(|e| {
            anyhow::anyhow!(
                "{:?} muted: {e}; its tone at {:.0} dBFS, the other's at {:.0} (muting one must not silence the other)",
                b.kind,
                rust.tone_dbfs(hz, 200),
                rust.tone_dbfs(other, 200)
            )
        })?;
        let silent_after = clicked.elapsed();
        assert_eq!(b.eval(page, "document.querySelector('#mute-mic').getAttribute('aria-pressed')").await?, "true");
        let who = b.eval(page, "window.tessera.participantId").await?.as_str().unwrap_or_default().to_owned();
        rust.wait_message(secs(2), |m| matches!(m, ServerMessage::MuteChanged { participant_id, audio: true, .. } if participant_id.to_string() == who)).await?;
        let unclicked = Instant::now();
        b.click(page, "#mute-mic").await?;
        rust.wait_for(secs(3), |p| p.tone_dbfs(hz, 200) > -40.0).await?;
        let back_after = unclicked.elapsed();
        println!(
            "{:?}: muted -> silent {silent_after:?} after the click; unmuted -> heard again {back_after:?} after it",
            b.kind
        );
        assert!(silent_after < Duration::from_secs(1), "{:?} took {silent_after:?} to fall silent", b.kind);
    }

    // The camera button: the others see the placeholder instead, and the video again after.
    let placeholder = tessera::draw::tile_colour(chromium_id.parse()?);
    let is_placeholder = |p: &TestPeer| {
        p.received().latest_frame().is_some_and(|f| close_to(colour_in(&f, tile(1, 3)), placeholder, 16))
    };
    let clicked = Instant::now();
    chromium.click(cp, "#mute-camera").await?;
    rust.wait_message(secs(2), |m| matches!(m, ServerMessage::MuteChanged { participant_id, video: true, .. } if participant_id.to_string() == chromium_id)).await?;
    rust.wait_for(secs(2), is_placeholder).await?;
    let off = clicked.elapsed();
    chromium.click(cp, "#mute-camera").await?;
    rust.wait_for(secs(3), |p| !is_placeholder(p)).await?;
    println!("camera off -> placeholder {off:?} after the click; on -> video again");
    not_placeholder(&rust, 1, placeholder)?;

    // A screenshot of the page in a room of three.
    let shot = std::env::var_os("TESSERA_SCREENSHOT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("tessera-room-of-three.png"));
    chromium.screenshot(cp, &shot).await?;
    assert!(std::fs::metadata(&shot)?.len() > 10_000, "screenshot written");
    println!("screenshot: {}", shot.display());

    // Leave with the button: the others are told.
    firefox.click(fp, "#leave").await?;
    rust.wait_message(
        secs(3),
        |m| matches!(m, ServerMessage::ParticipantLeft { participant_id } if participant_id.to_string() == firefox_id),
    )
    .await?;
    chromium
        .wait_for(cp, &format!("!window.tessera.participants.some((p) => p.id === '{firefox_id}')"), secs(3))
        .await?;
    assert!(firefox.eval(fp, "document.querySelector('#join-form').hidden").await? == false, "back at the form");
    assert_eq!(firefox.eval(fp, "document.activeElement.id").await?, "name", "focus back on the form");
    chromium.wait_for(cp, "document.querySelectorAll('#participants li').length === 2", secs(2)).await?;

    for (b, page) in [(&mut chromium, cp), (&mut firefox, fp)] {
        let problem = b
            .eval(
                page,
                "document.querySelector('#problem').hidden || document.querySelector('#problem-text').textContent",
            )
            .await?;
        assert_eq!(problem, true, "{:?} shows a problem", b.kind);
        let errors = b.errors(page).await?;
        assert!(errors.is_empty(), "{:?} console errors: {errors:?}", b.kind);
    }
    chromium.quit().await;
    firefox.quit().await;
    let _ = std::fs::remove_file(&wav);
    server.stop().await;
    Ok(())
}
