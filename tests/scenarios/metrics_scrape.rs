//! `GET /metrics` against a live room: `401` without the admin key; with it, the Prometheus
//! text of two publishers and a viewer (rooms, participants by role, joins, the composite's
//! frame rate and encoder time, mixes, an error counted by code after a bad message, leaves by
//! reason); every family exported is documented in `docs/metrics.md` and every metric the
//! Grafana dashboard (`docs/grafana-dashboard.json`) queries is exported.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::common::*;
use tessera_client::{PeerOptions, Signaling, TestPeer};

const KEY: &str = "metrics-admin-key";
const ROOM: &str = "metrics-room";

/// `GET /metrics` with an optional bearer key: the status and the body.
async fn scrape(addr: SocketAddr, key: Option<&str>) -> (u16, String) {
    tessera_client::rest::request_text(addr, "GET", "/metrics", key, "").await.expect("scrape")
}

/// A sample per line: `name{labels} value` → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// Metric families declared with `# TYPE`.
fn families(text: &str) -> Vec<String> {
    text.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next().map(str::to_owned)).collect()
}

/// Scrapes until `ready` holds for the samples (5 s at most).
async fn scrape_until(addr: SocketAddr, what: &str, ready: impl Fn(&BTreeMap<String, f64>) -> bool) -> String {
    let deadline = Instant::now() + secs(8);
    loop {
        let (status, text) = scrape(addr, Some(KEY)).await;
        assert_eq!(status, 200, "{text}");
        if ready(&samples(&text)) {
            return text;
        }
        assert!(Instant::now() < deadline, "{what} never showed in /metrics:\n{text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn get(s: &BTreeMap<String, f64>, series: &str) -> f64 {
    *s.get(series).unwrap_or_else(|| panic!("{series} not exported"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_of_a_live_room() -> anyhow::Result<()> {
    let server = start_server_on("127.0.0.1:0", Some(KEY), test_media_config()).await;
    let (status, body) = scrape(server.addr, None).await;
    assert_eq!(status, 401, "no key: {body}");
    assert_eq!(scrape(server.addr, Some("wrong")).await.0, 401);

    let ann = TestPeer::join(server.addr, PeerOptions::publisher(ROOM, "Ann", RED, 440.0)).await?;
    let bob = TestPeer::join(server.addr, PeerOptions::publisher(ROOM, "Bob", BLUE, 660.0)).await?;
    let viewer = TestPeer::join(server.addr, PeerOptions::viewer(ROOM, "Vic")).await?;
    viewer.wait_for(secs(15), |p| shows_tiles(p, &[RED, BLUE])).await?;
    let mut bad = Signaling::connect(server.addr).await?;
    bad.send_text("{not json").await?;
    bad.recv_timeout(secs(5)).await?;

    let room = format!("{{room=\"{ROOM}\"}}");
    let fps = format!("tessera_room_composite_fps{room}");
    let text = scrape_until(server.addr, "a second of the composite", |s| s.get(&fps).is_some_and(|f| *f > 0.0)).await;
    // Two more seconds: the rate of a whole second after the composite settled.
    tokio::time::sleep(secs(2)).await;
    let (_, text2) = scrape(server.addr, Some(KEY)).await;
    let s = samples(&text2);
    println!(
        "{}",
        text2
            .lines()
            .filter(|l| l.starts_with("tessera_") || l.starts_with("process_"))
            .filter(|l| !l.contains("_bucket") && !l.ends_with(" 0"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(get(&s, "tessera_rooms"), 1.0);
    assert_eq!(get(&s, "tessera_participants{role=\"publisher\"}"), 2.0);
    assert_eq!(get(&s, "tessera_participants{role=\"viewer\"}"), 1.0);
    assert_eq!(get(&s, "tessera_joins_total{role=\"publisher\"}"), 2.0);
    assert_eq!(get(&s, "tessera_joins_total{role=\"viewer\"}"), 1.0);
    let composite = get(&s, &fps);
    assert!((25.0..=35.0).contains(&composite), "composite at {composite} fps (canvas at 30)");
    let encode = get(&s, &format!("tessera_room_encode_seconds_per_frame{room}"));
    assert!(encode > 0.0 && encode < 1.0 / 30.0, "VP8 encode {encode} s per frame");
    assert_eq!(
        get(&s, &format!("tessera_room_mixes_encoded{room}")),
        4.0,
        "composite, full mix (the viewer hears it), and both publishers' own encodes (their tones never stop)"
    );
    assert_eq!(get(&s, "tessera_errors_sent_total{code=\"bad_json\"}"), 1.0);
    assert!(get(&s, "tessera_signaling_messages_total{direction=\"in\"}") >= 4.0);
    assert!(get(&s, "tessera_signaling_messages_total{direction=\"out\"}") >= 6.0);
    assert!(get(&s, "tessera_inbound_fps_count") >= 2.0);
    assert!(get(&s, "tessera_inbound_fps_sum") / get(&s, "tessera_inbound_fps_count") > 10.0);
    assert!(get(&s, "tessera_keyframe_requests_total") >= 1.0, "receivers joining ask for keyframes");
    assert!(get(&s, "tessera_composite_keyframes_total") >= 1.0);
    // Exported; counted by src/media/late_frames.rs (its unit test makes a composite skip).
    assert!(get(&s, "tessera_composite_late_skips_total") >= 0.0);
    assert!(get(&s, "process_cpu_seconds_total") > 0.0);
    assert!(get(&s, "process_resident_memory_bytes") > 10e6);
    assert!(get(&s, "process_threads") > 4.0 && get(&s, "process_open_fds") > 4.0);
    assert_eq!(get(&s, "tessera_recordings{state=\"running\"}"), 0.0);

    // Departures by reason.
    bob.leave().await?;
    let (status, _) =
        http(server.addr, "DELETE", &format!("/api/rooms/{ROOM}/participants/{}", viewer.id()), Some(KEY)).await;
    assert_eq!(status, 204);
    scrape_until(server.addr, "a leave and a kick", |s| {
        s.get("tessera_leaves_total{reason=\"left\"}") == Some(&1.0)
            && s.get("tessera_leaves_total{reason=\"kicked\"}") == Some(&1.0)
            && s.get("tessera_participants{role=\"publisher\"}") == Some(&1.0)
            && s.get("tessera_participants{role=\"viewer\"}") == Some(&0.0)
    })
    .await;
    drop(ann);
    scrape_until(server.addr, "the room's end", |s| {
        s.get("tessera_rooms") == Some(&0.0)
            && !s.contains_key(&fps)
            && s.get("tessera_participants{role=\"publisher\"}") == Some(&0.0)
    })
    .await;

    // The docs cannot rot: every family is documented; every dashboard query is exported.
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/metrics.md"))?;
    for family in families(&text) {
        // OpenMetrics names a counter's family without the `_total` its samples carry.
        let documented = docs.contains(&format!("`{family}`")) || docs.contains(&format!("`{family}_total`"));
        assert!(documented, "docs/metrics.md does not document `{family}`");
    }
    let dashboard = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/grafana-dashboard.json"))?;
    let dashboard: serde_json::Value = serde_json::from_str(&dashboard)?;
    let exported: Vec<String> = samples(&text).keys().map(|k| k.split('{').next().unwrap().to_owned()).collect();
    let mut queried = 0;
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("a PromQL expr");
            for name in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if name.starts_with("tessera_") || name.starts_with("process_") {
                    queried += 1;
                    assert!(exported.iter().any(|e| e == name), "the dashboard queries {name}, not exported");
                }
            }
        }
    }
    assert!(queried >= 10, "the dashboard queries {queried} metrics");
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_metrics_off_leaves_the_counters() -> anyhow::Result<()> {
    let config = test_config_with(|c| c.metrics.media = false);
    let server = start_server_on("127.0.0.1:0", Some(KEY), config).await;
    let ann = TestPeer::join(server.addr, PeerOptions::publisher("quiet-room", "Ann", RED, 440.0)).await?;
    ann.wait_for(secs(15), |p| shows_tiles(p, &[RED])).await?;
    let text = scrape_until(server.addr, "the publisher's frame rate", |s| {
        s.get("tessera_inbound_fps_count").is_some_and(|n| *n >= 2.0)
    })
    .await;
    let s = samples(&text);
    assert_eq!(get(&s, "tessera_participants{role=\"publisher\"}"), 1.0);
    assert_eq!(get(&s, "tessera_inbound_jitter_seconds_count"), 0.0, "no get-stats");
    assert!(!text.contains("tessera_room_composite_fps{"), "no composite probes:\n{text}");
    drop(ann);
    server.stop().await;
    Ok(())
}
