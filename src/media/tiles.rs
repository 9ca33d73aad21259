//! What the composite shows for each publisher: their video or a placeholder, their name
//! label, a muted badge, and a border around the active speaker, placed by the room's layout.

use super::RoomMedia;
use super::overlay::{Overlay, key_of};
use crate::draw;
use crate::ids::ParticipantId;
use crate::layout::{self, LayoutSpec, Rect, Size};
use anyhow::Context;

/// The compositor's highest stacking order (its `zorder` range is 0–10000): the border is on top.
const TOP_Z: u32 = 10_000;
/// Border colour around the active speaker.
pub const SPEAKER_BORDER: [u8; 3] = [46, 204, 113];

/// What the room task says about a publisher, for drawing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decor {
    /// Display name, drawn on the tile.
    pub name: String,
    /// Muted by the participant, or silent for a long time: draw the muted badge.
    pub audio_muted: bool,
    /// Camera off or video stalled: draw the placeholder instead of the (frozen) video.
    pub video_off: bool,
}

/// A publisher's overlays.
#[derive(Debug)]
pub(super) struct PeerOverlays {
    /// Name label.
    label: Overlay,
    /// Muted badge.
    badge: Overlay,
    /// Placeholder for a tile without video.
    placeholder: Overlay,
}

impl PeerOverlays {
    /// Creates the (hidden) overlays of `who`.
    pub(super) fn new(media: &RoomMedia, who: ParticipantId) -> anyhow::Result<Self> {
        let video = media.video.as_ref().context("an audio-only room draws no tiles")?;
        Ok(Self {
            label: video.add_overlay(&format!("label-{who}"))?,
            badge: video.add_overlay(&format!("badge-{who}"))?,
            placeholder: video.add_overlay(&format!("placeholder-{who}"))?,
        })
    }

    /// Removes them.
    pub(super) fn remove(self, media: &RoomMedia) {
        if let Some(video) = &media.video {
            for o in [self.label, self.badge, self.placeholder] {
                video.remove_overlay(o);
            }
        }
    }

    fn hide(&self) {
        for o in [&self.label, &self.badge, &self.placeholder] {
            o.hide();
        }
    }
}

/// The room-wide overlays: the four strips of the speaker border.
pub(super) fn border_strips(media: &RoomMedia) -> anyhow::Result<Vec<Overlay>> {
    let Some(video) = &media.video else { return Ok(Vec::new()) };
    (0..4).map(|i| video.add_overlay(&format!("speaker-border-{i}"))).collect()
}

/// Stacking order of a tile's video: custom regions' z spread out, room for overlays above.
fn base_z(tile_z: i32) -> u32 {
    10 + 10 * (tile_z.clamp(-100, 100) + 100) as u32
}

/// Thickness of the speaker border: 4 px at 360p, 6 at 720p. (Thinner I420 strips, with
/// chroma one sample wide, are not drawn by the compositor.)
fn border_px(canvas: Size) -> u32 {
    layout::even((canvas.height / 120).max(4))
}

/// Label text height for a tile: readable at 360p, proportionate on small tiles.
fn label_px(canvas: Size, tile: Rect) -> u32 {
    (canvas.height / 26).min(tile.h / 6).clamp(10, 40)
}

impl RoomMedia {
    /// Sets the layout and re-places everything.
    pub fn set_layout(&mut self, spec: LayoutSpec) {
        self.layout = spec;
        self.relayout();
    }

    /// The layout in force.
    pub fn layout(&self) -> &LayoutSpec {
        &self.layout
    }

    /// Sets the active speaker (border, speaker slot) and re-places everything.
    pub fn set_speaker(&mut self, speaker: Option<ParticipantId>) {
        if self.speaker != speaker {
            self.speaker = speaker;
            self.relayout();
        }
    }

    /// The active speaker.
    pub fn speaker(&self) -> Option<ParticipantId> {
        self.speaker
    }

