//! Pure layout geometry: where each participant's tile goes on the canvas.
//!
//! No GStreamer here: the room computes rectangles with these functions and the media layer
//! applies them to compositor pads. Coordinates are even so I420 chroma stays aligned.

use serde::Serialize;

/// A width and height in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

fn even(v: u32) -> u32 {
    v & !1
}

/// The grid cells for `n` tiles: about √n columns, rows filled left to right, top to bottom;
/// an incomplete last row is centred. 1 → the whole canvas, 2 → side by side, 3–4 → 2×2.
pub fn grid(n: usize, canvas: Size) -> Vec<Rect> {
    if n == 0 {
        return Vec::new();
    }
    let cols = (n as f64).sqrt().ceil() as u32;
    let rows = (n as u32).div_ceil(cols);
    let cell_w = even(canvas.width / cols);
    let cell_h = even(canvas.height / rows);
    // Centre the whole grid when division leaves a remainder.
    let x0 = even((canvas.width - cell_w * cols) / 2);
    let y0 = even((canvas.height - cell_h * rows) / 2);
    (0..n as u32)
        .map(|i| {
            let (row, col) = (i / cols, i % cols);
            let in_row = if row == rows - 1 { n as u32 - row * cols } else { cols };
            let row_x0 = x0 + even((cols - in_row) * cell_w / 2);
            Rect { x: row_x0 + col * cell_w, y: y0 + row * cell_h, w: cell_w, h: cell_h }
        })
        .collect()
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
    let (w, h) = (even(w as u32).max(2), even(h as u32).max(2));
    Rect { x: cell.x + even((cell.w - w) / 2), y: cell.y + even((cell.h - h) / 2), w, h }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HD: Size = Size::new(1280, 720);

    fn canvas_rect(c: Size) -> Rect {
        Rect { x: 0, y: 0, w: c.width, h: c.height }
    }

    #[test]
    fn small_counts() {
        assert_eq!(grid(1, HD), vec![Rect { x: 0, y: 0, w: 1280, h: 720 }]);
        let two = grid(2, HD);
        assert_eq!(two[0], Rect { x: 0, y: 0, w: 640, h: 720 });
        assert_eq!(two[1], Rect { x: 640, y: 0, w: 640, h: 720 });
        let four = grid(4, HD);
        assert_eq!(four[3], Rect { x: 640, y: 360, w: 640, h: 360 });
        let three = grid(3, HD);
        assert_eq!(three.len(), 3);
        // The lone tile of the last row is centred.
        assert_eq!(three[2], Rect { x: 320, y: 360, w: 640, h: 360 });
    }

    #[test]
    fn any_n_is_inside_and_disjoint() {
        for canvas in [HD, Size::new(640, 360), Size::new(1920, 1080), Size::new(642, 482)] {
            for n in 1..=25 {
                let cells = grid(n, canvas);
                assert_eq!(cells.len(), n);
                let cols = (n as f64).sqrt().ceil() as usize;
                assert!(cells.iter().filter(|c| c.y == cells[0].y).count() == cols.min(n));
                for (i, a) in cells.iter().enumerate() {
                    assert!(a.inside(&canvas_rect(canvas)), "n={n} {a:?}");
                    assert!(a.w > 0 && a.h > 0);
                    assert_eq!((a.x % 2, a.y % 2, a.w % 2, a.h % 2), (0, 0, 0, 0));
                    for b in &cells[i + 1..] {
                        assert!(!a.overlaps(b), "n={n} {a:?} overlaps {b:?}");
                    }
                    // Each tile keeps a 16:9 source's aspect within rounding.
                    let t = fit(*a, Size::new(640, 360), (1, 1));
                    assert!(t.inside(a));
                    let ratio = t.w as f64 / t.h as f64;
                    assert!((ratio - 16.0 / 9.0).abs() < 0.05, "n={n} {t:?}");
                }
            }
        }
    }

    #[test]
    fn fit_letterboxes_and_pillarboxes() {
        let cell = Rect { x: 0, y: 0, w: 640, h: 720 };
        let t = fit(cell, Size::new(1280, 720), (1, 1));
        assert_eq!(t, Rect { x: 0, y: 180, w: 640, h: 360 });
        let portrait = fit(Rect { x: 100, y: 0, w: 1280, h: 720 }, Size::new(360, 640), (1, 1));
        assert_eq!((portrait.h, portrait.y), (720, 0));
        assert!(portrait.w < 420 && portrait.x > 100);
        // Non-square pixels: 720x576 at 16:11 displays 4:3-ish wider than its storage.
        let anamorphic = fit(Rect { x: 0, y: 0, w: 1280, h: 720 }, Size::new(720, 576), (16, 11));
        assert!(anamorphic.w > 720 * 720 / 576);
        assert_eq!(fit(cell, Size::new(0, 0), (1, 1)), cell);
    }
}
