//! Short-lived TURN credentials for clients, in the TURN REST API scheme
//! (draft-uberti-behave-turn-rest-00) that coturn checks with `use-auth-secret`: the username is
//! `<expiry, unix seconds>:<participant id>` and the password base64(HMAC-SHA1(secret, username)).
//! The TURN server shares only the secret with Tessera, so nothing is stored per user, and a
//! leaked credential stops opening new allocations at its expiry (coturn checks the expiry when a
//! session starts; a running allocation keeps its relay, and a reconnect rejoins and is handed
//! fresh credentials).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use ring::hmac;

use crate::ids::ParticipantId;
use crate::protocol::IceServer;

/// Shortest shared secret accepted, bytes: whoever holds it can mint credentials for the relay.
pub const MIN_SECRET_BYTES: usize = 16;

/// Why the TURN settings cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TurnConfigError {
    /// URLs to hand out but no secret to sign credentials with.
    #[error("--turn-urls needs --turn-secret (the TURN server's static-auth-secret)")]
    UrlsWithoutSecret,
    /// A secret but nowhere to use it.
    #[error("--turn-secret needs --turn-urls (where clients reach the TURN server)")]
    SecretWithoutUrls,
    /// A secret too short to keep others from minting credentials.
    #[error("--turn-secret must be at least {MIN_SECRET_BYTES} bytes (e.g. `openssl rand -hex 32`)")]
    ShortSecret,
    /// A URL that is not `turn:` / `turns:` `host[:port][?transport=udp|tcp]` (RFC 7065).
    #[error("turn URL {url:?}: {why}")]
    BadUrl {
        /// The URL as configured.
        url: String,
        /// What is wrong with it.
        why: String,
    },
}

/// Mints each joining client's TURN credentials from the secret shared with the TURN server.
#[derive(Clone)]
pub struct TurnIssuer {
    /// The HMAC-SHA1 key: the TURN server's `static-auth-secret`.
    key: hmac::Key,
    /// The TURN URLs every client is given.
    urls: Vec<String>,
    /// How long a minted credential opens new allocations.
    ttl: Duration,
}

/// The secret stays out of logs and panics.
impl std::fmt::Debug for TurnIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnIssuer").field("urls", &self.urls).field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

impl TurnIssuer {
    /// An issuer for `urls` signing with `secret`, or `None` when neither is configured (clients
    /// then get no TURN server, as before TURN was configurable).
    pub fn new(secret: Option<&str>, urls: &[String], ttl: Duration) -> Result<Option<Self>, TurnConfigError> {
        let secret = secret.filter(|s| !s.is_empty());
        match (secret, urls.is_empty()) {
            (None, true) => return Ok(None),
            (None, false) => return Err(TurnConfigError::UrlsWithoutSecret),
            (Some(_), true) => return Err(TurnConfigError::SecretWithoutUrls),
            (Some(s), false) if s.len() < MIN_SECRET_BYTES => return Err(TurnConfigError::ShortSecret),
            (Some(_), false) => {}
        }
        for url in urls {
            check_url(url).map_err(|why| TurnConfigError::BadUrl { url: url.clone(), why })?;
        }
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.unwrap_or_default().as_bytes());
        Ok(Some(Self { key, urls: urls.to_vec(), ttl }))
    }

    /// The `iceServers` for `who`'s `joined`, valid from `now` for the issuer's TTL.
    pub fn ice_servers(&self, who: ParticipantId, now: SystemTime) -> Vec<IceServer> {
        let expiry = now.checked_add(self.ttl).unwrap_or(now).duration_since(UNIX_EPOCH).unwrap_or_default();
        let username = format!("{}:{who}", expiry.as_secs());
        let credential = self.credential(&username);
        vec![IceServer { urls: self.urls.clone(), username: Some(username), credential: Some(credential) }]
    }

    /// base64(HMAC-SHA1(secret, username)), coturn's password for `username`.
    fn credential(&self, username: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(hmac::sign(&self.key, username.as_bytes()))
    }
}

