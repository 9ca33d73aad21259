//! The server's offer is one a browser accepts: BUNDLE over every m-line, rtcp-mux, DTLS and
//! ICE credentials, VP8 on payload type 96 (with NACK, PLI and FIR feedback) and Opus on 111
//! listed first, the `tessera` DataChannel, and send+receive for a publisher but send-only for
//! a viewer.

use crate::common::*;
use tessera_client::Signaling;
use tessera_protocol::{ClientMessage, Role, ServerMessage};

/// Joins `room` as `role` over a bare socket and returns the offer's SDP.
async fn offer_for(addr: std::net::SocketAddr, room: &str, role: Role) -> anyhow::Result<String> {
    let mut sig = Signaling::connect(addr).await?;
    sig.send(&ClientMessage::Join { room: room.into(), name: format!("{role:?}"), role, token: None }).await?;
    loop {
        match sig.recv_timeout(secs(10)).await? {
            Some(ServerMessage::Offer { sdp }) => return Ok(sdp),
            Some(_) => continue,
            None => anyhow::bail!("no offer"),
        }
    }
}

/// The m-sections of `sdp`: each section's lines, the `m=` line first.
fn sections(sdp: &str) -> Vec<Vec<&str>> {
    let mut out: Vec<Vec<&str>> = Vec::new();
    for line in sdp.lines().map(str::trim_end) {
        if line.starts_with("m=") {
            out.push(vec![line]);
        } else if let Some(section) = out.last_mut() {
            section.push(line);
        }
    }
    out
}

fn check(sdp: &str, direction: &str) {
    let media = sections(sdp);
    let kinds: Vec<&str> = media.iter().map(|m| m[0].split(' ').next().unwrap()).collect();
    assert_eq!(kinds, ["m=video", "m=audio", "m=application"], "video, audio and the DataChannel");
    let mids: Vec<&str> = media.iter().map(|m| m.iter().find_map(|l| l.strip_prefix("a=mid:")).expect("mid")).collect();
    let bundle = sdp.lines().find_map(|l| l.trim_end().strip_prefix("a=group:BUNDLE ")).expect("a=group:BUNDLE");
    assert_eq!(bundle.split(' ').collect::<Vec<_>>(), mids, "one BUNDLE group over every m-line");
    for m in &media {
        let has = |attr: &str| m.iter().any(|l| l.starts_with(attr)) || sdp.lines().any(|l| l.starts_with(attr));
        for attr in ["a=ice-ufrag:", "a=ice-pwd:", "a=fingerprint:sha-256 ", "a=setup:actpass"] {
            assert!(has(attr), "{}: missing {attr}", m[0]);
        }
    }
    for m in &media[..2] {
        assert!(m.contains(&"a=rtcp-mux"), "{}: rtcp-mux", m[0]);
        assert!(m.contains(&direction), "{}: expected {direction}", m[0]);
    }
    let payloads = |m: &[&str]| m[0].split(' ').skip(3).map(str::to_owned).collect::<Vec<_>>();
    let video = &media[0];
    assert_eq!(payloads(video)[0], "96", "VP8 is the first video payload type: {}", video[0]);
    for line in ["a=rtpmap:96 VP8/90000", "a=rtcp-fb:96 nack", "a=rtcp-fb:96 nack pli", "a=rtcp-fb:96 ccm fir"] {
        assert!(video.contains(&line), "video: missing {line}");
    }
    let audio = &media[1];
    assert_eq!(payloads(audio)[0], "111", "Opus is the first audio payload type: {}", audio[0]);
    assert!(audio.iter().any(|l| l.eq_ignore_ascii_case("a=rtpmap:111 OPUS/48000/2")), "audio: Opus/48000/2 on 111");
    // DTX asked for; no in-band FEC, which the server's decoder does not use.
    let fmtp = audio.iter().find(|l| l.starts_with("a=fmtp:111 ")).expect("Opus parameters");
    assert!(fmtp.contains("usedtx=1") && !fmtp.contains("useinbandfec"), "audio: {fmtp}");
    assert!(media[2][0].contains("webrtc-datachannel"), "DataChannel over SCTP: {}", media[2][0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_carry_bundle_rtcp_mux_and_fixed_payload_types() -> anyhow::Result<()> {
    let server = start_server().await;
    let publisher = offer_for(server.addr, "sdp", Role::Publisher).await?;
    println!("publisher's offer:\n{publisher}");
    check(&publisher, "a=sendrecv");
    let viewer = offer_for(server.addr, "sdp", Role::Viewer).await?;
    check(&viewer, "a=sendonly");
    println!("the viewer's offer has the same shape, send-only");
    server.stop().await;
    Ok(())
}
