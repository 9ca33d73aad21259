//! Text tests: which font draws what, that glyphs (not boxes) come out for CJK and emoji, that
//! unknown scripts become boxes, and that nothing splits a grapheme cluster.

use super::*;

#[test]
fn latin_cjk_and_emoji_all_have_fonts() {
    for c in ['A', 'é', 'Ж', 'א', 'ع', '李', 'あ', '한', '😀', '🎉', '…'] {
        assert!(font_index(c).is_some(), "no font for {c:?}");
    }
    assert_eq!(font_index('蓝'), Some(1), "CJK from Droid Sans Fallback");
    assert!(font_index('\u{10FFFD}').is_none(), "private use");
}

/// Where each visual cluster of `text` starts at `px`, from x = 0.
fn pens(text: &str, px: f32) -> Vec<(&str, f32)> {
    let mut pen = 0.0;
    visual_clusters(text)
        .into_iter()
        .map(|g| {
            let at = pen;
            pen += cluster_width(g, px);
            (g, at)
        })
        .collect()
}

/// Lit pixels in the interior of the hollow box a missing character at `pen` would get (its
/// outline excluded): a box leaves this empty, a real glyph does not.
fn lit_inside_box_area(img: &Image, pen: f32, baseline: f32, px: f32) -> usize {
    let (w, h) = ((px * 0.4) as u32, (px * 0.7) as u32);
    let (x0, y0) = (pen as u32 + 1, baseline as u32 - h);
    let mut n = 0;
    for y in y0 + 2..y0 + h - 1 {
        for x in x0 + 2..x0 + w - 1 {
            n += usize::from(img.at(x, y)[0] > 128);
        }
    }
    n
}

#[test]
fn cjk_and_emoji_come_out_as_glyphs_not_boxes() {
    let (px, baseline) = (32.0, 40.0);
    let name = "Blue 蓝 😀";
    let mut img = Image::new(260, 52, [0, 0, 0]);
    draw(&mut img, name, 0.0, baseline, px, [255, 255, 255]);
    let mut boxes = Image::new(260, 52, [0, 0, 0]);
    for (g, pen) in pens(name, px) {
        if g == "蓝" || g == "😀" {
            assert!(matches!(shape(g), Shape::Glyphs(_)), "{g} has a font");
            let lit = lit_inside_box_area(&img, pen, baseline, px);
            draw_box(&mut boxes, pen, baseline, px, [255, 255, 255]);
            let in_box = lit_inside_box_area(&boxes, pen, baseline, px);
            println!("{g} at x={pen:.0}: {lit} lit pixels where a box would be empty ({in_box} for a box)");
            assert_eq!(in_box, 0);
            assert!(lit >= 20, "{g} was drawn as a box or not at all");
        }
    }
    // The three parts are apart: the pixels of 蓝 and 😀 are inside their own advance.
    let lit_between = |from: f32, to: f32| {
        (from as u32..to as u32)
            .flat_map(|x| (0..52).map(move |y| (x, y)))
            .filter(|(x, y)| img.at(*x, *y)[0] > 128)
            .count()
    };
    let p = pens(name, px);
    assert!(lit_between(p[5].1, p[6].1) > 40 && lit_between(p[7].1, p[7].1 + cluster_width("😀", px)) > 40);
}

#[test]
fn unsupported_scripts_fall_back_to_boxes_without_panicking() {
    let (px, baseline) = (24.0, 30.0);
    // Devanagari and an emoji newer than the fonts (Unicode 11).
    for text in ["नमस्ते", "🥰"] {
        let clusters = visual_clusters(text);
        assert!(clusters.iter().all(|g| shape(g) == Shape::Missing), "{text}: {clusters:?}");
        let mut img = Image::new(200, 40, [0, 0, 0]);
        let end = draw(&mut img, text, 2.0, baseline, px, [255, 255, 255]);
        assert!((end - 2.0 - clusters.len() as f32 * px * 0.5).abs() < 0.01, "one box per cluster");
        // The first box: a lit outline, an empty inside.
        let outline = (0..(px * 0.4) as u32).filter(|i| img.at(3 + i, baseline as u32)[0] > 128).count();
        assert!(outline >= 8, "{text}: box bottom edge drawn ({outline})");
        assert_eq!(lit_inside_box_area(&img, 2.0, baseline, px), 0, "{text}: a hollow box");
    }
    // Odd input never panics: a lone mark, a lone joiner, a pile of marks, nothing at all.
    let zalgo = format!("a{}", "\u{0301}".repeat(64));
    for text in ["\u{0301}", "\u{200D}", "\u{FE0F}", "", "\u{202E}abc", zalgo.as_str()] {
        let mut img = Image::new(40, 40, [0, 0, 0]);
        draw(&mut img, text, 0.0, 30.0, 20.0, [255, 255, 255]);
        let _ = fit(text, 20.0, 10.0);
    }
}

