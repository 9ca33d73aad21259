//! Where a tile's decorations go (pure): the name label, the muted badge and the speaker
//! border, from the picture's rectangle on the canvas. Everything stays inside the picture;
//! on small pictures the text shrinks, and what cannot fit is left out rather than spilling
//! onto a neighbour.

use super::{Rect, Size, even};

/// Text smaller than this is not drawn (nobody could read it).
pub const MIN_LABEL_PX: u32 = 8;
/// Text larger than this is not needed, whatever the tile.
pub const MAX_LABEL_PX: u32 = 40;

/// The name label's place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelSlot {
    /// The box the label may use: its image is exactly this tall and at most this wide, with
    /// its top-left corner at (`rect.x`, `rect.y`).
    pub rect: Rect,
    /// Text height in pixels.
    pub px: u32,
}

/// Where a picture's decorations go; `None` for what does not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decorations {
    /// The name label, lower left.
    pub label: Option<LabelSlot>,
    /// The muted badge, a square at the lower right.
    pub badge: Option<Rect>,
    /// The speaker border: top, bottom, left and right strips just inside the picture.
    pub border: Option<[Rect; 4]>,
}

/// Thickness of the speaker border: 4 px at 360p, 6 at 720p. (Thinner I420 strips, with
/// chroma one sample wide, are not drawn by the compositor.)
pub fn border_px(canvas: Size) -> u32 {
    even((canvas.height / 120).max(4))
}

/// Places the decorations of a picture at `picture` on `canvas`.
///
/// The text is 1/26 of the canvas height (readable at 360p: 13 px), at most a sixth of the
/// picture's height; the label box adds a third of that around the text, and sits a margin in
/// from the picture's edges (clear of the border). The badge is as tall as the label. The
/// label keeps clear of the badge's corner whether or not the badge is shown, so muting does
/// not move it.
pub fn decorations(canvas: Size, picture: Rect) -> Decorations {
    let t = border_px(canvas);
    let border = (picture.w >= 3 * t && picture.h >= 3 * t).then(|| {
        let Rect { x, y, w, h } = picture;
        [
            Rect { x, y, w, h: t },
            Rect { x, y: y + h - t, w, h: t },
            Rect { x, y, w: t, h },
            Rect { x: x + w - t, y, w: t, h },
        ]
    });
    let px = (canvas.height / 26).min(picture.h / 6).min(MAX_LABEL_PX);
    if px < MIN_LABEL_PX {
        return Decorations { label: None, badge: None, border };
    }
    let box_h = even(px + 2 * (px / 3).max(2));
    let margin = even((px / 3).max(t + 2));
    if picture.h < box_h + 2 * margin {
        return Decorations { label: None, badge: None, border };
    }
    let y = picture.y + picture.h - margin - box_h;
    let badge = (picture.w >= box_h + 2 * margin).then(|| Rect {
        x: picture.x + picture.w - margin - box_h,
        y,
        w: box_h,
        h: box_h,
    });
    // Room for at least a letter and an ellipsis.
    let label_w = even(picture.w.saturating_sub(3 * margin + box_h));
    let label =
        (label_w >= 2 * px).then(|| LabelSlot { rect: Rect { x: picture.x + margin, y, w: label_w, h: box_h }, px });
    Decorations { label, badge, border }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn even_rect(r: &Rect) -> bool {
        [r.x, r.y, r.w, r.h].iter().all(|v| v.is_multiple_of(2))
    }

    #[test]
    fn always_inside_the_picture_and_never_overlapping() {
        for canvas in [Size::new(640, 360), Size::new(1280, 720), Size::new(1920, 1080)] {
            for w in (2..=canvas.width).step_by(6) {
                for h in (2..=canvas.height).step_by(6) {
                    let picture = Rect { x: 36, y: 18, w, h };
                    let d = decorations(canvas, picture);
                    let label = d.label.map(|l| l.rect);
                    for r in [label, d.badge].into_iter().flatten().chain(d.border.into_iter().flatten()) {
                        assert!(r.inside(&picture), "{r:?} outside {picture:?} on {canvas:?}");
                        assert!(even_rect(&r) && r.w > 0 && r.h > 0, "{r:?}");
                    }
                    if let (Some(l), Some(b)) = (label, d.badge) {
                        assert!(!l.overlaps(&b), "label {l:?} under badge {b:?}");
                    }
                    // Label and badge clear the border.
                    if let Some(strips) = d.border {
                        for r in [label, d.badge].into_iter().flatten() {
                            assert!(strips.iter().all(|s| !s.overlaps(&r)), "{r:?} on the border of {picture:?}");
                        }
                    }
                    if let Some(l) = d.label {
                        assert!(l.px >= MIN_LABEL_PX && l.px <= MAX_LABEL_PX && l.rect.w >= 2 * l.px);
                        assert!(l.rect.h >= l.px + 4, "room for the text: {l:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn readable_at_360p_and_hidden_when_too_small() {
        let hd = Size::new(640, 360);
        // A 2x2 grid tile at 360p: 13 px text, label and badge both shown.
        let d = decorations(hd, Rect { x: 0, y: 0, w: 320, h: 180 });
        assert_eq!(d.label.map(|l| l.px), Some(13));
        assert!(d.badge.is_some() && d.border.is_some());
        // A speaker-mode filmstrip of 20 at 360p: 32x18 pictures; no text fits.
        let tiny = decorations(hd, Rect { x: 0, y: 288, w: 32, h: 18 });
        assert_eq!((tiny.label, tiny.badge), (None, None));
        assert!(tiny.border.is_some(), "a 4 px border still fits 12 px");
        // Narrow but tall: the badge fits, a name does not.
        let narrow = decorations(Size::new(1280, 720), Rect { x: 0, y: 0, w: 60, h: 400 });
        assert!(narrow.label.is_none() && narrow.badge.is_some(), "{narrow:?}");
        assert_eq!(decorations(hd, Rect { x: 0, y: 0, w: 10, h: 10 }).border, None);
    }

    #[test]
    fn label_text_shrinks_with_the_picture() {
        let hd = Size::new(1280, 720);
        let px = |h| decorations(hd, Rect { x: 0, y: 0, w: 400, h }).label.map(|l| l.px);
        assert_eq!(px(720), Some(27));
        assert_eq!(px(120), Some(20));
        assert_eq!(px(60), Some(10));
        assert_eq!(px(40), None);
    }
}
