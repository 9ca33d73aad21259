//! The layout modes: which participant's tile goes where, and in what stacking order.

use super::spec::{LayoutSpec, Mode};
use super::{Rect, Size, even};
use crate::ids::ParticipantId;

/// A participant's cell on the canvas (their video is fitted inside it) and its stacking order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    /// Whose tile.
    pub participant: ParticipantId,
    /// The cell.
    pub cell: Rect,
    /// Stacking order, higher on top (custom regions' z; 0 otherwise).
    pub z: i32,
}

/// Places `publishers` (join order) on `canvas` per `spec`. `speaker` is the detected active
/// speaker; the pinned participant, if publishing, wins over it. Publishers without a tile are
/// not shown.
pub fn place(
    spec: &LayoutSpec,
    publishers: &[ParticipantId],
    speaker: Option<ParticipantId>,
    canvas: Size,
) -> Vec<Tile> {
    if publishers.is_empty() {
        return Vec::new();
    }
    let focus = [spec.pinned, speaker].into_iter().flatten().find(|p| publishers.contains(p)).unwrap_or(publishers[0]);
    let full = Rect { x: 0, y: 0, w: canvas.width, h: canvas.height };
    let tile = |participant, cell| Tile { participant, cell, z: 0 };
    match spec.mode {
        Mode::Grid => publishers.iter().zip(grid(publishers.len(), canvas)).map(|(p, c)| tile(*p, c)).collect(),
        Mode::Spotlight => vec![tile(focus, full)],
        Mode::Speaker => {
            let others: Vec<ParticipantId> = publishers.iter().copied().filter(|p| *p != focus).collect();
            let (main, strip) = speaker_cells(others.len(), canvas);
            std::iter::once(tile(focus, main)).chain(others.into_iter().zip(strip).map(|(p, c)| tile(p, c))).collect()
        }
        Mode::Custom => custom(spec, publishers, canvas),
    }
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

/// Speaker mode: the main cell over the top four fifths (the whole canvas when alone) and a
/// centred filmstrip of `others` 16:9 cells in the bottom fifth.
fn speaker_cells(others: usize, canvas: Size) -> (Rect, Vec<Rect>) {
    if others == 0 {
        return (Rect { x: 0, y: 0, w: canvas.width, h: canvas.height }, Vec::new());
    }
    let strip_h = even(canvas.height / 5);
    let main = Rect { x: 0, y: 0, w: canvas.width, h: canvas.height - strip_h };
    let cell_w = even((canvas.width / others as u32).min(strip_h * 16 / 9)).max(2);
    let x0 = even((canvas.width - cell_w * others as u32) / 2);
    let strip = (0..others as u32)
        .map(|i| Rect { x: x0 + i * cell_w, y: canvas.height - strip_h, w: cell_w, h: strip_h })
        .collect();
    (main, strip)
}

/// Custom regions: explicit assignments first, then the remaining publishers in join order
/// fill the unassigned regions in the order given.
fn custom(spec: &LayoutSpec, publishers: &[ParticipantId], canvas: Size) -> Vec<Tile> {
    // Pixel edges come from rounding each fractional edge (x and x + w), so regions that touch
    // share an edge exactly: never overlapping, never leaving a gap.
    // Edges go to the nearest even pixel (I420 chroma stays aligned).
    let edge =
        |f: f64, total: u32| (((f.clamp(0.0, 1.0) * f64::from(total)) / 2.0).round() as u32 * 2).min(even(total));
    let span = |from: f64, len: f64, total: u32| {
        let (a, b) = (edge(from, total), edge(from + len, total));
        // A region narrower than two pixels still shows as two (the smallest I420 picture).
        if b >= a + 2 { (a, b - a) } else { (a.min(even(total).saturating_sub(2)), 2) }
    };
    let mut tiles = Vec::new();
    let mut free = publishers.iter().copied().filter(|p| !spec.regions.iter().any(|r| r.participant == Some(*p)));
    for r in &spec.regions {
        let who = match r.participant {
            Some(p) if publishers.contains(&p) => Some(p),
            Some(_) => None, // assigned to someone absent: left empty
            None => free.next(),
        };
        let Some(participant) = who else { continue };
        let ((x, w), (y, h)) = (span(r.x, r.w, canvas.width), span(r.y, r.h, canvas.height));
        tiles.push(Tile { participant, cell: Rect { x, y, w, h }, z: r.z });
    }
    tiles
}
