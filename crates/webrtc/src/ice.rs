//! ICE candidate helpers (pure).

use std::net::IpAddr;

/// Whether `candidate`'s connection address is an mDNS name (`<uuid>.local`), as browsers
/// send for their host candidates.
///
/// The server does not pass these to `webrtcbin`: 1.22 resolves them in a `GTask` that holds
/// the ICE object until the lookup ends, which can outlive the peer's `webrtcbin` and then
/// crash the process (see [`super::webrtc`]). Nothing is lost: a server without an mDNS
/// resolver cannot resolve them, and the browser's checks reach the server's own candidates,
/// from which ICE learns the browser's address (a peer-reflexive candidate).
pub fn is_mdns(candidate: &str) -> bool {
    candidate.split(' ').nth(4).is_some_and(|address| address.to_ascii_lowercase().ends_with(".local"))
}

/// Rewrites the connection address of a host candidate to `announce` (1:1 NAT, containers).
/// Other candidate types, and lines that do not parse, are returned unchanged.
///
/// `candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> ...`
pub fn announce_host(candidate: &str, announce: IpAddr) -> String {
    let fields: Vec<&str> = candidate.split(' ').collect();
    let is_host = fields.len() >= 8 && fields[6] == "typ" && fields[7] == "host";
    if !is_host {
        return candidate.to_owned();
    }
    let mut out: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    out[4] = announce.to_string();
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mdns_host_candidates_are_recognised() {
        let mdns =
            "candidate:2 1 udp 2122260223 4f3d1c7a-58c1-4b0e-9d8e-0c1f2a3b4c5d.local 54321 typ host generation 0";
        assert!(is_mdns(mdns));
        assert!(is_mdns(&mdns.to_uppercase()));
        assert!(!is_mdns("candidate:1 1 UDP 2015363327 10.0.0.5 40215 typ host"));
        assert!(!is_mdns("candidate:3 1 udp 1 198.51.100.1 9 typ srflx raddr host.local rport 9"));
        assert!(!is_mdns(""));
    }

    #[test]
    fn rewrites_only_host_candidates() {
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        let host = "candidate:1 1 UDP 2015363327 10.0.0.5 40215 typ host";
        assert_eq!(announce_host(host, ip), "candidate:1 1 UDP 2015363327 203.0.113.7 40215 typ host");
        let srflx = "candidate:2 1 UDP 1679819007 198.51.100.1 40215 typ srflx raddr 10.0.0.5 rport 40215";
        assert_eq!(announce_host(srflx, ip), srflx);
        assert_eq!(announce_host("garbage", ip), "garbage");
        let tcp = "candidate:3 1 TCP 1015023871 10.0.0.5 9 typ host tcptype active";
        assert!(announce_host(tcp, ip).contains("203.0.113.7 9 typ host tcptype active"));
    }
}
