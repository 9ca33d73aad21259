//! The `tessera` DataChannel on a letterboxed, overlapping custom layout: every peer receives
//! `layoutChanged` and `speakerChanged` on it (not only the participant list), and the tiles it
//! reports (pictures, not cells, with their z) say what a click anywhere on the composite hits:
//! at every sampled point, the colour shown is the one of the highest-z tile containing it, or
//! the background where none does.

use crate::common::*;
use crate::stage::*;
use tessera::layout::Rect;
use tessera_client::{Frame, TestPeer, close_to};

/// A tile as the DataChannel reports it, with the colour its publisher sends.
struct Reported {
    rect: Rect,
    z: i64,
    colour: [u8; 3],
}

/// What a click at (x, y) hits: the highest-z tile containing it.
fn hit(tiles: &[Reported], x: u32, y: u32) -> Option<&Reported> {
    let inside = |r: &Rect| x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h;
    tiles.iter().filter(|t| inside(&t.rect)).max_by_key(|t| t.z)
}

/// Points of a 16 px grid whose colour is unambiguous: not within 6 px of a tile's edge (the
/// border, VP8's blur) nor in the bottom 32 px of a tile (label, badge).
fn clear_points(tiles: &[Reported]) -> Vec<(u32, u32)> {
    let near_edge = |r: &Rect, x: u32, y: u32| {
        let (x0, y0, x1, y1) = (r.x as i64 - 6, r.y as i64 - 6, (r.x + r.w) as i64 + 6, (r.y + r.h) as i64 + 6);
        let (xi, yi) = (x as i64, y as i64);
        let within = xi > x0 && xi < x1 && yi > y0 && yi < y1;
        let deep = xi > x0 + 12 && xi < x1 - 12 && yi > y0 + 12 && yi < y1 - 12 - 32;
        within && !deep
    };
    let mut out = Vec::new();
    for y in (8..CANVAS.height - 8).step_by(16) {
        for x in (8..CANVAS.width - 8).step_by(16) {
            if !tiles.iter().any(|t| near_edge(&t.rect, x, y)) {
                out.push((x, y));
            }
        }
    }
    out
}

fn mismatches(frame: &Frame, tiles: &[Reported], points: &[(u32, u32)]) -> Vec<((u32, u32), [u8; 3])> {
    points
        .iter()
        .filter_map(|&(x, y)| {
            let got = frame.rgb_at(x, y, 4);
            let ok = match hit(tiles, x, y) {
                Some(t) => close_to(got, t.colour, TOLERANCE),
                None => ![RED, GREEN, BLUE].iter().any(|c| close_to(got, *c, TOLERANCE)),
            };
            (!ok).then_some(((x, y), got))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_and_tiles_on_the_datachannel() -> anyhow::Result<()> {
    let server = start_server().await;
    let addr = server.addr;
    let red = TestPeer::join(addr, publisher("channel", "Red", RED, 440.0, 0.01)).await?;
    let green = TestPeer::join(addr, publisher("channel", "Green", GREEN, 600.0, 0.01)).await?;
    let blue = TestPeer::join(addr, publisher("channel", "Blue", BLUE, 1000.0, 0.5)).await?;
    let peers = [&red, &green, &blue];
    red.wait_for(secs(15), |p| shows_tiles(p, &[RED, GREEN, BLUE])).await?;

    // Red in a tall strip (its 16:9 picture letterboxed), green beside it (letterboxed too), and
    // blue over green in a wide box (pillarboxed), one z higher.
    let body = format!(
        r#"{{"mode":"custom","regions":[
            {{"x":0,"y":0,"w":0.25,"h":1,"participant":"{}"}},
            {{"x":0.25,"y":0,"w":0.75,"h":1,"participant":"{}"}},
            {{"x":0.6,"y":0.6,"w":0.35,"h":0.3,"z":1,"participant":"{}"}}]}}"#,
        red.id(),
        green.id(),
        blue.id()
    );
    assert_eq!(http_body(addr, "PUT", "/api/rooms/channel/layout", None, &body).await.0, 200);
    for p in peers {
        p.wait_for(secs(2), |p| last_channel(p, "layoutChanged").is_some_and(|m| m["layout"]["mode"] == "custom"))
            .await?;
    }
    println!("every peer got layoutChanged (custom) on its DataChannel");

    // Blue is loud: everyone hears it is the speaker, on the DataChannel.
    let blue_id = blue.id().to_string();
    for p in peers {
        p.wait_for(secs(5), |p| channel_speaker_is(p, &blue_id)).await?;
    }
    println!("every peer got speakerChanged for blue on its DataChannel");

    // The tiles reported for the custom layout, as green sees them.
    let colour_of =
        |id: &str| peers.iter().zip([RED, GREEN, BLUE]).find(|(p, _)| p.id().to_string() == id).map(|(_, c)| c);
    let custom_tiles = |p: &TestPeer| {
        last_channel(p, "participants").and_then(|m| {
            let list = m["participants"].as_array()?.clone();
            let tiles: Vec<Reported> = list
                .iter()
                .filter_map(|v| {
                    let rect: Rect = serde_json::from_value(v["tile"].clone()).ok()?;
                    Some(Reported { rect, z: v["z"].as_i64()?, colour: colour_of(v["id"].as_str()?)? })
                })
                .collect();
            // The list after the layout change: red's picture letterboxed in its strip.
            (tiles.len() == 3 && tiles.iter().any(|t| t.colour == RED && t.rect.w == CANVAS.width / 4)).then_some(tiles)
        })
    };
    green.wait_for(secs(2), |p| custom_tiles(p).is_some()).await?;
    let tiles = custom_tiles(&green).unwrap();
    for t in &tiles {
        println!("DataChannel tile {:?} z {} for colour {:?}", t.rect, t.z, t.colour);
    }
    let red_tile = tiles.iter().find(|t| t.colour == RED).unwrap();
    assert!(red_tile.rect.h < CANVAS.height / 2 && red_tile.rect.y > 0, "a picture, not its cell: {:?}", red_tile.rect);
    assert_eq!(tiles.iter().find(|t| t.colour == BLUE).map(|t| t.z), Some(1));

    // Every clear point shows what the DataChannel says a click there would hit.
    let points = clear_points(&tiles);
    let frame = green.received().latest_frame().unwrap();
    let wrong = mismatches(&frame, &tiles, &points);
    let on_blue = points.iter().filter(|(x, y)| hit(&tiles, *x, *y).is_some_and(|t| t.colour == BLUE)).count();
    let outside = points.iter().filter(|(x, y)| hit(&tiles, *x, *y).is_none()).count();
    println!(
        "{} points checked ({on_blue} on blue's picture, {outside} on no tile): {} wrong {wrong:?}",
        points.len(),
        wrong.len()
    );
    assert!(points.len() >= 300 && on_blue >= 20 && outside >= 50);
    assert!(wrong.is_empty(), "the composite disagrees with the DataChannel's tiles");
    drop((red, green, blue));
    server.stop().await;
    Ok(())
}
