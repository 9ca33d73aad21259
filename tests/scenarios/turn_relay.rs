//! TURN, proven with a real coturn: the server shares a secret with a coturn started on loopback
//! (`use-auth-secret`) and hands each joiner credentials minted from it in `joined`. A Chromium
//! page with `?relay=1` (iceTransportPolicy "relay") joins as a publisher beside a Rust peer
//! publishing red: its selected candidate pair is a relay one through that coturn, the Rust peer
//! sees the page's camera in its tile and hears it, and the page plays the composite with red in
//! the Rust peer's tile. coturn's own log shows the page's allocation under its minted username,
//! and, once the page leaves, the bytes it relayed both ways, so the media cannot have gone
//! direct. Then the control: a server whose secret is not coturn's hands out credentials coturn
//! refuses (401), and a relay-only page there gathers no candidate at all.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::common::browser::page;
use crate::common::browser::{Browser, Kind, Page, write_tone_wav};
use crate::common::turn::Coturn;
use crate::common::*;
use tessera_client::{PeerOptions, TestPeer, close_to};

/// Chromium's fake microphone plays this tone (from a WAV), the Rust peer another.
const PAGE_HZ: f64 = 700.0;
const RUST_HZ: f64 = 300.0;

/// A server whose clients get `coturn` as their TURN server, credentials signed with `secret`.
async fn server_for(coturn: &Coturn, secret: &str) -> TestServer {
    start_server_with(test_config_with(|c| {
        c.ice.turn_urls = vec![coturn.url()];
        c.ice.turn_secret = Some(secret.to_owned());
    }))
    .await
}

/// Opens the page with `?relay=1`, joins `room` as a publisher named `name`.
async fn open_relay_only(b: &mut Browser, server: &TestServer, room: &str, name: &str) -> anyhow::Result<Page> {
    let page = b.open(&format!("http://{}/?room={room}&relay=1", server.addr)).await?;
    b.type_into(page, "#name", name).await?;
    b.click(page, "#join-publisher").await?;
    Ok(page)
}

/// The TURN server the page was handed and built its peer connection with: one entry whose
/// username is `<now + 1 h>:<participant id>`.
async fn handed_turn(b: &mut Browser, page: Page, coturn: &Coturn) -> anyhow::Result<String> {
    let js = "window.tessera.pc && window.tessera.participantId && \
              [window.tessera.participantId, window.tessera.pc.getConfiguration()]";
    let v = b.wait_for(page, js, secs(20)).await?;
    let (id, config) = (v[0].as_str().unwrap_or_default(), &v[1]);
    assert_eq!(config["iceTransportPolicy"], "relay", "{config}");
    let servers = config["iceServers"].as_array().cloned().unwrap_or_default();
    assert_eq!(servers.len(), 1, "{config}");
    assert_eq!(servers[0]["urls"], serde_json::json!([coturn.url()]), "{config}");
    let username = servers[0]["username"].as_str().unwrap_or_default().to_owned();
    let (expiry, who) = username.split_once(':').unwrap_or_default();
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let expiry: u64 = expiry.parse().unwrap_or(0);
    assert_eq!(who, id, "the username names the participant: {username}");
    assert!(expiry.abs_diff(now + 3600) < 120, "expires in an hour: {username} at {now}");
    Ok(username)
}

/// The page's selected candidate pair, once it has carried media both ways.
async fn relayed_route(b: &mut Browser, page: Page) -> anyhow::Result<Value> {
    let js = "window.tessera.route().then((r) => r && r.state === 'succeeded' \
              && r.bytesSent > 100000 && r.bytesReceived > 100000 && r)";
    b.wait_for(page, js, secs(20)).await
}

/// coturn's log lines about `username`.
fn lines_about(coturn: &Coturn, username: &str) -> Vec<String> {
    let tag = format!("<{username}>");
    coturn.log().lines().filter(|l| l.contains(&tag)).map(str::to_owned).collect()
}

