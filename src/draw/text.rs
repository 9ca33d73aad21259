//! Text rendering with the fonts in `assets/fonts` (embedded in the binary): each character
//! comes from the first font that has it (Latin, then CJK, then symbols and emoji); a character
//! none has is drawn as a hollow box.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};

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

/// The font that has `c`, if any.
fn font_for(c: char) -> Option<&'static FontRef<'static>> {
    fonts().iter().find(|f| f.glyph_id(c).0 != 0)
}

/// Advance of `c` at `px` pixels (a missing character takes half an em).
fn advance(c: char, px: f32) -> f32 {
    match font_for(c) {
        Some(f) => f.as_scaled(PxScale::from(px)).h_advance(f.glyph_id(c)),
        None => px * 0.5,
    }
}

/// The width of `text` at `px` pixels.
pub fn text_width(text: &str, px: f32) -> f32 {
    text.chars().map(|c| advance(c, px)).sum()
}

/// Draws `text` with its baseline at `baseline`, starting at `x`; returns the end x.
pub fn draw(img: &mut Image, text: &str, x: f32, baseline: f32, px: f32, colour: [u8; 3]) -> f32 {
    let mut pen = x;
    for c in text.chars() {
        match font_for(c) {
            Some(font) => {
                let id = font.glyph_id(c);
                let glyph = id.with_scale_and_position(PxScale::from(px), point(pen, baseline));
                if let Some(outline) = font.outline_glyph(glyph) {
                    let b = outline.px_bounds();
                    outline.draw(|gx, gy, cov| {
                        img.blend(b.min.x as i32 + gx as i32, b.min.y as i32 + gy as i32, colour, cov)
                    });
                }
            }
            None if !c.is_whitespace() => {
                // A hollow box for a character no font has.
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
            None => {}
        }
        pen += advance(c, px);
    }
    pen
}

/// `text`, shortened with an ellipsis to fit `max` pixels at `px`.
pub fn fit(text: &str, px: f32, max: f32) -> String {
    if text_width(text, px) <= max {
        return text.to_owned();
    }
    let mut out = String::new();
    for c in text.chars() {
        if text_width(&out, px) + advance(c, px) + advance('…', px) > max {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_cjk_and_emoji_all_have_fonts() {
        for c in ['A', 'é', 'Ж', '李', 'あ', '한', '😀', '🎉', '…'] {
            assert!(font_for(c).is_some(), "no font for {c:?}");
        }
        assert!(font_for('\u{10FFFD}').is_none(), "private use");
    }

    #[test]
    fn text_is_drawn_and_shortened() {
        let mut img = Image::new(200, 40, [0, 0, 0]);
        let end = draw(&mut img, "Ada 李 😀", 4.0, 30.0, 24.0, [255, 255, 255]);
        assert!(end > 60.0);
        let lit = img.pixels.iter().filter(|p| p[0] > 128).count();
        assert!(lit > 100, "glyphs were drawn: {lit} bright pixels");
        let long = "A very long display name indeed";
        let short = fit(long, 20.0, 120.0);
        assert!(short.ends_with('…') && text_width(&short, 20.0) <= 120.0, "{short}");
        assert_eq!(fit("Bo", 20.0, 120.0), "Bo");
    }
}
