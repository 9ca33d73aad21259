//! Tiles keep their source's aspect ratio: a 4:3 publisher is letterboxed inside its cell (the
//! bars are background, not stretched picture), beside a 16:9 one, and a 1:1 one alone fills
//! only the middle of the 16:9 canvas. Checked in decoded pixels at the tile and bar positions
//! the layout computes.

use crate::common::*;
use tessera::layout::{self, Rect, Size};
use tessera_client::{PeerOptions, TestPeer, VideoSource, VideoSpec, close_to};

const BLACK: [u8; 3] = [0, 0, 0];

fn publisher(room: &str, name: &str, rgb: [u8; 3], width: u32, height: u32, hz: f64) -> PeerOptions {
    let mut options = PeerOptions::publisher(room, name, rgb, hz);
    options.video = Some(VideoSource::Solid(VideoSpec { rgb, width, height, fps: 30 }));
    options
}

/// Inside `tile` (away from its lower-left name label) shows `rgb`, and the bars of `cell`
/// outside the tile (if the source's aspect differs from the cell's) show the background.
fn letterboxed(peer: &TestPeer, cell: Rect, tile: Rect, rgb: [u8; 3]) -> Result<(), String> {
    let f = peer.received().latest_frame().ok_or("no frame")?;
    let inside = [tile.centre(), (tile.x + tile.w * 3 / 4, tile.y + tile.h / 4)];
    let mut bars = Vec::new();
    if tile.y > cell.y + 8 {
        bars.push((tile.x + tile.w / 2, cell.y + (tile.y - cell.y) / 2));
    }
    if tile.x > cell.x + 8 {
        bars.push((cell.x + (tile.x - cell.x) / 2, tile.y + tile.h / 2));
    }
    if bars.is_empty() && tile != cell {
        return Err(format!("a tile {tile:?} thinner than its cell {cell:?} needs bars"));
    }
    for (x, y) in inside {
        let c = f.rgb_at(x, y, 4);
        if !close_to(c, rgb, TOLERANCE) {
            return Err(format!("({x},{y}) in the tile is {c:?}"));
        }
    }
    for (x, y) in bars {
        let c = f.rgb_at(x, y, 2);
        if !close_to(c, BLACK, 24) {
            return Err(format!("({x},{y}) in the bar is {c:?}, not background"));
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiles_keep_their_aspect_ratio() -> anyhow::Result<()> {
    let server = start_server().await;
    // Alone, a square source fills the middle of the canvas, with bars left and right.
    let square = TestPeer::join(server.addr, publisher("aspect", "square", RED, 240, 240, 440.0)).await?;
    let canvas = Rect { x: 0, y: 0, w: CANVAS.width, h: CANVAS.height };
    let alone = layout::fit(canvas, Size::new(240, 240), (1, 1));
    square
        .wait_for(secs(15), |p| letterboxed(p, canvas, alone, RED).is_ok())
        .await
        .map_err(|e| anyhow::anyhow!("{e}: {:?}", letterboxed(&square, canvas, alone, RED)))?;
    println!("1:1 alone at {alone:?}: pillarboxed");

    // With a 4:3 and a 16:9 beside it, every tile is fitted inside its cell.
    let four_three = TestPeer::join(server.addr, publisher("aspect", "4:3", BLUE, 320, 240, 1000.0)).await?;
    let wide = TestPeer::join(server.addr, publisher("aspect", "16:9", GREEN, 320, 180, 600.0)).await?;
    let cells = layout::grid(3, CANVAS);
    let expect = [(RED, Size::new(240, 240)), (BLUE, Size::new(320, 240)), (GREEN, Size::new(320, 180))];
    let all_fitted = |p: &TestPeer| {
        expect
            .iter()
            .enumerate()
            .all(|(i, (rgb, size))| letterboxed(p, cells[i], layout::fit(cells[i], *size, (1, 1)), *rgb).is_ok())
    };
    wide.wait_for(secs(15), all_fitted).await.map_err(|e| {
        let why: Vec<_> = expect
            .iter()
            .enumerate()
            .map(|(i, (rgb, size))| letterboxed(&wide, cells[i], layout::fit(cells[i], *size, (1, 1)), *rgb))
            .collect();
        anyhow::anyhow!("{e}: {why:?}")
    })?;
    for (i, (_, size)) in expect.iter().enumerate() {
        println!(
            "{}x{} in cell {:?} -> tile {:?}",
            size.width,
            size.height,
            cells[i],
            layout::fit(cells[i], *size, (1, 1))
        );
    }
    drop((square, four_three, wide));
    server.stop().await;
    Ok(())
}
