//! The node's heartbeat: every third of the TTL (250 ms after one that failed) it writes its
//! entry (URL and load), renews the lease of every room it runs (re-claiming those whose key
//! vanished: Redis restarted, or was out of reach longer than the lease), writes its room count
//! from its leases, and releases rooms that closed.
//!
//! While Redis is out of reach, rooms running here go on untouched; only rooms this node does
//! not run cannot be placed (`fleet_unavailable`). If, when Redis is back, another node holds
//! one of our rooms (our lease ran out while clients moved there), the other node keeps it: its
//! key is the fleet's truth, and ours is the stale copy. Ours is shut down with
//! `server_shutdown`, and its clients rejoin through the fleet, which sends them to the owner.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::placement::{NodeLoad, RoomEntry};
use super::{Fleet, FleetUnavailable, NODES, REGISTRY, SETTLING, leases_key, node_key, room_key, script};
use crate::registry::Registry;
use crate::room::RoomHandle;

/// The next beat after one that failed: soon, so that a node re-registers its rooms within
/// moments of Redis coming back, not a period later.
const RETRY: Duration = Duration::from_millis(250);

/// How long a room may take to say how many participants it has, for the heartbeat.
const INFO_LIMIT: Duration = Duration::from_millis(500);

/// The shortest window a CPU reading is taken over: the kernel counts CPU time in ticks of
/// 10 ms, and one tick over a few ms would read as several cores.
const CPU_WINDOW: Duration = Duration::from_millis(500);

/// This process's CPU use in cores, read over windows of [`CPU_WINDOW`] or more.
#[derive(Debug, Default)]
struct CpuClock {
    /// When the last reading was taken, and the CPU seconds used by then.
    since: Option<(Instant, f64)>,
    /// The last reading, in cores.
    last_cores: f64,
}

impl CpuClock {
    /// Seconds of CPU this process used so far (`/proc/self/stat`: utime + stime).
    fn cpu_seconds() -> Option<f64> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the command name (which may hold spaces), from field 3 (state) on.
        let rest: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: f64 = rest.get(11)?.parse::<f64>().ok()? + rest.get(12)?.parse::<f64>().ok()?;
        // SAFETY: sysconf only reads a constant of the system.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        Some(ticks / if hz > 0 { hz as f64 } else { 100.0 })
    }

    /// Cores used since the last reading, read now.
    fn cores(&mut self) -> f64 {
        self.reading(Instant::now(), Self::cpu_seconds().unwrap_or(0.0))
    }

    /// Cores used since the last reading, at `at` with `cpu_seconds` used by then (0 before
    /// the first); within [`CPU_WINDOW`] of the last reading, that reading again.
    fn reading(&mut self, at: Instant, cpu_seconds: f64) -> f64 {
        match self.since {
            Some((then, _)) if at.duration_since(then) < CPU_WINDOW => return self.last_cores,
            Some((then, used)) => {
                self.last_cores = ((cpu_seconds - used) / at.duration_since(then).as_secs_f64()).max(0.0);
            }
            None => {}
        }
        self.since = Some((at, cpu_seconds));
        self.last_cores
    }
}

/// Starts the heartbeat of `fleet` for the rooms of `registry` until `shutdown` turns true.
/// The first beat is made before this returns, so a node is placeable as soon as it serves.
pub async fn start(fleet: Arc<Fleet>, registry: Weak<Registry>, mut shutdown: watch::Receiver<bool>) {
    let mut released = fleet.released.lock().unwrap().take().expect("one heartbeat per fleet");
    let mut cpu = CpuClock::default();
    let mut up = beat(&fleet, &registry, &mut cpu, true).await;
    tokio::spawn(async move {
        // The first beat was just made: the next after a period, or soon if it failed.
        let period = fleet.ttl / 3;
        let first = if up { period } else { RETRY };
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + first, period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {
                    up = beat(&fleet, &registry, &mut cpu, up).await;
                    if !up {
                        ticks.reset_after(RETRY);
                    }
                }
                Some(room) = released.recv() => {
                    // A join may have started the room again here since it closed: keep its lease.
                    if registry.upgrade().is_some_and(|r| r.get(&room).is_some()) {
                        continue;
                    }
                    if let Err(e) = fleet.release_now(&room).await {
                        tracing::debug!(%room, "release failed (the lease will expire): {e}");
                    }
                }
                _ = stopping(&mut shutdown) => break,
            }
        }
    });
}

/// Completes once the server started shutting down.
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// One heartbeat; returns whether Redis answered (and logs when that changes from `was_up`).
async fn beat(fleet: &Fleet, registry: &Weak<Registry>, cpu: &mut CpuClock, was_up: bool) -> bool {
    let Some(registry) = registry.upgrade() else { return was_up }; // shutting down
    let rooms = registry.rooms();
    let result = register(fleet, &rooms, cpu.cores()).await;
    match (&result, was_up) {
        (Ok(()), false) => tracing::info!(rooms = rooms.len(), "fleet registry reachable: node and rooms registered"),
        (Err(e), true) => tracing::warn!("{e}; rooms running here go on, no new room can be placed"),
        _ => {}
    }
    result.is_ok()
}

