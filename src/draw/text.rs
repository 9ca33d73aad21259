//! Text rendering with the fonts in `assets/fonts` (embedded in the binary).
//!
//! Text is cut into grapheme clusters (what a reader sees as one character: a letter with its
//! accents, a flag, an emoji with its skin tone), so truncation and initials never split one.
//! Each cluster is drawn from the first font that has its base character (Latin, Greek,
//! Cyrillic, Hebrew and Arabic letters from DejaVu, then CJK from Droid Sans Fallback, then
//! symbols and emoji from Symbola); its combining marks follow; a cluster no font has is drawn
//! as one hollow box. There is no shaper: an emoji ZWJ sequence shows as its first emoji
//! (modifiers, variation selectors and invisible format characters are not drawn), a flag as
//! its two regional-indicator letters, and scripts that need shaping (Arabic joining,
//! Devanagari conjuncts) come out as separate letters or boxes. Right-to-left text is put in
//! visual order with the Unicode bidirectional algorithm (runs reversed cluster by cluster,
//! so accents stay on their letters); brackets are not mirrored.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use unicode_segmentation::UnicodeSegmentation;

use super::Image;

static FONT_DATA: [&[u8]; 3] = [
    include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf"),
    include_bytes!("../../assets/fonts/DroidSansFallback.ttf"),
    include_bytes!("../../assets/fonts/Symbola.ttf"),
];

fn fonts() -> &'static [FontRef<'static>] {
    static FONTS: OnceLock<Vec<FontRef<'static>>> = OnceLock::new();
    FONTS.get_or_init(|| FONT_DATA.iter().map(|d| FontRef::try_from_slice(d).expect("bundled fonts parse")).collect())
}

/// Index (in [`FONT_DATA`] order) of the first font that has `c`.
fn font_index(c: char) -> Option<usize> {
    fonts().iter().position(|f| f.glyph_id(c).0 != 0)
}

/// Invisible characters: zero-width and bidi format characters, variation selectors, emoji
/// skin-tone modifiers and tags. Without a shaper they are not drawn.
fn invisible(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x2069 | 0xFEFF
        | 0xFE00..=0xFE0F | 0xE0100..=0xE01EF | 0x1F3FB..=0x1F3FF | 0xE0000..=0xE007F)
}

/// How one grapheme cluster is drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// Glyphs: (character, font index) for the base and each combining mark drawn.
    Glyphs(Vec<(char, usize)>),
    /// A hollow box: no font has the cluster's base character.
    Missing,
    /// Nothing (a lone invisible character).
    Nothing,
}

/// How `cluster` is drawn: its base character and what follows up to a zero-width joiner
/// (the rest of an emoji ZWJ sequence is dropped), skipping invisible characters and marks
/// no font has.
pub fn shape(cluster: &str) -> Shape {
    let mut visible = cluster.split('\u{200D}').next().unwrap_or("").chars().filter(|c| !invisible(*c));
    let Some(base) = visible.next() else { return Shape::Nothing };
    if base.is_whitespace() {
        return Shape::Glyphs(vec![(' ', 0)]);
    }
    let Some(font) = font_index(base) else { return Shape::Missing };
    let mut glyphs = vec![(base, font)];
    glyphs.extend(visible.filter_map(|c| font_index(c).map(|f| (c, f))));
    Shape::Glyphs(glyphs)
}

/// Advance of `c` in font `font` at `px` pixels.
fn glyph_advance(c: char, font: usize, px: f32) -> f32 {
    let f = &fonts()[font];
    f.as_scaled(PxScale::from(px)).h_advance(f.glyph_id(c))
}

/// Width of a cluster at `px` pixels (a missing one takes half an em).
fn cluster_width(cluster: &str, px: f32) -> f32 {
    match shape(cluster) {
        Shape::Glyphs(g) => g.iter().map(|(c, f)| glyph_advance(*c, *f, px)).sum(),
        Shape::Missing => px * 0.5,
        Shape::Nothing => 0.0,
    }
}

/// The width of `text` at `px` pixels.
pub fn text_width(text: &str, px: f32) -> f32 {
    text.graphemes(true).map(|g| cluster_width(g, px)).sum()
}

/// The grapheme clusters of `text` in visual order (left to right on screen).
pub fn visual_clusters(text: &str) -> Vec<&str> {
    let bidi = unicode_bidi::BidiInfo::new(text, None);
    if !bidi.has_rtl() {
        return text.graphemes(true).collect();
    }
    let mut out = Vec::new();
    for para in &bidi.paragraphs {
        let (levels, runs) = bidi.visual_runs(para, para.range.clone());
        for run in runs {
            let clusters = text[run.clone()].graphemes(true);
            if levels[run.start].is_rtl() { out.extend(clusters.rev()) } else { out.extend(clusters) }
        }
    }
    out
}

/// Draws `text` with its baseline at `baseline`, starting at `x`; returns the end x.
pub fn draw(img: &mut Image, text: &str, x: f32, baseline: f32, px: f32, colour: [u8; 3]) -> f32 {
    let mut pen = x;
    for cluster in visual_clusters(text) {
        match shape(cluster) {
            Shape::Glyphs(glyphs) => {
                for (c, font) in glyphs {
                    draw_glyph(img, c, font, pen, baseline, px, colour);
                    pen += glyph_advance(c, font, px);
                }
            }
            Shape::Missing => {
                draw_box(img, pen, baseline, px, colour);
                pen += px * 0.5;
            }
            Shape::Nothing => {}
        }
    }
    pen
}

fn draw_glyph(img: &mut Image, c: char, font: usize, pen: f32, baseline: f32, px: f32, colour: [u8; 3]) {
    let f = &fonts()[font];
    let glyph = f.glyph_id(c).with_scale_and_position(PxScale::from(px), point(pen, baseline));
    if let Some(outline) = f.outline_glyph(glyph) {
        let b = outline.px_bounds();
        outline.draw(|gx, gy, cov| img.blend(b.min.x as i32 + gx as i32, b.min.y as i32 + gy as i32, colour, cov));
    }
}

/// The hollow box of a character no font has: 0.4 em wide, 0.7 em tall, on the baseline.
fn draw_box(img: &mut Image, pen: f32, baseline: f32, px: f32, colour: [u8; 3]) {
    let (w, h) = ((px * 0.4) as i32, (px * 0.7) as i32);
    let (x0, y0) = (pen as i32 + 1, baseline as i32 - h);
    for i in 0..=w {
        img.blend(x0 + i, y0, colour, 1.0);
        img.blend(x0 + i, y0 + h, colour, 1.0);
    }
    for i in 0..=h {
        img.blend(x0, y0 + i, colour, 1.0);
        img.blend(x0 + w, y0 + i, colour, 1.0);
    }
}

/// `text`, shortened (by whole grapheme clusters, from the logical end) with an ellipsis to fit
/// `max` pixels at `px`.
pub fn fit(text: &str, px: f32, max: f32) -> String {
    if text_width(text, px) <= max {
        return text.to_owned();
    }
    let budget = max - cluster_width("…", px);
    let (mut out, mut width) = (String::new(), 0.0);
    for g in text.graphemes(true) {
        width += cluster_width(g, px);
        if width > budget {
            break;
        }
        out.push_str(g);
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests;
