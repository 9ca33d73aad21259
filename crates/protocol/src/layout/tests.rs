//! Layout tests: every mode, N from 1 to 25.

use super::*;
use crate::ids::ParticipantId;

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

fn ids(n: usize) -> Vec<ParticipantId> {
    (0..n).map(|_| ParticipantId::next()).collect()
}

fn check(tiles: &[Tile], canvas: Size, overlap_allowed: bool) {
    let whole = Rect { x: 0, y: 0, w: canvas.width, h: canvas.height };
    for (i, a) in tiles.iter().enumerate() {
        assert!(a.cell.inside(&whole), "{a:?} outside {canvas:?}");
        assert!(a.cell.w >= 2 && a.cell.h >= 2);
        let fitted = fit(a.cell, Size::new(640, 360), (1, 1));
        assert!(fitted.inside(&a.cell));
        // 16:9 kept to within the 2-pixel rounding of even sizes.
        let ideal_h = fitted.w as f64 * 9.0 / 16.0;
        assert!(
            (fitted.h as f64 - ideal_h).abs() <= 2.0 || (fitted.w as f64 - fitted.h as f64 * 16.0 / 9.0).abs() <= 2.0,
            "aspect lost: {fitted:?}"
        );
        for b in &tiles[i + 1..] {
            assert_ne!(a.participant, b.participant, "a participant placed twice");
            if a.cell.overlaps(&b.cell) {
                assert!(overlap_allowed && a.z != b.z, "{a:?} overlaps {b:?} without a stacking order");
            }
        }
    }
}

#[test]
fn every_mode_for_1_to_25() {
    let custom = LayoutSpec {
        mode: Mode::Custom,
        regions: vec![
            Region { x: 0.0, y: 0.0, w: 1.0, h: 1.0, z: 0, participant: None },
            Region { x: 0.7, y: 0.7, w: 0.3, h: 0.3, z: 1, participant: None },
            Region { x: 0.0, y: 0.0, w: 0.25, h: 0.25, z: 2, participant: None },
        ],
        ..Default::default()
    };
    for canvas in [HD, Size::new(640, 360), Size::new(1920, 1080)] {
        for n in 1..=25 {
            let people = ids(n);
            for mode in [Mode::Grid, Mode::Speaker, Mode::Spotlight] {
                let tiles = place(&LayoutSpec { mode, ..Default::default() }, &people, None, canvas);
                let expected = if mode == Mode::Spotlight { 1 } else { n };
                assert_eq!(tiles.len(), expected, "{mode:?} n={n}");
                check(&tiles, canvas, false);
            }
            let tiles = place(&custom, &people, None, canvas);
            assert_eq!(tiles.len(), n.min(3));
            check(&tiles, canvas, true);
            // A 5x5 custom wall with the last person assigned to the first region: everyone
            // placed, once.
            let mut wall = LayoutSpec { mode: Mode::Custom, ..Default::default() };
            for i in 0..25 {
                let (x, y) = ((i % 5) as f64 / 5.0, (i / 5) as f64 / 5.0);
                wall.regions.push(Region { x, y, w: 0.2, h: 0.2, z: 0, participant: None });
            }
            wall.regions[0].participant = Some(people[n - 1]);
            assert!(wall.validate().is_ok());
            let tiles = place(&wall, &people, None, canvas);
            assert_eq!(tiles.len(), n, "custom wall n={n}");
            assert_eq!(tiles.iter().find(|t| t.participant == people[n - 1]).map(|t| t.cell.x), Some(0));
            let seen: std::collections::HashSet<_> = tiles.iter().map(|t| t.participant).collect();
            assert_eq!(seen.len(), n, "nobody twice");
            check(&tiles, canvas, false);
        }
    }
}

