//! Applies a [`StagePlan`] to the composite: each publisher's compositor input (placed or
//! hidden), its placeholder, name label and muted badge overlays, and the speaker border.

use anyhow::Context;

use super::RoomMedia;
use super::overlay::{Overlay, key_of};
use crate::draw;
use crate::ids::ParticipantId;
use crate::layout::{StagePlan, TilePlan};

/// Border colour around the active speaker.
pub const SPEAKER_BORDER: [u8; 3] = [46, 204, 113];

/// A publisher's overlays.
#[derive(Debug)]
pub(super) struct PeerOverlays {
    /// Name label.
    label: Overlay,
    /// Muted badge.
    badge: Overlay,
    /// Placeholder for a tile without video.
    placeholder: Overlay,
    /// A picture shown instead of the drawn placeholder (an agent's).
    pub(super) image: Option<std::sync::Arc<draw::Image>>,
}

impl PeerOverlays {
    /// Creates the (hidden) overlays of `who`.
    pub(super) fn new(media: &RoomMedia, who: ParticipantId) -> anyhow::Result<Self> {
        let video = media.video.as_ref().context("an audio-only room draws no tiles")?;
        Ok(Self {
            label: video.add_overlay(&format!("label-{who}"))?,
            badge: video.add_overlay(&format!("badge-{who}"))?,
            placeholder: video.add_overlay(&format!("placeholder-{who}"))?,
            image: None,
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

    /// Shows the placeholder, label and badge `tile` asks for; hides the rest.
    fn show(&mut self, id: ParticipantId, tile: &TilePlan) {
        let r = tile.rect;
        if tile.video {
            self.placeholder.hide();
        } else if let Some(image) = &self.image {
            let render = || image.fitted(r.w, r.h, draw::tile_colour(id));
            let key = key_of((r.w, r.h, id, std::sync::Arc::as_ptr(image) as usize));
            self.placeholder.show(key, render, r.x, r.y, tile.stack);
        } else {
            let render = || draw::placeholder(id, &tile.name, r.w, r.h);
            self.placeholder.show(key_of((&tile.name, r.w, r.h, id)), render, r.x, r.y, tile.stack);
        }
        match tile.label {
            Some(slot) => {
                let (l, px) = (slot.rect, slot.px);
                let render = || draw::label(&tile.name, px, l.w, l.h);
                self.label.show(key_of((&tile.name, px, l.w, l.h)), render, l.x, l.y, tile.stack + 1);
            }
            None => self.label.hide(),
        }
        match tile.badge {
            Some(b) => self.badge.show(key_of(b.w), || draw::mute_badge(b.w), b.x, b.y, tile.stack + 2),
            None => self.badge.hide(),
        }
    }
}

/// The room-wide overlays: the four strips of the speaker border.
pub(super) fn border_strips(media: &RoomMedia) -> anyhow::Result<Vec<Overlay>> {
    let Some(video) = &media.video else { return Ok(Vec::new()) };
    (0..4).map(|i| video.add_overlay(&format!("speaker-border-{i}"))).collect()
}

impl RoomMedia {
    /// Shows `plan` on the composite. Publishers it does not mention are hidden.
    pub fn apply_stage(&mut self, plan: &StagePlan) {
        self.stage = plan.clone();
        self.show_stage();
    }

    /// Applies the stage last given (again: after an input or overlay was added).
    pub(super) fn show_stage(&mut self) {
        let Some(video) = &self.video else { return };
        for (id, peer) in &mut self.peers {
            let Some(overlays) = &mut peer.overlays else { continue };
            match self.stage.tiles.iter().find(|t| t.participant == *id) {
                Some(tile) => {
                    if let Some(input) = &peer.video {
                        video.place(&input.pad, tile.video.then_some((tile.rect, tile.stack)));
                    }
                    overlays.show(*id, tile);
                }
                None => {
                    if let Some(input) = &peer.video {
                        video.place(&input.pad, None);
                    }
                    overlays.hide();
                }
            }
        }
        match self.stage.border {
            Some(border) => {
                for (overlay, r) in self.border.iter_mut().zip(border.strips) {
                    let render = || draw::Image::new(r.w, r.h, SPEAKER_BORDER);
                    overlay.show(key_of((r.w, r.h)), render, r.x, r.y, border.stack);
                }
            }
            None => self.border.iter().for_each(Overlay::hide),
        }
    }
}
