//! The server's Prometheus metrics (`GET /metrics`, documented in `docs/metrics.md`): one
//! process-wide set, as a process has one server. Updating one is a relaxed atomic (a label
//! lookup for labelled ones); nothing is updated per packet: per-participant media is read
//! by each room once a second ([`room::RoomMetrics`]) and summarised in histograms, so the
//! number of series grows with rooms, not participants.

pub mod process;
mod room;

use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

pub(crate) use room::{RoomMetrics, RoomSecond};

use crate::room::core::LeaveReason;

/// A label `role`: `publisher`, `viewer` or `agent`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RoleLabel {
    /// The role.
    pub role: &'static str,
}

/// A label `reason` of a departure.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ReasonLabel {
    /// Why they left.
    pub reason: &'static str,
}

/// A label `code`: an error code sent to a client.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct CodeLabel {
    /// The code.
    pub code: &'static str,
}

/// A label `direction`: `in` (from clients) or `out`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct DirectionLabel {
    /// Which way.
    pub direction: &'static str,
}

/// A label `room`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RoomLabel {
    /// The room's id.
    pub room: String,
}

/// A label `state` of a recording.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct StateLabel {
    /// The state, as the REST API spells it.
    pub state: &'static str,
}

/// A label `outcome` of a webhook delivery.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct OutcomeLabel {
    /// `delivered`, `failed` (retried for its whole window) or `dropped` (queue full).
    pub outcome: &'static str,
}

type GaugeF64 = Gauge<f64, AtomicU64>;

/// Every metric the server exports.
pub(crate) struct Metrics {
    /// What `/metrics` encodes.
    registry: Registry,
    /// Live rooms (set on each scrape).
    pub rooms: Gauge,
    /// Participants in rooms now, by role.
    pub participants: Family<RoleLabel, Gauge>,
    /// Participants admitted, by role.
    pub joins: Family<RoleLabel, Counter>,
    /// Participants removed, by reason.
    pub leaves: Family<ReasonLabel, Counter>,
    /// `error` messages sent to clients, by code.
    pub errors: Family<CodeLabel, Counter>,
    /// WebSocket signaling messages, by direction.
    pub signaling: Family<DirectionLabel, Counter>,
    /// Each room's composite frames per second over the last second.
    pub composite_fps: Family<RoomLabel, GaugeF64>,
    /// Each room's mean VP8 encoder time per composite frame over the last second, seconds.
    pub encode_seconds: Family<RoomLabel, GaugeF64>,
    /// Each room's mixes being encoded: the composite, the full audio mix, one mix-minus per
    /// publisher.
    pub mixes_encoded: Family<RoomLabel, Gauge>,
    /// Publishers' decoded frames per second, one observation per publisher per second.
    pub inbound_fps: Histogram,
    /// Publishers' inbound bitrate, kbit/s, one observation per participant per second.
    pub inbound_kbps: Histogram,
    /// Participants' fraction of inbound RTP packets lost, one observation per participant per
    /// second.
    pub inbound_loss: Histogram,
    /// Participants' largest inbound interarrival jitter, seconds, one observation per
    /// participant per second.
    pub inbound_jitter: Histogram,
    /// NACKs sent to publishers.
    pub inbound_nacks: Counter,
    /// PLIs and FIRs sent to publishers.
    pub inbound_plis: Counter,
    /// Keyframes asked of the composite's encoder (new receivers, PLI/FIR from receivers).
    pub keyframe_requests: Counter,
    /// Keyframes the composite's encoders produced (asked for, or periodic).
    pub composite_keyframes: Counter,
    /// Times a composite was late and skipped the frames already due (an overloaded server).
    pub composite_late_skips: Counter,
    /// Recordings in the server's list, by state (set on each scrape).
    pub recordings: Family<StateLabel, Gauge>,
    /// Bytes in the files of the recordings listed (set on each scrape).
    pub recording_bytes: Gauge,
    /// Webhook deliveries, by outcome.
    pub webhooks: Family<OutcomeLabel, Counter>,
    /// Webhook attempts that failed and were retried.
    pub webhook_retries: Counter,
}

