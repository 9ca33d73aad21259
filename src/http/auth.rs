//! Who may call the mutating REST endpoints (pure, unit-tested).

/// The rule for mutating REST calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminPolicy {
    /// `Authorization: Bearer <key>` is required.
    Key(String),
    /// No key configured and the server listens on loopback: only local users can reach it.
    Loopback,
    /// No key configured on a public address: mutating calls are refused.
    Refuse,
}

impl AdminPolicy {
    /// The policy for an optional configured key and the listen address.
    pub fn new(key: Option<String>, listen: std::net::SocketAddr) -> Self {
        match key {
            Some(k) => Self::Key(k),
            None if listen.ip().is_loopback() => Self::Loopback,
            None => Self::Refuse,
        }
    }

    /// Checks an `Authorization` header value against the policy.
    pub fn allows(&self, authorization: Option<&str>) -> bool {
        match self {
            Self::Loopback => true,
            Self::Refuse => false,
            Self::Key(key) => authorization
                .and_then(bearer_token)
                .is_some_and(|given| constant_time_eq(given.as_bytes(), key.as_bytes())),
        }
    }
}

/// The token of a `Bearer` authorization (the scheme is case-insensitive, RFC 9110 11.1).
fn bearer_token(header: &str) -> Option<&str> {
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

    #[test]
    fn policies() {
        let local = "127.0.0.1:8080".parse().unwrap();
        let public = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(AdminPolicy::new(None, local), AdminPolicy::Loopback);
        assert_eq!(AdminPolicy::new(None, public), AdminPolicy::Refuse);
        assert!(AdminPolicy::Loopback.allows(None));
        assert!(!AdminPolicy::Refuse.allows(Some("Bearer x")));
        let key = AdminPolicy::new(Some("s3cret".into()), public);
        for good in ["Bearer s3cret", "bearer s3cret", "BEARER  s3cret ", "  Bearer s3cret"] {
            assert!(key.allows(Some(good)), "{good:?}");
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
            assert!(!key.allows(bad), "{bad:?}");
        }
    }
}
