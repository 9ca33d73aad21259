//! What the server draws on tiles, read back from decoded pixels: a publisher silent for 5 s gets
//! the muted badge (and not before); a camera turned off and a publisher without video both get
//! a placeholder in their colour with white initials; names are drawn as white glyphs on a dark
//! label at 360p; an audible publisher never gets the badge.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tessera::client::{AudioSource, Frame, PeerOptions, TestPeer, close_to};
use tessera::draw::{MUTED_RED, tile_colour};
use tessera::layout::Rect;
use tessera::protocol::ClientMessage;

/// Pixels of `frame` inside `r` (every other one) that `pick` accepts.
fn count(frame: &Frame, r: Rect, pick: impl Fn([u8; 3]) -> bool) -> usize {
    let mut n = 0;
    for y in (r.y..r.y + r.h).step_by(2) {
        for x in (r.x..r.x + r.w).step_by(2) {
            n += usize::from(pick(frame.rgb_at(x, y, 0)));
        }
    }
    n
}

/// The strip along the bottom of a tile where the label and the badge sit.
fn label_strip(tile: Rect) -> Rect {
    Rect { x: tile.x + 2, y: tile.y + tile.h - 36, w: tile.w - 4, h: 34 }
}

fn badge_pixels(frame: &Frame, tile: Rect) -> usize {
    count(frame, label_strip(tile), |c| close_to(c, MUTED_RED, 40))
}

fn white(c: [u8; 3]) -> bool {
    c.iter().all(|v| *v > 200)
}

fn tone(room: &str, name: &str, rgb: [u8; 3], hz: f64, volume: f64) -> PeerOptions {
    let mut o = PeerOptions::publisher(room, name, rgb, hz);
    o.audio = Some(AudioSource::ToneAt { hz, volume });
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn badges_placeholders_and_labels_on_the_composite() -> anyhow::Result<()> {
    let server = start_server().await;
    let addr = server.addr;
    let room = "decor";
    // Silence counts from the join: a publisher whose audio never arrives is as silent as one
    // sending zeros.
    let joining = Instant::now();
    let silent = TestPeer::join(addr, tone(room, "Quiet", YELLOW, 500.0, 0.0)).await?;
    let camera_off = TestPeer::join(addr, tone(room, "Cam Off", GREEN, 700.0, 0.3)).await?;
    let mut no_video = PeerOptions::publisher(room, "Ana Bell", RED, 900.0);
    no_video.video = None;
    let no_video = TestPeer::join(addr, no_video).await?;
    let blue = TestPeer::join(addr, tone(room, "Blue", BLUE, 1100.0, 0.3)).await?;
    camera_off.send(ClientMessage::Mute { audio: false, video: true })?;
    let tiles: Vec<Rect> = (0..4).map(|i| tile(i, 4)).collect();

    // Placeholders: the participant's colour with white initials at the centre.
    let placeholder = |p: &TestPeer, who: &TestPeer, t: Rect| {
        p.received().latest_frame().is_some_and(|f| {
            let corner = f.rgb_at(t.x + 12, t.y + 12, 4);
            let centre = Rect { x: t.x + t.w / 2 - 30, y: t.y + t.h / 2 - 30, w: 60, h: 60 };
            close_to(corner, tile_colour(who.id()), 24) && count(&f, centre, white) >= 20
        })
    };
    let blue_shows =
        |p: &TestPeer| p.received().latest_frame().is_some_and(|f| close_to(colour_in(&f, tiles[3]), BLUE, TOLERANCE));
    blue.wait_for(secs(15), |p| {
        placeholder(p, &camera_off, tiles[1]) && placeholder(p, &no_video, tiles[2]) && blue_shows(p)
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}; {}", describe(&blue, 4)))?;
    let frame = blue.received().latest_frame().unwrap();
    println!(
        "placeholders {:?} and {:?} with initials, {:.1} s after the first join",
        frame.rgb_at(tiles[1].x + 12, tiles[1].y + 12, 4),
        frame.rgb_at(tiles[2].x + 12, tiles[2].y + 12, 4),
        joining.elapsed().as_secs_f64()
    );

    // Labels at 360p: white glyphs on a dark box at the lower left of the blue tile.
    let strip = label_strip(tiles[3]);
    let (glyphs, dark) = (count(&frame, strip, white), count(&frame, strip, |c| c.iter().all(|v| *v < 60)));
    println!("label on the blue tile: {glyphs} white and {dark} dark pixels (every other one sampled)");
    assert!(glyphs >= 10 && dark >= 40, "a readable label is drawn");

    // The silent publisher gets the badge after 5 s of silence, not before; audible ones never.
    let early = joining + Duration::from_secs(4);
    tokio::time::sleep(early.saturating_duration_since(Instant::now())).await;
    let f = blue.received().latest_frame().unwrap();
    assert_eq!(badge_pixels(&f, tiles[0]), 0, "badge before 5 s of silence");
    blue.wait_for(secs(8), |p| p.received().latest_frame().is_some_and(|f| badge_pixels(&f, tiles[0]) >= 10)).await?;
    let after = joining.elapsed();
    let f = blue.received().latest_frame().unwrap();
    println!("silent publisher's badge drawn {after:?} after it joined ({} pixels)", badge_pixels(&f, tiles[0]));
    assert!(after >= Duration::from_millis(4900) && after < Duration::from_secs(7), "{after:?}");
    assert_eq!(badge_pixels(&f, tiles[3]), 0, "no badge on an audible publisher");

    drop((silent, camera_off, no_video, blue));
    server.stop().await;
    Ok(())
}
