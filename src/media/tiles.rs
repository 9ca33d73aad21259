//! What the composite shows for each publisher: their video or a placeholder, their name
//! label, a muted badge, and a border around the active speaker, placed by the room's layout.

use super::RoomMedia;
use super::overlay::{Overlay, key_of};
use crate::draw;
use crate::ids::ParticipantId;
use crate::layout::{self, LayoutSpec, Rect};
use anyhow::Context;

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

/// Stacking order of a tile's video: custom regions' z spread out, room for overlays above
/// (placeholder at the same z as the video it replaces, then label, badge, border).
fn base_z(tile_z: i32) -> u32 {
    10 + 10 * (tile_z.clamp(-100, 100) + 100) as u32
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
    pub fn tiles(&self) -> &[Placed] {
        &self.placed
    }

    /// Places every publisher's video or placeholder, label and badge per the layout, and the
    /// border around the active speaker.
    pub(super) fn relayout(&mut self) {
        let Some(video) = &self.video else { return };
        let canvas = self.config.canvas;
        let decorations = self.config.decorations;
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
                let render = || draw::placeholder(*id, &decor.name, rect.w, rect.h);
                overlays.placeholder.show(key, render, rect.x, rect.y, z);
            }
            let places = layout::decorations(canvas, rect);
            overlays.decorate(decor, places, decorations, z);
            shown.push(Placed { participant: *id, rect, z: tile.z, border: places.border, border_z: z + 3 });
        }
        self.placed = shown;
        self.draw_border();
    }

    /// Draws (or hides) the speaker border: four strips just inside the speaker's picture,
    /// above their label and badge but under any tile stacked higher.
    fn draw_border(&mut self) {
        let around = self.speaker.and_then(|s| self.placed.iter().find(|p| p.participant == s));
        let strips = around.filter(|_| self.config.decorations).and_then(|p| p.border.map(|b| (b, p.border_z)));
        let Some((strips, z)) = strips else {
            self.border.iter().for_each(Overlay::hide);
            return;
        };
        for (overlay, r) in self.border.iter_mut().zip(strips) {
            overlay.show(key_of((r.w, r.h)), || draw::Image::new(r.w, r.h, SPEAKER_BORDER), r.x, r.y, z);
        }
    }
}

/// A publisher's picture on the canvas, as last placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    /// Whose picture.
    pub participant: ParticipantId,
    /// Where, in canvas pixels (the video fitted inside its cell).
    pub rect: Rect,
    /// Its layout stacking order (custom regions' z; 0 otherwise): higher is on top.
    pub z: i32,
    /// The speaker border's strips for this picture, if they fit.
    border: Option<[Rect; 4]>,
    /// Compositor stacking order of the border.
    border_z: u32,
}

impl PeerOverlays {
    /// Shows or hides the label and badge at their places (from [`layout::decorations`]).
    fn decorate(&mut self, decor: &Decor, places: layout::Decorations, enabled: bool, z: u32) {
        match places.label.filter(|_| enabled) {
            Some(slot) => {
                let r = slot.rect;
                let key = key_of((&decor.name, slot.px, r.w, r.h));
                self.label.show(key, || draw::label(&decor.name, slot.px, r.w, r.h), r.x, r.y, z + 1);
            }
            None => self.label.hide(),
        }
        match places.badge.filter(|_| enabled && decor.audio_muted) {
            Some(r) => self.badge.show(key_of(r.w), || draw::mute_badge(r.w), r.x, r.y, z + 2),
            None => self.badge.hide(),
        }
    }
}
