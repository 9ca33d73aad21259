//! The decorations of a tile: name label, muted badge, placeholder.

use super::Image;
use super::text::{self, text_width};
use crate::ids::ParticipantId;

const LABEL_BG: [u8; 3] = [24, 28, 34];
const WHITE: [u8; 3] = [255, 255, 255];
/// Background of the muted badge.
pub const MUTED_RED: [u8; 3] = [208, 52, 64];
/// Placeholder backgrounds, picked by participant.
const PALETTE: [[u8; 3]; 8] = [
    [42, 157, 143],
    [231, 111, 81],
    [38, 70, 83],
    [233, 196, 106],
    [106, 76, 147],
    [25, 130, 196],
    [138, 201, 38],
    [255, 89, 94],
];

/// The placeholder colour of a participant (stable for their id).
pub fn tile_colour(who: ParticipantId) -> [u8; 3] {
    let n: u64 = who.to_string()[1..].parse().unwrap_or(0);
    PALETTE[(n % PALETTE.len() as u64) as usize]
}

/// Up to two initials: the first letter of the first and last words, uppercased; for a single
/// word (e.g. a CJK name), its first character. A "letter" is a whole grapheme cluster (an
/// accented letter, a flag, an emoji with its skin tone), never part of one. "?" for nothing
/// usable.
pub fn initials(name: &str) -> String {
    use unicode_segmentation::UnicodeSegmentation;
    let words: Vec<&str> = name.split_whitespace().collect();
    fn first(w: &str) -> Option<&str> {
        w.graphemes(true).find(|g| g.chars().next().is_some_and(|c| c.is_alphanumeric() || !c.is_ascii()))
    }
    let picks: Vec<&str> = match words.as_slice() {
        [] => vec![],
        [one] => first(one).into_iter().collect(),
        [a, .., z] => first(a).into_iter().chain(first(z)).collect(),
    };
    let s: String = picks.iter().flat_map(|g| g.chars().flat_map(char::to_uppercase)).collect();
    if s.is_empty() { "?".into() } else { s }
}

/// A name label: white text `px` pixels high on a dark box `height` tall and at most
/// `max_width` wide (both even, as [`crate::layout::decorations`] gives them); a name too long
/// is cut with an ellipsis.
pub fn label(name: &str, px: u32, max_width: u32, height: u32) -> Image {
    let px_f = px as f32;
    let pad = (px / 3).max(2);
    let shown = text::fit(name, px_f, (max_width.saturating_sub(2 * pad)) as f32);
    let width = (text_width(&shown, px_f).ceil() as u32 + 2 * pad).min(max_width) & !1;
    let mut img = Image::new(width, height, LABEL_BG);
    // The baseline leaves the descenders room below, centred in the box.
    let baseline = (img.height as f32 + px_f * 0.6) / 2.0;
    text::draw(&mut img, &shown, pad as f32, baseline, px_f, WHITE);
    img
}

/// The muted-microphone badge: a white microphone struck through, on red, `size` square.
pub fn mute_badge(size: u32) -> Image {
    let mut img = Image::new(size, size, MUTED_RED);
    let s = img.width as i32;
    let u = (s / 12).max(1);
    // Capsule body, stand and base of the microphone.
    img.fill_rect(s * 5 / 12, s / 6, (s / 6) as u32, (s * 5 / 12) as u32, WHITE);
    img.fill_rect(s / 3, s * 7 / 12 - u, (s / 3) as u32, u as u32, WHITE);
    img.fill_rect(s / 2 - u / 2, s * 7 / 12, u as u32, (s / 6) as u32, WHITE);
    img.fill_rect(s * 3 / 8, s * 3 / 4, (s / 4) as u32, u as u32, WHITE);
    // The slash, from top left to bottom right.
    for i in 0..s {
        for t in -u..=u {
            img.blend(i + t, i, WHITE, 1.0);
        }
    }
    img
}

/// A placeholder for a participant without video: their colour with their initials, centred.
pub fn placeholder(who: ParticipantId, name: &str, width: u32, height: u32) -> Image {
    let mut img = Image::new(width, height, tile_colour(who));
    let letters = initials(name);
    let px = (img.height as f32 * 0.4).max(8.0);
    let w = text_width(&letters, px);
    let x = (img.width as f32 - w) / 2.0;
    let baseline = img.height as f32 / 2.0 + px * 0.35;
    text::draw(&mut img, &letters, x, baseline, px, WHITE);
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_of_all_kinds() {
        assert_eq!(initials("Ada Lovelace"), "AL");
        assert_eq!(initials("ada"), "A");
        assert_eq!(initials("Jean Claude Van Damme"), "JD");
        assert_eq!(initials("李小龍"), "李");
        assert_eq!(initials("😀 party"), "😀P");
        assert_eq!(initials("  "), "?");
        assert_eq!(initials("élodie durand"), "ÉD");
        assert_eq!(initials("e\u{301}lodie"), "E\u{301}", "a decomposed accent stays on its letter");
        assert_eq!(initials("🇫🇷 Marie"), "🇫🇷M", "a flag is not split");
        assert_eq!(initials("👍🏽 Bo"), "👍🏽B", "nor a skin tone");
        assert_eq!(initials("👨‍👩‍👧 family"), "👨‍👩‍👧F", "nor a ZWJ sequence");
        assert_eq!(initials("علي حسن"), "عح");
    }

    #[test]
    fn decorations_have_the_right_size_and_content() {
        let l = label("Ada", 20, 300, 32);
        assert!(l.width < 120 && l.height == 32, "{}x{}", l.width, l.height);
        assert!(l.pixels.iter().any(|p| p[0] > 200), "text drawn");
        assert!(label(&"x".repeat(200), 20, 100, 32).width <= 100, "long names are cut");
        let b = mute_badge(24);
        assert_eq!((b.width, b.height), (24, 24));
        assert!(b.pixels.contains(&WHITE) && b.pixels.contains(&MUTED_RED));
        let who = ParticipantId::next();
        let p = placeholder(who, "Ada Lovelace", 320, 180);
        assert_eq!(p.at(2, 2), tile_colour(who), "background colour at the edge");
        assert!(p.pixels.iter().filter(|x| **x == WHITE || x[0] > 240 && x[1] > 240).count() > 200, "initials drawn");
    }
}