/// Bytes coturn relayed for `username`, per session (Chromium allocates once per local
/// interface): (received from the client, sent to it), summing the session's `usage:` reports
/// (coturn reports deltas, the last when the session closes). `None` until every session of
/// `username` is deleted.
fn relayed_bytes(coturn: &Coturn, username: &str) -> Option<Vec<(u64, u64)>> {
    let lines = lines_about(coturn, username);
    let session = |l: &str| l.split("session ").nth(1).and_then(|r| r.split(':').next()).map(str::to_owned);
    let opened: BTreeSet<String> = lines.iter().filter(|l| l.contains(": new,")).filter_map(|l| session(l)).collect();
    let deleted: BTreeSet<String> =
        lines.iter().filter(|l| l.contains(": delete:")).filter_map(|l| session(l)).collect();
    if opened.is_empty() || opened != deleted {
        return None;
    }
    let field = |l: &str, name: &str| -> u64 {
        l.split([' ', ',']).find_map(|w| w.strip_prefix(name)).and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    let mut bytes: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    // The client side's reports; "peer usage:" lines count the other side of the relay.
    for l in lines.iter().filter(|l| l.contains(": usage:")) {
        let entry = bytes.entry(session(l)?).or_default();
        entry.0 += field(l, "rb=");
        entry.1 += field(l, "sb=");
    }
    Some(bytes.into_values().collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_only_browser_publishes_and_receives_through_coturn() -> anyhow::Result<()> {
    let coturn = Coturn::start().await?;
    let result = scenario(&coturn).await;
    if result.is_err() {
        println!("coturn's log:\n{}", coturn.log()); // (a panic prints it when coturn drops)
    }
    result
}

async fn scenario(coturn: &Coturn) -> anyhow::Result<()> {
    let server = server_for(coturn, &coturn.secret).await;
    let rust = TestPeer::join(server.addr, PeerOptions::publisher("relay", "rust", RED, RUST_HZ)).await?;
    let wav = std::env::temp_dir().join(format!("tessera-turn-{}.wav", std::process::id()));
    write_tone_wav(&wav, PAGE_HZ, 120)?;
    let mut b = Browser::launch(Kind::Chromium, true, Some(&wav)).await?;
    let started = std::time::Instant::now();
    let page = open_relay_only(&mut b, &server, "relay", "Relayed").await?;
    let username = handed_turn(&mut b, page, coturn).await?;
    b.wait_for(page, "window.tessera.state === 'connected'", secs(30)).await?;
    println!("relay-only page connected in {:?} as {username}", started.elapsed());

    // (a) The selected pair runs through our coturn: a relay candidate on the page's side.
    let route = relayed_route(&mut b, page).await?;
    println!("page's route: {route}");
    assert_eq!(route["local"]["candidateType"], "relay", "{route}");
    assert_eq!(route["local"]["relayProtocol"], "udp", "{route}");
    assert_eq!(route["local"]["address"], "127.0.0.1", "coturn's relay address: {route}");
    assert_eq!(route["local"]["url"].as_str(), Some(&*coturn.url()), "allocated on our coturn: {route}");
    let allocated = lines_about(coturn, &username);
    assert!(
        allocated.iter().any(|l| l.contains("ALLOCATE processed, success")),
        "coturn allocated for {username}: {allocated:#?}"
    );

    // (b) The Rust peer sees the page's camera in its tile (not its placeholder) and hears it.
    let page_id: String = username.split_once(':').map(|(_, id)| id.to_owned()).unwrap_or_default();
    let placeholder = tessera::draw::tile_colour(page_id.parse()?);
    rust.wait_for(secs(15), |p| {
        p.received().latest_frame().is_some_and(|f| {
            close_to(colour_in(&f, tile(0, 2)), RED, TOLERANCE)
                && !close_to(colour_in(&f, tile(1, 2)), [0, 0, 0], 10)
                && !close_to(colour_in(&f, tile(1, 2)), placeholder, 16)
        })
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}; rust sees {}", describe(&rust, 2)))?;
    crate::browser_room::not_placeholder(&rust, 1, placeholder)?;
    wait_tone(&rust, PAGE_HZ, -40.0, 500).await?;
    println!("rust peer sees {}; hears the page at {:.1} dBFS", describe(&rust, 2), rust.tone_dbfs(PAGE_HZ, 500));

    // (c) The page decodes the composite: red in the Rust peer's tile in every sampled frame.
    let s = page::sample_frames(&mut b, page, 60, &[tile(0, 2).centre()]).await?;
    let red = s.frames.iter().filter(|f| close_to(f.probes[0], RED, TOLERANCE)).count();
    let level = b.wait_for(page, "window.tessera.receivedLevelDb().then((db) => db > -40 && db)", secs(10)).await?;
    println!(
        "page: {} presented frames in {:.0} ms, {red} with red in the Rust tile; hears {level:.1} dBFS",
        s.frames.len(),
        s.ms
    );
    assert!(s.rvfc && !s.paused && s.frames.len() >= 60, "{s:?}");
    assert_eq!(red, s.frames.len(), "every frame shows the Rust peer's red");

    // coturn relayed the media: when the page leaves, it reports the bytes of its sessions.
    b.click(page, "#leave").await?;
    let deadline = std::time::Instant::now() + secs(15);
    let bytes = loop {
        if let Some(bytes) = relayed_bytes(coturn, &username) {
            break bytes;
        }
        anyhow::ensure!(std::time::Instant::now() < deadline, "coturn never closed {username}'s session");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let busiest = bytes.iter().copied().max_by_key(|(from, to)| from + to).unwrap_or_default();
    println!(
        "coturn relayed for {username}, per session: {:?} kB (from the page, to it)",
        bytes.iter().map(|(from, to)| (from / 1000, to / 1000)).collect::<Vec<_>>()
    );
    assert!(busiest.0 > 100_000 && busiest.1 > 100_000, "one session carried the media both ways: {bytes:?}");
    page::assert_clean(&mut b, page, &format!("http://{}", server.addr)).await?;
    server.stop().await;

    // The control: credentials signed with another secret are refused, and nothing relays.
    let wrong = server_for(coturn, "not-the-secret-coturn-has-0123456789").await;
    let page = open_relay_only(&mut b, &wrong, "control", "Refused").await?;
    let username = handed_turn(&mut b, page, coturn).await?;
    let gathered = "window.tessera.pc?.iceGatheringState === 'complete' && window.tessera.pc.getStats()\
                    .then((r) => ({ candidates: [...r.values()].filter((s) => s.type === 'local-candidate').length }))";
    let gathered = b.wait_for(page, gathered, secs(20)).await?;
    let refused = lines_about(coturn, &username);
    println!("with the wrong secret: {gathered}; coturn: {refused:#?}");
    assert_eq!(gathered["candidates"], 0, "no relay candidate without a valid credential");
    assert!(refused.iter().any(|l| l.contains("401")), "coturn refused {username}");
    assert_eq!(b.eval(page, "window.tessera.state").await?, "connecting", "no way to connect");
    b.quit().await;
    wrong.stop().await;
    Ok(())
}
