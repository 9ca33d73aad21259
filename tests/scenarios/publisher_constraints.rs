//! Publishers send what their tile needs (`videoConstraints`): on a 1280x720 canvas, a
//! 1280x720 publisher alone is asked for (and sends) the whole canvas; with 4 publishers its
//! 640x360 cell; with 9, 426x240. Measured from what the server decodes (`videoSize` in the
//! room's REST detail), and the composite still shows the publisher's colour in its tile.

use std::time::Instant;

use crate::common::*;
use tessera::layout::{self, Size};
use tessera_client::{PeerOptions, TestPeer, VideoSource, VideoSpec, close_to};
use tessera_protocol::ServerMessage;

const HD: Size = Size::new(1280, 720);
const COLOURS: [[u8; 3]; 9] =
    [RED, BLUE, GREEN, YELLOW, [255, 0, 255], [0, 255, 255], [255, 255, 255], [255, 128, 0], [128, 0, 255]];

/// The first publisher's decoded size and constraints box, from `GET /api/rooms/{room}`.
async fn first_publisher(server: &TestServer) -> (Option<Size>, Option<Size>) {
    let (_, detail) = http(server.addr, "GET", "/api/rooms/tiles", None).await;
    let p = &detail["participants"][0];
    let size = |v: &serde_json::Value| Some(Size::new(v["width"].as_u64()? as u32, v["height"].as_u64()? as u32));
    (size(&p["videoSize"]), size(&p["videoConstraints"]))
}

/// Waits until the server decodes the first publisher at `want` and the viewer's composite
/// shows red in its tile (fitted in cell 0 of an `n`-tile grid).
async fn follows(server: &TestServer, viewer: &TestPeer, n: usize, want: Size) -> anyhow::Result<()> {
    let start = Instant::now();
    let tile = layout::fit(layout::grid(n, HD)[0], want, (1, 1));
    loop {
        let (decoded, asked) = first_publisher(server).await;
        let shown = viewer.received().latest_frame().map(|f| f.rgb_at(tile.centre().0, tile.centre().1, 8));
        if decoded == Some(want) && asked == Some(want) && shown.is_some_and(|c| close_to(c, RED, TOLERANCE)) {
            println!("{n} publishers: decoded {want:?} after {:?}, tile {tile:?} shows {shown:?}", start.elapsed());
            return Ok(());
        }
        anyhow::ensure!(
            start.elapsed() < secs(25),
            "{n} publishers: server decodes {decoded:?}, asked {asked:?}, want {want:?}; tile {tile:?} shows {shown:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_publisher_shrinks_to_its_tile_as_the_room_fills() -> anyhow::Result<()> {
    let server = start_server_with(test_config_with(|c| c.composite.canvas = tessera::config::Canvas(HD))).await;
    let mut first = PeerOptions::publisher("tiles", "red", RED, 300.0);
    first.video = Some(VideoSource::Solid(VideoSpec { rgb: RED, width: 1280, height: 720, fps: 15 }));
    let mut red = TestPeer::join(server.addr, first).await?;
    let told = red.wait_message(secs(15), |m| matches!(m, ServerMessage::VideoConstraints(_))).await?;
    println!("told on the socket: {told:?}");
    let viewer = TestPeer::join(server.addr, PeerOptions::viewer("tiles", "v")).await?;
    follows(&server, &viewer, 1, HD).await?;

    let mut others = Vec::new();
    for (i, rgb) in COLOURS.iter().enumerate().skip(1).take(3) {
        let o = PeerOptions::publisher("tiles", &format!("p{i}"), *rgb, 400.0 + 50.0 * i as f64);
        others.push(TestPeer::join(server.addr, o).await?);
    }
    follows(&server, &viewer, 4, Size::new(640, 360)).await?;

    for (i, rgb) in COLOURS.iter().enumerate().skip(4) {
        let o = PeerOptions::publisher("tiles", &format!("p{i}"), *rgb, 400.0 + 50.0 * i as f64);
        others.push(TestPeer::join(server.addr, o).await?);
    }
    follows(&server, &viewer, 9, Size::new(426, 240)).await?;
    server.stop().await;
    Ok(())
}
