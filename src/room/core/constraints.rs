//! What each publisher's video is worth sending: the size of its tile on the composite, told
//! to the publisher as [`VideoConstraints`] (socket and DataChannel) whenever it changes.
//!
//! A publisher sending 640x360 into a 426x240 tile costs the server a decode and a scale of
//! 2.25 times the pixels it shows; told its tile, a cooperating client sends what is drawn.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::RoomCore;
use crate::ids::ParticipantId;
use crate::layout::{self, Size};
use crate::protocol::{ChannelMessage, Role, ServerMessage, VideoConstraints};

/// The smallest box asked for: below this a picture is not worth shrinking further (the
/// decoder's cost no longer falls much, and the tile still needs a recognisable face).
pub const FLOOR: Size = Size::new(160, 90);
/// Frames per second asked of a publisher the layout does not show (spotlight, custom regions):
/// enough to come back on stage without a stall, a sixth of the cost.
pub const HIDDEN_FPS: u32 = 5;
/// The lowest bitrate asked for, bit/s: VP8 at [`FLOOR`] needs about this to stay legible.
pub const MIN_BITRATE: u32 = 100_000;
/// A publisher is told new constraints at most this often; a later change waits for the next
/// stage tick after it (the last value wins). Every change resizes its video, and a publisher
/// whose video changes size more than `--video-size-changes` (3) times a second is removed: a
/// burst of layout changes (10 `setLayout` are allowed at once) must not make a cooperating
/// client look like a broken one.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// The constraints for a picture drawn in a `cell` of `canvas`, at `fps`, when the whole canvas
/// is encoded at `canvas_kbps`.
///
/// The box is the cell (the picture is fitted inside it, keeping its aspect ratio), never under
/// [`FLOOR`] (grown keeping the cell's shape). The bitrate is the canvas bitrate scaled by the
/// area's share to the power 0.75, as encoders' rate ladders do (a small picture needs more bits
/// per pixel for the same quality): 1280x720 on a 1500 kbit/s canvas gets 1500, 640x360 530,
/// 426x240 290, anything at the floor [`MIN_BITRATE`]; rounded to 10 kbit/s so the same tile
/// always gives the same value.
pub fn for_cell(cell: Size, canvas: Size, fps: u32, canvas_kbps: u32) -> VideoConstraints {
    let (w, h) = (cell.width.max(2) as f64, cell.height.max(2) as f64);
    let grow = (FLOOR.width as f64 / w).max(FLOOR.height as f64 / h).max(1.0);
    let even = |v: f64| ((v.ceil() as u32 + 1) & !1).max(2);
    let (width, height) = (even(w * grow), even(h * grow));
    let share = (width as f64 * height as f64) / (canvas.width.max(1) as f64 * canvas.height.max(1) as f64);
    let kbps = f64::from(canvas_kbps) * share.min(1.0).powf(0.75);
    let max_bitrate = ((kbps / 10.0).round() as u32 * 10_000).max(MIN_BITRATE);
    VideoConstraints { width, height, fps, max_bitrate }
}

/// The constraints for a publisher the layout leaves out.
pub fn hidden(canvas: Size, canvas_kbps: u32) -> VideoConstraints {
    VideoConstraints { fps: HIDDEN_FPS, ..for_cell(FLOOR, canvas, HIDDEN_FPS, canvas_kbps) }
}

impl RoomCore {
    /// What every publisher's video is worth now, from the layout's cells.
    pub(super) fn video_constraints(&self) -> BTreeMap<ParticipantId, VideoConstraints> {
        let s = &self.settings;
        if !s.video {
            return BTreeMap::new();
        }
        let order: Vec<ParticipantId> =
            self.participants.values().filter(|p| p.info.role.has_tile()).map(|p| p.info.id).collect();
        let placed = layout::place(&self.layout, &order, self.detector.current(), s.canvas);
        self.participants
            .values()
            .filter(|p| p.info.role == Role::Publisher)
            .map(|p| {
                let cell = placed.iter().find(|t| t.participant == p.info.id).map(|t| t.cell);
                let c = match cell {
                    Some(cell) => for_cell(Size::new(cell.w, cell.h), s.canvas, s.fps, s.video_kbps),
                    None => hidden(s.canvas, s.video_kbps),
                };
                (p.info.id, c)
            })
            .collect()
    }

