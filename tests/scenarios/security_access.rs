//! Who may change things (issue 15): no implicit administrator on loopback, `--dev` only on
//! loopback and only for loopback host names, forwarded headers grant nothing, bodies must be
//! JSON, browser pages of other origins are refused on `/ws` and on the REST API.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::*;
use tessera_client::{PeerOptions, TestPeer};

/// A raw HTTP/1.1 request with `headers`; returns the status and the raw response.
pub async fn raw_http(addr: SocketAddr, request_line: &str, headers: &[&str], body: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{request_line}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if !headers.iter().any(|h| h.to_ascii_lowercase().starts_with("host:")) {
        req += &format!("Host: {addr}\r\n");
    }
    for h in headers {
        req += &format!("{h}\r\n");
    }
    req += &format!("\r\n{body}");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw).await;
    (raw.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0), raw)
}

/// A WebSocket upgrade request with `headers`; returns the status.
pub async fn upgrade(addr: SocketAddr, headers: &[&str]) -> u16 {
    let mut all = vec![
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    ];
    all.extend_from_slice(headers);
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = "GET /ws HTTP/1.1\r\n".to_owned();
    if !headers.iter().any(|h| h.to_ascii_lowercase().starts_with("host:")) {
        req += &format!("Host: {addr}\r\n");
    }
    for h in all {
        req += &format!("{h}\r\n");
    }
    req += "\r\n";
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(secs(5), s.read(&mut buf)).await.unwrap().unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).to_string();
    head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_implicit_admin_and_dev_mode_only_on_loopback() -> anyhow::Result<()> {
    // Loopback without a key and without --dev: nobody is an administrator (the usual setup
    // behind a TLS proxy, where every internet client arrives from 127.0.0.1).
    let locked = start_server_with(test_config_with(|c| c.server.dev = false)).await;
    let _p = TestPeer::join(locked.addr, PeerOptions::viewer("open", "v")).await?;
    let (status, body) = http(locked.addr, "DELETE", "/api/rooms/open", None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthorized")), "{body}");
    for forwarded in ["X-Forwarded-For: 127.0.0.1", "Forwarded: for=127.0.0.1", "X-Real-IP: 127.0.0.1"] {
        let (status, _) = raw_http(locked.addr, "DELETE /api/rooms/open HTTP/1.1", &[forwarded], "").await;
        assert_eq!(status, 401, "{forwarded} grants nothing");
    }
    locked.stop().await;

    // --dev: every caller naming a loopback host is an administrator...
    let dev = start_server().await;
    let _p = TestPeer::join(dev.addr, PeerOptions::viewer("open", "v")).await?;
    let rebound = format!("Host: rebound.example:{}", dev.addr.port());
    let (status, _) = raw_http(dev.addr, "DELETE /api/rooms/open HTTP/1.1", &[&rebound], "").await;
    assert_eq!(status, 401, "...but not through a name rebound to 127.0.0.1");
    assert_eq!(http(dev.addr, "DELETE", "/api/rooms/open", None).await.0, 204);
    dev.stop().await;

    // ...and it refuses to run anywhere but on loopback.
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await?;
    let mut config = test_media_config();
    config.server.dev = true;
    let refused = tessera::run(listener, config, std::future::pending()).await;
    let why = refused.expect_err("--dev on 0.0.0.0 must not start").to_string();
    assert!(why.contains("loopback"), "{why}");
    println!("--dev on 0.0.0.0: {why}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_must_be_json_and_pages_of_other_origins_are_refused() -> anyhow::Result<()> {
    let server = start_server().await;
    let addr = server.addr;
    let _p = TestPeer::join(addr, PeerOptions::publisher("csrf", "p", RED, 440.0)).await?;
    // A form or text/plain POST (what any page can send to another site without a preflight).
    let layout = r#"{"mode":"speaker"}"#;
    for kind in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
        let header = format!("Content-Type: {kind}");
        let (status, raw) = raw_http(addr, "PUT /api/rooms/csrf/layout HTTP/1.1", &[&header], layout).await;
        assert_eq!(status, 415, "{kind}: {raw}");
        let (status, _) = raw_http(addr, "POST /api/rooms/csrf/recordings HTTP/1.1", &[&header], "{}").await;
        assert_eq!(status, 415, "{kind}");
    }
    let (status, raw) =
        raw_http(addr, "PUT /api/rooms/csrf/layout HTTP/1.1", &["Content-Type: application/json"], layout).await;
    assert_eq!(status, 200, "{raw}");

    // Another site's page: refused on the REST API and on /ws; the server's own page is not.
    let evil = "Origin: https://evil.example";
    let (status, raw) = raw_http(addr, "DELETE /api/rooms/csrf HTTP/1.1", &[evil], "").await;
    assert_eq!(status, 403, "{raw}");
    assert!(raw.contains("forbidden_origin"), "{raw}");
    assert_eq!(upgrade(addr, &[evil]).await, 403);
    assert_eq!(upgrade(addr, &["Origin: null"]).await, 403);
    let own = format!("Origin: http://{addr}");
    assert_eq!(upgrade(addr, &[&own]).await, 101);
    assert_eq!(upgrade(addr, &[]).await, 101, "no Origin: not a browser");
    server.stop().await;

    // A listed origin is let in; the server's own host then is not, unless listed too.
    let config = test_config_with(|c| c.server.allowed_origins = vec!["https://meet.example.com".into()]);
    let server = start_server_with(config).await;
    assert_eq!(upgrade(server.addr, &["Origin: https://meet.example.com"]).await, 101);
    assert_eq!(upgrade(server.addr, &[&format!("Origin: http://{}", server.addr)]).await, 403);
    server.stop().await;
    Ok(())
}