    /// Updates what is drawn for `who`; re-places only when it changed.
    pub fn set_decor(&mut self, who: ParticipantId, decor: Decor) {
        if let Some(peer) = self.peers.get_mut(&who)
            && peer.decor != decor
        {
            peer.decor = decor;
            self.relayout();
        }
    }

    /// Where each shown publisher's picture is on the canvas, in join order.
    pub fn tiles(&self) -> &[(ParticipantId, Rect)] {
        &self.placed
    }

    /// Places every publisher's video or placeholder, label and badge per the layout, and the
    /// border around the active speaker.
    pub(super) fn relayout(&mut self) {
        let Some(video) = &self.video else { return };
        let canvas = self.config.canvas;
        let placed = layout::place(&self.layout, &self.tiles_order(), self.speaker, canvas);
        let mut shown = Vec::new();
        for (id, peer) in &mut self.peers {
            let Some(overlays) = &mut peer.overlays else { continue };
            let Some(tile) = placed.iter().find(|t| t.participant == *id) else {
                if let Some(input) = &peer.video {
                    video.place(&input.pad, None);
                }
                overlays.hide();
                continue;
            };
            let (size, par) = peer.video.as_ref().and_then(|v| v.format).unwrap_or((canvas, (1, 1)));
            let rect = layout::fit(tile.cell, size, par);
            let z = base_z(tile.z);
            let video_shown = peer.video.is_some() && !peer.decor.video_off;
            if let Some(input) = &peer.video {
                video.place(&input.pad, video_shown.then_some((rect, z)));
            }
            let decor = &peer.decor;
            if video_shown {
                overlays.placeholder.hide();
            } else {
                let key = key_of((&decor.name, rect.w, rect.h, *id));
                overlays.placeholder.show(
                    key,
                    || draw::placeholder(*id, &decor.name, rect.w, rect.h),
                    rect.x,
                    rect.y,
                    z,
                );
            }
            if !self.config.decorations {
                overlays.label.hide();
                overlays.badge.hide();
                shown.push((*id, rect));
                continue;
            }
            let px = label_px(canvas, rect);
            let margin = (px / 3).max(border_px(canvas) + 2);
            let badge_size = px + 2 * (px / 3).max(2);
            let max_w = rect.w.saturating_sub(3 * margin + badge_size).max(8);
            let label = draw::label(&decor.name, px, max_w);
            let (lx, ly) = (rect.x + margin, (rect.y + rect.h).saturating_sub(label.height + margin));
            let label_w = label.width;
            overlays.label.show(key_of((&decor.name, px, max_w)), || label, lx, ly, z + 1);
            if decor.audio_muted {
                overlays.badge.show(
                    key_of(badge_size),
                    || draw::mute_badge(badge_size),
                    lx + label_w + margin,
                    ly,
                    z + 2,
                );
            } else {
                overlays.badge.hide();
            }
            shown.push((*id, rect));
        }
        self.placed = shown;
        self.draw_border(canvas);
    }

    /// Draws (or hides) the speaker border: four strips just inside the speaker's picture.
    fn draw_border(&mut self, canvas: Size) {
        let around = self.speaker.and_then(|s| self.placed.iter().find(|(p, _)| *p == s)).map(|(_, r)| *r);
        let around = around.filter(|_| self.config.decorations);
        let Some(r) = around else {
            self.border.iter().for_each(Overlay::hide);
            return;
        };
        let t = border_px(canvas);
        let strips =
            [(r.x, r.y, r.w, t), (r.x, r.y + r.h - t, r.w, t), (r.x, r.y, t, r.h), (r.x + r.w - t, r.y, t, r.h)];
        for (overlay, (x, y, w, h)) in self.border.iter_mut().zip(strips) {
            overlay.show(key_of((w, h)), || draw::Image::new(w, h, SPEAKER_BORDER), x, y, TOP_Z);
        }
    }
}
