//! Bad requests on the WHIP and WHEP endpoints, HTTP only (raw requests, no media): each gets
//! its status and leaves nothing behind. Wrong content type 415; a body that is not SDP 400
//! with no participant left; an unknown session 404 on DELETE and PATCH; an ICE restart by
//! PATCH 422; OPTIONS 204 with the CORS methods; with token secrets, no token 401 and a token
//! for another room 403, while a valid one joins.

use std::net::SocketAddr;

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::*;
use crate::security_tokens::{claims, mint};

/// A browser-like WHIP offer (Opus and VP8, send only, bundled). Nothing answers its ICE
/// checks: these tests stop at HTTP.
pub const OFFER: &str = "v=0\r\n\
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0 1\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
c=IN IP4 0.0.0.0\r\n\
a=ice-ufrag:whipE\r\n\
a=ice-pwd:whiperrorsicepassword0123\r\n\
a=fingerprint:sha-256 2A:9B:0C:4D:7E:21:63:F8:11:AC:5D:90:33:E2:47:B8:6C:01:DF:92:45:7A:AE:10:C3:66:59:08:BF:2E:74:D1\r\n\
a=setup:actpass\r\n\
a=mid:0\r\n\
a=sendonly\r\n\
a=rtcp-mux\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=fmtp:111 minptime=10;useinbandfec=1\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96\r\n\
c=IN IP4 0.0.0.0\r\n\
a=ice-ufrag:whipE\r\n\
a=ice-pwd:whiperrorsicepassword0123\r\n\
a=fingerprint:sha-256 2A:9B:0C:4D:7E:21:63:F8:11:AC:5D:90:33:E2:47:B8:6C:01:DF:92:45:7A:AE:10:C3:66:59:08:BF:2E:74:D1\r\n\
a=setup:actpass\r\n\
a=mid:1\r\n\
a=sendonly\r\n\
a=rtcp-mux\r\n\
a=rtpmap:96 VP8/90000\r\n\
a=rtcp-fb:96 nack\r\n\
a=rtcp-fb:96 nack pli\r\n";

/// One HTTP answer: status, headers (lower-case names) and body.
pub struct Answer {
    pub status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Sends one raw HTTP/1.1 request with `headers` and `body`.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> anyhow::Result<Answer> {
    let mut s = tokio::net::TcpStream::connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
    let extra: String = headers.iter().map(|(n, v)| format!("{n}: {v}\r\n")).collect();
    let len = body.len();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Content-Length: {len}\r\nConnection: close\r\n\r\n{body}"
    );
    s.write_all(req.as_bytes()).await?;
    let mut raw = String::new();
    tokio::time::timeout(secs(15), s.read_to_string(&mut raw)).await.context("no answer within 15 s")??;
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|c| c.parse().ok());
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Answer { status: status.context("no HTTP status")?, headers, body: body.to_owned() })
}

pub const SDP: (&str, &str) = ("Content-Type", "application/sdp");
const FRAG: (&str, &str) = ("Content-Type", "application/trickle-ice-sdpfrag");

