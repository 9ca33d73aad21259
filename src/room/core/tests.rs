//! The room's rules on a fake clock: no GStreamer, no sockets.

use std::time::{Duration, Instant, SystemTime};

use super::*;

use crate::protocol::{ChannelMessage, IceServer};

const CANVAS: Size = Size::new(1280, 720);

pub(super) fn settings() -> Settings {
    Settings {
        canvas: CANVAS,
        video: true,
        fps: 30,
        video_kbps: 1500,
        decorations: true,
        media_timeout: Duration::from_secs(10),
    }
}

/// A room on a fake clock that starts at `t0` and only moves when told.
pub(super) struct Fixture {
    pub(super) core: RoomCore,
    pub(super) now: Instant,
    t0: Instant,
    next_id: u64,
}

impl Fixture {
    pub(super) fn new() -> Self {
        Self::with(settings())
    }

    pub(super) fn with(settings: Settings) -> Self {
        let t0 = Instant::now();
        Self { core: RoomCore::new(RoomId::parse("test").unwrap(), settings, t0), now: t0, t0, next_id: 1 }
    }

    pub(super) fn at(&mut self, since_start: Duration) {
        assert!(self.t0 + since_start >= self.now, "the fake clock only moves forward");
        self.now = self.t0 + since_start;
    }

    pub(super) fn input(&mut self, input: Input) -> Vec<Output> {
        self.core.handle(input, self.now)
    }

    pub(super) fn join(&mut self, name: &str, role: Role) -> ParticipantId {
        self.join_as(name, role, role == Role::Publisher)
    }

    pub(super) fn join_as(&mut self, name: &str, role: Role, may_set_layout: bool) -> ParticipantId {
        let id: ParticipantId = format!("p{}", self.next_id).parse().unwrap();
        self.next_id += 1;
        let at = SystemTime::now();
        let (recordings, ice_servers) = (Vec::new(), Vec::new());
        self.input(Input::Admit { id, name: name.into(), role, may_set_layout, at, recordings, ice_servers });
        id
    }

    /// A publisher whose connection is up and whose video flows.
    pub(super) fn publisher(&mut self, name: &str) -> ParticipantId {
        let id = self.join(name, Role::Publisher);
        self.input(Input::Connected(id));
        self.input(Input::VideoFlowing(id));
        id
    }
}

pub(super) fn sent_to(out: &[Output], to: ParticipantId) -> Vec<&ServerMessage> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send { to: t, msg } if *t == to => Some(msg),
            _ => None,
        })
        .collect()
}

pub(super) fn removed(out: &[Output]) -> Vec<(ParticipantId, String)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Remove { id, why, .. } => Some((*id, why.clone())),
            _ => None,
        })
        .collect()
}

pub(super) fn error_code(msgs: &[&ServerMessage]) -> Option<ErrorCode> {
    msgs.iter().find_map(|m| match m {
        ServerMessage::Error { code, .. } => Some(*code),
        _ => None,
    })
}

pub(super) fn last_stage(out: &[Output]) -> Option<&StagePlan> {
    out.iter().rev().find_map(|o| match o {
        Output::Stage(plan) => Some(plan),
        _ => None,
    })
}

/// Feeds 100 ms stage ticks from `from` to `to` (fixture time), with these levels per tick.
pub(super) fn speak(f: &mut Fixture, from: Duration, to: Duration, levels: &[(ParticipantId, f64)]) -> Vec<Output> {
    let mut out = Vec::new();
    let mut t = from;
    while t <= to {
        f.at(t);
        let levels = levels.iter().map(|(p, db)| (*p, Some(*db))).collect();
        out.extend(f.input(Input::StageTick { levels, video: Vec::new() }));
        t += Duration::from_millis(100);
    }
    out
}

