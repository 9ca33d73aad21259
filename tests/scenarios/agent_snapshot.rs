//! Seeing the room: an agent's `{"type":"snapshot"}` brings a one-line JSON header and a JPEG
//! that decodes as the 1280×720 composite, red and blue where the publishers' tiles are; an
//! agent with `frames=2` gets two a second. The room encodes JPEGs only while an agent looks:
//! no `jpegenc` before, one while, none after. An agent's JPEG shows on its tile (yellow where
//! its placeholder was); a GIF gets `invalid_image`.

use crate::common::*;
use gst::prelude::*;
use gst_video::prelude::*;
use tessera_client::agent::AgentClient;
use tessera_client::{PeerOptions, TestPeer, close_to};

/// Decodes a JPEG into packed RGB: (width, height, pixels).
fn decode_jpeg(jpeg: &[u8]) -> anyhow::Result<(u32, u32, Vec<u8>)> {
    gst::init()?;
    let pipeline = gst::parse::launch(
        "appsrc name=src ! jpegdec ! videoconvert ! video/x-raw,format=RGB ! appsink name=sink sync=false",
    )?
    .downcast::<gst::Pipeline>()
    .unwrap();
    let src = pipeline.by_name("src").unwrap().downcast::<gst_app::AppSrc>().unwrap();
    let sink = pipeline.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
    pipeline.set_state(gst::State::Playing)?;
    src.push_buffer(gst::Buffer::from_slice(jpeg.to_vec()))?;
    src.end_of_stream()?;
    let sample = sink.pull_sample()?;
    pipeline.set_state(gst::State::Null)?;
    let info = gst_video::VideoInfo::from_caps(sample.caps().unwrap())?;
    let frame = gst_video::VideoFrame::from_buffer_readable(sample.buffer_owned().unwrap(), &info).unwrap();
    let (w, h, stride) = (info.width(), info.height(), frame.plane_stride()[0] as usize);
    let data = frame.plane_data(0).unwrap();
    let pixels = (0..h as usize).flat_map(|y| data[y * stride..y * stride + w as usize * 3].to_vec()).collect();
    Ok((w, h, pixels))
}

/// A 64x48 JPEG of one colour.
fn solid_jpeg(argb: u32) -> anyhow::Result<Vec<u8>> {
    gst::init()?;
    let desc = format!(
        "videotestsrc pattern=solid-color foreground-color={argb} num-buffers=1 \
         ! video/x-raw,width=64,height=48 ! jpegenc ! appsink name=sink sync=false"
    );
    let pipeline = gst::parse::launch(&desc)?.downcast::<gst::Pipeline>().unwrap();
    let sink = pipeline.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
    pipeline.set_state(gst::State::Playing)?;
    let sample = sink.pull_sample()?;
    pipeline.set_state(gst::State::Null)?;
    Ok(sample.buffer().unwrap().map_readable()?.to_vec())
}

/// The colour at the centre of `name`'s tile in a decoded snapshot.
fn tile_centre(list: &serde_json::Value, name: &str, (w, rgb): (u32, &[u8])) -> [u8; 3] {
    let p = list["participants"].as_array().unwrap().iter().find(|p| p["name"] == name).unwrap();
    let t = &p["tile"];
    let cx = (t["x"].as_u64().unwrap() + t["w"].as_u64().unwrap() / 2) as usize;
    let cy = (t["y"].as_u64().unwrap() + t["h"].as_u64().unwrap() / 2) as usize;
    let at = (cy * w as usize + cx) * 3;
    [rgb[at], rgb[at + 1], rgb[at + 2]]
}

