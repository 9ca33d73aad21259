//! Access tokens at the door (issue 15): with a secret configured, a join needs a valid token
//! for its room and role; every refusal has its code and builds nothing; the token's name wins;
//! REST takes an admin token; `tessera token` mints tokens the server accepts.

use crate::common::*;
use tessera_client::{PeerOptions, Signaling, TestPeer};
use tessera_protocol::{ClientMessage, ErrorCode, Role, ServerMessage};

const SECRET: &str = "scenario-secret-0123456789abcdefghij";

/// A token signed with `secret` (HS256 unless `alg` says otherwise), as an operator's backend
/// would mint it with any JWT library.
pub fn mint(secret: &str, claims: serde_json::Value, alg: jsonwebtoken::Algorithm) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).unwrap();
    jsonwebtoken::encode(&jsonwebtoken::Header::new(alg), &claims, &key).unwrap()
}

pub fn claims(room: &str, role: &str) -> serde_json::Value {
    serde_json::json!({ "room": room, "role": role, "exp": jsonwebtoken::get_current_timestamp() + 600 })
}

fn token(room: &str, role: &str) -> String {
    mint(SECRET, claims(room, role), jsonwebtoken::Algorithm::HS256)
}

/// Joins on a fresh socket and returns the first answer.
pub async fn try_join(addr: std::net::SocketAddr, room: &str, role: Role, token: Option<String>) -> ServerMessage {
    let mut ws = Signaling::connect(addr).await.unwrap();
    ws.send(&ClientMessage::Join { room: room.into(), name: "someone".into(), role, token }).await.unwrap();
    ws.recv_timeout(secs(5)).await.unwrap().expect("an answer")
}

pub fn code(msg: &ServerMessage) -> Option<ErrorCode> {
    match msg {
        ServerMessage::Error { code, .. } => Some(*code),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_need_a_valid_token_for_their_room_and_role() -> anyhow::Result<()> {
    let config = test_config_with(|c| {
        c.server.token_secret = vec![SECRET.into()];
        c.server.dev = false;
    });
    let server = start_server_with(config).await;
    let addr = server.addr;
    let now = jsonwebtoken::get_current_timestamp();
    let expired = serde_json::json!({ "room": "door", "role": "publisher", "exp": now - 120 });
    let not_yet = serde_json::json!({ "room": "door", "role": "publisher", "exp": now + 600, "nbf": now + 300 });
    use jsonwebtoken::Algorithm::{HS256, HS384};
    let refusals = [
        ("no token", None, Role::Publisher, ErrorCode::Unauthorized),
        ("garbage", Some("not.a.token".to_owned()), Role::Publisher, ErrorCode::Unauthorized),
        (
            "another secret",
            Some(mint(&SECRET.repeat(2), claims("door", "publisher"), HS256)),
            Role::Publisher,
            ErrorCode::Unauthorized,
        ),
        ("HS384", Some(mint(SECRET, claims("door", "publisher"), HS384)), Role::Publisher, ErrorCode::Unauthorized),
        ("expired", Some(mint(SECRET, expired, HS256)), Role::Publisher, ErrorCode::Unauthorized),
        ("not yet valid", Some(mint(SECRET, not_yet, HS256)), Role::Publisher, ErrorCode::Unauthorized),
        ("another room", Some(token("other", "publisher")), Role::Publisher, ErrorCode::Forbidden),
        ("viewer as publisher", Some(token("door", "viewer")), Role::Publisher, ErrorCode::Forbidden),
    ];
    for (what, token, role, expected) in refusals {
        let answer = try_join(addr, "door", role, token).await;
        assert_eq!(code(&answer), Some(expected), "{what}: {answer:?}");
        println!("{what}: {answer:?}");
    }
    // Nothing was built for any of them. With token secrets, reading the server's state takes
    // an administrator too.
    assert_eq!(http(addr, "GET", "/api/stats", None).await.0, 401);
    assert_eq!(http(addr, "GET", "/api/rooms", Some(&token("*", "publisher"))).await.0, 401);
    let admin = token("*", "admin");
    let (_, stats) = http(addr, "GET", "/api/stats", Some(&admin)).await;
    assert_eq!((stats["rooms"].as_u64(), stats["webrtcbins"].as_u64()), (Some(0), Some(0)), "{stats}");

    // A valid token: its name wins over the typed one; a viewer token joins as a viewer; a
    // `*` token joins any room.
    let named = mint(
        SECRET,
        serde_json::json!({ "room": "door", "role": "publisher", "name": "Ada", "exp": now + 600 }),
        HS256,
    );
    let ada = PeerOptions { token: Some(named), ..PeerOptions::publisher("door", "Mallory", RED, 440.0) };
    let ada = TestPeer::join(addr, ada).await?;
    let viewer = PeerOptions { token: Some(token("*", "viewer")), ..PeerOptions::viewer("door", "v") };
    let viewer = TestPeer::join(addr, viewer).await?;
    viewer.wait_for(secs(15), |p| shows_tiles(p, &[RED])).await?;
    let names: Vec<String> = viewer.others_at_join().iter().map(|p| p.name.clone()).collect();
    assert_eq!(names, ["Ada"], "the token's name, not the typed one");
    let room = http(addr, "GET", "/api/rooms/door", Some(&admin)).await.1;
    println!("room with token holders: {room}");

    // REST: a publisher token is not an administrator; an admin token is, for its room.
    let kick = format!("/api/rooms/door/participants/{}", ada.id());
    assert_eq!(http(addr, "DELETE", &kick, Some(&token("door", "publisher"))).await.0, 401);
    assert_eq!(http(addr, "DELETE", &kick, Some(&token("elsewhere", "admin"))).await.0, 401);
    assert_eq!(http(addr, "DELETE", &kick, Some(&token("door", "admin"))).await.0, 204);
    server.stop().await;
    Ok(())
}

/// `tessera token` (the real binary) mints what the real server accepts, with the secret from
/// the environment and key ids for rotation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_mints_tokens_the_server_accepts() -> anyhow::Result<()> {
    let secrets = format!("old:{SECRET},new:{}", SECRET.to_uppercase());
    let server = ServerProcess::start_with_prefix(&["env", &format!("TESSERA_TOKEN_SECRET={secrets}")], &[]).await?;
    let cli = |room: &str, role: &str, secret: &str| {
        let out = std::process::Command::new(ServerProcess::binary())
            .args(["token", "--room", room, "--role", role, "--name", "Cli", "--ttl", "10m"])
            .env("TESSERA_TOKEN_SECRET", secret)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    // Signed with the old key (first in its list) or the new one: both are accepted.
    for signer in [format!("old:{SECRET}"), format!("new:{}", SECRET.to_uppercase())] {
        let answer = try_join(server.addr, "cli", Role::Viewer, Some(cli("cli", "viewer", &signer))).await;
        assert!(matches!(answer, ServerMessage::Joined { .. }), "{signer}: {answer:?}");
    }
    let unknown = cli("cli", "viewer", &format!("gone:{SECRET}"));
    assert_eq!(code(&try_join(server.addr, "cli", Role::Viewer, Some(unknown)).await), Some(ErrorCode::Unauthorized));
    let out = std::process::Command::new(ServerProcess::binary())
        .args(["token", "--room", "x"])
        .env_remove("TESSERA_TOKEN_SECRET")
        .output()?;
    assert!(!out.status.success(), "no secret, no token");
    Ok(())
}
