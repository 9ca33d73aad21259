//! Publishers without video get a placeholder, read from decoded pixels: a camera turned off
//! (`mute video`), a publisher with no video at all, and a camera that stops sending (within
//! 2 s). Each placeholder is a solid, non-black colour that is not the old video, with the
//! participant's initials drawn in white at its centre.

use std::time::{Duration, Instant};

use crate::common::*;
use crate::stage::*;
use tessera::layout::Rect;
use tessera_client::{Frame, PeerOptions, TestPeer, close_to};
use tessera_protocol::ClientMessage;

/// Whether tile `t` of `frame` is a placeholder for `who` (named `name`, whose video was
/// `video`): plain colour in the corner, neither black nor the video's colour, and white
/// initials at the centre where the rendered placeholder has them.
fn placeholder(frame: &Frame, t: Rect, who: &TestPeer, name: &str, video: Option<[u8; 3]>) -> (bool, String) {
    let corner = frame.rgb_at(t.x + 12, t.y + 12, 4);
    let plain = close_to(corner, tessera::draw::tile_colour(who.id()), 24)
        && corner.iter().any(|v| *v > 60)
        && video.is_none_or(|v| !close_to(corner, v, TOLERANCE));
    let want = tessera::draw::placeholder(who.id(), name, t.w, t.h);
    let (mut white_want, mut white_got) = (0, 0);
    for y in (t.h / 4..t.h * 3 / 4).step_by(2) {
        for x in (t.w / 4..t.w * 3 / 4).step_by(2) {
            if want.at(x, y).iter().all(|v| *v > 230) {
                white_want += 1;
                white_got += usize::from(white(frame.rgb_at(t.x + x, t.y + y, 0)));
            }
        }
    }
    let initials = white_want >= 20 && white_got * 10 >= white_want * 6;
    (plain && initials, format!("corner {corner:?}, initials {white_got}/{white_want} white"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camera_off_audio_only_and_stalled_video_get_placeholders() -> anyhow::Result<()> {
    let server = start_server().await;
    let addr = server.addr;
    let room = "placeholders";
    let camera_off = TestPeer::join(addr, publisher(room, "Cam Off", GREEN, 700.0, 0.1)).await?;
    let mut no_video = PeerOptions::publisher(room, "Ana Bell", RED, 900.0);
    no_video.video = None;
    let no_video = TestPeer::join(addr, no_video).await?;
    let stalling = TestPeer::join(addr, publisher(room, "Sam Stall", YELLOW, 1100.0, 0.1)).await?;
    let blue = TestPeer::join(addr, publisher(room, "Blue", BLUE, 1300.0, 0.1)).await?;
    let tiles: Vec<Rect> = (0..4).map(|i| tile(i, 4)).collect();
    blue.wait_for(secs(15), |p| {
        p.received().latest_frame().is_some_and(|f| {
            close_to(colour_in(&f, tiles[0]), GREEN, TOLERANCE) && close_to(colour_in(&f, tiles[2]), YELLOW, TOLERANCE)
        })
    })
    .await?;
    camera_off.send(ClientMessage::Mute { audio: false, video: true })?;
    let stopped = Instant::now();
    stalling.stop_video();
    let checks = [
        (0, &camera_off, "Cam Off", Some(GREEN)),
        (1, &no_video, "Ana Bell", None),
        (2, &stalling, "Sam Stall", Some(YELLOW)),
    ];
    let all = |p: &TestPeer| {
        p.received()
            .latest_frame()
            .is_some_and(|f| checks.iter().all(|(i, who, name, v)| placeholder(&f, tiles[*i], who, name, *v).0))
    };
    blue.wait_for(secs(3), all).await.map_err(|e| {
        let f = blue.received().latest_frame().unwrap();
        let seen: Vec<String> = checks.iter().map(|(i, w, n, v)| placeholder(&f, tiles[*i], w, n, *v).1).collect();
        anyhow::anyhow!("{e}; {seen:?}")
    })?;
    let became = stopped.elapsed();
    let f = blue.received().latest_frame().unwrap();
    if let Some(dir) = std::env::var_os("TESSERA_FRAMES") {
        save_png(&f, &std::path::Path::new(&dir).join("placeholders.png"))?;
    }
    for (i, who, name, video) in checks {
        println!("{name}: placeholder ({})", placeholder(&f, tiles[i], who, name, video).1);
    }
    println!("the stopped camera became a placeholder {became:?} after it stopped");
    assert!(became < Duration::from_secs(2));
    assert!(close_to(colour_in(&f, tiles[3]), BLUE, TOLERANCE), "blue's video stays");
    drop((camera_off, no_video, stalling, blue));
    server.stop().await;
    Ok(())
}
