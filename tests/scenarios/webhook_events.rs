//! Webhooks from a real room to real HTTP receivers started here: every event (room, joins, a
//! kick and a leave with their reasons, a recording finished with path, duration and bytes, a
//! recording failed) reaches a receiver that is up, each signed with the secret (checked here
//! with HMAC-SHA256; a wrong secret and a replay past the window are refused); a receiver that
//! is down at first gets them all once it is up, through retries; a receiver down for good
//! counts as `failed` in `/metrics`, and the room never notices any of it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::common::*;
use tessera::webhooks::signature::{self, REPLAY_WINDOW, SignatureError};
use tessera_client::{PeerOptions, TestPeer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "webhook-test-secret";
const ROOM: &str = "hooks";

/// One request a receiver took: its signature header and body.
#[derive(Debug, Clone)]
struct Received {
    signature: String,
    event_id: String,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

type Inbox = Arc<Mutex<Vec<Received>>>;

/// A socket bound to a free port but not listening: connections are refused until [`serve`].
fn bound_socket() -> tokio::net::TcpSocket {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    socket
}

/// Starts answering `200` on `socket`, keeping every request in the returned inbox.
fn serve(socket: tokio::net::TcpSocket) -> Inbox {
    let listener = socket.listen(16).unwrap();
    let inbox = Inbox::default();
    let sink = inbox.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let sink = sink.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // One request per connection (we answer `Connection: close`).
                let (head, body) = loop {
                    let n = stream.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + length {
                        break (head, buf[end + 4..end + 4 + length].to_vec());
                    }
                };
                let header = |name: &str| {
                    head.lines().find_map(|l| l.strip_prefix(&format!("{name}:"))).unwrap_or("").trim().to_owned()
                };
                let received =
                    Received { signature: header("tessera-signature"), event_id: header("tessera-event-id"), body };
                sink.lock().unwrap().push(received);
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
            });
        }
    });
    inbox
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// The events received so far, as `(event, json)`.
fn events(inbox: &Inbox) -> Vec<(String, serde_json::Value)> {
    inbox.lock().unwrap().iter().map(|r| r.json()).map(|j| (j["event"].as_str().unwrap_or("").to_owned(), j)).collect()
}

