//! A Rust bot that joins a room over WebRTC with `tessera-client`: it publishes a colour and a
//! tone, decodes the composite and the room's mix-minus, reports what it sees and hears, and
//! answers "ping" in the chat with "pong". For a bot that wants no WebRTC at all, see
//! `tessera_client::agent` and docs/agents.md.
//!
//! ```text
//! cargo run -p tessera-client --example bot -- 127.0.0.1:8080 lobby
//! ```

use std::time::Duration;

use tessera_client::{PeerOptions, TestPeer};
use tessera_protocol::{ClientMessage, Said, ServerMessage};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    gst::init()?;
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".into()).parse()?;
    let room = args.next().unwrap_or_else(|| "lobby".into());
    let mut bot = TestPeer::join(addr, PeerOptions::publisher(&room, "RustBot", [255, 165, 0], 550.0)).await?;
    println!("joined {room} as {}", bot.id());
    let mut report = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = report.tick() => {
                let seen = bot.received().latest_frame().map(|f| (f.width(), f.height(), f.rgb_at(f.width() / 2, f.height() / 2, 8)));
                let level = tessera_client::tone_dbfs(&bot.received().last_audio(1000), 48_000.0, 440.0);
                println!("composite {seen:?}; 440 Hz in the room at {level:.1} dBFS");
            }
            msg = bot.next_message(Duration::from_secs(3600)) => match msg {
                Some(ServerMessage::Chat(Said { from, text, .. })) if from != bot.id() && text.trim().eq_ignore_ascii_case("ping") => {
                    bot.send(ClientMessage::Chat(tessera_protocol::ChatLine { text: "pong".into() }))?;
                }
                Some(ServerMessage::Error { code, message }) => println!("server: {code:?}: {message}"),
                Some(_) => {}
                None => break,
            },
        }
    }
    Ok(())
}
