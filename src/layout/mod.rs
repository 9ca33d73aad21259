//! Layout: the protocol's layout spec and tile geometry ([`tessera_protocol::layout`]), and
//! where the server draws each tile's decorations ([`decorations`]).

mod decor;

pub use decor::{Decorations, LabelSlot, MAX_LABEL_PX, MIN_LABEL_PX, border_px, decorations};
pub use tessera_protocol::layout::*;
