//! What the page does with the server's errors when it cannot get into a room, against a
//! stand-in for `/ws` (the real server cannot be made to fail on demand) that serves the real
//! page. Joins refused with the socket left open — what `signaling.rs` does when it cannot
//! admit someone (`internal_error`, `server_shutdown`) or gets a message out of turn
//! (`not_joined`) — must not leave the page sitting at "Connecting…": the pages (Chromium and
//! Firefox) show each refusal in words, close that socket and try again by themselves, and
//! when the attempts run out say "Connection failed" with the last reason and a "Try again"
//! that starts over. A notice (`layout_locked`) is shown with a Dismiss button that works by
//! keyboard; a code that ends the visit (`room_closed`) returns to the form with the reason.
//! Nothing reaches the console.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use warp::Filter;

use crate::common::browser::page::{self, problem_history, visible_text};
use crate::common::browser::{Browser, Kind, Page};
use crate::common::secs;

/// The codes the stand-in refuses joins with, in turn, and what the page says for each.
const REFUSALS: [(&str, &str); 3] = [
    ("internal_error", "The server had a problem setting up your connection."),
    ("server_shutdown", "The server is restarting."),
    ("not_joined", "The server had lost this page's place in the room."),
];

/// What the stand-in saw: ("join", name) for each join, ("closed", name) when that socket ended.
type Log = Arc<Mutex<Vec<(&'static str, String)>>>;

async fn refuse_joins(socket: warp::ws::WebSocket, log: Log) {
    let (mut tx, mut rx) = socket.split();
    let mut name = String::new();
    while let Some(Ok(frame)) = rx.next().await {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(frame.to_str().unwrap_or_default()) else { continue };
        if msg["type"] == "join" {
            name = msg["name"].as_str().unwrap_or_default().to_owned();
            let n = {
                let mut log = log.lock().unwrap();
                log.push(("join", name.clone()));
                log.iter().filter(|(what, who)| *what == "join" && *who == name).count()
            };
            let code = match name.as_str() {
                "Notice" => "layout_locked",
                "Closed" => "room_closed",
                _ => REFUSALS[(n - 1) % REFUSALS.len()].0,
            };
            let reply = json!({ "type": "error", "code": code, "message": format!("refused join {n}") });
            if tx.send(warp::ws::Message::text(reply.to_string())).await.is_err() {
                break;
            }
        }
    }
    log.lock().unwrap().push(("closed", name));
}

/// Serves the real page from `assets/` and the refusing `/ws` on a free port.
async fn start_standin() -> (SocketAddr, Log) {
    let log: Log = Arc::default();
    let sockets = log.clone();
    let ws = warp::path!("ws").and(warp::ws()).map(move |upgrade: warp::ws::Ws| {
        let log = sockets.clone();
        upgrade.on_upgrade(move |socket| refuse_joins(socket, log))
    });
    let assets = warp::get().and(warp::fs::dir(concat!(env!("CARGO_MANIFEST_DIR"), "/assets")));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(ws.or(assets)).incoming(listener).run());
    (addr, log)
}