/// Checks one RFC 7065 TURN URI: `turn:` or `turns:`, a host name, IPv4 address or `[IPv6]`,
/// an optional port, an optional `?transport=udp|tcp`. Credentials in the URL are refused:
/// they are minted per join.
fn check_url(url: &str) -> Result<(), String> {
    let rest =
        url.strip_prefix("turn:").or_else(|| url.strip_prefix("turns:")).ok_or("must start with turn: or turns:")?;
    if rest.starts_with("//") || rest.contains('@') {
        return Err("write turn:host:port (RFC 7065), without // or credentials".into());
    }
    let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
    match query {
        "" | "transport=udp" | "transport=tcp" => {}
        other => return Err(format!("unknown query {other:?} (only transport=udp or transport=tcp)")),
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (ip, after) = v6.split_once(']').ok_or("unclosed [")?;
            ip.parse::<std::net::Ipv6Addr>().map_err(|_| format!("{ip:?} is not an IPv6 address"))?;
            (ip, after.strip_prefix(':'))
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let name_ok =
        |h: &str| h.split('.').all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if !authority.starts_with('[') && !name_ok(host) {
        return Err(format!("{host:?} is not a host name or IPv4 address"));
    }
    if let Some(port) = port {
        port.parse::<u16>().ok().filter(|p| *p != 0).ok_or(format!("bad port {port:?}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "north-0123456789abcdef";

    fn issuer(urls: &[&str]) -> TurnIssuer {
        let urls: Vec<String> = urls.iter().map(|u| u.to_string()).collect();
        TurnIssuer::new(Some(SECRET), &urls, Duration::from_secs(3600)).unwrap().unwrap()
    }

    #[test]
    fn hmac_sha1_matches_rfc_2202() {
        // RFC 2202 test case 2 (key "Jefe"), hex effcdf6ae5eb2fa2d27416d5f184df9c259a7c79.
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, b"Jefe");
        let tag = hmac::sign(&key, b"what do ya want for nothing?");
        assert_eq!(base64::engine::general_purpose::STANDARD.encode(tag), "7/zfauXrL6LSdBbV8YTfnCWafHk=");
    }

    #[test]
    fn credentials_follow_the_turn_rest_scheme() {
        let turn = issuer(&["turn:127.0.0.1:3478?transport=udp", "turns:turn.example.com:443?transport=tcp"]);
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let who: ParticipantId = "p7".parse().unwrap();
        let servers = turn.ice_servers(who, now);
        assert_eq!(servers.len(), 1, "one entry: every URL shares the credentials");
        assert_eq!(servers[0].urls.len(), 2);
        assert_eq!(servers[0].username.as_deref(), Some("1700003600:p7"), "expiry = now + TTL, then the id");
        // printf '%s' 1700003600:p7 | openssl dgst -sha1 -hmac north-0123456789abcdef -binary | base64
        assert_eq!(servers[0].credential.as_deref(), Some("gUlBZofndLuVquVXyk+pcOuFc0A="));
        let later = turn.ice_servers(who, now + Duration::from_secs(1));
        assert_ne!(later[0].credential, servers[0].credential, "each join mints its own");
    }

    #[test]
    fn settings_are_checked() {
        let ttl = Duration::from_secs(60);
        let urls = vec!["turn:turn.example.com".to_owned()];
        assert!(TurnIssuer::new(None, &[], ttl).unwrap().is_none(), "nothing configured, nothing handed out");
        assert!(TurnIssuer::new(Some(""), &[], ttl).unwrap().is_none(), "an empty secret is no secret");
        assert_eq!(TurnIssuer::new(None, &urls, ttl).unwrap_err(), TurnConfigError::UrlsWithoutSecret);
        assert_eq!(TurnIssuer::new(Some(""), &urls, ttl).unwrap_err(), TurnConfigError::UrlsWithoutSecret);
        assert_eq!(TurnIssuer::new(Some(SECRET), &[], ttl).unwrap_err(), TurnConfigError::SecretWithoutUrls);
        assert_eq!(TurnIssuer::new(Some("short"), &urls, ttl).unwrap_err(), TurnConfigError::ShortSecret);
        for good in [
            "turn:turn.example.com",
            "turn:203.0.113.7:3478?transport=udp",
            "turns:turn.example.com:443?transport=tcp",
            "turn:[2001:db8::1]:3478",
        ] {
            assert_eq!(check_url(good), Ok(()), "{good}");
        }
        for bad in [
            "stun:turn.example.com",
            "turn://turn.example.com:3478",
            "turn:user:pass@turn.example.com",
            "turn:turn.example.com:0",
            "turn:turn.example.com:http",
            "turn:turn.example.com?transport=sctp",
            "turn:",
            "turn:[::1",
            "turn:bad host",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        let err = TurnIssuer::new(Some(SECRET), &["turn://h".to_owned()], ttl).unwrap_err().to_string();
        assert!(err.starts_with("turn URL \"turn://h\""), "{err}");
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let shown = format!("{:?}", issuer(&["turn:h"]));
        assert!(!shown.contains(SECRET) && shown.contains("turn:h"), "{shown}");
    }
}
