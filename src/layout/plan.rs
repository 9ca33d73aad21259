//! What the composite shows, as data: decided by the room's rules, applied by the media layer
//! to compositor pads and overlays.

use crate::ids::ParticipantId;

use super::{LabelSlot, Rect};

/// One publisher's picture on the composite.
#[derive(Debug, Clone, PartialEq)]
pub struct TilePlan {
    /// Whose.
    pub participant: ParticipantId,
    /// Where the picture is, in canvas pixels (the video fitted inside its cell).
    pub rect: Rect,
    /// The layout's stacking order (custom regions' z; 0 otherwise): higher is on top.
    pub z: i32,
    /// The compositor's stacking order of the picture; its label is drawn at `stack + 1`, its
    /// badge at `stack + 2`.
    pub stack: u32,
    /// Show the video (else the placeholder, at the same `stack`).
    pub video: bool,
    /// The name drawn on the label and the placeholder.
    pub name: String,
    /// The name label's place, when drawn.
    pub label: Option<LabelSlot>,
    /// The muted badge's place, when drawn.
    pub badge: Option<Rect>,
}

/// The speaker border: four strips just inside the speaker's picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Border {
    /// Top, bottom, left and right strips.
    pub strips: [Rect; 4],
    /// Compositor stacking order: above the speaker's label and badge, under higher tiles.
    pub stack: u32,
}

/// Everything the composite shows, for the media layer to apply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StagePlan {
    /// Shown publishers, in join order.
    pub tiles: Vec<TilePlan>,
    /// Publishers the layout leaves out (e.g. all but the speaker in spotlight).
    pub hidden: Vec<ParticipantId>,
    /// The speaker border, when drawn.
    pub border: Option<Border>,
}
