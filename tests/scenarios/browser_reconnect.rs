//! The server goes away while a Chromium page and a Firefox page are in a room, and stays away
//! past several retry delays: each page says "Reconnecting…" on screen (and why: the server
//! said it was restarting) while its attempts are refused, then rejoins by itself, without a
//! reload, when the server is back on the same address; media flows again. The only console
//! entries are each browser's own reports of the refused WebSocket connections during the
//! outage; nothing else, before or after.

use std::time::Instant;

use crate::common::browser::page::{self, is_refused_websocket, visible_text};
use crate::common::browser::{Browser, Kind, Page};
use crate::common::*;
use tessera_client::{PeerOptions, TestPeer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_rejoin_after_the_server_restarts() -> anyhow::Result<()> {
    let mut port = ReservedPort::new();
    let server = port.start(browser_media_config());
    let (origin, ws_url) = (format!("http://{}", port.addr), format!("ws://{}/ws", port.addr));
    let mut pages: Vec<(Browser, Page, serde_json::Value)> = Vec::new();
    for kind in [Kind::Chromium, Kind::Firefox] {
        let mut b = Browser::launch(kind, true, None).await?;
        let page = page::join_as_publisher(&mut b, &origin, "phoenix", &format!("{kind:?}")).await?;
        b.eval(page, "window.marker = 'same page'").await?;
        let id = b.eval(page, "window.tessera.participantId").await?;
        assert!(b.errors(page).await?.is_empty());
        pages.push((b, page, id));
    }

    // The server goes away, and stays away until each page has had two attempts refused.
    let down = Instant::now();
    server.stop().await;
    for (b, page, _) in &mut pages {
        b.wait_for(*page, "window.tessera.state === 'reconnecting'", secs(5)).await?;
        let said = b
            .wait_for(
                *page,
                "!document.querySelector('#problem').hidden && document.querySelector('#problem-text').textContent",
                secs(2),
            )
            .await?;
        assert_eq!(said, "The server is restarting. Reconnecting…", "{:?}", b.kind);
    }
    for (b, page, _) in &mut pages {
        let attempts = b.wait_for(*page, "window.tessera.attempt >= 3 && window.tessera.attempt", secs(10)).await?;
        let badge = visible_text(b, *page, "#state").await?;
        println!("{:?}: {attempts} attempts, {:?} after the server stopped, badge {badge:?}", b.kind, down.elapsed());
        assert_eq!(badge.as_deref(), Some("Reconnecting…"), "{:?}", b.kind);
    }
    println!("outage: {:?}", down.elapsed());

    let server = port.start(browser_media_config());
    let back = Instant::now();
    let mut during = Vec::new();
    for (b, page, first_id) in &mut pages {
        b.wait_for(*page, "window.tessera.state === 'connected'", secs(20)).await?;
        let second_id = b.eval(*page, "window.tessera.participantId").await?;
        println!("{:?}: rejoined as {second_id} (was {first_id}) {:?} after the restart", b.kind, back.elapsed());
        assert_ne!(&second_id, first_id);
        assert_eq!(b.eval(*page, "window.marker").await?, "same page", "no reload");
        assert_eq!(visible_text(b, *page, "#state").await?.as_deref(), Some("Connected"));
        assert_eq!(b.eval(*page, "document.querySelector('#problem').hidden").await?, true, "the message is gone");
        b.wait_for(*page, "window.tessera.stats().then((s) => s && s.framesDecoded >= 30)", secs(20)).await?;
        let errors = b.errors(*page).await?;
        println!("{:?}: console during the outage: {errors:?}", b.kind);
        assert!(errors.iter().all(|e| is_refused_websocket(e, &ws_url)), "{:?}: {errors:?}", b.kind);
        during.push(errors.len());
    }

    // The others see both pages' cameras in the new room.
    let watcher = TestPeer::join(port.addr, PeerOptions::viewer("phoenix", "watcher")).await?;
    watcher
        .wait_for(secs(15), |p| {
            p.received().latest_frame().is_some_and(|f| (0..2).all(|i| colour_in(&f, tile(i, 2)) != [0, 0, 0]))
        })
        .await?;
    println!("watcher sees {}", describe(&watcher, 2));
    for ((b, page, _), n) in pages.iter_mut().zip(during) {
        let errors = b.errors(*page).await?;
        assert_eq!(errors.len(), n, "{:?}: nothing logged after the rejoin: {errors:?}", b.kind);
    }
    for (b, _, _) in pages {
        b.quit().await;
    }
    server.stop().await;
    Ok(())
}
