//! Layout: the protocol's layout spec and tile geometry ([`tessera_protocol::layout`]), where
//! the server draws each tile's decorations ([`decorations`]), and the [`StagePlan`] the room's
//! rules hand to the media layer.

mod decorations;
mod plan;

pub use decorations::{Decorations, LabelSlot, MAX_LABEL_PX, MIN_LABEL_PX, border_px, decorations};
pub use plan::{Border, StagePlan, TilePlan};
pub use tessera_protocol::layout::*;
