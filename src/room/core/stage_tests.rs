//! The room core's stage: layouts, the speaker, badges and placeholders, letterboxing.

use std::time::Duration;

use super::tests::*;
use super::*;
use crate::layout::{Mode, Rect};
use crate::media::VideoProgress;

#[test]
fn layout_changes_are_applied_told_and_can_be_locked() {
    let mut f = Fixture::new();
    let (a, b) = (f.publisher("a"), f.publisher("b"));
    let spotlight = LayoutSpec { mode: Mode::Spotlight, pinned: Some(b), ..Default::default() };
    let out = f.input(Input::LayoutRequest { id: a, layout: spotlight.clone() });
    assert!(
        sent_to(&out, b).iter().any(|m| matches!(m, ServerMessage::LayoutChanged { layout } if *layout == spotlight))
    );
    let plan = last_stage(&out).expect("the stage changed");
    assert_eq!(plan.tiles.iter().map(|t| t.participant).collect::<Vec<_>>(), [b], "only the pinned one shows");
    assert_eq!(plan.hidden, [a]);
    assert_eq!(plan.tiles[0].rect, Rect { x: 0, y: 0, w: 1280, h: 720 });
    // An administrator's locked grid refuses participants' requests.
    let locked = LayoutSpec { locked: true, ..Default::default() };
    f.input(Input::SetLayout(locked.clone()));
    let out = f.input(Input::LayoutRequest { id: a, layout: spotlight });
    assert_eq!(error_code(&sent_to(&out, a)), Some(ErrorCode::LayoutLocked));
    assert_eq!(f.core.layout(), &locked);
}

#[test]
fn the_speaker_hands_over_after_the_hold_and_the_border_follows() {
    let mut f = Fixture::new();
    let (red, blue) = (f.publisher("red"), f.publisher("blue"));
    let out = speak(&mut f, Duration::ZERO, Duration::from_secs(2), &[(red, -20.0), (blue, -60.0)]);
    assert_eq!(f.core.speaker(), Some(red));
    assert!(
        sent_to(&out, blue)
            .iter()
            .any(|m| matches!(m, ServerMessage::SpeakerChanged { participant_id: Some(p) } if *p == red))
    );
    let red_tile = f.core.stage.tiles.iter().find(|t| t.participant == red).unwrap().clone();
    assert_eq!(f.core.stage.border.map(|b| b.stack), Some(red_tile.stack + 3), "the border is around red");
    // Blue is 14 dB louder: not before the hold, then it takes over.
    speak(&mut f, Duration::from_millis(2100), Duration::from_millis(3300), &[(red, -20.0), (blue, -6.0)]);
    assert_eq!(f.core.speaker(), Some(red), "not within the hold");
    speak(&mut f, Duration::from_millis(3400), Duration::from_secs(4), &[(red, -20.0), (blue, -6.0)]);
    assert_eq!(f.core.speaker(), Some(blue));
    let blue_tile = f.core.stage.tiles.iter().find(|t| t.participant == blue).unwrap();
    let strips = f.core.stage.border.unwrap().strips;
    assert!(strips.iter().all(|s| s.inside(&blue_tile.rect)), "the border is inside blue's picture");
    // The speaker leaves: nobody speaks, and everyone is told.
    let out = f.input(Input::Leave(blue));
    assert_eq!(f.core.speaker(), None);
    assert!(sent_to(&out, red).iter().any(|m| matches!(m, ServerMessage::SpeakerChanged { participant_id: None })));
    assert_eq!(last_stage(&out).unwrap().border, None);
}