#[test]
fn speaker_and_pin_take_the_big_slot() {
    let people = ids(5);
    let speaker = LayoutSpec { mode: Mode::Speaker, ..Default::default() };
    let tiles = place(&speaker, &people, Some(people[3]), HD);
    assert_eq!(tiles[0].participant, people[3]);
    assert_eq!(tiles[0].cell, Rect { x: 0, y: 0, w: 1280, h: 576 });
    assert!(tiles[1..].iter().all(|t| t.cell.y == 576 && t.cell.h == 144));
    let pinned = LayoutSpec { pinned: Some(people[1]), ..speaker.clone() };
    assert_eq!(place(&pinned, &people, Some(people[3]), HD)[0].participant, people[1], "pin beats detection");
    let gone = LayoutSpec { pinned: Some(ParticipantId::next()), ..speaker };
    assert_eq!(place(&gone, &people, Some(people[3]), HD)[0].participant, people[3], "an absent pin is ignored");
    let spot = LayoutSpec { mode: Mode::Spotlight, ..Default::default() };
    assert_eq!(
        place(&spot, &people, None, HD),
        vec![Tile { participant: people[0], cell: Rect { x: 0, y: 0, w: 1280, h: 720 }, z: 0 }]
    );
    assert!(place(&spot, &[], None, HD).is_empty());
}

#[test]
fn custom_assignment() {
    let people = ids(3);
    let spec = LayoutSpec {
        mode: Mode::Custom,
        regions: vec![
            Region { x: 0.0, y: 0.0, w: 0.5, h: 1.0, z: 0, participant: None },
            Region { x: 0.5, y: 0.0, w: 0.5, h: 1.0, z: 0, participant: Some(people[0]) },
        ],
        ..Default::default()
    };
    let tiles = place(&spec, &people, None, HD);
    assert_eq!(tiles.len(), 2);
    assert_eq!((tiles[0].participant, tiles[0].cell.x), (people[1], 0), "unassigned regions take the others in order");
    assert_eq!((tiles[1].participant, tiles[1].cell.x), (people[0], 640));
}

#[test]
fn custom_regions_that_touch_share_their_pixel_edge() {
    // Awkward fractions: thirds, sevenths, 0.02-wide strips; edges round once, so neighbours
    // neither overlap nor leave a gap, and the row still spans the canvas.
    for canvas in [HD, Size::new(640, 360), Size::new(642, 482), Size::new(1918, 1078)] {
        for cols in [3usize, 7, 9, 11, 50] {
            let people = ids(cols);
            let w = 1.0 / cols as f64;
            let regions =
                (0..cols).map(|i| Region { x: i as f64 * w, y: 0.13, w, h: 0.37, z: 0, participant: None }).collect();
            let spec = LayoutSpec { mode: Mode::Custom, regions, ..Default::default() };
            assert!(spec.validate().is_ok());
            let tiles = place(&spec, &people, None, canvas);
            assert_eq!(tiles.len(), cols);
            for pair in tiles.windows(2) {
                let (a, b) = (pair[0].cell, pair[1].cell);
                assert_eq!(a.x + a.w, b.x, "{cols} columns on {canvas:?}: {a:?} then {b:?}");
                assert!(!a.overlaps(&b));
            }
            assert_eq!(tiles[0].cell.x, 0);
            let last = tiles[cols - 1].cell;
            assert_eq!(last.x + last.w, layout_even(canvas.width), "{cols} columns on {canvas:?}");
            check(&tiles, canvas, false);
        }
    }
    // A case where rounding each region on its own would overlap: x=0.02, w=0.02 next to x=0.04 at 1280 px.
    let people = ids(2);
    let strip = |x: f64| Region { x, y: 0.0, w: 0.02, h: 1.0, z: 0, participant: None };
    let spec = LayoutSpec { mode: Mode::Custom, regions: vec![strip(0.02), strip(0.04)], ..Default::default() };
    let tiles = place(&spec, &people, None, HD);
    assert_eq!((tiles[0].cell.x, tiles[0].cell.w, tiles[1].cell.x), (26, 26, 52), "{tiles:?}");
}

fn layout_even(v: u32) -> u32 {
    v & !1
}
