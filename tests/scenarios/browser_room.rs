//! Real browsers: a Rust peer publishing red joins; a Chromium page and a Firefox page join the
//! same room as publishers through the form ("Connecting…", then "Connected" on screen). Each
//! page decodes the composite: >= 60 frames in getStats, and >= 60 distinct frames drawn on a
//! canvas as the `<video>` presents them, every one with red in the Rust peer's tile (where the
//! page's DataChannel layout puts it) and nowhere else; and it hears audio. The Rust peer sees
//! three tiles and hears both browsers. Prints each browser's frames, jitter and round-trip
//! time and the server's CPU (the real binary, a child process) with this room of three. Then:
//! the recording indicator comes and goes with a recording; the room's controls (browser-room/
//! controls.rs); a screenshot; leave by keyboard. No page logs an error or loads anything from
//! elsewhere, and the console check is shown to catch errors in both browsers.

mod controls;

use std::time::{Duration, Instant};

use crate::common::browser::page::{self, FrameSamples};
use crate::common::browser::{Browser, Kind, Page, write_tone_wav};
use crate::common::*;
use tessera::layout::Rect;
use tessera_bench::loadgen::ProcSample;
use tessera_bench::loadgen::procfs::{thread_groups, thread_times};
use tessera_client::{PeerOptions, TestPeer, close_to};
use tessera_protocol::ServerMessage;

/// Chromium's fake microphone plays this (from a WAV); Firefox's fake microphone is 1 kHz.
const CHROMIUM_HZ: f64 = 700.0;
const FIREFOX_HZ: f64 = 1000.0;
const RUST_HZ: f64 = 300.0;

/// Everyone in the room.
pub struct Room {
    pub server: ServerProcess,
    pub origin: String,
    pub rust: TestPeer,
    pub chromium: Browser,
    pub firefox: Browser,
    pub cp: Page,
    pub fp: Page,
    pub chromium_id: String,
    pub firefox_id: String,
}

impl Room {
    /// Both browsers with their pages, and their tones at the Rust peer.
    pub fn browsers(&mut self) -> [(&mut Browser, Page, f64); 2] {
        [(&mut self.chromium, self.cp, CHROMIUM_HZ), (&mut self.firefox, self.fp, FIREFOX_HZ)]
    }
}

/// Opens the page, types a name and clicks join; the badge reads "Connecting…", then
/// "Connected", and keyboard focus moves into the call.
async fn join_as_publisher(b: &mut Browser, origin: &str, name: &str) -> anyhow::Result<(Page, String)> {
    let page = b.open(&format!("{origin}/?room=web")).await?;
    b.type_into(page, "#name", name).await?;
    b.click(page, "#join-publisher").await?;
    let connected = b.wait_for(page, "window.tessera.state === 'connected'", secs(20)).await;
    let shown = page::state_history(b, page).await?;
    let said = page::problem_history(b, page).await?;
    connected.map_err(|e| anyhow::anyhow!("{e:#}; badge {shown:?}, problems {said:?}"))?;
    println!("{:?}: the state badge showed {shown:?}", b.kind);
    let expected = [("Connecting…".to_owned(), true), ("Connected".to_owned(), true)];
    assert!(shown.ends_with(&expected) && shown.iter().filter(|s| s.1).count() == 2, "{shown:?}");
    assert_eq!(b.eval(page, "document.activeElement.id").await?, "mute-mic", "focus moves into the call");
    assert_eq!(page::camera_requests(b, page).await?.len(), 1, "one request for camera and microphone");
    let id = b.eval(page, "window.tessera.participantId").await?.as_str().unwrap_or_default().to_owned();
    Ok((page, id))
}