#[test]
fn muted_silent_and_stalled_publishers_get_their_badge_and_placeholder() {
    let mut f = Fixture::new();
    let (a, b) = (f.publisher("a"), f.publisher("b"));
    let tile = |f: &Fixture, id| f.core.stage.tiles.iter().find(|t| t.participant == id).unwrap().clone();
    assert!(tile(&f, a).video && tile(&f, a).badge.is_none() && tile(&f, a).label.is_some());
    f.input(Input::Mute { id: a, muted: Muted { audio: true, video: true } });
    assert!(!tile(&f, a).video && tile(&f, a).badge.is_some(), "camera off: placeholder; microphone off: badge");
    // b is silent: the badge after SILENT_FOR, not before.
    let mut t = Duration::ZERO;
    let mut frames = 0;
    while t <= SILENT_FOR + Duration::from_millis(100) {
        f.at(t);
        frames += 3;
        f.input(Input::StageTick {
            levels: vec![(b, Some(-90.0))],
            video: vec![(b, VideoProgress { frames, bytes: frames * 1000 })],
        });
        let expected = t >= SILENT_FOR;
        assert_eq!(tile(&f, b).badge.is_some(), expected, "at {t:?}");
        t += Duration::from_millis(100);
    }
    assert!(tile(&f, b).video, "frames keep coming");
    // b's frames stop: the placeholder after STALL_AFTER.
    let stopped = t;
    while t <= stopped + STALL_AFTER + Duration::from_millis(200) {
        f.at(t);
        f.input(Input::StageTick {
            levels: vec![(b, Some(-20.0))],
            video: vec![(b, VideoProgress { frames, bytes: frames * 1000 })],
        });
        t += Duration::from_millis(100);
    }
    assert!(!tile(&f, b).video, "stalled video shows the placeholder");
    // The stall's log tells a publisher that stopped sending from video that does not decode.
    let (p, now) = (&f.core.participants[&b], VideoProgress { frames, bytes: frames * 1000 });
    assert!(!p.video_arrived_in_window(now), "no bytes either: the publisher stopped sending");
    assert!(p.video_arrived_in_window(VideoProgress { bytes: now.bytes + 1, ..now }), "bytes without frames");
}

#[test]
fn closing_tells_everyone_and_removes_them() {
    let mut f = Fixture::new();
    let (a, b) = (f.publisher("a"), f.join("b", Role::Viewer));
    let out = f.input(Input::Close(ErrorCode::ServerShutdown));
    assert_eq!(error_code(&sent_to(&out, a)), Some(ErrorCode::ServerShutdown));
    assert_eq!(error_code(&sent_to(&out, b)), Some(ErrorCode::ServerShutdown));
    assert_eq!(removed(&out).len(), 2);
    assert_eq!(f.core.end(f.now), Some(End::Empty));
}

#[test]
fn an_audio_only_room_draws_nothing() {
    let mut f = Fixture::with(Settings { video: false, ..settings() });
    f.publisher("a");
    assert_eq!(f.core.stage, StagePlan::default());
}

#[test]
fn letterboxed_sources_and_undrawn_decorations() {
    let mut f = Fixture::with(Settings { decorations: false, ..settings() });
    let a = f.publisher("portrait");
    f.input(Input::VideoSize { id: a, size: Size::new(360, 640), par: (1, 1) });
    let tile = f.core.stage.tiles[0].clone();
    assert_eq!((tile.rect.h, tile.rect.w < 1280), (720, true), "pillarboxed: {:?}", tile.rect);
    assert!(tile.label.is_none() && tile.badge.is_none());
}

#[test]
fn only_those_allowed_change_the_layout() {
    let mut f = Fixture::new();
    let allowed = f.publisher("host");
    let publisher = f.join_as("guest", Role::Publisher, false);
    let viewer = f.join("watcher", Role::Viewer);
    let speaker = crate::layout::LayoutSpec { mode: crate::layout::Mode::Speaker, ..Default::default() };
    for who in [publisher, viewer] {
        let out = f.input(Input::LayoutRequest { id: who, layout: speaker.clone() });
        assert_eq!(error_code(&sent_to(&out, who)), Some(ErrorCode::LayoutForbidden));
        assert!(
            !out.iter().any(|o| matches!(o, Output::Send { msg: ServerMessage::LayoutChanged { .. }, .. })),
            "{out:?}"
        );
    }
    let out = f.input(Input::LayoutRequest { id: allowed, layout: speaker });
    assert!(sent_to(&out, viewer).iter().any(|m| matches!(m, ServerMessage::LayoutChanged { .. })));
}
