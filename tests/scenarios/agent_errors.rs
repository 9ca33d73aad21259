//! Bad input from an agent: a wrong rate (refused before joining), frames of the wrong size,
//! text where a binary frame is expected, a flood of audio beyond its 10 s buffer, and `/ws`
//! joins claiming the agent role. Each gets its documented error code, and the room goes on: a
//! publisher keeps hearing the agent and the agent keeps chatting. Then it is kicked like anyone.

use crate::common::*;
use tessera_client::agent::{AgentClient, sine};
use tessera_client::{PeerOptions, TestPeer};
use tessera_protocol::{ClientMessage, ErrorCode, Role, Said, ServerMessage};

fn is_error(code: &'static str) -> impl Fn(&serde_json::Value) -> bool {
    move |m| m["type"] == "error" && m["code"] == code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_agent_input_gets_error_codes_and_the_room_goes_on() -> anyhow::Result<()> {
    let server = start_server().await;
    for (query, code) in [
        ("room=bad&rate=44100", "invalid_rate"),
        ("room=bad&rate=fast", "invalid_rate"),
        ("room=no%20spaces", "invalid_room"),
        ("room=bad&frames=30", "invalid_message"),
    ] {
        let refused = AgentClient::connect(server.addr, query).await?;
        let msg = refused.wait_message(secs(5), |m| m["type"] == "error").await?;
        assert_eq!(msg["code"], code, "{query}: {msg}");
        refused.wait_for(secs(5), |a| a.received(|r| r.closed)).await?;
    }

    let mut red = TestPeer::join(server.addr, PeerOptions::publisher("errs", "red", RED, 440.0)).await?;
    let agent = AgentClient::connect(server.addr, "room=errs&name=Bot").await?;
    let joined = agent.wait_message(secs(10), |m| m["type"] == "joined").await?;
    let id = joined["participantId"].as_str().unwrap().to_owned();
    agent.send_binary(vec![0; 641]);
    agent.wait_message(secs(5), is_error("invalid_audio_frame")).await?;
    agent.send_binary(vec![0; 1920]); // 20 ms at 48 kHz, but this agent chose 16 kHz
    agent.send_json(serde_json::json!({"type": "image"}));
    agent.send_json(serde_json::json!({"type": "chat", "text": "not an image"}));
    agent.wait_message(secs(5), is_error("expected_binary")).await?;
    agent.send_text("{not json");
    agent.wait_message(secs(5), is_error("bad_json")).await?;
    agent.send_json(serde_json::json!({"type": "sing"}));
    agent.wait_message(secs(5), is_error("unknown_type")).await?;
    let invalid = agent.received(|r| r.messages.iter().filter(|m| is_error("invalid_audio_frame")(m)).count());
    assert_eq!(invalid, 2, "both wrong-sized frames are refused");

    // 12 s of audio at once: 10 s are queued and played, the rest refused, told once.
    agent.play(sine(16_000, 700.0, 0.25, 12.0));
    agent.wait_message(secs(5), is_error("agent_audio_overflow")).await?;
    wait_tone(&red, 700.0, -20.0, 500).await?;
    let overflows = agent.received(|r| r.messages.iter().filter(|m| is_error("agent_audio_overflow")(m)).count());
    assert_eq!(overflows, 1, "one error per overflow, not one per frame");

    // The room goes on: the agent's chat reaches the publisher, which still hears it.
    agent.send_json(serde_json::json!({"type": "chat", "text": "still here"}));
    let chat = red
        .wait_message(secs(5), |m| matches!(m, ServerMessage::Chat(Said { text, .. }) if text == "still here"))
        .await?;
    println!("publisher got {chat:?}");
    assert!(red.tone_dbfs(700.0, 500) > -20.0, "the agent is still heard");

    // Kicked like anyone: told why, its socket closed, the others told it left.
    let (status, _) = http(server.addr, "DELETE", &format!("/api/rooms/errs/participants/{id}"), None).await;
    assert!(status / 100 == 2, "kick: {status}");
    agent.wait_message(secs(5), is_error("kicked")).await?;
    agent.wait_for(secs(5), |a| a.received(|r| r.closed)).await?;
    red.wait_message(
        secs(5),
        |m| matches!(m, ServerMessage::ParticipantLeft { participant_id } if participant_id.to_string() == id),
    )
    .await?;

    // `/ws` does not take agents.
    red.send(ClientMessage::Chat(tessera_protocol::ChatLine { text: String::new() }))?;
    let refused = red.wait_message(secs(5), |m| matches!(m, ServerMessage::Error { .. })).await?;
    assert!(matches!(refused, ServerMessage::Error { code: ErrorCode::InvalidMessage, .. }), "{refused:?}");
    let mut ws = tessera_client::Signaling::connect(server.addr).await?;
    let join = ClientMessage::Join { room: "errs".into(), name: "Fake".into(), role: Role::Agent, token: None };
    ws.send(&join).await?;
    let reply = ws.recv_timeout(secs(5)).await?;
    assert!(matches!(reply, Some(ServerMessage::Error { code: ErrorCode::InvalidMessage, .. })), "{reply:?}");
    server.stop().await;
    Ok(())
}