fn count(log: &Log, what: &str, name: &str) -> usize {
    log.lock().unwrap().iter().filter(|(w, n)| *w == what && n == name).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_joins_are_explained_and_retried() -> anyhow::Result<()> {
    let (addr, log) = start_standin().await;
    let origin = format!("http://{addr}");
    let mut pages: Vec<(Browser, Page, String)> = Vec::new();
    for kind in [Kind::Chromium, Kind::Firefox] {
        let mut b = Browser::launch(kind, true, None).await?;
        let name = format!("{kind:?}");
        let page = b.open(&format!("{origin}/?room=refusals&name={name}")).await?;
        b.click(page, "#join-publisher").await?;
        pages.push((b, page, name));
    }
    // The first join and the eight retries are each refused; then the page gives up.
    for (b, page, name) in &mut pages {
        b.wait_for(*page, "window.tessera.state === 'failed'", secs(45)).await?;
        let deadline = std::time::Instant::now() + secs(2); // the last socket's close is on its way
        while count(&log, "closed", name) < count(&log, "join", name) && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let (joins, closed) = (count(&log, "join", name), count(&log, "closed", name));
        let said = visible_text(b, *page, "#problem-text").await?;
        println!("{name}: {joins} joins refused, {closed} sockets closed by the page; now says {said:?}");
        assert_eq!((joins, closed), (9, 9), "{name}: every refused socket was closed and tried again");
        let last = REFUSALS[(9 - 1) % REFUSALS.len()].1;
        assert_eq!(said, Some(format!("{last} Gave up after 8 attempts.")));
        assert_eq!(visible_text(b, *page, "#state").await?.as_deref(), Some("Connection failed"));
        // Each refusal was shown in words while the page tried again.
        let shown: Vec<String> = problem_history(b, *page).await?.into_iter().filter(|p| p.1).map(|p| p.0).collect();
        println!("{name}: the page said {shown:?}");
        for (i, (_, text)) in REFUSALS.iter().enumerate() {
            assert_eq!(shown[i], format!("{text} Reconnecting…"), "{name}");
        }
        let badge = page::state_history(b, *page).await?;
        assert_eq!(badge.first(), Some(&("Connecting…".to_owned(), true)), "{badge:?}");
        assert!(
            badge
                .iter()
                .all(|(text, _)| ["Connecting…", "Reconnecting…", "Connection failed"].contains(&text.as_str()))
        );
    }
    // "Try again" starts over: a tenth join.
    for (b, page, name) in &mut pages {
        b.click(*page, "#retry").await?;
        let deadline = std::time::Instant::now() + secs(10);
        while count(&log, "join", name) < 10 {
            anyhow::ensure!(std::time::Instant::now() < deadline, "{name}: Try again sent no join");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let errors = b.errors(*page).await?;
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
    for (b, _, _) in pages {
        b.quit().await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_can_be_dismissed_and_a_closed_room_ends_the_visit() -> anyhow::Result<()> {
    let (addr, _log) = start_standin().await;
    let mut b = Browser::launch(Kind::Chromium, true, None).await?;
    let page = b.open(&format!("http://{addr}/?room=notices&name=Notice")).await?;
    b.click(page, "#join-publisher").await?;
    let text = "An administrator has locked this room's layout.";
    b.wait_for(page, &format!("document.querySelector('#problem-text').textContent === {text:?}"), secs(10)).await?;
    let buttons = "['#dismiss', '#retry', '#as-viewer'].map((s) => !document.querySelector(s).hidden)";
    assert_eq!(b.eval(page, buttons).await?, json!([true, false, false]), "a notice offers Dismiss only");
    assert_eq!(visible_text(&mut b, page, "#state").await?.as_deref(), Some("Connecting…"), "the call goes on");
    let presses = page::tab_to(&mut b, page, "el.id === 'dismiss'").await?;
    b.press(page, "Enter").await?;
    assert_eq!(visible_text(&mut b, page, "#problem").await?, None, "dismissed");
    assert_eq!(b.eval(page, "document.activeElement.id").await?, "leave", "focus back in the call");
    println!("notice {text:?} dismissed by keyboard ({presses} Tabs, Enter)");

    let page = b.open(&format!("http://{addr}/?room=notices&name=Closed")).await?;
    b.click(page, "#join-publisher").await?;
    let closed = "!document.querySelector('#join-form').hidden && document.querySelector('#problem-text').textContent";
    let said = b.wait_for(page, closed, secs(10)).await?;
    println!("room_closed: back at the form, saying {said}");
    assert_eq!(said, "An administrator closed the room.");
    assert_eq!(b.eval(page, "document.querySelector('#state').hidden").await?, true);
    let errors = b.errors(page).await?;
    assert!(errors.is_empty(), "{errors:?}");
    b.quit().await;
    Ok(())
}
