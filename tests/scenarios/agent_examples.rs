//! The Python agent examples against a real server: the greeter (examples/agents/greeter.py)
//! speaks a greeting with espeak-ng when a publisher joins (speech energy in the publisher's
//! mix-minus, a caption) and answers "what time is it" in the chat with the time; the note-taker
//! (examples/agents/notetaker.py) writes who spoke when and posts a summary line in the chat
//! when the last publisher has left.

use std::path::Path;
use std::process::Stdio;

use crate::common::*;
use tessera_client::{PeerOptions, TestPeer};
use tessera_protocol::{Caption, ClientMessage, Said, ServerMessage};
use tokio::process::{Child, Command};

/// Starts `examples/agents/{script}` with `args`, from the project's `.venv/`.
fn example(script: &str, args: &[&str]) -> anyhow::Result<Child> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv/bin/python");
    anyhow::ensure!(python.exists(), "{} is missing: run scripts/install-deps.sh", python.display());
    let mut command = Command::new(python);
    tessera_bench::loadgen::child::die_with_parent(command.as_std_mut());
    Ok(command
        .arg(root.join("examples/agents").join(script))
        .args(args)
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()?)
}

/// The RMS level (dBFS) of the last `ms` a peer received.
fn level(p: &TestPeer, ms: u32) -> f64 {
    let s = p.received().last_audio(ms);
    let ms_sum: f64 = s.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / s.len().max(1) as f64;
    10.0 * (ms_sum / (32768.0 * 32768.0) + 1e-12).log10()
}

async fn agents_in(addr: std::net::SocketAddr, room: &str) -> usize {
    let (_, r) = http(addr, "GET", &format!("/api/rooms/{room}"), None).await;
    r["participants"].as_array().map_or(0, |p| p.iter().filter(|p| p["role"] == "agent").count())
}

async fn wait_agent(addr: std::net::SocketAddr, room: &str) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + secs(15);
    while agents_in(addr, room).await == 0 {
        anyhow::ensure!(std::time::Instant::now() < deadline, "the example agent never joined {room}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_greeter_speaks_to_newcomers_and_tells_the_time() -> anyhow::Result<()> {
    let server = start_server().await;
    // The room exists once someone is in it: a viewer holds it open for the greeter.
    let _viewer = TestPeer::join(server.addr, PeerOptions::viewer("greet", "host")).await?;
    let _greeter = example("greeter.py", &["--server", &server.addr.to_string(), "--room", "greet"])?;
    wait_agent(server.addr, "greet").await?;
    let mut ada = TestPeer::join(server.addr, PeerOptions::publisher("greet", "Ada", RED, 440.0)).await?;
    // Ada's mix-minus holds only the greeter: speech, then silence.
    let caption = ada.wait_message(secs(10), |m| matches!(m, ServerMessage::Caption(_))).await?;
    println!("caption: {caption:?}");
    assert!(matches!(&caption, ServerMessage::Caption(Caption { text, is_final: true, .. }) if text.contains("Ada")));
    let waited = ada.wait_for(secs(10), |p| level(p, 300) > -40.0).await?;
    tokio::time::sleep(secs(1)).await;
    let speech = level(&ada, 1000);
    println!("Ada hears the greeting after {waited:?}: {speech:.1} dBFS over a second");
    assert!(speech > -45.0, "speech energy in Ada's mix-minus: {speech:.1} dBFS");

    ada.send(ClientMessage::Chat(tessera_protocol::ChatLine { text: "Greeter, what time is it?".into() }))?;
    let answer =
        ada.wait_message(secs(5), |m| matches!(m, ServerMessage::Chat(Said { name, .. }) if name == "Greeter")).await?;
    let ServerMessage::Chat(Said { text, .. }) = answer else { unreachable!() };
    let now = chrono_free_hhmm();
    println!("the greeter says {text:?} (now {now})");
    assert!(text.starts_with("Ada, it is ") && text.len() == "Ada, it is 12:34.".len(), "{text}");
    server.stop().await;
    Ok(())
}

/// The local time as HH:MM, from `date` (the test has no time-zone library).
fn chrono_free_hhmm() -> String {
    let out = std::process::Command::new("date").arg("+%H:%M").output().expect("date");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_note_taker_writes_who_spoke_and_sums_up() -> anyhow::Result<()> {
    let server = start_server().await;
    let notes = std::env::temp_dir().join(format!("tessera-notes-{}.txt", std::process::id()));
    let _ = std::fs::remove_file(&notes);
    let mut viewer = TestPeer::join(server.addr, PeerOptions::viewer("notes", "reader")).await?;
    let args = ["--server", &server.addr.to_string(), "--room", "notes", "--out", notes.to_str().unwrap()];
    let _taker = example("notetaker.py", &args)?;
    wait_agent(server.addr, "notes").await?;
    let red = TestPeer::join(server.addr, PeerOptions::publisher("notes", "red", RED, 440.0)).await?;
    wait_tone(&viewer, 440.0, -20.0, 500).await?;
    tokio::time::sleep(secs(2)).await;
    let blue = TestPeer::join(server.addr, PeerOptions::publisher("notes", "blue", BLUE, 1000.0)).await?;
    red.leave().await?;
    wait_tone(&viewer, 1000.0, -20.0, 500).await?;
    tokio::time::sleep(secs(2)).await;
    blue.leave().await?;
    let summary = viewer
        .wait_message(secs(10), |m| matches!(m, ServerMessage::Chat(Said { text, .. }) if text.starts_with("Notes:")))
        .await?;
    let ServerMessage::Chat(Said { text, .. }) = summary else { unreachable!() };
    let written = std::fs::read_to_string(&notes)?;
    println!("summary: {text}\nnotes:\n{written}");
    assert!(text.contains("red spoke") && text.contains("blue spoke"), "{text}");
    let red_at = written.find("red speaks").expect("red's turn noted");
    let blue_at = written.find("blue speaks").expect("blue's turn noted");
    assert!(red_at < blue_at, "red spoke first");
    assert!(written.contains(&text), "the summary is in the notes");
    let _ = std::fs::remove_file(&notes);
    server.stop().await;
    Ok(())
}
