//! The room's controls, used as a person would — by mouse and by keyboard: mute and unmute the
//! microphone (the Rust peer hears the browser fall silent within 1 s of the click or key
//! press, and come back), turn the camera off and on (the tile becomes the placeholder and back),
//! and find a participant in the composite by clicking it or by picking them in the list.

use std::time::{Duration, Instant};

use tessera_client::TestPeer;
use tessera_protocol::ServerMessage;

use super::{CHROMIUM_HZ, FIREFOX_HZ, Room, not_placeholder, placeholder_points};
use crate::common::browser::page::{tab_to, visible_text};
use crate::common::browser::{Browser, Kind, Page};
use crate::common::{CANVAS, secs};

/// How a control is worked: a click, or a key pressed while it has keyboard focus.
#[derive(Debug, Clone, Copy)]
enum Use {
    Click,
    Key(&'static str),
}

async fn work(b: &mut Browser, page: Page, id: &str, how: Use) -> anyhow::Result<()> {
    match how {
        Use::Click => b.click(page, &format!("#{id}")).await,
        Use::Key(key) => {
            tab_to(b, page, &format!("el.id === '{id}'")).await?;
            b.press(page, key).await
        }
    }
}

/// Mute and unmute each browser's microphone: Chromium mutes with Space and unmutes with a
/// click, Firefox the other way round with Enter.
pub async fn mute(room: &mut Room) -> anyhow::Result<()> {
    let plan = [(Kind::Chromium, Use::Key(" "), Use::Click), (Kind::Firefox, Use::Click, Use::Key("Enter"))];
    let Room { rust, chromium, firefox, cp, fp, .. } = room;
    for ((b, page), (kind, off, on)) in [(chromium, *cp), (firefox, *fp)].into_iter().zip(plan) {
        assert_eq!(b.kind, kind);
        let (hz, other) = if kind == Kind::Chromium { (CHROMIUM_HZ, FIREFOX_HZ) } else { (FIREFOX_HZ, CHROMIUM_HZ) };
        let who = b.eval(page, "window.tessera.participantId").await?.as_str().unwrap_or_default().to_owned();
        let clicked = Instant::now();
        work(b, page, "mute-mic", off).await?;
        // Silent while the other browser is still heard, in the same window: a moment when the
        // Rust peer's own audio stalls (both tones gone) is not a mute.
        let muted_alone = |p: &TestPeer| p.tone_dbfs(hz, 200) < -60.0 && p.tone_dbfs(other, 200) > -40.0;
        rust.wait_for(secs(3), muted_alone).await.map_err(|e| {
            anyhow::anyhow!(
                "{kind:?} muted: {e}; its tone at {:.0} dBFS, the other's at {:.0} (muting one must not silence the other)",
                rust.tone_dbfs(hz, 200),
                rust.tone_dbfs(other, 200)
            )
        })?;
        let silent_after = clicked.elapsed();
        assert_eq!(b.eval(page, "document.querySelector('#mute-mic').getAttribute('aria-pressed')").await?, "true");
        rust.wait_message(secs(2), |m| matches!(m, ServerMessage::MuteChanged { participant_id, audio: true, .. } if participant_id.to_string() == who)).await?;
        let unclicked = Instant::now();
        work(b, page, "mute-mic", on).await?;
        rust.wait_for(secs(3), |p| p.tone_dbfs(hz, 200) > -40.0).await?;
        let back_after = unclicked.elapsed();
        assert_eq!(b.eval(page, "document.querySelector('#mute-mic').getAttribute('aria-pressed')").await?, "false");
        println!(
            "{kind:?}: muted ({off:?}) -> silent {silent_after:?} after it; unmuted ({on:?}) -> heard again {back_after:?} after it"
        );
        assert!(silent_after < Duration::from_secs(1), "{kind:?} took {silent_after:?} to fall silent");
    }
    Ok(())
}

/// The camera button: the others see the placeholder instead, then the video again. Chromium
/// by mouse, Firefox by keyboard.
pub async fn camera(room: &mut Room) -> anyhow::Result<()> {
    let Room { rust, chromium, firefox, cp, fp, chromium_id, firefox_id, .. } = room;
    for (index, (b, page), how, id) in
        [(1, (chromium, *cp), Use::Click, &*chromium_id), (2, (firefox, *fp), Use::Key(" "), &*firefox_id)]
    {
        let placeholder = tessera::draw::tile_colour(id.parse()?);
        let is_placeholder = |p: &TestPeer| placeholder_points(p, index, placeholder) > 49 / 2;
        let clicked = Instant::now();
        work(b, page, "mute-camera", how).await?;
        rust.wait_message(secs(2), |m| matches!(m, ServerMessage::MuteChanged { participant_id, video: true, .. } if participant_id.to_string() == *id)).await?;
        rust.wait_for(secs(2), is_placeholder).await?;
        let off = clicked.elapsed();
        work(b, page, "mute-camera", how).await?;
        rust.wait_for(secs(3), |p| !is_placeholder(p)).await?;
        println!("{:?} ({how:?}): camera off -> placeholder {off:?} after it; on -> video again", b.kind);
        not_placeholder(rust, index, placeholder)?;
    }
    Ok(())
}

/// The outline drawn over the composite for the picked participant, in page pixels, and the
/// tile it should cover (from the DataChannel, scaled to the `<video>` on screen).
async fn outline_and_tile(b: &mut Browser, page: Page, id: &str) -> anyhow::Result<([f64; 4], [f64; 4])> {
    let js = format!(
        "(() => {{ const o = document.querySelector('#pick-outline'); if (o.hidden) return null; \
         const r = o.getBoundingClientRect(); const v = document.querySelector('#composite').getBoundingClientRect(); \
         const t = window.tessera.tiles.participants.find((p) => p.id === '{id}').tile; const k = v.width / {}; \
         return [[r.left, r.top, r.width, r.height], [v.left + t.x * k, v.top + t.y * k, t.w * k, t.h * k]]; }})()",
        CANVAS.width
    );
    Ok(serde_json::from_value(b.wait_for(page, &js, secs(3)).await?)?)
}

/// Chromium finds who is who: a click on the red tile picks the Rust peer; with the keyboard,
/// Enter on Firefox's entry in the list picks Firefox and outlines its tile on the composite.
pub async fn pick(room: &mut Room) -> anyhow::Result<()> {
    let (cp, rust_id, firefox_id) = (room.cp, room.rust.id().to_string(), room.firefox_id.clone());
    let b = &mut room.chromium;
    let t = b.eval(cp, &format!("window.tessera.tiles.participants.find((p) => p.id === '{rust_id}').tile")).await?;
    let v = b.eval(cp, "(() => { const r = document.querySelector('#composite').getBoundingClientRect(); return [r.left, r.top, r.width]; })()").await?;
    let (x, k) = (|i: usize| v[i].as_f64().unwrap(), v[2].as_f64().unwrap() / f64::from(CANVAS.width));
    let at = |key: &str| t[key].as_f64().unwrap();
    b.click_at(cp, x(0) + (at("x") + at("w") / 2.0) * k, x(1) + (at("y") + at("h") / 2.0) * k).await?;
    assert_eq!(
        b.eval(cp, "window.tessera.picked").await?,
        rust_id.as_str(),
        "a click on the red tile picks the Rust peer"
    );
    let (outline, expected) = outline_and_tile(b, cp, &rust_id).await?;
    println!("clicked the red tile {t}: picked {rust_id}, outline {outline:?} over {expected:?}");
    assert!(outline.iter().zip(expected).all(|(a, b)| (a - b).abs() <= 2.0), "{outline:?} vs {expected:?}");

    let presses = tab_to(b, cp, &format!("el.closest('li')?.dataset.id === '{firefox_id}'")).await?;
    b.press(cp, "Enter").await?;
    assert_eq!(b.eval(cp, "window.tessera.picked").await?, firefox_id.as_str(), "Enter on Firefox's entry picks it");
    let (outline, expected) = outline_and_tile(b, cp, &firefox_id).await?;
    let label = visible_text(b, cp, "#pick-outline span").await?;
    println!(
        "keyboard: {presses} Tabs and Enter picked Firefox, outline {outline:?} over {expected:?} labelled {label:?}"
    );
    assert!(outline.iter().zip(expected).all(|(a, b)| (a - b).abs() <= 2.0), "{outline:?} vs {expected:?}");
    assert_eq!(label.as_deref(), Some("Firefox"));
    let pressed = "document.activeElement.getAttribute('aria-pressed')";
    assert_eq!(b.eval(cp, pressed).await?, "true");
    b.press(cp, " ").await?;
    assert_eq!(
        b.eval(cp, "[window.tessera.picked, document.querySelector('#pick-outline').hidden]").await?,
        serde_json::json!([null, true])
    );
    Ok(())
}
