//! The server goes away for good: each page (Chromium and Firefox) keeps trying with backoff,
//! then, its attempts used up, says "Connection failed" and why, with a "Try again" button that
//! has keyboard focus. When the server is back, "Try again" (Enter in Chromium, a click in
//! Firefox) joins again and media flows. The only console entries are each browser's own
//! reports of the refused WebSocket connections.

use std::time::Instant;

use crate::common::browser::page::{self, is_refused_websocket, visible_text};
use crate::common::browser::{Browser, Kind, Page};
use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_give_up_then_try_again() -> anyhow::Result<()> {
    let mut port = ReservedPort::new();
    let server = port.start(browser_media_config());
    let (origin, ws_url) = (format!("http://{}", port.addr), format!("ws://{}/ws", port.addr));
    let mut pages: Vec<(Browser, Page)> = Vec::new();
    for kind in [Kind::Chromium, Kind::Firefox] {
        let mut b = Browser::launch(kind, true, None).await?;
        let page = page::join_as_publisher(&mut b, &origin, "gone", &format!("{kind:?}")).await?;
        pages.push((b, page));
    }

    let down = Instant::now();
    server.stop().await;
    // 8 attempts, 0.5 + 1 + 2 + 4 + 5 + 5 + 5 + 5 = 27.5 s of backoff.
    for (b, page) in &mut pages {
        b.wait_for(*page, "window.tessera.state === 'failed'", secs(45)).await?;
        let badge = visible_text(b, *page, "#state").await?;
        let said = visible_text(b, *page, "#problem-text").await?;
        let retry = visible_text(b, *page, "#retry").await?;
        let focus = b.eval(*page, "document.activeElement.id").await?;
        println!(
            "{:?}: {:?} after the server stopped: badge {badge:?}, {said:?}, button {retry:?}",
            b.kind,
            down.elapsed()
        );
        assert_eq!(badge.as_deref(), Some("Connection failed"));
        assert_eq!(said.as_deref(), Some("Could not reach the server. Gave up after 8 attempts."), "{:?}", b.kind);
        assert_eq!((retry.as_deref(), focus.as_str()), (Some("Try again"), Some("retry")), "{:?}", b.kind);
        let shown = page::state_history(b, *page).await?;
        assert!(shown.ends_with(&[("Reconnecting…".into(), true), ("Connection failed".into(), true)]), "{shown:?}");
    }

    let server = port.start(browser_media_config());
    for (b, page) in &mut pages {
        let clicked = Instant::now();
        if b.kind == Kind::Chromium {
            b.press(*page, "Enter").await?;
        } else {
            b.click(*page, "#retry").await?;
        }
        b.wait_for(*page, "window.tessera.state === 'connected'", secs(20)).await?;
        println!("{:?}: Try again -> connected in {:?}", b.kind, clicked.elapsed());
        assert_eq!(visible_text(b, *page, "#state").await?.as_deref(), Some("Connected"));
        assert_eq!(b.eval(*page, "document.querySelector('#problem').hidden").await?, true);
        b.wait_for(*page, "window.tessera.stats().then((s) => s && s.framesDecoded >= 30)", secs(20)).await?;
        let errors = b.errors(*page).await?;
        println!("{:?}: console: {} refused WebSocket reports", b.kind, errors.len());
        assert!(errors.iter().all(|e| is_refused_websocket(e, &ws_url)), "{:?}: {errors:?}", b.kind);
    }
    for (b, _) in pages {
        b.quit().await;
    }
    server.stop().await;
    Ok(())
}