#[test]
fn a_newcomer_learns_the_room_and_the_others_learn_of_them() {
    let mut f = Fixture::new();
    let red = f.publisher("red");
    let id: ParticipantId = "p2".parse().unwrap();
    let admit = Input::Admit {
        id,
        name: "blue".into(),
        role: Role::Viewer,
        may_set_layout: false,
        at: SystemTime::now(),
        recordings: vec![RecordingId::next()],
        ice_servers: vec![IceServer {
            urls: vec!["turn:turn.example.com".into()],
            username: Some("1700003600:p2".into()),
            credential: Some("c2VjcmV0".into()),
        }],
    };
    let out = f.input(admit);
    let to_blue = sent_to(&out, id);
    assert!(matches!(to_blue[0], ServerMessage::Joined { participants, .. } if participants.len() == 1));
    // Their TURN credentials go to them alone, in their `joined`.
    let ServerMessage::Joined { ice_servers, .. } = to_blue[0] else { unreachable!() };
    assert_eq!(ice_servers[0].username.as_deref(), Some("1700003600:p2"));
    let leaked = |m: &ServerMessage| serde_json::to_string(m).unwrap().contains("c2VjcmV0");
    assert!(!sent_to(&out, red).into_iter().any(leaked), "nobody else sees them");
    assert!(matches!(to_blue[1], ServerMessage::RecordingStarted { .. }));
    assert!(matches!(to_blue[2], ServerMessage::LayoutChanged { .. }));
    assert!(matches!(sent_to(&out, red)[..], [ServerMessage::ParticipantJoined { .. }]));
    // Everyone's DataChannel gets the new list; only the publisher has a tile.
    let lists: Vec<&String> = out
        .iter()
        .filter_map(|o| match o {
            Output::Channel { text, .. } => Some(text),
            _ => None,
        })
        .collect();
    assert_eq!(lists.len(), 2);
    let ChannelMessage::Participants { participants, .. } = serde_json::from_str(lists[0]).unwrap() else {
        panic!("a participant list")
    };
    assert_eq!(participants.iter().map(|p| p.tile.is_some()).collect::<Vec<_>>(), [true, false]);
}

#[test]
fn leaving_kicking_and_a_vanished_socket_each_remove_once() {
    let mut f = Fixture::new();
    let (a, b, c) = (f.publisher("a"), f.publisher("b"), f.publisher("c"));
    let out = f.input(Input::Leave(a));
    assert_eq!(removed(&out), [(a, "left".to_owned())]);
    assert!(
        sent_to(&out, b)
            .iter()
            .any(|m| matches!(m, ServerMessage::ParticipantLeft { participant_id } if *participant_id == a))
    );
    assert!(f.input(Input::Leave(a)).is_empty(), "a second leave does nothing");
    let out = f.input(Input::Kick(b));
    assert_eq!(removed(&out), [(b, "kicked".to_owned())]);
    assert_eq!(error_code(&sent_to(&out, b)), Some(ErrorCode::Kicked), "the kicked are told why");
    let out = f.input(Input::Gone(c));
    assert_eq!(removed(&out), [(c, "disconnected".to_owned())]);
    assert!(sent_to(&out, c).is_empty(), "nothing is sent to a socket that is gone");
    assert_eq!(f.core.end(f.now), Some(End::Empty));
}

#[test]
fn a_room_nobody_joins_ends_after_the_idle_limit() {
    let mut f = Fixture::new();
    f.at(IDLE_LIMIT);
    assert_eq!(f.core.end(f.now), None);
    f.at(IDLE_LIMIT + Duration::from_millis(1));
    assert_eq!(f.core.end(f.now), Some(End::NeverJoined));
}

#[test]
fn evictions_follow_the_media_timeout() {
    let mut f = Fixture::new();
    let never = f.join("never", Role::Viewer);
    let quiet = f.publisher("quiet");
    let viewer = f.join("viewer", Role::Viewer);
    f.input(Input::Connected(viewer));
    let packet = |f: &Fixture, at: Duration| InboundSnapshot { last_packet: Some(f.t0 + at), ..Default::default() };
    // Media for 2 s, then nothing.
    let mut evicted = Vec::new();
    for s in 1..=13 {
        f.at(Duration::from_secs(s));
        let last = packet(&f, Duration::from_secs(s.min(2)));
        let inbound = vec![(never, InboundSnapshot::default()), (quiet, last), (viewer, InboundSnapshot::default())];
        for (id, why) in removed(&f.input(Input::Tick { inbound })) {
            evicted.push((s, id, why));
        }
    }
    // Not connected after 10 s; no media for 10 s (from 2 s on); a connected viewer stays.
    assert_eq!(evicted, [(11, never, "never connected".to_owned()), (13, quiet, "media timeout".to_owned())]);
    assert!(f.core.contains(viewer));
}

