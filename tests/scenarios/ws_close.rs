//! The server ends a WebSocket with the closing handshake (RFC 6455 section 7.1.1): after its
//! close frame it reads what the client still sends, up to the client's close, and only then
//! lets the TCP connection go. A socket dropped with frames unread answers with a TCP reset,
//! which reaches the client as a broken connection (Firefox logged "The connection to ws://…
//! was interrupted" when its room let go of it while the page's own close was on its way).
//!
//! A raw socket, so that nothing between the test and the bytes hides a reset.

use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::*;

/// A client's frame: FIN, `opcode`, masked (with a fixed key) as clients must.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut f = vec![0x80 | opcode];
    match payload.len() {
        n @ 0..=125 => f.push(0x80 | n as u8),
        n @ 126..=65535 => {
            f.push(0x80 | 126);
            f.extend((n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend((n as u64).to_be_bytes());
        }
    }
    f.extend(key);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    f
}

/// The opcodes of the server's complete frames at the start of `bytes` (server frames are not
/// masked).
fn server_opcodes(mut bytes: &[u8]) -> Vec<u8> {
    let mut opcodes = Vec::new();
    while bytes.len() >= 2 {
        let (len, header) = match bytes[1] & 0x7f {
            126 if bytes.len() >= 4 => (u16::from_be_bytes([bytes[2], bytes[3]]) as usize, 4),
            127 if bytes.len() >= 10 => (u64::from_be_bytes(bytes[2..10].try_into().unwrap()) as usize, 10),
            126 | 127 => break,
            n => (n as usize, 2),
        };
        if bytes.len() < header + len {
            break;
        }
        opcodes.push(bytes[0] & 0x0f);
        bytes = &bytes[header + len..];
    }
    opcodes
}

/// Connects and upgrades to a WebSocket on `/ws`.
async fn upgrade(addr: std::net::SocketAddr) -> anyhow::Result<TcpStream> {
    let mut tcp = TcpStream::connect(addr).await?;
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await?;
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(tcp.read_u8().await?);
    }
    let head = String::from_utf8_lossy(&head);
    anyhow::ensure!(head.starts_with("HTTP/1.1 101"), "{head}");
    Ok(tcp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_the_server_closes_ends_cleanly_with_frames_still_arriving() -> anyhow::Result<()> {
    let server = start_server().await;
    // Far more bad frames than the strikes that close an unjoined socket (50), then 480 KiB
    // more: more than the server reads ahead, so some is still unread when the server closes.
    let mut burst: Vec<u8> = (0..1000).flat_map(|_| client_frame(0x1, b"{")).collect();
    let filler = vec![b' '; 60 * 1024];
    (0..8).for_each(|_| burst.extend(client_frame(0x1, &filler)));
    let (mut rx, mut tx) = upgrade(server.addr).await?.into_split();
    let (close, close_now) = tokio::sync::oneshot::channel::<()>();
    let writer = tokio::spawn(async move {
        tx.write_all(&burst).await?;
        if close_now.await.is_ok() {
            tx.write_all(&client_frame(0x8, &1000u16.to_be_bytes())).await?;
        }
        std::io::Result::Ok(())
    });
    let started = Instant::now();
    let (mut got, mut close) = (Vec::new(), Some(close));
    let end = loop {
        match tokio::time::timeout(secs(5), rx.read_buf(&mut got)).await {
            Ok(Ok(0)) => break Ok(()),
            Ok(Ok(_)) => {
                if close.is_some() && server_opcodes(&got).contains(&0x8) {
                    println!("the server's close frame after {:?}; the client answers with its own", started.elapsed());
                    let _ = close.take().map(|c| c.send(()));
                }
            }
            Ok(Err(e)) => break Err(e.kind()),
            Err(_) => break Err(std::io::ErrorKind::TimedOut),
        }
    };
    let took = started.elapsed();
    drop(close); // the writer waits for it only while the connection is open
    let written = tokio::time::timeout(secs(5), writer).await?;
    let opcodes = server_opcodes(&got);
    let texts = opcodes.iter().filter(|&&o| o == 0x1).count();
    println!(
        "{} bytes in {} frames ({texts} text), the last {:?}; the connection ended after {took:?}: {end:?}",
        got.len(),
        opcodes.len(),
        opcodes.last()
    );
    assert!(texts >= 1, "the strikes' errors arrive");
    assert_eq!(opcodes.last(), Some(&0x8), "a close frame ends the server's frames");
    assert_eq!(end, Ok(()), "the connection ends with a FIN, not a reset");
    assert!(matches!(written, Ok(Ok(()))), "every frame the client sent was taken: {written:?}");
    Ok(())
}