/// Waits until `inbox` holds an event `name` matching `pred`; returns it.
async fn wait_event(inbox: &Inbox, name: &str, pred: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = Instant::now() + secs(10);
    loop {
        if let Some((_, json)) = events(inbox).into_iter().find(|(e, j)| e == name && pred(j)) {
            return json;
        }
        assert!(Instant::now() < deadline, "no {name} event within 10 s; got {:?}", events(inbox));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn metric(addr: SocketAddr, series: &str) -> f64 {
    let (_, text) = tessera_client::rest::request_text(addr, "GET", "/metrics", None, "").await.expect("scrape");
    text.lines().find_map(|l| l.strip_prefix(series)?.trim().parse().ok()).unwrap_or(f64::NAN)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_receivers_signed_and_retried() -> anyhow::Result<()> {
    let up = bound_socket();
    let late = bound_socket();
    let down = bound_socket();
    let url = |s: &tokio::net::TcpSocket| format!("http://{}/hooks", s.local_addr().unwrap());
    let dir = record_dir("webhooks");
    let config = test_config_with(|c| {
        c.webhooks.urls = vec![url(&up), url(&late), url(&down)];
        c.webhooks.secret = Some(SECRET.into());
        c.webhooks.retry_for = 3;
        c.recording.dir = dir.clone();
        c.recording.min_free_disk_mb = 0;
    });
    let inbox = serve(up);
    let server = start_server_with(config).await;
    let addr = server.addr;

    let ann = TestPeer::join(addr, PeerOptions::publisher(ROOM, "Ann", RED, 440.0)).await?;
    let started = wait_event(&inbox, "room_started", |_| true).await;
    assert_eq!(started["room"], ROOM);
    // The receiver that was down comes up a second later: within the 3 s its first event is
    // retried for, after a few refused attempts.
    tokio::time::sleep(secs(1)).await;
    let late = serve(late);
    let vic = TestPeer::join(addr, PeerOptions::viewer(ROOM, "Vic")).await?;
    vic.wait_for(secs(15), |p| shows_tiles(p, &[RED])).await?;
    let joined = wait_event(&inbox, "participant_joined", |j| j["participant"]["name"] == "Vic").await;
    assert_eq!(joined["participant"]["role"], "viewer");
    assert_eq!(joined["participant"]["id"], vic.id().to_string());

    // A recording that finishes, then one that fails (its directory replaced by a file).
    let (status, rec) = http(addr, "POST", &format!("/api/rooms/{ROOM}/recordings"), None).await;
    assert_eq!(status, 201, "{rec}");
    let id = rec["id"].as_str().unwrap().to_owned();
    wait_event(&inbox, "recording_started", |j| j["recording"]["id"] == id.as_str()).await;
    tokio::time::sleep(secs(2)).await;
    let (status, _) = http(addr, "DELETE", &format!("/api/rooms/{ROOM}/recordings/{id}"), None).await;
    assert_eq!(status, 200);
    let done = wait_event(&inbox, "recording_finished", |j| j["recording"]["id"] == id.as_str()).await;
    let path = done["recording"]["path"].as_str().unwrap();
    let bytes = std::fs::metadata(path)?.len();
    assert_eq!(done["recording"]["bytes"].as_u64(), Some(bytes), "{done}");
    assert!(bytes > 10_000, "{bytes} bytes");
    let duration = done["recording"]["durationSecs"].as_f64().unwrap();
    assert!((1.5..4.0).contains(&duration), "recorded {duration} s of about 2");
    std::fs::rename(&dir, dir.with_extension("moved"))?;
    std::fs::write(&dir, b"not a directory")?;
    let (status, body) = http(addr, "POST", &format!("/api/rooms/{ROOM}/recordings"), None).await;
    assert_eq!(status, 500, "{body}");
    let failed = wait_event(&inbox, "recording_failed", |_| true).await;
    assert!(failed["recording"]["error"].as_str().is_some_and(|e| !e.is_empty()), "{failed}");

    // A kick and a leave.
    let (status, _) = http(addr, "DELETE", &format!("/api/rooms/{ROOM}/participants/{}", vic.id()), None).await;
    assert_eq!(status, 204);
    let kicked = wait_event(&inbox, "participant_left", |j| j["participant"]["name"] == "Vic").await;
    assert_eq!(kicked["reason"], "kicked");
    assert!(ann.received().frames() > 0);
    let frames = ann.received().frames();
    ann.wait_for(secs(5), |p| p.received().frames() > frames + 30).await?;
    ann.leave().await?;
    let left = wait_event(&inbox, "participant_left", |j| j["participant"]["name"] == "Ann").await;
    assert_eq!(left["reason"], "left");
    wait_event(&inbox, "room_finished", |_| true).await;

    // In order, each once, each signed; refused with another secret or past the window.
    let got = events(&inbox);
    let names: Vec<&str> = got.iter().map(|(e, _)| e.as_str()).collect();
    println!("events: {names:?}");
    assert_eq!(
        names,
        [
            "room_started",
            "participant_joined",
            "participant_joined",
            "recording_started",
            "recording_finished",
            "recording_failed",
            "participant_left",
            "participant_left",
            "room_finished"
        ]
    );
    let requests = inbox.lock().unwrap().clone();
    let mut ids = std::collections::BTreeSet::new();
    for r in &requests {
        assert_eq!(signature::verify(SECRET, &r.signature, &r.body, now()), Ok(()), "{}", r.signature);
        assert_eq!(signature::verify("another secret", &r.signature, &r.body, now()), Err(SignatureError::Mismatch));
        let later = now() + REPLAY_WINDOW.as_secs() + 5;
        assert!(matches!(signature::verify(SECRET, &r.signature, &r.body, later), Err(SignatureError::Stale(_))));
        assert_eq!(r.json()["id"], r.event_id.as_str());
        assert!(ids.insert(r.event_id.clone()), "event id {} twice", r.event_id);
    }
    // Our own HMAC-SHA256 of `t.body`, not the server's code, agrees with the header.
    let r = &requests[0];
    let t = r.signature.split(',').find_map(|p| p.strip_prefix("t=")).unwrap();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
    let tag = ring::hmac::sign(&key, &[t.as_bytes(), b".", &r.body].concat());
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert!(r.signature.ends_with(&format!(",v1={hex}")), "{} vs {hex}", r.signature);

    // The late receiver got everything, after retries, in the same order.
    let deadline = Instant::now() + secs(10);
    while events(&late).len() < names.len() {
        assert!(Instant::now() < deadline, "late receiver got {:?}", events(&late));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let late_names: Vec<String> = events(&late).into_iter().map(|(e, _)| e).collect();
    assert_eq!(late_names, names);
    assert!(metric(addr, "tessera_webhook_retries_total").await >= 1.0);

    // The receiver down for good: every event failed after its 3 s of retries, none delivered.
    let deadline = Instant::now() + secs(40);
    while metric(addr, "tessera_webhooks_total{outcome=\"failed\"}").await < names.len() as f64 {
        assert!(Instant::now() < deadline, "failed deliveries never all counted");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(metric(addr, "tessera_webhooks_total{outcome=\"delivered\"}").await, 2.0 * names.len() as f64);
    assert_eq!(metric(addr, "tessera_webhooks_total{outcome=\"dropped\"}").await, 0.0);
    drop(down);
    server.stop().await;
    let _ = std::fs::remove_file(&dir);
    let _ = std::fs::remove_dir_all(dir.with_extension("moved"));
    Ok(())
}
