//! Captions and chat in Chromium: an agent's partial caption shows over the video and is
//! replaced by its final one; its chat line appears in the side panel; a line typed in the
//! page reaches the agent and a Rust publisher. A screenshot of the page with both is written
//! (`TESSERA_AGENT_SCREENSHOT`, docs/agent-chat.png in the README).

use crate::common::browser::page::{self, visible_text};
use crate::common::browser::{Browser, Kind};
use crate::common::*;
use tessera_client::agent::AgentClient;
use tessera_client::{PeerOptions, TestPeer};
use tessera_protocol::{Said, ServerMessage};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captions_and_chat_reach_a_browser_and_back() -> anyhow::Result<()> {
    let server = start_server_with(browser_media_config()).await;
    let origin = format!("http://{}", server.addr);
    let mut rust = TestPeer::join(server.addr, PeerOptions::publisher("chat", "red", RED, 440.0)).await?;
    let mut b = Browser::launch(Kind::Chromium, true, None).await?;
    let p = page::join_as_publisher(&mut b, &origin, "chat", "Ada").await?;
    let agent = AgentClient::connect(server.addr, "room=chat&name=Greeter").await?;
    agent.wait_message(secs(10), |m| m["type"] == "joined").await?;
    b.wait_for(p, "document.querySelectorAll('#participants li').length === 3", secs(10)).await?;
    let listed = "[...document.querySelectorAll('#participants li')].map((li) => li.textContent).join('|')";
    let listed = b.eval(p, listed).await?;
    assert!(listed.as_str().unwrap_or_default().contains("Greeter (bot)"), "the agent is listed as a bot: {listed}");

    agent.send_json(serde_json::json!({"type": "caption", "text": "Hello ev", "final": false}));
    let partial = "document.querySelector('#captions p.partial')?.textContent";
    let shown = b.wait_for(p, &format!("{partial} === 'GreeterHello ev' && {partial}"), secs(5)).await?;
    println!("partial caption shown: {shown}");
    agent.send_json(serde_json::json!({"type": "caption", "text": "Hello everyone, I am the greeter.", "final": true}));
    let final_one = "[...document.querySelectorAll('#captions p')].map((p) => [p.textContent, p.className])";
    b.wait_for(p, &format!("{final_one}.length === 1 && {final_one}[0][1] === '' && {final_one}"), secs(5)).await?;
    assert_eq!(
        b.eval(p, final_one).await?,
        serde_json::json!([["GreeterHello everyone, I am the greeter.", ""]]),
        "the final caption replaced the partial one"
    );
    // The caption sits above the tile labels drawn into the picture: the highest a label of a
    // bottom-row tile reaches is that of a tile filling the canvas (the largest label).
    let canvas = CANVAS;
    let full =
        tessera::layout::decorations(canvas, tessera::layout::Rect { x: 0, y: 0, w: canvas.width, h: canvas.height });
    let label_top = full.label.map_or(0.0, |l| f64::from(canvas.height - l.rect.y) / f64::from(canvas.height));
    let clear = "(() => { const s = document.querySelector('.stage').getBoundingClientRect(); \
                 const c = document.querySelector('#captions p').getBoundingClientRect(); \
                 return (s.bottom - c.bottom) / s.height; })()";
    let clear = b.eval(p, clear).await?.as_f64().unwrap_or_default();
    println!(
        "the caption's lower edge is {:.1} % of the picture up; labels reach {:.1} %",
        clear * 100.0,
        label_top * 100.0
    );
    assert!(clear > label_top, "the caption covers the bottom tiles' name labels");
    agent.send_json(serde_json::json!({"type": "chat", "text": "Ask me the time."}));
    b.wait_for(p, "document.querySelector('#chat li')?.textContent === 'Greeter:Ask me the time.'", secs(5)).await?;

    // Typed in the page: to the agent (socket) and the Rust publisher (socket and DataChannel).
    b.type_into(p, "#chat-text", "what time is it?").await?;
    b.click(p, "#chat-send").await?;
    let got = agent.wait_message(secs(5), |m| m["type"] == "chat" && m["name"] == "Ada").await?;
    assert_eq!(got["text"], "what time is it?");
    rust.wait_message(secs(5), |m| matches!(m, ServerMessage::Chat(Said { text, .. }) if text == "what time is it?"))
        .await?;
    rust.wait_for(secs(5), |r| {
        r.received().channel_messages().iter().any(|m| m["type"] == "chat" && m["name"] == "Ada")
    })
    .await?;
    // The page shows its own line when the server echoes it, which may come after the others
    // got it.
    b.wait_for(p, "document.querySelectorAll('#chat li').length === 2", secs(5)).await?;
    let lines = visible_text(&mut b, p, "#chat").await?;
    println!("chat panel: {lines:?}");

    let shot = std::env::var_os("TESSERA_AGENT_SCREENSHOT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("tessera-agent-chat.png"));
    b.screenshot(p, &shot).await?;
    println!("screenshot: {}", shot.display());
    page::assert_clean(&mut b, p, &origin).await?;
    b.quit().await;
    server.stop().await;
    Ok(())
}
