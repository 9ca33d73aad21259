//! Saturated colours survive the default 1280x720 canvas: VP8 is BT.601 while 1.22's decoders
//! label HD as BT.709; a red/blue test would not notice, pure green does.

use crate::common::*;
use tessera::layout::Size;
use tessera_client::{PeerOptions, TestPeer, VideoSource, VideoSpec, close_to};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn green_stays_green_on_an_hd_canvas() -> anyhow::Result<()> {
    let server =
        start_server_with(test_config_with(|c| c.composite.canvas = tessera::config::Canvas(Size::new(1280, 720))))
            .await;
    let mut opts = PeerOptions::publisher("hd", "green", GREEN, 500.0);
    opts.video = Some(VideoSource::Solid(VideoSpec { rgb: GREEN, width: 1280, height: 720, fps: 15 }));
    let _green = TestPeer::join(server.addr, opts).await?;
    let viewer = TestPeer::join(server.addr, PeerOptions::viewer("hd", "v")).await?;
    let centre = |p: &TestPeer| p.received().latest_frame().map(|f| (f.width(), f.rgb_at(640, 360, 16)));
    viewer
        .wait_for(secs(15), |p| centre(p).is_some_and(|(w, c)| w == 1280 && close_to(c, GREEN, 24)))
        .await
        .map_err(|e| anyhow::anyhow!("{e}; centre is {:?}", centre(&viewer)))?;
    println!("HD composite centre: {:?}", centre(&viewer));
    server.stop().await;
    Ok(())
}
