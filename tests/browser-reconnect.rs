//! A dropped signaling connection (here: the server restarts) puts the page in "reconnecting";
//! it rejoins by itself, without a reload, and media flows again.

mod common;

use common::browser::{Browser, Kind};
use common::*;
use tessera::client::{PeerOptions, TestPeer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_rejoins_after_the_server_restarts() -> anyhow::Result<()> {
    let server = start_server_with(browser_media_config()).await;
    let addr = server.addr;
    let mut b = Browser::launch(Kind::Chromium, true, None).await?;
    let page = b.open(&format!("http://{addr}/?room=phoenix")).await?;
    b.type_into(page, "#name", "Survivor").await?;
    b.click(page, "#join-publisher").await?;
    b.wait_for(page, "window.tessera.state === 'connected'", secs(20)).await?;
    let first_id = b.eval(page, "window.tessera.participantId").await?;
    b.eval(page, "window.marker = 'same page'").await?;

    // The server goes away and comes back on the same address.
    server.stop().await;
    let state = b
        .wait_for(
            page,
            "['reconnecting', 'connecting'].includes(window.tessera.state) && window.tessera.state",
            secs(5),
        )
        .await?;
    let shown = b.eval(page, "document.querySelector('#state').textContent").await?;
    println!("after the server stopped the page shows {shown} ({state})");
    let server = start_server_on(&addr.to_string(), None, browser_media_config()).await;
    let rejoined = std::time::Instant::now();
    b.wait_for(page, "window.tessera.state === 'connected'", secs(20)).await?;
    let second_id = b.eval(page, "window.tessera.participantId").await?;
    println!("rejoined as {second_id} (was {first_id}) {:?} after the restart", rejoined.elapsed());
    assert_ne!(second_id, first_id);
    assert_eq!(b.eval(page, "window.marker").await?, "same page", "no reload");
    b.wait_for(page, "window.tessera.stats().then((s) => s && s.framesDecoded >= 30)", secs(20)).await?;

    // The others see the page's camera in the new room.
    let watcher = TestPeer::join(addr, PeerOptions::viewer("phoenix", "watcher")).await?;
    watcher
        .wait_for(secs(15), |p| p.received().latest_frame().is_some_and(|f| colour_in(&f, tile(0, 1)) != [0, 0, 0]))
        .await?;
    let errors = b.errors(page).await?;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    b.quit().await;
    server.stop().await;
    Ok(())
}
