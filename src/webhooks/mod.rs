//! Webhooks (documented in `docs/webhooks.md`): what happens in rooms, POSTed as signed JSON to
//! every `--webhook-url`. A room only queues an event ([`emit`], a `try_send` that never
//! waits); each URL's worker ([`delivery`]) posts them in order, retrying with backoff for
//! `retry_for` seconds. A full queue drops the event; deliveries, failures and drops are
//! counted in `/metrics`. Like the metrics, one set per process.

mod delivery;
pub mod signature;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::config::WebhookSettings;
use crate::ids::{RecordingId, RoomId};
use crate::protocol::ParticipantInfo;
use crate::recording::{RecordingInfo, RecordingState};
use crate::room::core::LeaveReason;

/// Events waiting per URL; beyond, new ones are dropped (and counted).
const QUEUE: usize = 1024;

/// What happened.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum Event {
    /// A room was created (its first join).
    RoomStarted,
    /// A room ended and its pipeline stopped.
    RoomFinished,
    /// A participant was admitted.
    ParticipantJoined {
        /// Who.
        participant: ParticipantInfo,
    },
    /// A participant was removed.
    ParticipantLeft {
        /// Who.
        participant: ParticipantInfo,
        /// `left`, `kicked`, `timeout`, `error` or `closed`.
        reason: &'static str,
    },
    /// A recording wrote its first keyframe.
    RecordingStarted {
        /// The recording.
        recording: RecordingReport,
    },
    /// A recording was finalized.
    RecordingFinished {
        /// The recording.
        recording: RecordingReport,
    },
    /// A recording stopped on an error (its file holds what was written before).
    RecordingFailed {
        /// The recording.
        recording: RecordingReport,
    },
}

/// A recording, as webhooks describe it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RecordingReport {
    /// Its id.
    id: RecordingId,
    /// The WebM file.
    path: String,
    /// Media written, seconds.
    duration_secs: f64,
    /// Size of the file.
    bytes: u64,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The body POSTed: an event with its id, room and time.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    /// Unique per event (the same on every retry): receivers deduplicate on it.
    id: String,
    /// The room it happened in.
    room: &'a RoomId,
    /// When, unix milliseconds.
    created_at: u128,
    /// What.
    #[serde(flatten)]
    event: &'a Event,
}

/// One event, serialized once and shared by every URL's worker.
#[derive(Debug)]
pub(crate) struct Payload {
    /// `Envelope::id`.
    id: String,
    /// The event's name, for the `Tessera-Event` header.
    kind: &'static str,
    /// The JSON body.
    body: bytes::Bytes,
}

/// The queues of the configured URLs.
#[derive(Debug)]
struct Notifier {
    /// One queue per URL.
    queues: Vec<tokio::sync::mpsc::Sender<Arc<Payload>>>,
    /// Events queued or being delivered, over every URL.
    unfinished: Arc<AtomicUsize>,
}

static NOTIFIER: OnceLock<Notifier> = OnceLock::new();

/// Starts a worker per configured URL (on the current runtime). Nothing without URLs.
pub(crate) fn install(settings: &WebhookSettings) {
    if settings.urls.is_empty() {
        return;
    }
    let secret = settings.secret.clone().unwrap_or_default();
    let retry_for = std::time::Duration::from_secs(settings.retry_for);
    let client = delivery::client();
    let unfinished = Arc::new(AtomicUsize::new(0));
    let queues = settings
        .urls
        .iter()
        .map(|url| {
            let (tx, rx) = tokio::sync::mpsc::channel(QUEUE);
            let worker = delivery::Worker {
                url: url.clone(),
                secret: secret.clone(),
                retry_for,
                client: client.clone(),
                unfinished: unfinished.clone(),
            };
            tokio::spawn(worker.run(rx));
            tx
        })
        .collect();
    if NOTIFIER.set(Notifier { queues, unfinished }).is_err() {
        tracing::warn!("webhooks were already set up in this process; the second set is ignored");
    } else {
        tracing::info!(urls = ?settings.urls, "webhooks on");
    }
}

fn event_name(event: &Event) -> &'static str {
    match event {
        Event::RoomStarted => "room_started",
        Event::RoomFinished => "room_finished",
        Event::ParticipantJoined { .. } => "participant_joined",
        Event::ParticipantLeft { .. } => "participant_left",
        Event::RecordingStarted { .. } => "recording_started",
        Event::RecordingFinished { .. } => "recording_finished",
        Event::RecordingFailed { .. } => "recording_failed",
    }
}

fn event_id() -> String {
    let mut bytes = [0u8; 12];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).expect("system randomness");
    format!("evt_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// Queues `event` of `room` for every URL; never waits (a full queue drops it, counted).
pub(crate) fn emit(room: &RoomId, event: Event) {
    let Some(notifier) = NOTIFIER.get() else { return };
    let created_at = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let id = event_id();
    let body =
        serde_json::to_vec(&Envelope { id: id.clone(), room, created_at, event: &event }).expect("events serialize");
    let payload = Arc::new(Payload { id, kind: event_name(&event), body: body.into() });
    for queue in &notifier.queues {
        notifier.unfinished.fetch_add(1, Ordering::Relaxed);
        if queue.try_send(payload.clone()).is_err() {
            notifier.unfinished.fetch_sub(1, Ordering::Relaxed);
            crate::metrics::webhook("dropped");
            tracing::warn!(event = payload.kind, "webhook queue full: event dropped");
        }
    }
}

/// At shutdown: waits up to `limit` for the events queued (the rooms' last ones) to be
/// delivered or given up.
pub(crate) async fn flush(limit: std::time::Duration) {
    let Some(notifier) = NOTIFIER.get() else { return };
    let deadline = tokio::time::Instant::now() + limit;
    while notifier.unfinished.load(Ordering::Relaxed) > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let left = notifier.unfinished.load(Ordering::Relaxed);
    if left > 0 {
        tracing::warn!("{left} webhook deliveries still pending at exit");
    }
}

/// A participant left, as an event.
pub(crate) fn participant_left(participant: ParticipantInfo, reason: LeaveReason) -> Event {
    Event::ParticipantLeft { participant, reason: reason.as_str() }
}

/// The event of a recording that reached `info.state`, if that state has one.
pub(crate) fn recording_event(info: &RecordingInfo) -> Option<Event> {
    let recording = RecordingReport {
        id: info.id,
        path: info.path.display().to_string(),
        duration_secs: info.duration_secs,
        bytes: info.bytes,
        error: info.error.clone(),
    };
    match info.state {
        RecordingState::Running => Some(Event::RecordingStarted { recording }),
        RecordingState::Done => Some(Event::RecordingFinished { recording }),
        RecordingState::Failed => Some(Event::RecordingFailed { recording }),
        RecordingState::Starting | RecordingState::Stopping => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies() {
        let room = RoomId::parse("r1").unwrap();
        let who = ParticipantInfo {
            id: crate::ids::ParticipantId::next(),
            name: "Ann".into(),
            role: crate::protocol::Role::Publisher,
        };
        let event = participant_left(who, LeaveReason::Kicked);
        let body =
            serde_json::to_value(Envelope { id: "evt_1".into(), room: &room, created_at: 5, event: &event }).unwrap();
        assert_eq!(body["event"], "participant_left");
        assert_eq!(body["reason"], "kicked");
        assert_eq!(body["room"], "r1");
        assert_eq!(body["participant"]["name"], "Ann");
        assert_eq!(body["createdAt"], 5);
        assert_eq!(event_name(&event), "participant_left");
        assert!(event_id().starts_with("evt_") && event_id() != event_id());
    }
}
