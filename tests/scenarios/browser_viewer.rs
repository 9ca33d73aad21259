//! Watching only, in Chromium and Firefox. A page joins as a viewer by keyboard alone (room and
//! name from the link) on a machine whose fake camera and microphone would be granted at once,
//! and never asks for them (a spy on getUserMedia, installed before the page's scripts, counts
//! no call); it plays the composite (>= 60 presented frames sampled on a canvas, red where the
//! publisher's tile is) and hears the publisher's tone. A kicked viewer reads why and is back
//! at the form. Also: no camera ("join with camera" explains and offers to watch; the form and
//! the call fit a phone's width) and a refused camera, in both browsers.

use crate::common::browser::page::{self, camera_requests};
use crate::common::browser::{Browser, Kind};
use crate::common::*;
use tessera_client::{PeerOptions, TestPeer, close_to};

async fn watch_by_keyboard(b: &mut Browser, addr: std::net::SocketAddr) -> anyhow::Result<()> {
    let kind = b.kind;
    let page = b.open(&format!("http://{addr}/?room=watch&name=Watcher")).await?;
    let form = "[document.querySelector('#room').value, document.querySelector('#name').value]";
    assert_eq!(b.eval(page, form).await?, serde_json::json!(["watch", "Watcher"]));
    // Keyboard only: Tab through room, name and the join buttons to "Watch only".
    let presses = page::tab_to(b, page, "el.id === 'join-viewer'").await?;
    b.press(page, "Enter").await?;
    b.wait_for(page, "window.tessera.state === 'connected'", secs(20)).await?;
    let stats =
        b.wait_for(page, "window.tessera.stats().then((s) => s && s.framesDecoded >= 60 && s)", secs(20)).await?;
    let s = page::sample_frames(b, page, 60, &[tile(0, 1).centre()]).await?;
    let red = s.frames.iter().filter(|f| close_to(f.probes[0], RED, TOLERANCE)).count();
    let level = b.wait_for(page, "window.tessera.receivedLevelDb().then((db) => db > -40 && db)", secs(10)).await?;
    let asked = camera_requests(b, page).await?;
    let sending = b.eval(page, "window.tessera.pc.getSenders().filter((s) => s.track).length").await?;
    let shown = page::state_history(b, page).await?;
    println!(
        "{kind:?} viewer ({presses} Tabs, Enter): getStats {stats}; {} presented frames in {:.0} ms, {red} red; \
         hears {level:.1} dBFS; camera requests {asked:?}; tracks sent {sending}; badge {shown:?}",
        s.frames.len(),
        s.ms
    );
    assert!(asked.is_empty(), "{kind:?}: a viewer must not ask for a camera or microphone");
    assert_eq!(sending, 0, "{kind:?} sends nothing");
    assert!(s.rvfc && !s.paused && !s.play_shown && s.frames.len() >= 60, "{kind:?}: {s:?}");
    assert_eq!(red, s.frames.len(), "{kind:?}: every frame shows the red publisher");
    assert!(shown.ends_with(&[("Connecting…".into(), true), ("Connected".into(), true)]), "{shown:?}");
    let disabled = "document.querySelector('#mute-mic').disabled && document.querySelector('#mute-camera').disabled";
    assert_eq!(b.eval(page, disabled).await?, true);
    // On screen: both participants listed, focus still in the call, no problem shown.
    let screen = "[document.querySelectorAll('#participants li').length, document.activeElement.id, document.querySelector('#problem').hidden]";
    assert_eq!(b.eval(page, screen).await?, serde_json::json!([2, "leave", true]), "{kind:?}");

    // Kicked through the REST API: a readable message, back at the form, no badge left over.
    let id = b.eval(page, "window.tessera.participantId").await?.as_str().unwrap_or_default().to_owned();
    let (status, _) = http(addr, "DELETE", &format!("/api/rooms/watch/participants/{id}"), None).await;
    assert!(status / 100 == 2, "kick: {status}");
    let kicked = "!document.querySelector('#problem').hidden && !document.querySelector('#join-form').hidden \
                  && document.querySelector('#state').hidden && document.querySelector('#problem-text').textContent";
    let text = b.wait_for(page, kicked, secs(3)).await?;
    println!("{kind:?} viewer kicked: {text}");
    assert_eq!(text, "An administrator removed you from the room.", "{kind:?}");
    page::assert_clean(b, page, &format!("http://{addr}")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_watch_without_asking_for_a_camera() -> anyhow::Result<()> {
    let server = start_server_with(browser_media_config()).await;
    let _red = TestPeer::join(server.addr, PeerOptions::publisher("watch", "red", RED, 440.0)).await?;
    for kind in [Kind::Chromium, Kind::Firefox] {
        let mut b = Browser::launch(kind, true, None).await?;
        watch_by_keyboard(&mut b, server.addr).await?;
        b.quit().await;
    }
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_camera_offers_to_watch_and_the_page_fits_a_phone() -> anyhow::Result<()> {
    let server = start_server_with(browser_media_config()).await;
    let addr = server.addr;
    let _red = TestPeer::join(addr, PeerOptions::publisher("phone", "red", RED, 440.0)).await?;
    let fits = "document.documentElement.scrollWidth <= window.innerWidth";
    for kind in [Kind::Chromium, Kind::Firefox] {
        let mut b = Browser::launch(kind, false, None).await?;
        let page = b.open_sized(&format!("http://{addr}/?room=phone"), 390, 844).await?;
        assert_eq!(b.eval(page, fits).await?, true, "{kind:?}: the form fits a phone's width");
        b.type_into(page, "#name", "Pocket").await?;
        b.click(page, "#join-publisher").await?;
        let problem =
            "!document.querySelector('#problem').hidden && document.querySelector('#problem-text').textContent";
        let text = b.wait_for(page, problem, secs(10)).await?;
        println!("{kind:?} without devices says: {text}");
        assert!(text.as_str().unwrap_or_default().contains("No camera or microphone"), "{text}");
        b.click(page, "#as-viewer").await?;
        b.wait_for(page, "window.tessera.state === 'connected'", secs(20)).await?;
        b.wait_for(page, "window.tessera.stats().then((s) => s && s.framesDecoded >= 30)", secs(20)).await?;
        let video_width = b.eval(page, "document.querySelector('video').getBoundingClientRect().width").await?;
        println!("{kind:?} at 390 px wide: call fits = {}, video {video_width} px wide", b.eval(page, fits).await?);
        assert_eq!(b.eval(page, fits).await?, true, "{kind:?}: the call fits a phone's width");
        assert!(video_width.as_f64() > Some(300.0));
        page::assert_clean(&mut b, page, &format!("http://{addr}")).await?;
        b.quit().await;
    }
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_camera_is_explained() -> anyhow::Result<()> {
    let server = start_server_with(browser_media_config()).await;
    for kind in [Kind::Chromium, Kind::Firefox] {
        let mut b = Browser::launch_denying_permissions(kind).await?;
        let page = b.open(&format!("http://{}/?room=shy&name=Shy", server.addr)).await?;
        b.click(page, "#join-publisher").await?;
        let problem =
            "!document.querySelector('#problem').hidden && document.querySelector('#problem-text').textContent";
        let text = b.wait_for(page, problem, secs(10)).await?;
        println!("{kind:?} with access refused says: {text}");
        assert!(text.as_str().unwrap_or_default().contains("refused"), "{text}");
        assert_eq!(b.eval(page, "document.querySelector('#as-viewer').hidden").await?, false, "offers to watch");
        b.click(page, "#as-viewer").await?;
        b.wait_for(page, "window.tessera.state === 'connected'", secs(20)).await?;
        page::assert_clean(&mut b, page, &format!("http://{}", server.addr)).await?;
        b.quit().await;
    }
    server.stop().await;
    Ok(())
}