    /// Tells each connected publisher its constraints when they differ from what it was last
    /// told, on the socket and the DataChannel, at most once per [`MIN_INTERVAL`]; nothing
    /// when they did not change, so a busy room (speaker switches, joins) sends one message per
    /// publisher whose tile moved.
    pub(super) fn send_video_constraints(&mut self, now: Instant) {
        for (id, c) in self.video_constraints() {
            let Some(p) = self.participants.get_mut(&id) else { continue };
            let held = p.constraints_at.is_some_and(|at| now.saturating_duration_since(at) < MIN_INTERVAL);
            if !p.connected || p.constraints_sent == Some(c) || held {
                continue;
            }
            p.constraints_sent = Some(c);
            p.constraints_at = Some(now);
            tracing::debug!(room = %self.id, participant = %id, ?c, "video constraints");
            self.send(id, ServerMessage::VideoConstraints(c));
            let text = serde_json::to_string(&ChannelMessage::VideoConstraints(c)).expect("serializes");
            self.out.push(super::Output::Channel { to: id, text });
        }
    }

    /// The constraints last told to `id`, for a DataChannel that just opened.
    pub(super) fn constraints_sent(&self, id: ParticipantId) -> Option<VideoConstraints> {
        self.participants.get(&id).and_then(|p| p.constraints_sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANVAS: Size = Size::new(1280, 720);

    #[test]
    fn the_box_is_the_cell_and_the_bitrate_shrinks_with_its_area() {
        let full = for_cell(CANVAS, CANVAS, 30, 1500);
        assert_eq!((full.width, full.height, full.fps, full.max_bitrate), (1280, 720, 30, 1_500_000));
        let quarter = for_cell(Size::new(640, 360), CANVAS, 30, 1500);
        assert_eq!((quarter.width, quarter.height, quarter.max_bitrate), (640, 360, 530_000));
        let ninth = for_cell(Size::new(426, 240), CANVAS, 30, 1500);
        assert_eq!((ninth.width, ninth.height, ninth.max_bitrate), (426, 240, 290_000));
    }

    #[test]
    fn small_cells_stop_at_the_floor_keeping_their_shape() {
        // A filmstrip cell of a speaker layout with many others.
        let c = for_cell(Size::new(80, 144), CANVAS, 30, 1500);
        assert!(c.width >= FLOOR.width && c.height >= FLOOR.height, "{c:?}");
        assert_eq!((c.width, c.height), (160, 288), "80x144 grown by 2: its shape kept");
        let tiny = for_cell(Size::new(100, 56), CANVAS, 30, 1500);
        assert_eq!((tiny.width, tiny.height, tiny.max_bitrate), (162, 90, MIN_BITRATE));
        let h = hidden(CANVAS, 1500);
        assert_eq!((h.width, h.height, h.fps, h.max_bitrate), (160, 90, HIDDEN_FPS, MIN_BITRATE));
    }

    /// The constraints sent to `to` in `out`, on the socket, checking the DataChannel got the
    /// same.
    fn told(out: &[super::super::Output], to: ParticipantId) -> Vec<VideoConstraints> {
        use super::super::Output;
        let on_socket: Vec<VideoConstraints> = out
            .iter()
            .filter_map(|o| match o {
                Output::Send { to: t, msg: ServerMessage::VideoConstraints(c) } if *t == to => Some(*c),
                _ => None,
            })
            .collect();
        let on_channel: Vec<VideoConstraints> = out
            .iter()
            .filter_map(|o| match o {
                Output::Channel { to: t, text } if *t == to => match serde_json::from_str(text) {
                    Ok(ChannelMessage::VideoConstraints(c)) => Some(c),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        assert_eq!(on_socket, on_channel, "the socket and the DataChannel are told the same");
        on_socket
    }

    #[test]
    fn publishers_are_told_their_tile_once_connected_and_only_when_it_changes() {
        use super::super::Input;
        use super::super::tests::Fixture;
        use crate::layout::{LayoutSpec, Mode};
        let mut f = Fixture::new();
        let a = f.join("a", Role::Publisher);
        assert!(f.core.constraints_sent(a).is_none(), "nothing before the connection is up");
        let out = f.input(Input::Connected(a));
        let full = told(&out, a);
        assert_eq!(full.iter().map(|c| (c.width, c.height)).collect::<Vec<_>>(), [(1280, 720)]);
        assert!(told(&f.input(Input::VideoFlowing(a)), a).is_empty(), "unchanged: not told again");
        f.at(Duration::from_secs(1));
        let others: Vec<ParticipantId> = ["b", "c", "d"].map(|n| f.publisher(n)).into();
        // Told the 2-up half at once, then held: the 2x2 quarter a second later.
        assert_eq!(f.core.constraints_sent(a).map(|c| (c.width, c.height)), Some((640, 720)));
        f.at(Duration::from_secs(2));
        f.input(Input::StageTick { levels: vec![], video: vec![] });
        assert_eq!((f.core.constraints_sent(a).unwrap().width, f.core.constraints_sent(a).unwrap().height), (640, 360));
        // A viewer joining moves no tile.
        let viewer = f.join("v", Role::Viewer);
        let out = f.input(Input::Connected(viewer));
        assert!(
            out.iter()
                .all(|o| !matches!(o, super::super::Output::Send { msg: ServerMessage::VideoConstraints(_), .. }))
        );
        // Spotlight on b: a, c and d leave the stage, b gets the whole canvas.
        f.at(Duration::from_secs(3));
        let spotlight = LayoutSpec { mode: Mode::Spotlight, pinned: Some(others[0]), ..Default::default() };
        let out = f.input(Input::SetLayout(spotlight));
        assert_eq!(told(&out, a), [hidden(CANVAS, 1500)]);
        assert_eq!(told(&out, others[0]), [for_cell(CANVAS, CANVAS, 30, 1500)]);
        // A DataChannel opening late is told the current value.
        let out = f.input(Input::ChannelOpen(a));
        let late = out.iter().any(|o| matches!(o, super::super::Output::Channel { to, text } if *to == a && text.contains("videoConstraints")));
        assert!(late, "the constraints are on the channel's first messages");
    }

    #[test]
    fn a_burst_of_layout_changes_resizes_a_publisher_at_most_once_a_second() {
        use super::super::Input;
        use super::super::tests::Fixture;
        use crate::layout::{LayoutSpec, Mode};
        let mut f = Fixture::new();
        let (a, b) = (f.publisher("a"), f.publisher("b"));
        let t0 = Duration::from_secs(5);
        let spotlight = LayoutSpec { mode: Mode::Spotlight, pinned: Some(b), ..Default::default() };
        let mut told_a = Vec::new();
        for i in 0..10u32 {
            f.at(t0 + Duration::from_millis(50 * u64::from(i)));
            let layout = if i % 2 == 0 { spotlight.clone() } else { LayoutSpec::default() };
            told_a.extend(told(&f.input(Input::LayoutRequest { id: b, layout }), a));
        }
        assert_eq!(told_a, [hidden(CANVAS, 1500)], "the first change at once, then held");
        // The burst ended on the grid: once the second is up, a stage tick tells the last value.
        f.at(t0 + Duration::from_millis(900));
        assert!(told(&f.input(Input::StageTick { levels: vec![], video: vec![] }), a).is_empty());
        f.at(t0 + MIN_INTERVAL);
        let later = told(&f.input(Input::StageTick { levels: vec![], video: vec![] }), a);
        assert_eq!(later, [for_cell(Size::new(640, 720), CANVAS, 30, 1500)], "the grid's half");
    }
}
