//! A custom layout with overlapping regions on a live room, read back by colour: red fills the
//! canvas (z 0), green's region (z 1) and blue's picture in picture (z 2) overlap; where they
//! overlap the higher z shows. Swapping the z of green and blue (a second PUT) swaps what shows
//! in the overlap. Each change lands within 500 ms.

use std::time::{Duration, Instant};

use crate::common::*;
use crate::stage::*;
use tessera_client::{TestPeer, close_to};

/// The layout: red everywhere, green at (0.3, 0.3) and blue at (0.5, 0.1), both 0.4 x 0.4.
fn regions(red: &TestPeer, green: &TestPeer, blue: &TestPeer, green_z: i32, blue_z: i32) -> String {
    format!(
        r#"{{"mode":"custom","regions":[
            {{"x":0,"y":0,"w":1,"h":1,"z":0,"participant":"{}"}},
            {{"x":0.3,"y":0.3,"w":0.4,"h":0.4,"z":{green_z},"participant":"{}"}},
            {{"x":0.5,"y":0.1,"w":0.4,"h":0.4,"z":{blue_z},"participant":"{}"}}]}}"#,
        red.id(),
        green.id(),
        blue.id()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_regions_stack_by_z() -> anyhow::Result<()> {
    let server = start_server().await;
    let addr = server.addr;
    let path = "/api/rooms/custom/layout";
    let red = TestPeer::join(addr, publisher("custom", "Red", RED, 440.0, 0.05)).await?;
    let green = TestPeer::join(addr, publisher("custom", "Green", GREEN, 600.0, 0.05)).await?;
    let blue = TestPeer::join(addr, publisher("custom", "Blue", BLUE, 1000.0, 0.05)).await?;
    red.wait_for(secs(15), |p| shows_tiles(p, &[RED, GREEN, BLUE])).await?;

    // On 640x360: green's picture is (192, 108) 256x144, blue's (320, 36) 256x144; they overlap
    // over x 320..448, y 108..180. Points away from edges and from the labels (lower left).
    let (w, h) = (CANVAS.width as f64, CANVAS.height as f64);
    let at = |fx: f64, fy: f64| ((fx * w) as u32, (fy * h) as u32);
    let red_only = at(0.12, 0.2);
    let green_only = at(0.55, 0.6);
    let blue_only = at(0.8, 0.25);
    let overlap = at(0.6, 0.38);
    let shows = |p: &TestPeer, want: &[((u32, u32), [u8; 3])]| {
        p.received()
            .latest_frame()
            .is_some_and(|f| want.iter().all(|((x, y), c)| close_to(f.rgb_at(*x, *y, 6), *c, TOLERANCE)))
    };
    for (green_z, blue_z, on_top, name) in [(1, 2, BLUE, "blue"), (3, 2, GREEN, "green")] {
        let asked = Instant::now();
        let (status, body) = http_body(addr, "PUT", path, None, &regions(&red, &green, &blue, green_z, blue_z)).await;
        assert_eq!(status, 200, "{body}");
        let want = [(red_only, RED), (green_only, GREEN), (blue_only, BLUE), (overlap, on_top)];
        red.wait_for(secs(2), |p| shows(p, &want)).await.map_err(|e| {
            let f = red.received().latest_frame().unwrap();
            anyhow::anyhow!("{e}; seen {:?}", want.map(|((x, y), _)| f.rgb_at(x, y, 6)))
        })?;
        let took = asked.elapsed();
        let f = red.received().latest_frame().unwrap();
        println!(
            "green z {green_z}, blue z {blue_z}: shown {took:?} after the PUT; overlap {:?} ({name} on top), red {:?}, green {:?}, blue {:?}",
            f.rgb_at(overlap.0, overlap.1, 6),
            f.rgb_at(red_only.0, red_only.1, 6),
            f.rgb_at(green_only.0, green_only.1, 6),
            f.rgb_at(blue_only.0, blue_only.1, 6),
        );
        assert!(took < Duration::from_millis(500));
    }
    drop((red, green, blue));
    server.stop().await;
    Ok(())
}
