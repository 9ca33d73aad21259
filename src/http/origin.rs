//! Which web pages may use the server from a browser: the `Origin` of a WebSocket upgrade or of
//! a mutating REST call must be allowed, so a page on another site (CSRF) or a name rebound to
//! the server's address (DNS rebinding) cannot act with a visitor's access. Clients that send
//! no `Origin` (not browsers) are not affected: for them the key or token is the guard.

/// The origins allowed: a list, or (empty) the server's own host as the request names it.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    /// Allowed origins, lowercased, without a trailing `/`; `*` allows any.
    allowed: Vec<String>,
}

impl Origins {
    /// From `--allowed-origins` (e.g. `https://meet.example.com`).
    pub fn new(allowed: &[String]) -> Self {
        Self { allowed: allowed.iter().map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase()).collect() }
    }

    /// Whether a request with `origin` and `host` headers may go on.
    pub fn allows(&self, origin: Option<&str>, host: Option<&str>) -> bool {
        let Some(origin) = origin else { return true };
        let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
        if !self.allowed.is_empty() {
            return self.allowed.iter().any(|a| a == "*" || *a == origin);
        }
        // Same host: the origin's authority is the Host the browser sent the request to.
        let authority = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
        matches!((authority, host), (Some(a), Some(h)) if a == h.trim().to_ascii_lowercase())
    }
}

/// Whether `host` (a `Host` header) names this machine's loopback: in `--dev` mode, where every
/// caller is an administrator, a request that names anything else came through a name that
/// was rebound to 127.0.0.1 and is refused.
pub fn is_loopback_host(host: Option<&str>) -> bool {
    let Some(host) = host else { return false };
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(':') => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_host_by_default() {
        let o = Origins::default();
        assert!(o.allows(None, Some("a:1")), "no Origin: not a browser");
        assert!(o.allows(Some("http://127.0.0.1:8080"), Some("127.0.0.1:8080")));
        assert!(o.allows(Some("https://Meet.Example.com"), Some("meet.example.com")));
        assert!(!o.allows(Some("http://evil.example"), Some("127.0.0.1:8080")));
        assert!(!o.allows(Some("http://127.0.0.1:8081"), Some("127.0.0.1:8080")), "another port is another origin");
        assert!(!o.allows(Some("null"), Some("127.0.0.1:8080")));
        assert!(!o.allows(Some("http://127.0.0.1:8080"), None));
    }

    #[test]
    fn listed_origins() {
        let o = Origins::new(&["https://meet.example.com/".into()]);
        assert!(o.allows(Some("https://meet.example.com"), Some("tessera.internal:8080")));
        assert!(!o.allows(Some("http://meet.example.com"), Some("meet.example.com")));
        assert!(Origins::new(&["*".into()]).allows(Some("null"), None));
    }

    #[test]
    fn loopback_hosts() {
        for h in ["localhost", "localhost:8080", "127.0.0.1:8080", "[::1]:8080", "[::1]", "127.0.0.2"] {
            assert!(is_loopback_host(Some(h)), "{h}");
        }
        for h in ["rebind.example:8080", "192.168.1.2:8080", "localhost.evil.example", ""] {
            assert!(!is_loopback_host(Some(h)), "{h}");
        }
        assert!(!is_loopback_host(None));
    }
}