/// Writes this node's entry and renews its rooms' leases; shuts down a room another node holds.
async fn register(fleet: &Fleet, rooms: &[RoomHandle], cores: f64) -> Result<(), FleetUnavailable> {
    let infos = futures_util::future::join_all(rooms.iter().map(|r| tokio::time::timeout(INFO_LIMIT, r.info()))).await;
    let list: Vec<RoomEntry> = rooms
        .iter()
        .zip(infos)
        .map(|(room, info)| RoomEntry {
            id: room.id().to_string(),
            participants: info.ok().and_then(Result::ok).map_or(0, |i| i.participants.len()),
        })
        .collect();
    let load = NodeLoad {
        id: fleet.node.clone(),
        url: fleet.url.clone(),
        cpu: cores,
        rooms: rooms.len() as u64, // not written: `count` writes the leases' count
        participants: list.iter().map(|r| r.participants as u64).sum(),
        list,
    };
    let (key, lease, node) = (node_key(&fleet.node), fleet.lease_ms(), fleet.node.clone());
    fleet
        .call(async move |mut redis| {
            redis::pipe()
                .hset_multiple(&key, &load.to_fields())
                .pexpire(&key, lease as i64)
                .sadd(NODES, &node)
                .query_async::<()>(&mut redis)
                .await
        })
        .await?;
    announce(fleet).await?;
    for room in rooms {
        if let Some(owner) = renew(fleet, room).await? {
            tracing::warn!(room = %room.id(), %owner, "another node holds this room now: closing the copy here");
            let room = room.clone();
            tokio::spawn(async move { room.shutdown().await });
        }
    }
    write_room_count(fleet).await
}

/// Writes this node's room count from its leases (claims made for it by any node included),
/// after the renewals above.
async fn write_room_count(fleet: &Fleet) -> Result<(), FleetUnavailable> {
    static COUNT: std::sync::LazyLock<redis::Script> = script!("count.lua");
    let (entry, leases) = (node_key(&fleet.node), leases_key(&fleet.node));
    fleet.call(async move |mut redis| COUNT.arg(entry).arg(leases).invoke_async::<i64>(&mut redis).await).await?;
    Ok(())
}

/// Sets the registry's marker if it is missing. When this node had seen it before, Redis
/// restarted empty: claims then wait a whole lease (set in the same script, so none slips in
/// between), and the rooms running on the nodes are registered again before anyone can take
/// them. A node's first call after Redis is back may fail while its connection reconnects, and
/// its next beat comes [`RETRY`] later: well within the lease.
async fn announce(fleet: &Fleet) -> Result<(), FleetUnavailable> {
    use std::sync::atomic::Ordering;
    static ANNOUNCE: std::sync::LazyLock<redis::Script> =
        std::sync::LazyLock::new(|| redis::Script::new(include_str!("scripts/announce.lua")));
    let (node, settle) = (fleet.node.clone(), fleet.lease_ms());
    let seen = fleet.seen_registry.load(Ordering::Relaxed);
    let fresh: i64 = fleet
        .call(async move |mut redis| {
            let mut call = ANNOUNCE.prepare_invoke();
            call.arg(REGISTRY).arg(node).arg(SETTLING).arg(settle).arg(if seen { "1" } else { "0" });
            call.invoke_async(&mut redis).await
        })
        .await?;
    if fresh == 1 && seen {
        tracing::warn!("the fleet's registry restarted empty: rooms are claimed again after {settle} ms");
    }
    fleet.seen_registry.store(true, Ordering::Relaxed);
    Ok(())
}

/// Renews `room`'s lease; `Some(owner)` when another node holds it.
async fn renew(fleet: &Fleet, room: &RoomHandle) -> Result<Option<String>, FleetUnavailable> {
    static RENEW: std::sync::LazyLock<redis::Script> = script!("renew.lua");
    let (key, node, lease) = (room_key(room.id().as_str()), fleet.node.clone(), fleet.lease_ms());
    let answer: redis::Value = fleet
        .call(async move |mut redis| {
            let leases = leases_key(&node);
            RENEW.key(key).arg(node).arg(lease).arg(leases).invoke_async(&mut redis).await
        })
        .await?;
    Ok(match answer {
        redis::Value::Int(1) => None,
        other => Some(redis::from_redis_value::<String>(other).unwrap_or_else(|_| "?".into())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_read_over_half_a_second_or_more() {
        let (t0, ms) = (Instant::now(), Duration::from_millis);
        let near = |cores: f64, want: f64| (cores - want).abs() < 1e-9;
        let mut clock = CpuClock::default();
        assert_eq!(clock.reading(t0, 10.0), 0.0, "nothing to compare the first with");
        // One 10 ms tick a few ms later is not read as several cores.
        assert_eq!(clock.reading(t0 + ms(4), 10.01), 0.0);
        assert!(near(clock.reading(t0 + ms(600), 10.3), 0.5));
        assert!(near(clock.reading(t0 + ms(700), 11.0), 0.5), "too soon: the last reading again");
        assert!(near(clock.reading(t0 + ms(1600), 11.3), 1.0), "1 s of CPU over the 1 s since 600 ms");
    }

    #[test]
    fn the_process_cpu_time_reads_from_proc() {
        let used = CpuClock::cpu_seconds().expect("/proc/self/stat reads");
        assert!((0.0..1e6).contains(&used), "{used}");
    }
}
