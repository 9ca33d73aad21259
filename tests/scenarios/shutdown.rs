//! The real binary: `/healthz` and `/` answer, and SIGTERM tells connected clients, tears down
//! every room and exits 0 within 5 s.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::common::*;
use tessera_client::{PeerOptions, TestPeer};
use tessera_protocol::{ErrorCode, ServerMessage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A minimal HTTP/1.1 GET; returns (status, body).
async fn get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).await?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).await?;
    let status = raw.split_whitespace().nth(1).unwrap_or("0").parse()?;
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_tells_clients_and_exits_cleanly() -> anyhow::Result<()> {
    // The harness drains the server's stderr continuously: a test that read it only at the
    // start and the end could fill the pipe and block the server's logging (and its rooms).
    let mut server = ServerProcess::start(&[]).await?;
    let addr = server.addr;
    let (status, body) = get(addr, "/healthz").await?;
    assert_eq!((status, body.contains("ok")), (200, true), "{body}");
    let (status, page) = get(addr, "/").await?;
    assert_eq!(status, 200);
    assert!(page.contains("<html") || page.contains("<!doctype html"), "{page}");
    assert_eq!(get(addr, "/no-such-file").await?.0, 404);

    // Two rooms, and a socket that has not joined yet.
    let mut peer = TestPeer::join(addr, PeerOptions::publisher("bye", "p", RED, 440.0)).await?;
    let mut viewer = TestPeer::join(addr, PeerOptions::viewer("bye", "v")).await?;
    let mut other = TestPeer::join(addr, PeerOptions::publisher("bye-too", "q", BLUE, 1000.0)).await?;
    let mut idle = tessera_client::Signaling::connect(addr).await?;
    viewer.wait_for(secs(15), |p| p.received().frames() > 10).await?;
    other.wait_for(secs(15), |p| p.received().frames() > 10).await?;

    let sent = Instant::now();
    let pid = server.pid().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status()?.success());
    for p in [&mut peer, &mut viewer, &mut other] {
        let bye = p.wait_message(secs(5), |m| matches!(m, ServerMessage::Error { .. })).await?;
        assert!(matches!(bye, ServerMessage::Error { code: ErrorCode::ServerShutdown, .. }), "{bye:?}");
    }
    let bye = idle.recv_timeout(secs(5)).await?;
    assert!(matches!(bye, Some(ServerMessage::Error { code: ErrorCode::ServerShutdown, .. })), "{bye:?}");
    let status = tokio::time::timeout(Duration::from_secs(5), server.child.wait()).await??;
    let took = sent.elapsed();
    println!("exit {status} {took:?} after SIGTERM");
    assert!(status.success(), "exit status {status}");
    assert!(took < Duration::from_secs(5));
    // The drain task reads the last lines once the process is gone: wait for them.
    let closed = |room: &str| {
        let field = format!("room={room}");
        server.log.lock().unwrap().iter().any(|l| l.contains("room closed") && l.split_whitespace().any(|w| w == field))
    };
    let deadline = Instant::now() + secs(2);
    while !(closed("bye") && closed("bye-too")) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rest = server.log.lock().unwrap().clone();
    assert!(rest.iter().any(|l| l.contains("shutting down")), "{rest:?}");
    assert!(closed("bye") && closed("bye-too"), "both rooms torn down: {rest:?}");
    Ok(())
}
