//! ICE candidate helpers (pure).

use std::net::IpAddr;

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
