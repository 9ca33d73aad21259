//! A publisher silent for 5 s gets the muted badge, as if muted, and not before; an audible
//! publisher never does. Read from decoded pixels in the badge's place.

use std::time::{Duration, Instant};

use crate::common::*;
use crate::stage::*;
use tessera::draw::MUTED_RED;
use tessera::layout::{self, Rect};
use tessera_client::{TestPeer, close_to};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_seconds_of_silence_draw_the_badge() -> anyhow::Result<()> {
    let server = start_server().await;
    let addr = server.addr;
    // Silence counts from the join: a publisher whose audio never arrives is as silent as one
    // sending zeros.
    let joining = Instant::now();
    let silent = TestPeer::join(addr, publisher("silence", "Quiet", YELLOW, 500.0, 0.0)).await?;
    let blue = TestPeer::join(addr, publisher("silence", "Blue", BLUE, 1100.0, 0.3)).await?;
    blue.wait_for(secs(15), |p| shows_tiles(p, &[YELLOW, BLUE])).await?;
    let badge_of = |i| layout::decorations(CANVAS, tile(i, 2)).badge.expect("room for a badge");
    let share = |p: &TestPeer, r: Rect| {
        p.received()
            .latest_frame()
            .map_or(0.0, |f| count(&f, r, |c| close_to(c, MUTED_RED, 40) || white(c)) as f64 / f64::from(r.w * r.h))
    };
    let (quiet_badge, blue_badge) = (badge_of(0), badge_of(1));

    let early = joining + Duration::from_secs(4);
    tokio::time::sleep(early.saturating_duration_since(Instant::now())).await;
    let before = share(&blue, quiet_badge);
    println!("after 4 s of silence: {before:.2} of the badge's place is badge-coloured");
    assert!(before < 0.05, "badge before 5 s of silence");
    blue.wait_for(secs(8), |p| share(p, quiet_badge) > 0.8).await?;
    let after = joining.elapsed();
    println!(
        "silent publisher's badge drawn {after:?} after it joined ({:.2} of its place)",
        share(&blue, quiet_badge)
    );
    assert!(after >= Duration::from_millis(4900) && after < Duration::from_secs(7), "{after:?}");
    assert!(share(&blue, blue_badge) < 0.05, "no badge on an audible publisher");
    drop((silent, blue));
    server.stop().await;
    Ok(())
}
