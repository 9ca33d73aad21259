//! Names drawn on tiles at 360p, read from the label's glyphs: each label shows light text
//! pixels where the name's glyphs are (compared with the label the server renders), dark
//! between them; the CJK character and the emoji of "Blue 蓝 😀" each come out as a glyph
//! with lit pixels in their own place.

use crate::common::*;
use crate::stage::*;
use tessera::draw::{self, text_width};
use tessera::layout::{self, LabelSlot};
use tessera_client::{Frame, TestPeer};

/// How the decoded label agrees with the one rendered for `name` in `slot`, within the columns
/// `from..to` of the label (pixels from its left): (share of the glyphs' pixels that are lit,
/// share of the background's pixels that are dark, lit pixels).
fn agreement(frame: &Frame, slot: LabelSlot, name: &str, from: u32, to: u32) -> (f64, f64, usize) {
    let want = draw::label(name, slot.px, slot.rect.w, slot.rect.h);
    let (mut glyph, mut glyph_lit, mut bg, mut bg_dark) = (0, 0, 0, 0);
    for y in 0..want.height {
        for x in from..to.min(want.width) {
            let w = want.at(x, y);
            let got = frame.rgb_at(slot.rect.x + x, slot.rect.y + y, 0);
            if w.iter().all(|v| *v > 200) {
                glyph += 1;
                glyph_lit += usize::from(white(got));
            } else if w.iter().all(|v| *v < 60) {
                bg += 1;
                bg_dark += usize::from(got.iter().all(|v| *v < 110));
            }
        }
    }
    (glyph_lit as f64 / glyph.max(1) as f64, bg_dark as f64 / bg.max(1) as f64, glyph_lit)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_are_drawn_glyph_for_glyph() -> anyhow::Result<()> {
    let server = start_server().await;
    let addr = server.addr;
    let names = ["Ada Lovelace", "Blue 蓝 😀"];
    let ada = TestPeer::join(addr, publisher("names", names[0], RED, 440.0, 0.1)).await?;
    let blue = TestPeer::join(addr, publisher("names", names[1], BLUE, 1000.0, 0.1)).await?;
    ada.wait_for(secs(15), |p| shows_tiles(p, &[RED, BLUE])).await?;
    let slot = |i| layout::decorations(CANVAS, tile(i, 2)).label.expect("a label fits a 2-up tile");
    let whole = |p: &TestPeer, i: usize| {
        let s = slot(i);
        p.received().latest_frame().map_or((0.0, 0.0, 0), |f| agreement(&f, s, names[i], 0, s.rect.w))
    };
    // The label is there once its glyphs show (the first frames after joining may predate it).
    ada.wait_for(secs(3), |p| whole(p, 0).0 > 0.6 && whole(p, 1).0 > 0.6).await?;
    let frame = ada.received().latest_frame().unwrap();
    if let Some(dir) = std::env::var_os("TESSERA_FRAMES") {
        save_png(&frame, &std::path::Path::new(&dir).join("names.png"))?;
    }
    for (i, name) in names.iter().enumerate() {
        let s = slot(i);
        let (lit, dark, n) = agreement(&frame, s, name, 0, s.rect.w);
        println!(
            "{name:?} at {:?} ({} px text): {lit:.2} of glyph pixels lit ({n}), {dark:.2} of background dark",
            s.rect, s.px
        );
        assert!(lit >= 0.6 && dark >= 0.9, "{name:?}: label glyphs not where they belong");
    }
    // 蓝 and 😀 each: their own columns of the label hold their glyph.
    let s = slot(1);
    let pad = (s.px / 3).max(2);
    let px = s.px as f32;
    // A Brahmi letter (no bundled font has it) in the same place gives the hollow box the
    // composite would show if the glyph were missing: the frame must match the glyph better.
    for (before, glyph, boxed) in [("Blue ", "蓝", "Blue 𑀓 😀"), ("Blue 蓝 ", "😀", "Blue 蓝 𑀓")] {
        let from = pad + text_width(before, px).floor() as u32;
        let to = pad + text_width(&format!("{before}{glyph}"), px).ceil() as u32;
        let (lit, dark, n) = agreement(&frame, s, names[1], from, to);
        let (box_lit, box_dark, _) = agreement(&frame, s, boxed, from, to);
        let (real, as_box) = ((lit + dark) / 2.0, (box_lit + box_dark) / 2.0);
        println!(
            "{glyph} in label columns {from}..{to}: {lit:.2} of its glyph pixels lit ({n}), {dark:.2} dark around; \
             agreement {real:.2} with the glyph, {as_box:.2} with a box"
        );
        assert!(n >= 8 && lit >= 0.5 && dark >= 0.8, "{glyph} is not drawn as its glyph");
        assert!(real > as_box + 0.1, "{glyph} looks as much like a box as like its glyph");
    }
    drop((ada, blue));
    server.stop().await;
    Ok(())
}