async fn jpegencs(addr: std::net::SocketAddr) -> u64 {
    let (_, room) = http(addr, "GET", "/api/rooms/look", None).await;
    room["pipeline"]["byFactory"]["jpegenc"].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_sees_the_composite_as_jpeg() -> anyhow::Result<()> {
    let hd = tessera::layout::Size::new(1280, 720);
    let server = start_server_with(test_config_with(|c| c.composite.canvas = tessera::config::Canvas(hd))).await;
    let red = TestPeer::join(server.addr, PeerOptions::publisher("look", "red", RED, 440.0)).await?;
    let blue = TestPeer::join(server.addr, PeerOptions::publisher("look", "blue", BLUE, 1000.0)).await?;
    let agent = AgentClient::connect(server.addr, "room=look&name=Eyes").await?;
    agent.wait_message(secs(10), |m| m["type"] == "joined").await?;
    // Both publishers' video composited (the agent's tile list says where).
    agent
        .wait_message(secs(15), |m| {
            m["type"] == "participants"
                && m["participants"].as_array().is_some_and(|p| p.iter().filter(|p| p["tile"].is_object()).count() == 3)
        })
        .await?;
    red.wait_for(secs(15), |p| p.received().frames() > 30).await?;
    tokio::time::sleep(secs(1)).await;
    assert_eq!(jpegencs(server.addr).await, 0, "no JPEG encoder while nobody looks");

    agent.send_json(serde_json::json!({"type": "snapshot"}));
    agent.wait_for(secs(5), |a| a.received(|r| !r.snapshots.is_empty())).await?;
    let (header, jpeg) = agent.received(|r| r.snapshots[0].clone());
    println!("snapshot header {header}");
    assert_eq!((header["format"].as_str(), header["bytes"].as_u64()), (Some("image/jpeg"), Some(jpeg.len() as u64)));
    let (w, h, rgb) = decode_jpeg(&jpeg)?;
    assert_eq!((w, h), (1280, 720));
    assert_eq!((header["width"].as_u64(), header["height"].as_u64()), (Some(1280), Some(720)));
    let list = agent
        .wait_message(secs(5), |m| {
            m["type"] == "participants" && m["participants"].as_array().is_some_and(|p| p.len() == 3)
        })
        .await?;
    let list =
        agent.received(|r| r.messages.iter().rev().find(|m| m["type"] == "participants").cloned()).unwrap_or(list);
    for (name, colour) in [("red", RED), ("blue", BLUE)] {
        let got = tile_centre(&list, name, (w, &rgb));
        println!("{name}'s tile centre is {got:?} in the snapshot");
        assert!(close_to(got, colour, TOLERANCE), "{name}'s tile shows {got:?}");
    }
    assert_eq!(jpegencs(server.addr).await, 1, "one JPEG encoder while an agent looks");

    // A stream: frames=2 gives about two a second.
    let watcher = AgentClient::connect(server.addr, "room=look&name=Watcher&frames=2").await?;
    watcher.wait_for(secs(5), |a| a.received(|r| !r.snapshots.is_empty())).await?;
    let start = watcher.received(|r| r.snapshots.len());
    tokio::time::sleep(secs(3)).await;
    let got = watcher.received(|r| r.snapshots.len()) - start;
    println!("frames=2: {got} snapshots in 3 s");
    assert!((5..=7).contains(&got), "{got} snapshots in 3 s at 2 a second");
    assert_eq!(jpegencs(server.addr).await, 1, "agents share the encoder");

    // The agent's picture on its tile: yellow where its placeholder was; a GIF is refused.
    agent.send_json(serde_json::json!({"type": "image"}));
    agent.send_binary(b"GIF89a not a picture we take".to_vec());
    let refused = agent.wait_message(secs(5), |m| m["type"] == "error" && m["code"] == "invalid_image").await?;
    println!("a GIF: {refused}");
    agent.send_json(serde_json::json!({"type": "image"}));
    agent.send_binary(solid_jpeg(0xffffff00)?);
    tokio::time::sleep(secs(1)).await;
    let before = agent.received(|r| r.snapshots.len());
    agent.send_json(serde_json::json!({"type": "snapshot"}));
    agent.wait_for(secs(5), |a| a.received(|r| r.snapshots.len() > before)).await?;
    let (_, jpeg) = agent.received(|r| r.snapshots.last().cloned().unwrap());
    let (w, _, rgb) = decode_jpeg(&jpeg)?;
    let list = agent.received(|r| r.messages.iter().rev().find(|m| m["type"] == "participants").cloned()).unwrap();
    let shown = tile_centre(&list, "Eyes", (w, &rgb));
    println!("the agent's tile shows {shown:?} after its yellow picture");
    assert!(close_to(shown, YELLOW, TOLERANCE), "the agent's tile shows {shown:?}");
    drop((watcher, agent));
    // The asking agent let go at most 5 s after its last request; then the branch goes.
    let deadline = std::time::Instant::now() + secs(10);
    while jpegencs(server.addr).await > 0 {
        assert!(std::time::Instant::now() < deadline, "the JPEG encoder outlived its last viewer");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    drop((red, blue));
    server.stop().await;
    Ok(())
}
