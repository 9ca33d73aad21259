//! Who may call the mutating REST endpoints (pure, unit-tested): the admin key, an access token
//! whose role is `admin` (for its room, or `*` for all), or anyone on a loopback host in
//! `--dev` mode. Nothing else: not the listener being loopback, not a forwarded header.

use crate::access::{Keys, TokenRole};

/// The rule for mutating REST calls.
#[derive(Debug, Clone, Default)]
pub struct AdminPolicy {
    /// `Authorization: Bearer <key>`.
    pub key: Option<String>,
    /// Secrets of access tokens; a valid `admin` token is an administrator.
    pub keys: Keys,
    /// Development mode: every caller on a loopback host is an administrator (unless a key is
    /// configured).
    pub dev: bool,
}

impl AdminPolicy {
    /// Whether a call on `room` (when the path names one) with this `Authorization` and `Host`
    /// is an administrator's.
    pub fn allows(&self, authorization: Option<&str>, host: Option<&str>, room: Option<&str>) -> bool {
        if let Some(given) = authorization.and_then(bearer_token) {
            if self.key.as_ref().is_some_and(|key| constant_time_eq(given.as_bytes(), key.as_bytes())) {
                return true;
            }
            if self.keys.enabled()
                && let Ok(claims) = self.keys.verify(given)
                && claims.role == TokenRole::Admin
                && (claims.room == "*" || room.is_some_and(|r| claims.allows_room(r)))
            {
                return true;
            }
        }
        // A configured key means the operator wants it asked for, --dev or not.
        self.dev && self.key.is_none() && super::origin::is_loopback_host(host)
    }
}

/// The token of a `Bearer` authorization (the scheme is case-insensitive, RFC 9110 11.1).
pub(super) fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Compares without an early exit, so timing does not reveal how much of a key was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Claims;

    const SECRET: &str = "tessera-test-secret-0123456789abcdef";

    #[test]
    fn the_key() {
        let key = AdminPolicy { key: Some("s3cret".into()), ..Default::default() };
        for good in ["Bearer s3cret", "bearer s3cret", "BEARER  s3cret ", "  Bearer s3cret"] {
            assert!(key.allows(Some(good), None, None), "{good:?}");
        }
        for bad in [
            None,
            Some("Bearer s3cre"),
            Some("Bearer s3cret2"),
            Some("s3cret"),
            Some("Basic s3cret"),
            Some("Bearer "),
            Some("Bearers3cret"),
        ] {
            assert!(!key.allows(bad, Some("127.0.0.1:8080"), None), "{bad:?}");
        }
    }

    #[test]
    fn no_implicit_admin() {
        let open = AdminPolicy::default();
        assert!(!open.allows(None, Some("127.0.0.1:8080"), None), "loopback alone is not admin");
        let dev = AdminPolicy { dev: true, ..Default::default() };
        assert!(dev.allows(None, Some("127.0.0.1:8080"), None));
        assert!(dev.allows(None, Some("localhost:8080"), None));
        assert!(!dev.allows(None, Some("rebound.example:8080"), None), "DNS rebinding");
        let keyed = AdminPolicy { dev: true, key: Some("k".into()), ..Default::default() };
        assert!(!keyed.allows(None, Some("127.0.0.1:8080"), None), "a key, once set, is asked for");
    }

    #[test]
    fn admin_tokens() {
        let keys = Keys::new(&[SECRET.into()]).unwrap();
        let exp = jsonwebtoken::get_current_timestamp() + 60;
        let token = |room: &str, role| {
            let claims = Claims { room: room.into(), name: None, role, exp, nbf: None, layout: false };
            format!("Bearer {}", keys.mint(&claims).unwrap())
        };
        let policy = AdminPolicy { keys: keys.clone(), ..Default::default() };
        assert!(policy.allows(Some(&token("*", TokenRole::Admin)), None, None));
        assert!(policy.allows(Some(&token("r", TokenRole::Admin)), None, Some("r")));
        assert!(!policy.allows(Some(&token("r", TokenRole::Admin)), None, Some("q")), "another room");
        assert!(!policy.allows(Some(&token("r", TokenRole::Admin)), None, None), "a server-wide call");
        assert!(!policy.allows(Some(&token("*", TokenRole::Publisher)), None, Some("r")));
    }
}