/// The real binary, so its CPU is the server's alone; ICE also on the default route's address,
/// which Firefox needs (see `browser_media_config`).
async fn start_server() -> anyhow::Result<ServerProcess> {
    let records = record_dir("browser-room");
    let routed: Vec<String> =
        tessera::config::default_ice_addresses().iter().filter(|a| !a.is_loopback()).map(|a| a.to_string()).collect();
    let mut args = vec!["--video-bitrate", "800", "--record-dir", records.to_str().unwrap()];
    if !routed.is_empty() {
        args.extend(["--ice-addresses", &routed[0]]);
    }
    ServerProcess::start(&args).await
}

async fn setup(server: ServerProcess) -> anyhow::Result<Room> {
    let origin = format!("http://{}", server.addr);
    let rust = TestPeer::join(server.addr, PeerOptions::publisher("web", "rust", RED, RUST_HZ)).await?;
    let wav = std::env::temp_dir().join(format!("tessera-chromium-{}.wav", std::process::id()));
    write_tone_wav(&wav, CHROMIUM_HZ, 120)?;
    let mut chromium = Browser::launch(Kind::Chromium, true, Some(&wav)).await?;
    let mut firefox = Browser::launch(Kind::Firefox, true, None).await?;
    println!("browsers: {} / {}", chromium.version, firefox.version);
    let (cp, chromium_id) = join_as_publisher(&mut chromium, &origin, "Chromium").await?;
    let (fp, firefox_id) = join_as_publisher(&mut firefox, &origin, "Firefox").await?;
    Ok(Room { server, origin, rust, chromium, firefox, cp, fp, chromium_id, firefox_id })
}

/// The participants' tiles as the page's DataChannel describes them, in join order.
async fn page_tiles(b: &mut Browser, page: Page, count: usize) -> anyhow::Result<Vec<(String, Rect)>> {
    let js = format!(
        "(() => {{ const p = window.tessera.tiles.participants.filter((p) => p.tile); \
         return p.length === {count} && p.map((p) => [p.id, p.tile]); }})()"
    );
    Ok(serde_json::from_value(b.wait_for(page, &js, secs(5)).await?)?)
}

/// How far from pure red the Rust peer's red may decode (it arrives as (254, 0, 0)). Tighter
/// than the shared TOLERANCE because Firefox's fake camera cycles through hues at Y = 128 whose
/// reddest, in BT.601, is about (255, 55, 48): within 48 of red, never within 24.
const PEER_RED: u8 = 24;

/// Every sampled frame has red in the first probe (the Rust peer's tile) and in no other.
fn red_only_in_first(s: &FrameSamples) -> usize {
    let red = |c: &[u8; 3]| close_to(*c, RED, PEER_RED);
    s.frames.iter().filter(|f| red(&f.probes[0]) && !f.probes[1..].iter().any(red)).count()
}

/// What one page decodes and hears.
async fn page_sees_the_room(b: &mut Browser, page: Page, rust_id: &str) -> anyhow::Result<()> {
    let stats =
        b.wait_for(page, "window.tessera.stats().then((s) => s && s.framesDecoded >= 60 && s)", secs(20)).await?;
    let tiles = page_tiles(b, page, 3).await?;
    assert_eq!(tiles[0], (rust_id.to_owned(), tile(0, 3)), "the Rust peer is first, where the layout puts it");
    // Probes: each tile's centre, then the canvas left bare beside the third tile.
    let mut probes: Vec<(u32, u32)> = tiles.iter().map(|(_, t)| t.centre()).collect();
    let bare = [(CANVAS.width / 8, CANVAS.height * 3 / 4), (CANVAS.width * 7 / 8, CANVAS.height * 3 / 4)];
    for (x, y) in bare {
        let inside = |t: &Rect| x >= t.x && x < t.x + t.w && y >= t.y && y < t.y + t.h;
        assert!(!tiles.iter().any(|(_, t)| inside(t)), "({x}, {y}) is bare canvas");
        probes.push((x, y));
    }
    let s = page::sample_frames(b, page, 60, &probes).await?;
    let (first, last) = (s.frames.first().map(|f| f.presented), s.frames.last().map(|f| f.presented));
    let correct = red_only_in_first(&s);
    println!(
        "{:?}: getStats {stats}; canvas: {} distinct presented frames (presentedFrames {first:?}..{last:?}) in {:.0} ms, \
         {} changed picture, currentTime {:.2} -> {:.2} s, {correct} with red only in the Rust tile; first frame's probes {:?}",
        b.kind,
        s.frames.len(),
        s.ms,
        s.changes(),
        s.current_time[0],
        s.current_time[1],
        s.frames.first().map(|f| &f.probes)
    );
    assert!(s.rvfc && !s.paused && !s.play_shown, "{:?}: the video plays: {s:?}", b.kind);
    assert!(s.frames.len() >= 60, "{:?}: {} frames presented", b.kind, s.frames.len());
    assert!(s.frames.windows(2).all(|w| w[1].presented > w[0].presented));
    assert_eq!(correct, s.frames.len(), "{:?}: every frame has red in the Rust tile and only there", b.kind);
    // The picture moves (the browsers' fake cameras animate) and the clock runs.
    assert!(s.changes() >= s.frames.len() / 2, "{:?}: the picture changed only {} times", b.kind, s.changes());
    assert!(s.current_time[1] - s.current_time[0] >= 1.5, "{:?}: currentTime {:?}", b.kind, s.current_time);
    let level = b.wait_for(page, "window.tessera.receivedLevelDb().then((db) => db > -40 && db)", secs(10)).await?;
    println!("{:?}: received audio {level:.1} dBFS", b.kind);
    Ok(())
}

