//! Pure layout geometry: a room's layout setting and where it puts each participant's tile on
//! the canvas. The server's room core places tiles with [`place`] and [`fit`]; a client can do
//! the same to find a participant in the composite. Coordinates are even so I420 chroma stays
//! aligned.

mod modes;
mod spec;

pub use modes::{Tile, grid, place};
pub use spec::{LayoutError, LayoutSpec, Mode, Region};

use serde::{Deserialize, Serialize};

/// A width and height in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Size {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Size {
    /// A size of `width` x `height`.
    pub const fn new(width: u32, height: u32) -> Self {
        Self { width, height }
    }
}

/// An axis-aligned rectangle on the canvas, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

impl Rect {
    /// The point at the middle of the rectangle.
    pub fn centre(&self) -> (u32, u32) {
        (self.x + self.w / 2, self.y + self.h / 2)
    }

    /// True when the two rectangles share any area.
    pub fn overlaps(&self, other: &Rect) -> bool {
        self.x < other.x + other.w
            && other.x < self.x + self.w
            && self.y < other.y + other.h
            && other.y < self.y + self.h
    }

    /// True when `self` lies entirely inside `outer`.
    pub fn inside(&self, outer: &Rect) -> bool {
        self.x >= outer.x
            && self.y >= outer.y
            && self.x + self.w <= outer.x + outer.w
            && self.y + self.h <= outer.y + outer.h
    }
}

/// `v` rounded down to an even number (I420 chroma is one sample per 2x2 pixels).
pub fn even(v: u32) -> u32 {
    v & !1
}

/// The largest rectangle of the source's display aspect ratio that fits in `cell`, centred
/// (letterbox or pillarbox). `par` is the source's pixel aspect ratio as (num, den).
pub fn fit(cell: Rect, source: Size, par: (u32, u32)) -> Rect {
    if source.width == 0 || source.height == 0 || par.0 == 0 || par.1 == 0 {
        return cell;
    }
    // Display aspect = width * par_n / (height * par_d); compare in u64 to avoid rounding.
    let src_w = source.width as u64 * par.0 as u64;
    let src_h = source.height as u64 * par.1 as u64;
    let (w, h) = if src_w * cell.h as u64 > src_h * cell.w as u64 {
        (cell.w as u64, cell.w as u64 * src_h / src_w)
    } else {
        (cell.h as u64 * src_w / src_h, cell.h as u64)
    };
    let nearest_even = |v: u64, max: u32| ((v.div_ceil(2) * 2) as u32).clamp(2, max);
    let (w, h) = (nearest_even(w, cell.w), nearest_even(h, cell.h));
    Rect { x: cell.x + even((cell.w - w) / 2), y: cell.y + even((cell.h - h) / 2), w, h }
}

#[cfg(test)]
mod tests;
