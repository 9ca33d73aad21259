//! Where a new room goes: the pure choice of the least-loaded live node, and how a node's load
//! is read from (and written to) its entry in the registry.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// A live node as its last heartbeat (and placements since) describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeLoad {
    /// The node's id (random per process start).
    pub id: String,
    /// Its public URL (where redirects send clients).
    pub url: String,
    /// Cores its process used over the last heartbeat interval (1.0 = one core).
    pub cpu: f64,
    /// Its unexpired room leases: the rooms it runs, and those placed on it that its clients
    /// have not reached yet (`scripts/leases.lua`).
    pub rooms: u64,
    /// Participants in its rooms.
    pub participants: u64,
    /// Its rooms with their participant counts, for the fleet-wide room list.
    pub list: Vec<RoomEntry>,
}

/// A room in a node's heartbeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomEntry {
    /// The room's id.
    pub id: String,
    /// Participants in it.
    pub participants: usize,
}

/// How much a core of CPU weighs against a room: a room of a few publishers costs a few
/// tenths of a core here, so a node at 1.0 core counts like one that runs four more rooms.
const CPU_WEIGHT: f64 = 4.0;
/// How much a participant weighs against a room (each one adds a decoder or an egress branch).
const PARTICIPANT_WEIGHT: f64 = 0.25;

impl NodeLoad {
    /// The node's load score: lower takes the next room.
    pub fn score(&self) -> f64 {
        self.cpu * CPU_WEIGHT + self.rooms as f64 + self.participants as f64 * PARTICIPANT_WEIGHT
    }

    /// Reads a node's registry hash (`HGETALL`); `None` when it has no URL (expired or foreign).
    pub fn from_hash(id: &str, fields: &HashMap<String, String>) -> Option<Self> {
        let number = |key: &str| fields.get(key).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        Some(Self {
            id: id.to_owned(),
            url: fields.get("url")?.clone(),
            cpu: number("cpu"),
            rooms: number("rooms") as u64,
            participants: number("participants") as u64,
            list: fields.get("list").and_then(|l| serde_json::from_str(l).ok()).unwrap_or_default(),
        })
    }

    /// The hash fields a heartbeat writes; `rooms` is not one of them: the Lua scripts count
    /// it from the node's leases (`scripts/leases.lua`).
    pub fn to_fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("url", self.url.clone()),
            ("cpu", format!("{:.3}", self.cpu)),
            ("participants", self.participants.to_string()),
            ("list", serde_json::to_string(&self.list).expect("room entries serialize")),
        ]
    }
}

/// The node that takes a new room: the lowest score; on a tie (within a hundredth) the node
/// asking, which saves its client a redirect, then the lowest id, so every node picks alike.
pub fn least_loaded<'a>(nodes: &'a [NodeLoad], me: &str) -> Option<&'a NodeLoad> {
    let key = |n: &NodeLoad| ((n.score() * 100.0).round() as i64, n.id != me);
    nodes.iter().min_by(|a, b| key(a).cmp(&key(b)).then_with(|| a.id.cmp(&b.id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, cpu: f64, rooms: u64, participants: u64) -> NodeLoad {
        NodeLoad { id: id.into(), url: format!("http://{id}"), cpu, rooms, participants, list: Vec::new() }
    }

    #[test]
    fn the_emptiest_node_takes_the_room() {
        let nodes = [node("a", 0.5, 1, 2), node("b", 0.0, 0, 0), node("c", 0.1, 1, 1)];
        assert_eq!(least_loaded(&nodes, "a").unwrap().id, "b");
    }

    #[test]
    fn a_tie_keeps_the_room_on_the_asking_node_then_the_lowest_id() {
        let nodes = [node("a", 0.0, 0, 0), node("b", 0.0, 0, 0), node("c", 0.0, 0, 0)];
        assert_eq!(least_loaded(&nodes, "b").unwrap().id, "b");
        assert_eq!(least_loaded(&nodes, "z").unwrap().id, "a");
    }

    #[test]
    fn cpu_counts_against_a_node_with_fewer_rooms() {
        // One room at 1.6 cores (4 + 6.4 + 0.5) weighs more than three light ones (3 + 0.8 + 0.75).
        let nodes = [node("busy", 1.6, 1, 2), node("light", 0.2, 3, 3)];
        assert_eq!(least_loaded(&nodes, "busy").unwrap().id, "light");
    }

    #[test]
    fn no_node_no_choice() {
        assert!(least_loaded(&[], "a").is_none());
    }

    #[test]
    fn a_heartbeat_round_trips_through_its_hash() {
        let mut n = node("a", 0.25, 2, 5);
        n.list = vec![RoomEntry { id: "r".into(), participants: 5 }];
        let mut fields: HashMap<String, String> = n.to_fields().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        assert_eq!(fields.insert("rooms".into(), "2".into()), None, "the scripts count the rooms");
        assert_eq!(NodeLoad::from_hash("a", &fields), Some(n));
        assert_eq!(NodeLoad::from_hash("a", &HashMap::new()), None, "no url: not a live node");
    }
}