#[test]
fn clusters_are_never_split() {
    // A flag, an emoji with a skin tone, a family (ZWJ), a decomposed accent.
    for (text, cluster) in [("🇫🇷", "🇫🇷"), ("👍🏽", "👍🏽"), ("👨‍👩‍👧", "👨‍👩‍👧"), ("e\u{0301}", "e\u{0301}")]
    {
        let long = cluster.repeat(30);
        for max in [20.0, 41.0, 63.0, 100.0, 150.0] {
            let short = fit(&long, 20.0, max);
            let kept = short.strip_suffix('…').expect("shortened");
            assert!(kept.is_empty() || kept.len().is_multiple_of(cluster.len()), "{text} split: {short:?}");
            assert!(text_width(&short, 20.0) <= max.max(cluster_width("…", 20.0)), "{short:?} wider than {max}");
        }
    }
    // A ZWJ sequence shows as its first emoji; modifiers and selectors are not drawn.
    assert_eq!(shape("👨‍👩‍👧"), Shape::Glyphs(vec![('👨', font_index('👨').unwrap())]));
    assert_eq!(shape("👍🏽"), Shape::Glyphs(vec![('👍', font_index('👍').unwrap())]));
    assert_eq!(shape("❤\u{FE0F}"), Shape::Glyphs(vec![('❤', font_index('❤').unwrap())]));
    // An accent stays on its letter, drawn with no advance of its own.
    let Shape::Glyphs(g) = shape("e\u{0301}") else { panic!() };
    assert_eq!(g.iter().map(|(c, _)| *c).collect::<String>(), "e\u{0301}");
    assert_eq!(cluster_width("e\u{0301}", 20.0), cluster_width("e", 20.0));
}

#[test]
fn right_to_left_runs_are_put_in_visual_order() {
    assert_eq!(visual_clusters("Dana דנה"), vec!["D", "a", "n", "a", " ", "ה", "נ", "ד"]);
    assert_eq!(visual_clusters("علي"), vec!["ي", "ل", "ع"]);
    // Hebrew with points: each letter keeps its marks.
    assert_eq!(visual_clusters("שָׁלוֹם"), vec!["ם", "וֹ", "ל", "שָׁ"]);
    // Truncation cuts the logical end; the ellipsis then sits at the left of RTL text.
    let short = fit("אברהם לינקולן מאילינוי", 20.0, 90.0);
    assert!(short.starts_with('א') && short.ends_with('…'), "{short}");
    assert_eq!(visual_clusters(&short).first(), Some(&"…"));
}

#[test]
fn text_is_shortened_to_fit() {
    let long = "A very long display name indeed";
    let short = fit(long, 20.0, 120.0);
    assert!(short.ends_with('…') && text_width(&short, 20.0) <= 120.0, "{short}");
    assert_eq!(fit("Bo", 20.0, 120.0), "Bo");
}

#[test]
fn every_bundled_font_has_its_licence_text() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/fonts/");
    let index = std::fs::read_to_string(format!("{dir}LICENSES.md")).unwrap();
    for (font, licence, must_say) in [
        ("DejaVuSans-Bold.ttf", "LICENSE-DejaVu.txt", "Arev Fonts Copyright"),
        (
            "DroidSansFallback.ttf",
            "LICENSE-Apache-2.0.txt",
            "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION",
        ),
        ("Symbola.ttf", "LICENSE-Symbola.txt", "version 9.17"),
    ] {
        assert!(index.contains(font) && index.contains(licence), "LICENSES.md lists {font} and {licence}");
        let text = std::fs::read_to_string(format!("{dir}{licence}")).unwrap();
        assert!(text.contains(must_say), "{licence} is the full text");
    }
    assert_eq!(fonts().len(), 3, "a font added to FONT_DATA needs its licence here");
}
