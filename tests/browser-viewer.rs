//! Watching only: on a machine with no camera or microphone, a page joins as a viewer (by
//! keyboard alone, with room and name taken from the link) and receives the composite without
//! asking for a device; "join with camera" explains what is missing and offers to watch
//! instead; the page fits a phone's width; a kicked viewer reads why and is back at the form.
//! Chromium and Firefox.

mod common;

use common::browser::{Browser, Kind, sample_video_js};
use common::*;
use tessera::client::{PeerOptions, TestPeer};

const RED_AT_CENTRE: &str = "c && c[0] > 200 && c[1] < 60 && c[2] < 60 && c";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_watch_without_devices() -> anyhow::Result<()> {
    let server = start_server_with(browser_media_config()).await;
    let addr = server.addr;
    let _red = TestPeer::join(addr, PeerOptions::publisher("watch", "red", RED, 440.0)).await?;
    let (x, y) = tile(0, 1).centre();
    for kind in [Kind::Chromium, Kind::Firefox] {
        let mut b = Browser::launch(kind, false, None).await?;
        let page = b.open(&format!("http://{addr}/?room=watch&name=Watcher")).await?;
        assert_eq!(
            b.eval(page, "[document.querySelector('#room').value, document.querySelector('#name').value]").await?,
            serde_json::json!(["watch", "Watcher"])
        );
        // Keyboard only: Tab through room, name and the join buttons to "Watch only".
        for _ in 0..4 {
            b.press(page, "Tab").await?;
        }
        assert_eq!(b.eval(page, "document.activeElement.id").await?, "join-viewer");
        b.press(page, "Enter").await?;
        b.wait_for(page, "window.tessera.state === 'connected'", secs(20)).await?;
        let stats =
            b.wait_for(page, "window.tessera.stats().then((s) => s && s.framesDecoded >= 30 && s)", secs(20)).await?;
        let red = b
            .wait_for(
                page,
                &format!("(() => {{ const c = {}; return {RED_AT_CENTRE}; }})()", sample_video_js(x, y)),
                secs(10),
            )
            .await?;
        assert_eq!(b.eval(page, "document.querySelector('#problem').hidden").await?, true, "no device was asked for");
        assert_eq!(
            b.eval(
                page,
                "document.querySelector('#mute-mic').disabled && document.querySelector('#mute-camera').disabled"
            )
            .await?,
            true
        );
        // On screen: the state badge, both participants listed, focus still in the call.
        let screen = b
            .eval(
                page,
                "[document.querySelector('#state').textContent, document.querySelectorAll('#participants li').length, document.activeElement.id]",
            )
            .await?;
        assert_eq!(screen, serde_json::json!(["Connected", 2, "leave"]), "{kind:?}");
        // Kicked through the REST API: a readable message, back at the form, no badge left over.
        let id = b.eval(page, "window.tessera.participantId").await?.as_str().unwrap_or_default().to_owned();
        let (status, _) = http(addr, "DELETE", &format!("/api/rooms/watch/participants/{id}"), None).await;
        assert!(status / 100 == 2, "kick: {status}");
        let text = b
            .wait_for(
                page,
                "!document.querySelector('#problem').hidden && !document.querySelector('#join-form').hidden \
                 && document.querySelector('#state').hidden && document.querySelector('#problem-text').textContent",
                secs(3),
            )
            .await?;
        assert_eq!(text, "An administrator removed you from the room.", "{kind:?}");
        let errors = b.errors(page).await?;
        println!("{kind:?} viewer: {stats}, red {red}, screen {screen}, kicked: {text}, console errors {errors:?}");
        assert!(errors.is_empty());
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
    let mut b = Browser::launch(Kind::Chromium, false, None).await?;
    let page = b.open_sized(&format!("http://{addr}/?room=phone"), 390, 844).await?;
    b.type_into(page, "#name", "Pocket").await?;
    b.click(page, "#join-publisher").await?;
    let text = b
        .wait_for(
            page,
            "!document.querySelector('#problem').hidden && document.querySelector('#problem-text').textContent",
            secs(10),
        )
        .await?;
    println!("without devices the page says: {text}");
    assert!(text.as_str().unwrap_or_default().contains("camera or microphone"), "{text}");
    b.click(page, "#as-viewer").await?;
    b.wait_for(page, "window.tessera.state === 'connected'", secs(20)).await?;
    b.wait_for(page, "window.tessera.stats().then((s) => s && s.framesDecoded >= 30)", secs(20)).await?;
    let fits = b.eval(page, "document.documentElement.scrollWidth <= window.innerWidth").await?;
    let video_width = b.eval(page, "document.querySelector('video').getBoundingClientRect().width").await?;
    println!("at 390 px wide: no horizontal scroll = {fits}, video {video_width} px wide");
    assert_eq!(fits, true, "the page must fit a phone's width");
    assert!(video_width.as_f64() > Some(300.0));
    let errors = b.errors(page).await?;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    b.quit().await;
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_camera_is_explained() -> anyhow::Result<()> {
    let server = start_server_with(browser_media_config()).await;
    let mut b = Browser::launch_denying_permissions().await?;
    let page = b.open(&format!("http://{}/?room=shy&name=Shy", server.addr)).await?;
    b.click(page, "#join-publisher").await?;
    let text = b
        .wait_for(
            page,
            "!document.querySelector('#problem').hidden && document.querySelector('#problem-text').textContent",
            secs(10),
        )
        .await?;
    println!("with access refused the page says: {text}");
    assert!(text.as_str().unwrap_or_default().contains("refused"), "{text}");
    assert_eq!(b.eval(page, "document.querySelector('#as-viewer').hidden").await?, false, "offers to watch");
    b.click(page, "#as-viewer").await?;
    b.wait_for(page, "window.tessera.state === 'connected'", secs(20)).await?;
    let errors = b.errors(page).await?;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    b.quit().await;
    server.stop().await;
    Ok(())
}