impl Metrics {
    fn new() -> Self {
        // The process figures keep their standard unprefixed names; everything else is tessera_*.
        let mut registry = Registry::default();
        let m = Self {
            registry: Registry::default(),
            rooms: Gauge::default(),
            participants: Family::default(),
            joins: Family::default(),
            leaves: Family::default(),
            errors: Family::default(),
            signaling: Family::default(),
            composite_fps: Family::default(),
            encode_seconds: Family::default(),
            mixes_encoded: Family::default(),
            inbound_fps: Histogram::new([1.0, 5.0, 10.0, 15.0, 20.0, 25.0, 28.0, 32.0, 60.0]),
            inbound_kbps: Histogram::new([16.0, 64.0, 128.0, 256.0, 512.0, 1000.0, 2000.0, 4000.0]),
            inbound_loss: Histogram::new([0.0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5]),
            inbound_jitter: Histogram::new([0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2]),
            inbound_nacks: Counter::default(),
            inbound_plis: Counter::default(),
            keyframe_requests: Counter::default(),
            composite_keyframes: Counter::default(),
            composite_late_skips: Counter::default(),
            recordings: Family::default(),
            recording_bytes: Gauge::default(),
            webhooks: Family::default(),
            webhook_retries: Counter::default(),
        };
        let r = registry.sub_registry_with_prefix("tessera");
        r.register("rooms", "Live rooms", m.rooms.clone());
        r.register("participants", "Participants in rooms now, by role", m.participants.clone());
        r.register("joins", "Participants admitted to a room, by role", m.joins.clone());
        r.register("leaves", "Participants removed from a room, by reason", m.leaves.clone());
        r.register("errors_sent", "Error messages sent to signaling clients, by code", m.errors.clone());
        r.register("signaling_messages", "WebSocket signaling messages, by direction", m.signaling.clone());
        r.register("room_composite_fps", "Composite frames per second of each room", m.composite_fps.clone());
        r.register(
            "room_encode_seconds_per_frame",
            "Mean VP8 encoder time per composite frame of each room over the last second",
            m.encode_seconds.clone(),
        );
        r.register(
            "room_mixes_encoded",
            "Mixes each room encodes (composite, audio, mix-minus)",
            m.mixes_encoded.clone(),
        );
        r.register(
            "inbound_fps",
            "Publishers' decoded video frames per second, sampled each second",
            m.inbound_fps.clone(),
        );
        r.register(
            "inbound_kbps",
            "Participants' inbound RTP bitrate (kbit/s), sampled each second",
            m.inbound_kbps.clone(),
        );
        r.register(
            "inbound_loss_ratio",
            "Participants' fraction of inbound RTP packets lost, sampled each second",
            m.inbound_loss.clone(),
        );
        r.register(
            "inbound_jitter_seconds",
            "Participants' largest inbound interarrival jitter (seconds), sampled each second",
            m.inbound_jitter.clone(),
        );
        r.register("inbound_nacks", "NACKs sent to publishers for lost packets", m.inbound_nacks.clone());
        r.register("inbound_plis", "PLIs and FIRs sent to publishers", m.inbound_plis.clone());
        r.register(
            "keyframe_requests",
            "Keyframes forced: requests to the composite encoder (joins, PLI/FIR)",
            m.keyframe_requests.clone(),
        );
        r.register("composite_keyframes", "Keyframes the composite encoders produced", m.composite_keyframes.clone());
        r.register(
            "composite_late_skips",
            "Times a composite was late and skipped the frames already due (the server is short of CPU)",
            m.composite_late_skips.clone(),
        );
        r.register("recordings", "Recordings in the server's list, by state", m.recordings.clone());
        r.register("recording_bytes", "Bytes written by the recordings listed", m.recording_bytes.clone());
        r.register("webhooks", "Webhook deliveries, by outcome", m.webhooks.clone());
        r.register("webhook_retries", "Webhook attempts that failed and were retried", m.webhook_retries.clone());
        registry.register_collector(Box::new(process::ProcessCollector));
        // Every known label value from the start, at 0: a series that appears only on its first
        // event makes `rate()` miss that event and dashboards show "no data" instead of 0.
        for role in ["publisher", "viewer", "agent"] {
            let _ = m.participants.get_or_create(&RoleLabel { role });
            let _ = m.joins.get_or_create(&RoleLabel { role });
        }
        for reason in LeaveReason::ALL {
            let _ = m.leaves.get_or_create(&ReasonLabel { reason: reason.as_str() });
        }
        for code in crate::protocol::ErrorCode::ALL {
            let _ = m.errors.get_or_create(&CodeLabel { code: code.as_str() });
        }
        for direction in ["in", "out"] {
            let _ = m.signaling.get_or_create(&DirectionLabel { direction });
        }
        for outcome in ["delivered", "failed", "dropped"] {
            let _ = m.webhooks.get_or_create(&OutcomeLabel { outcome });
        }
        Self { registry, ..m }
    }

    /// The text exposition (OpenMetrics) of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String");
        out
    }
}

/// The process's metrics.
pub(crate) fn get() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// Counts an `error` message sent to a client.
pub(crate) fn error_sent(code: crate::protocol::ErrorCode) {
    get().errors.get_or_create(&CodeLabel { code: code.as_str() }).inc();
}

/// Counts a signaling message (`in` from a client, `out` to one).
pub(crate) fn signaling(direction: &'static str) {
    get().signaling.get_or_create(&DirectionLabel { direction }).inc();
}

/// Counts a webhook delivery outcome.
pub(crate) fn webhook(outcome: &'static str) {
    get().webhooks.get_or_create(&OutcomeLabel { outcome }).inc();
}

/// The label of a role.
pub(crate) fn role_name(role: crate::protocol::Role) -> &'static str {
    match role {
        crate::protocol::Role::Publisher => "publisher",
        crate::protocol::Role::Viewer => "viewer",
        crate::protocol::Role::Agent => "agent",
    }
}