/// How many of 49 points spread over tile `index` (of 3) at the Rust peer look like
/// `placeholder`, the colour drawn for a participant without video (whose initials are in the
/// middle, so the centre alone does not tell).
pub fn placeholder_points(rust: &TestPeer, index: usize, placeholder: [u8; 3]) -> usize {
    let t = tile(index, 3);
    let Some(f) = rust.received().latest_frame() else { return 0 };
    (1..8)
        .flat_map(|i| (1..8).map(move |j| (i, j)))
        .filter(|(i, j)| close_to(f.rgb_at(t.x + t.w * i / 8, t.y + t.h * j / 8, 0), placeholder, 16))
        .count()
}

/// A publisher's tile at the Rust peer shows its camera, not its placeholder.
pub fn not_placeholder(rust: &TestPeer, index: usize, placeholder: [u8; 3]) -> anyhow::Result<()> {
    let like = placeholder_points(rust, index, placeholder);
    println!("tile {index}: {like} of 49 probe points look like its placeholder {placeholder:?}");
    anyhow::ensure!(like < 49 / 2, "tile {index} is the placeholder");
    Ok(())
}

/// The Rust peer sees three tiles — its red and the browsers' cameras — and hears both.
async fn rust_peer_sees_and_hears(room: &mut Room) -> anyhow::Result<()> {
    let rust = &room.rust;
    rust.wait_for(secs(10), |p| {
        p.received().latest_frame().is_some_and(|f| {
            close_to(colour_in(&f, tile(0, 3)), RED, TOLERANCE)
                && (1..3).all(|i| !close_to(colour_in(&f, tile(i, 3)), [0, 0, 0], 10))
        })
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}; rust sees {}", describe(rust, 3)))?;
    let (_, info) = http(room.server.addr, "GET", "/api/rooms/web", None).await;
    for (i, id) in [(1, &room.chromium_id), (2, &room.firefox_id)] {
        let p = info["participants"].as_array().unwrap().iter().find(|p| p["id"] == id.as_str()).cloned();
        let fps = p.as_ref().and_then(|p| p["inbound"]["fps"].as_f64()).unwrap_or(0.0);
        println!("server receives {id} at {fps:.1} fps");
        assert!(fps >= 10.0, "{id}: {p:?}");
        not_placeholder(rust, i, tessera::draw::tile_colour(id.parse()?))?;
    }
    rust.wait_for(secs(10), |p| p.tone_dbfs(CHROMIUM_HZ, 500) > -40.0 && p.tone_dbfs(FIREFOX_HZ, 500) > -40.0).await?;
    println!(
        "rust peer sees {}; hears Chromium {:.1} dBFS, Firefox {:.1} dBFS",
        describe(rust, 3),
        rust.tone_dbfs(CHROMIUM_HZ, 500),
        rust.tone_dbfs(FIREFOX_HZ, 500)
    );
    Ok(())
}

/// The closing note's figures: the server's CPU over a steady 5 s with two browsers and one
/// test peer, and what each browser's getStats says.
async fn measure(room: &mut Room) -> anyhow::Result<()> {
    let pid = room.server.pid();
    let (threads, before, started) = (thread_times(pid)?, ProcSample::read(Some(pid))?, Instant::now());
    tokio::time::sleep(Duration::from_secs(5)).await; // the measurement window
    let (after, secs) = (ProcSample::read(Some(pid))?, started.elapsed().as_secs_f64());
    let busiest: Vec<String> = thread_groups(&threads, &thread_times(pid)?, secs)
        .iter()
        .take(8)
        .map(|g| format!("{} ×{} {:.3}", g.name, g.threads, g.cores))
        .collect();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("server binary: {}", ServerProcess::binary());
    println!(
        "server CPU with 2 browsers + 1 test peer: {:.3} of one core over {secs:.1} s (RSS {:.0} MiB, {} threads; loadavg {})",
        before.cores_until(&after, secs),
        after.rss_mib,
        after.threads,
        load.trim()
    );
    println!("busiest server threads (cores): {}", busiest.join(", "));
    for (b, page, _) in room.browsers() {
        let s = b.eval(page, "window.tessera.stats()").await?;
        println!("{:?} getStats: {s}", b.kind);
        assert!(s["videoJitterMs"].is_number() && s["audioJitterMs"].is_number(), "{:?}: jitter {s}", b.kind);
        assert!(s["rtcpRttMs"].as_f64() > Some(0.0), "{:?}: RTCP round trip {s}", b.kind);
    }
    Ok(())
}

/// An administrator records the room: both pages say so until it stops.
async fn recording_indicator(room: &mut Room) -> anyhow::Result<()> {
    let addr = room.server.addr;
    for (b, page, _) in room.browsers() {
        assert_eq!(page::visible_text(b, page, "#recording").await?, None, "{:?}: not recording yet", b.kind);
    }
    let (status, started) = http(addr, "POST", "/api/rooms/web/recordings", None).await;
    assert_eq!(status, 201, "{started}");
    let id = started["id"].as_str().unwrap().to_owned();
    let clock = Instant::now();
    for (b, page, _) in room.browsers() {
        b.wait_for(page, "!document.querySelector('#recording').hidden", secs(3)).await?;
        let shown = page::visible_text(b, page, "#recording").await?;
        println!("{:?}: {:?} on screen {:?} after the POST", b.kind, shown, clock.elapsed());
        assert!(shown.is_some_and(|t| t.contains("being recorded")), "{:?}", b.kind);
    }
    let (status, stopped) = http(addr, "DELETE", &format!("/api/rooms/web/recordings/{id}"), None).await;
    assert_eq!((status, stopped["state"].as_str()), (200, Some("done")), "{stopped}");
    for (b, page, _) in room.browsers() {
        b.wait_for(page, "document.querySelector('#recording').hidden", secs(3)).await?;
        assert_eq!(page::visible_text(b, page, "#recording").await?, None);
    }
    println!("recording {id} stopped: the indicator is gone on both pages");
    Ok(())
}

/// Firefox leaves by keyboard: Tab to Leave, Enter. The others are told.
async fn leave_by_keyboard(room: &mut Room) -> anyhow::Result<()> {
    let (fp, cp, firefox_id) = (room.fp, room.cp, room.firefox_id.clone());
    let presses = page::tab_to(&mut room.firefox, fp, "el.id === 'leave'").await?;
    room.firefox.press(fp, "Enter").await?;
    room.rust
        .wait_message(
            secs(3),
            |m| matches!(m, ServerMessage::ParticipantLeft { participant_id } if participant_id.to_string() == firefox_id),
        )
        .await?;
    let gone = format!("!window.tessera.participants.some((p) => p.id === '{firefox_id}')");
    room.chromium.wait_for(cp, &gone, secs(3)).await?;
    room.chromium.wait_for(cp, "document.querySelectorAll('#participants li').length === 2", secs(2)).await?;
    let f = &mut room.firefox;
    assert_eq!(f.eval(fp, "document.querySelector('#join-form').hidden").await?, false, "back at the form");
    assert_eq!(f.eval(fp, "document.activeElement.id").await?, "name", "focus back on the form");
    println!("Firefox left by keyboard ({presses} Tabs, Enter); Chromium lists 2");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_and_firefox_publish_into_a_room() -> anyhow::Result<()> {
    let server = start_server().await?;
    let log = server.log.clone();
    let result = scenario(server).await;
    if result.is_err() {
        let log = log.lock().unwrap();
        println!("server log, last lines:\n{}", log[log.len().saturating_sub(60)..].join("\n"));
    }
    result
}

async fn scenario(server: ServerProcess) -> anyhow::Result<()> {
    let mut room = setup(server).await?;
    let rust_id = room.rust.id().to_string();
    for (b, page, _) in room.browsers() {
        page_sees_the_room(b, page, &rust_id).await?;
    }
    rust_peer_sees_and_hears(&mut room).await?;
    for (b, page, _) in room.browsers() {
        let listed = b.eval(page, "document.querySelectorAll('#participants li').length").await?;
        assert_eq!(listed, 3, "{:?} lists everyone on screen", b.kind);
    }
    measure(&mut room).await?;
    recording_indicator(&mut room).await?;

    // A screenshot of the page in a room of three.
    let shot = std::env::var_os("TESSERA_SCREENSHOT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("tessera-room-of-three.png"));
    room.chromium.screenshot(room.cp, &shot).await?;
    assert!(std::fs::metadata(&shot)?.len() > 10_000, "screenshot written");
    println!("screenshot: {}", shot.display());

    controls::pick(&mut room).await?;
    controls::mute(&mut room).await?;
    controls::camera(&mut room).await?;
    leave_by_keyboard(&mut room).await?;

    // Chromium leaves with a click: the Rust peer is told.
    room.chromium.click(room.cp, "#leave").await?;
    let chromium_id = room.chromium_id.clone();
    room.rust
        .wait_message(
            secs(3),
            |m| matches!(m, ServerMessage::ParticipantLeft { participant_id } if participant_id.to_string() == chromium_id),
        )
        .await?;

    // Each page closed its peer connection as it left, which ends its SCTP association in
    // error at the server: a departure, never a media failure.
    let (status, metrics) = tessera_client::rest::request_text(room.server.addr, "GET", "/metrics", None, "").await?;
    let leaves: Vec<&str> = metrics.lines().filter(|l| l.starts_with("tessera_leaves_total{")).collect();
    println!("departures: {leaves:?}");
    assert_eq!(status, 200, "{metrics}");
    assert!(leaves.contains(&"tessera_leaves_total{reason=\"left\"} 2"), "{leaves:?}");
    assert!(leaves.contains(&"tessera_leaves_total{reason=\"error\"} 0"), "{leaves:?}");

    let origin = room.origin.clone();
    for (b, page, _) in room.browsers() {
        let shown = b
            .eval(
                page,
                "document.querySelector('#problem').hidden || document.querySelector('#problem-text').textContent",
            )
            .await?;
        assert_eq!(shown, true, "{:?} shows a problem", b.kind);
        page::assert_clean(b, page, &origin).await?;
        let caught = page::prove_error_capture(b, &format!("{origin}/healthz")).await?;
        println!("{:?}: no errors in the room's page; a canary page's errors were all caught: {caught:?}", b.kind);
    }
    room.chromium.quit().await;
    room.firefox.quit().await;
    Ok(())
}
