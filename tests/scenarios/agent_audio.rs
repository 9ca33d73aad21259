//! An agent on `/agent` is a participant with raw PCM both ways: its 700 Hz tone is heard by two
//! publishers at the level it was sent (within 3 dB) and is absent from its own return (≥ 30 dB
//! down); it hears both publishers' tones; it is listed with role `agent`. Alone in a room it
//! still gets a frame every 20 ms, silent, with no gap over 60 ms.

use std::time::{Duration, Instant};

use crate::common::*;
use tessera_client::agent::{AgentClient, sine};
use tessera_client::{PeerOptions, TestPeer};

/// The agent's tone: 700 Hz at a quarter of full scale, −12.0 dBFS.
const AGENT_HZ: f64 = 700.0;
const AGENT_AMPLITUDE: f64 = 0.25;

/// The median of five readings of `read`, a quarter second apart: a steady level, not one
/// window a momentary glitch moved.
async fn median_of_five(read: impl Fn() -> f64) -> f64 {
    let mut r = Vec::new();
    for _ in 0..5 {
        r.push(read());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    r.sort_by(f64::total_cmp);
    r[2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_is_heard_at_its_level_and_hears_everyone_but_itself() -> anyhow::Result<()> {
    let server = start_server().await;
    let red = TestPeer::join(server.addr, PeerOptions::publisher("agents", "red", RED, 440.0)).await?;
    let blue = TestPeer::join(server.addr, PeerOptions::publisher("agents", "blue", BLUE, 1000.0)).await?;
    let agent = AgentClient::connect(server.addr, "room=agents&name=Bot&rate=16000").await?;
    let joined = agent.wait_message(secs(10), |m| m["type"] == "joined").await?;
    let me = joined["participantId"].as_str().unwrap().to_owned();
    // 9 s of tone, sent at once: the server paces it (its buffer holds 10 s).
    agent.play(sine(16_000, AGENT_HZ, AGENT_AMPLITUDE, 9.0));
    let expected = 20.0 * AGENT_AMPLITUDE.log10();
    for (name, p) in [("red", &red), ("blue", &blue)] {
        wait_tone(p, AGENT_HZ, expected - 6.0, 500).await.map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    }
    tokio::time::sleep(secs(1)).await;
    for (name, p) in [("red", &red), ("blue", &blue)] {
        let level = median_of_five(|| p.tone_dbfs(AGENT_HZ, 500)).await;
        println!("{name} hears the agent's {AGENT_HZ} Hz at {level:.1} dBFS (sent at {expected:.1})");
        assert!(
            (level - expected).abs() <= 3.0,
            "{name}: the agent is heard at {level:.1} dBFS, sent at {expected:.1}"
        );
    }
    // Its return: both publishers (0.3 of full scale, −10.5 dBFS), not itself.
    let heard =
        [median_of_five(|| agent.tone_dbfs(440.0, 500)).await, median_of_five(|| agent.tone_dbfs(1000.0, 500)).await];
    let itself = agent.tone_dbfs(AGENT_HZ, 1500);
    println!("the agent hears 440/1000 Hz at {heard:.1?} dBFS, itself at {itself:.1} dBFS");
    for level in heard {
        assert!((level - 20.0 * 0.3f64.log10()).abs() <= 3.0, "a publisher's tone at {level:.1} dBFS");
        assert!(level - itself >= 30.0, "its own tone must be 30 dB below the others");
    }
    // Listed as an agent, to the publishers and in the REST API; it gets the participants list.
    let (_, room) = http(server.addr, "GET", "/api/rooms/agents", None).await;
    let roles: Vec<&str> =
        room["participants"].as_array().unwrap().iter().map(|p| p["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["publisher", "publisher", "agent"], "{room}");
    let list = agent.wait_message(secs(5), |m| m["type"] == "participants").await?;
    let mine = list["participants"].as_array().unwrap().iter().find(|p| p["id"] == me.as_str()).cloned().unwrap();
    assert_eq!(mine["role"], "agent");
    assert!(mine["tile"]["w"].as_u64().unwrap_or(0) > 0, "the agent has a tile: {mine}");
    drop(agent);
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_alone_gets_silence_every_20_ms_without_gaps() -> anyhow::Result<()> {
    let server = start_server().await;
    let agent = AgentClient::connect(server.addr, "room=quiet&name=Listener&rate=24000").await?;
    agent.wait_message(secs(10), |m| m["type"] == "joined").await?;
    agent.wait_for(secs(5), |a| a.received(|r| r.frame_arrivals.len()) > 25).await?;
    // Issue 18 asks for no gap over 60 ms across 30 s.
    let span = secs(30);
    let (from, to) = (Instant::now(), Instant::now() + span);
    tokio::time::sleep(span + Duration::from_millis(100)).await;
    let arrivals: Vec<Instant> =
        agent.received(|r| r.frame_arrivals.iter().copied().filter(|t| *t >= from && *t < to).collect());
    let max_gap = arrivals.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(span);
    println!("{} frames in {span:?}, longest gap {max_gap:?}", arrivals.len());
    assert!(max_gap <= Duration::from_millis(60), "a gap of {max_gap:?}");
    assert!((1490..=1510).contains(&arrivals.len()), "{} frames in 30 s, not 1500", arrivals.len());
    let sizes_ok = agent.received(|r| r.frames.iter().all(|(_, f)| f.len() == 480));
    assert!(sizes_ok, "every frame is 20 ms at 24 kHz");
    let loudest = agent.last_audio(5000).iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    assert_eq!(loudest, 0, "nobody talks: digital silence");
    server.stop().await;
    Ok(())
}