/// How many participants `room` has (0 when it does not exist).
async fn headcount(addr: SocketAddr, room: &str, bearer: Option<&str>) -> usize {
    let (_, detail) = http(addr, "GET", &format!("/api/rooms/{room}"), bearer).await;
    detail["participants"].as_array().map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_whip_and_whep_requests_get_their_status_and_leave_nothing() -> anyhow::Result<()> {
    let server = start_server().await;
    let addr = server.addr;

    let plain = [("Content-Type", "text/plain")];
    for path in ["/whip/errs", "/whep/errs"] {
        let a = send(addr, "POST", path, &plain, OFFER).await?;
        println!("POST {path} as text/plain -> {} {}", a.status, a.body);
        assert_eq!(a.status, 415, "{path}: wrong content type");
        assert_eq!(send(addr, "POST", path, &[], OFFER).await?.status, 415, "{path}: no content type");
    }
    // Not an offer: refused at once (before anything is built), not when a join times out.
    let no_media = OFFER.split("m=audio").next().unwrap_or_default();
    let no_credentials = OFFER.replace("a=ice-pwd", "a=x-pwd");
    for junk in ["this is not SDP", "v=0\r\nm=nonsense\r\n", "\u{0}\u{1}\u{2}", "", no_media, &no_credentials] {
        let sent = std::time::Instant::now();
        let a = send(addr, "POST", "/whip/errs", &[SDP], junk).await?;
        println!("POST {:?} -> {} in {:?}: {}", &junk[..junk.len().min(20)], a.status, sent.elapsed(), a.body);
        assert_eq!(a.status, 400, "{junk:?} is not an offer: {}", a.body);
        assert!(sent.elapsed() < secs(2), "{junk:?} took {:?}", sent.elapsed());
        assert_eq!(headcount(addr, "errs", None).await, 0, "{junk:?} left a participant behind");
    }

    let none = "/whip/errs/00112233445566778899aabbccddeeff";
    assert_eq!(send(addr, "DELETE", none, &[], "").await?.status, 404, "DELETE of no session");
    let candidate = "a=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\n";
    assert_eq!(send(addr, "PATCH", none, &[FRAG], candidate).await?.status, 404, "PATCH of no session");

    let options = send(addr, "OPTIONS", "/whip/errs", &[("Origin", &format!("http://{addr}"))], "").await?;
    println!("OPTIONS -> {} {:?}", options.status, options.headers);
    assert_eq!(options.status, 204);
    let methods = options.header("access-control-allow-methods").unwrap_or_default();
    assert!(["POST", "PATCH", "DELETE", "OPTIONS"].iter().all(|m| methods.contains(m)), "{methods:?}");
    assert_eq!(options.header("accept-post"), Some("application/sdp"));

    // A real session: trickle works, an ICE restart does not, and DELETE ends it once.
    let created = send(addr, "POST", "/whip/errs?name=raw", &[SDP], OFFER).await?;
    assert_eq!(created.status, 201, "a valid offer: {}", created.body);
    assert!(created.body.starts_with("v=0") && created.body.contains("a=candidate:"), "{}", created.body);
    let location = created.header("location").context("Location")?.to_owned();
    println!("created {location}");
    assert_eq!(headcount(addr, "errs", None).await, 1);
    assert_eq!(send(addr, "PATCH", &location, &[FRAG], candidate).await?.status, 204, "a trickled candidate");
    assert_eq!(send(addr, "PATCH", &location, &[SDP], candidate).await?.status, 415, "PATCH as application/sdp");
    let restart = "a=ice-ufrag:fresh\r\na=ice-pwd:freshpasswordfreshpassword\r\na=mid:0\r\n";
    let refused = send(addr, "PATCH", &location, &[FRAG], restart).await?;
    println!("ICE restart -> {} {}", refused.status, refused.body);
    assert_eq!(refused.status, 422, "an ICE restart");
    let other_room = location.replace("/whip/errs/", "/whip/elsewhere/");
    assert_eq!(send(addr, "DELETE", &other_room, &[], "").await?.status, 404, "the session under another room");
    assert_eq!(send(addr, "DELETE", &location, &[], "").await?.status, 200);
    assert_eq!(send(addr, "DELETE", &location, &[], "").await?.status, 404, "a second DELETE");
    let deadline = std::time::Instant::now() + secs(2);
    while headcount(addr, "errs", None).await != 0 {
        assert!(std::time::Instant::now() < deadline, "the WHIP participant is still there 2 s after DELETE");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whip_and_whep_need_a_token_when_the_server_has_secrets() -> anyhow::Result<()> {
    const SECRET: &str = "whip-scenario-secret-0123456789abcdef";
    let config = test_config_with(|c| {
        c.server.token_secret = vec![SECRET.into()];
        c.server.dev = false;
    });
    let server = start_server_with(config).await;
    let addr = server.addr;
    let token = |room: &str, role: &str| mint(SECRET, claims(room, role), jsonwebtoken::Algorithm::HS256);
    let bearer = |t: &str| format!("Bearer {t}");

    for path in ["/whip/door", "/whep/door"] {
        let a = send(addr, "POST", path, &[SDP], OFFER).await?;
        println!("POST {path} without a token -> {} {}", a.status, a.body);
        assert_eq!(a.status, 401, "{path} without a token");
        let garbage = send(addr, "POST", path, &[SDP, ("Authorization", "Bearer not.a.token")], OFFER).await?;
        assert_eq!(garbage.status, 401, "{path} with garbage");
    }
    let elsewhere = bearer(&token("other", "publisher"));
    let a = send(addr, "POST", "/whip/door", &[SDP, ("Authorization", &elsewhere)], OFFER).await?;
    assert_eq!(a.status, 403, "a token for another room: {}", a.body);
    let as_viewer = bearer(&token("door", "viewer"));
    let a = send(addr, "POST", "/whip/door", &[SDP, ("Authorization", &as_viewer)], OFFER).await?;
    assert_eq!(a.status, 403, "a viewer's token cannot publish: {}", a.body);
    let admin = token("*", "admin");
    assert_eq!(headcount(addr, "door", Some(&admin)).await, 0, "the refusals built nothing");

    let publisher = bearer(&token("door", "publisher"));
    let created = send(addr, "POST", "/whip/door", &[SDP, ("Authorization", &publisher)], OFFER).await?;
    assert_eq!(created.status, 201, "a valid token: {}", created.body);
    let location = created.header("location").context("Location")?.to_owned();
    assert_eq!(headcount(addr, "door", Some(&admin)).await, 1);
    // Only the creator's token ends the session.
    assert_eq!(send(addr, "DELETE", &location, &[], "").await?.status, 401, "DELETE without the token");
    assert_eq!(send(addr, "DELETE", &location, &[("Authorization", &publisher)], "").await?.status, 200);
    server.stop().await;
    Ok(())
}
