//! Per client address: open WebSocket connections and join attempts per minute.
//!
//! The address is the TCP peer's. `Forwarded` and `X-Forwarded-For` are never read: behind a
//! reverse proxy every client shares the proxy's address (see `docs/security.md`). An IPv6
//! client counts by its /64, the block one subscriber gets: counting each of its 2^64
//! addresses apart would be no limit at all.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::rate::Bucket;

/// Entries kept before idle ones are swept.
const SWEEP_AT: usize = 4096;

#[derive(Debug)]
struct Entry {
    connections: usize,
    joins: Bucket,
}

/// Connection and join counters by client address.
#[derive(Debug)]
pub struct AddressLimits {
    max_connections: usize,
    joins_per_minute: u32,
    table: Mutex<HashMap<IpAddr, Entry>>,
}

/// The key an address counts under: IPv4 as is (also when mapped into IPv6), IPv6 by its /64.
fn client_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// One open connection of an address; dropping it gives the slot back.
#[derive(Debug)]
pub struct ConnectionGuard {
    limits: Arc<AddressLimits>,
    ip: IpAddr,
}

impl AddressLimits {
    /// Limits of `max_connections` open sockets and `joins_per_minute` joins per address.
    pub fn new(max_connections: usize, joins_per_minute: u32) -> Arc<Self> {
        Arc::new(Self { max_connections, joins_per_minute, table: Mutex::default() })
    }

    fn entry<'a>(&self, table: &'a mut HashMap<IpAddr, Entry>, ip: IpAddr, now: Instant) -> &'a mut Entry {
        if table.len() >= SWEEP_AT && !table.contains_key(&ip) {
            table.retain(|_, e| e.connections > 0 || !e.joins.is_full_at(now));
        }
        let per_minute = f64::from(self.joins_per_minute);
        table.entry(ip).or_insert_with(|| Entry { connections: 0, joins: Bucket::new(per_minute / 60.0, per_minute) })
    }

    /// Opens a connection for `ip`, or `None` when it has its maximum open.
    pub fn connect(self: &Arc<Self>, ip: IpAddr) -> Option<ConnectionGuard> {
        let ip = client_of(ip);
        let mut table = self.table.lock().unwrap();
        let entry = self.entry(&mut table, ip, Instant::now());
        if entry.connections >= self.max_connections {
            return None;
        }
        entry.connections += 1;
        Some(ConnectionGuard { limits: self.clone(), ip })
    }

    /// Counts a join attempt of `ip` at `now`; false when over the per-minute budget.
    pub fn join_attempt(&self, ip: IpAddr, now: Instant) -> bool {
        let ip = client_of(ip);
        let mut table = self.table.lock().unwrap();
        self.entry(&mut table, ip, now).joins.take(now)
    }
}

impl ConnectionGuard {
    /// The connection's client address.
    pub fn ip(&self) -> IpAddr {
        self.ip
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let mut table = self.limits.table.lock().unwrap();
        if let Some(e) = table.get_mut(&self.ip) {
            e.connections -= 1;
            if e.connections == 0 && e.joins.is_full_at(Instant::now()) {
                table.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn connections_are_capped_per_address_and_given_back() {
        let limits = AddressLimits::new(2, 60);
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let first = limits.connect(a).unwrap();
        let _second = limits.connect(a).unwrap();
        assert!(limits.connect(a).is_none());
        assert!(limits.connect(b).is_some(), "another address is not affected");
        drop(first);
        assert!(limits.connect(a).is_some());
    }

    #[test]
    fn an_ipv6_client_counts_by_its_64() {
        let limits = AddressLimits::new(1, 60);
        let _held = limits.connect("2001:db8:1:2::1".parse().unwrap()).unwrap();
        assert!(limits.connect("2001:db8:1:2:ffff::9".parse().unwrap()).is_none(), "same /64");
        assert!(limits.connect("2001:db8:1:3::1".parse().unwrap()).is_some(), "another /64");
        let _v4 = limits.connect("192.0.2.7".parse().unwrap()).unwrap();
        assert!(limits.connect("::ffff:192.0.2.7".parse().unwrap()).is_none(), "v4-mapped is the same client");
    }

    #[test]
    fn joins_are_budgeted_per_minute() {
        let limits = AddressLimits::new(10, 6);
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        let t0 = Instant::now();
        assert!((0..6).all(|_| limits.join_attempt(ip, t0)));
        assert!(!limits.join_attempt(ip, t0 + Duration::from_secs(5)));
        assert!(limits.join_attempt(ip, t0 + Duration::from_secs(11)), "one more after 10 s at 6/min");
    }
}