#[test]
fn video_that_arrives_but_never_decodes_is_evicted() {
    let mut f = Fixture::new();
    let garbage = f.publisher("garbage");
    let mut evicted_at = None;
    for s in 1..=8 {
        f.at(Duration::from_secs(s));
        let snapshot =
            InboundSnapshot { bytes: s * 10_000, video_bytes: s * 9_000, frames: 0, last_packet: Some(f.now) };
        let out = f.input(Input::Tick { inbound: vec![(garbage, snapshot)] });
        if let Some((_, why)) = removed(&out).first() {
            assert_eq!(why, "undecodable video");
            assert_eq!(error_code(&sent_to(&out, garbage)), Some(ErrorCode::MediaError));
            evicted_at = Some(s);
        }
    }
    // Arriving since the join (the first tick's interval), removed UNDECODABLE_LIMIT after it.
    assert_eq!(evicted_at, Some(UNDECODABLE_LIMIT.as_secs()));
}

#[test]
fn mute_and_set_layout_are_rate_limited_per_participant() {
    let mut f = Fixture::new();
    let (flooder, calm) = (f.publisher("flooder"), f.publisher("calm"));
    let mut told = 0;
    let mut limited = 0;
    for i in 0..40 {
        let muted = Muted { audio: i % 2 == 0, video: false };
        let out = f.input(Input::Mute { id: flooder, muted });
        told += sent_to(&out, calm).iter().filter(|m| matches!(m, ServerMessage::MuteChanged { .. })).count();
        limited += sent_to(&out, flooder)
            .iter()
            .filter(|m| matches!(m, ServerMessage::Error { code: ErrorCode::RateLimited, .. }))
            .count();
    }
    assert_eq!((told, limited), (BURST as usize, 40 - BURST as usize), "a burst, then refused");
    // The other participant's allowance is their own.
    let out = f.input(Input::Mute { id: calm, muted: Muted { audio: true, video: false } });
    assert!(error_code(&sent_to(&out, calm)).is_none());
    // A second later, two more go through.
    f.at(Duration::from_secs(1));
    let through = (0..5)
        .filter(|i| {
            let out = f.input(Input::Mute { id: flooder, muted: Muted { audio: i % 2 == 1, video: true } });
            error_code(&sent_to(&out, flooder)).is_none()
        })
        .count();
    assert_eq!(through, PER_SECOND as usize);
}

#[test]
fn departures_carry_their_reason_and_who_left() {
    let mut f = Fixture::new();
    let (a, b, c) = (f.publisher("a"), f.publisher("b"), f.publisher("c"));
    f.join("d", Role::Viewer);
    let gone = |out: &[Output]| {
        out.iter().find_map(|o| match o {
            Output::Remove { reason, info, .. } => Some((*reason, info.name.clone(), info.role)),
            _ => None,
        })
    };
    assert_eq!(gone(&f.input(Input::Leave(a))), Some((LeaveReason::Left, "a".into(), Role::Publisher)));
    assert_eq!(gone(&f.input(Input::Kick(b))), Some((LeaveReason::Kicked, "b".into(), Role::Publisher)));
    let failed = f.input(Input::MediaFailed { id: c, reason: "x".into() });
    assert_eq!(gone(&failed), Some((LeaveReason::Error, "c".into(), Role::Publisher)));
    assert_eq!(
        gone(&f.input(Input::Close(ErrorCode::RoomClosed))),
        Some((LeaveReason::Closed, "d".into(), Role::Viewer))
    );
}
