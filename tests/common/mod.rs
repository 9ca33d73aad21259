//! Shared test harness: an in-process server on `127.0.0.1:0` and helpers over the test peer.
#![allow(dead_code)] // each test binary uses a different subset

use std::net::SocketAddr;
use std::time::Duration;

use tessera::client::{Frame, TestPeer, close_to};
use tessera::config::{Config, MediaConfig};
use tessera::layout::{self, Rect, Size};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const RED: [u8; 3] = [255, 0, 0];
pub const BLUE: [u8; 3] = [0, 0, 255];
pub const GREEN: [u8; 3] = [0, 255, 0];
pub const YELLOW: [u8; 3] = [255, 255, 0];
/// Per-channel tolerance for colours after a VP8 round trip.
pub const TOLERANCE: u8 = 48;
/// The test canvas: small, so tests stay light on 2 cores.
pub const CANVAS: Size = Size::new(640, 360);
/// The test peers' video size.
pub const SOURCE: Size = Size::new(320, 180);

/// A server running inside the test process.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

/// Media settings for tests: loopback ICE only, the small canvas.
pub fn test_media_config() -> MediaConfig {
    MediaConfig {
        ice_addresses: vec!["127.0.0.1".parse().unwrap()],
        canvas: CANVAS,
        video_bitrate_kbps: 800,
        ..MediaConfig::default()
    }
}

/// Starts a server with the test media settings.
pub async fn start_server() -> TestServer {
    start_server_with(test_media_config()).await
}

/// Starts a server with `media` settings on a free port.
pub async fn start_server_with(media: MediaConfig) -> TestServer {
    init_tracing();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = Config { listen: addr, assets_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/assets").into(), media };
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(tessera::run(listener, config, async move {
        let _ = stopped.await;
    }));
    TestServer { addr, stop: Some(stop), task }
}

impl TestServer {
    /// Shuts the server down and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.task).await;
    }
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_test_writer()
        .try_init();
}

/// Where tile `index` of `count` lands for a test source on the test canvas.
pub fn tile(index: usize, count: usize) -> Rect {
    layout::fit(layout::grid(count, CANVAS)[index], SOURCE, (1, 1))
}

/// The mean colour at the centre of `rect`.
pub fn colour_in(frame: &Frame, rect: Rect) -> [u8; 3] {
    let (x, y) = rect.centre();
    frame.rgb_at(x, y, 8)
}

/// True when the latest frame shows `colours[i]` in tile `i` of `colours.len()`.
pub fn shows_tiles(peer: &TestPeer, colours: &[[u8; 3]]) -> bool {
    let Some(frame) = peer.received().latest_frame() else { return false };
    colours.iter().enumerate().all(|(i, c)| close_to(colour_in(&frame, tile(i, colours.len())), *c, TOLERANCE))
}

/// Describes what a peer sees in each tile of an `n`-tile layout, for failure messages.
pub fn describe(peer: &TestPeer, n: usize) -> String {
    match peer.received().latest_frame() {
        None => format!("no frame (frames={})", peer.received().frames()),
        Some(f) => (0..n).map(|i| format!("tile {i}: {:?}", colour_in(&f, tile(i, n)))).collect::<Vec<_>>().join(", "),
    }
}

/// Seconds as a Duration.
pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}
