//! Shared test harness: an in-process server on `127.0.0.1:0` and helpers over the test peer.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tessera::config::Config;
use tessera::layout::{self, Rect, Size};
use tessera_client::{Frame, TestPeer, close_to};
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

/// Settings for tests: loopback ICE only, the small canvas.
pub fn test_media_config() -> Config {
    let mut c = Config::default();
    c.ice.addresses = vec!["127.0.0.1".parse().unwrap()];
    c.composite.canvas = tessera::config::Canvas(CANVAS);
    c.composite.video_bitrate = 800;
    // Tests change layouts and call the REST API without keys, all from 127.0.0.1; the
    // security scenarios set their own limits and turn development mode off.
    c.server.dev = true;
    c.limits.connections_per_address = 10_000;
    c.limits.joins_per_minute = 1_000_000;
    c
}

/// The test settings, changed by `change`.
pub fn test_config_with(change: impl FnOnce(&mut Config)) -> Config {
    let mut c = test_media_config();
    change(&mut c);
    c
}

/// Settings for browser tests: ICE also on the default route's address, as in production,
/// because Firefox does not pair its own (non-loopback) candidates with a loopback-only server.
pub fn browser_media_config() -> Config {
    test_config_with(|c| c.ice.addresses = tessera::config::default_ice_addresses())
}

/// A fresh, empty directory for recordings under the system temp dir.
pub fn record_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts a server with the test media settings.
pub async fn start_server() -> TestServer {
    start_server_with(test_media_config()).await
}

/// Starts a server with `media` settings on a free loopback port.
pub async fn start_server_with(media: Config) -> TestServer {
    start_server_on("127.0.0.1:0", None, media).await
}

/// Starts a server listening on `listen` (port 0 for a free one), with an optional admin key.
pub async fn start_server_on(listen: &str, admin_key: Option<&str>, media: Config) -> TestServer {
    start_server_listening(tokio::net::TcpListener::bind(listen).await.unwrap(), admin_key, media)
}

/// Starts a server on `listener`, with an optional admin key.
pub fn start_server_listening(listener: tokio::net::TcpListener, admin_key: Option<&str>, media: Config) -> TestServer {
    init_tracing();
    let mut addr = listener.local_addr().unwrap();
    let mut config = media;
    config.server.listen = addr;
    config.server.assets_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/assets").into();
    config.server.admin_key = admin_key.map(str::to_owned);
    // A test that gives a key tests the key: no development-mode shortcut.
    config.server.dev &= admin_key.is_none();
    if addr.ip().is_unspecified() {
        addr.set_ip("127.0.0.1".parse().unwrap());
    }
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(tessera::run(listener, config, async move {
        let _ = stopped.await;
    }));
    TestServer { addr, stop: Some(stop), task }
}

/// A free loopback port kept by one test across server restarts: while no server runs on it,
/// connections to it are refused (a socket is bound, not listening), and no other process can
/// take it meanwhile (SO_REUSEPORT lets only our sockets share it).
pub struct ReservedPort {
    pub addr: SocketAddr,
    /// Bound to `addr`, not listening: the next server's listener.
    spare: tokio::net::TcpSocket,
}

fn reusable_socket() -> tokio::net::TcpSocket {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.set_reuseport(true).unwrap();
    socket
}

impl ReservedPort {
    /// Reserves a free port on 127.0.0.1.
    pub fn new() -> Self {
        let spare = reusable_socket();
        spare.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        Self { addr: spare.local_addr().unwrap(), spare }
    }

    /// Starts a server on the port; once it stops, the port refuses connections again.
    pub fn start(&mut self, media: Config) -> TestServer {
        let next = reusable_socket();
        next.bind(self.addr).unwrap();
        let listener = std::mem::replace(&mut self.spare, next).listen(128).unwrap();
        start_server_listening(listener, None, media)
    }
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

/// Waits until `peer` hears `hz` above `min_dbfs` over the last `window_ms` (so the window no
/// longer holds the mixers' start-up gap); returns how long that took.
pub async fn wait_tone(peer: &TestPeer, hz: f64, min_dbfs: f64, window_ms: u32) -> anyhow::Result<Duration> {
    peer.wait_for(secs(15), |p| p.tone_dbfs(hz, window_ms) > min_dbfs)
        .await
        .map_err(|e| anyhow::anyhow!("{hz} Hz never reached {min_dbfs} dBFS over {window_ms} ms: {e}"))
}

/// Points on a 16x9 grid over the whole frame whose colour is close to one of `colours`.
pub fn points_showing(frame: &Frame, colours: &[[u8; 3]]) -> Vec<((u32, u32), [u8; 3])> {
    let (w, h) = (frame.width(), frame.height());
    (0..16u32)
        .flat_map(|i| (0..9u32).map(move |j| (w * (2 * i + 1) / 32, h * (2 * j + 1) / 18)))
        .map(|(x, y)| ((x, y), frame.rgb_at(x, y, 2)))
        .filter(|(_, c)| colours.iter().any(|f| close_to(*c, *f, TOLERANCE)))
        .collect()
}

/// A free port on the loopback (free now; a server binds it next).
pub fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// Seconds as a Duration.
pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// How smoothly frames arrived between `from` and `to`: the largest gap between consecutive
/// frames, and the fewest frames in any 1 s window (stepped by 100 ms).
pub fn smoothness(arrivals: &[Instant], from: Instant, to: Instant) -> (Duration, usize) {
    let inside: Vec<Instant> = arrivals.iter().copied().filter(|t| *t >= from && *t <= to).collect();
    let mut edges = vec![from];
    edges.extend(inside.iter().copied());
    edges.push(to);
    let max_gap = edges.windows(2).map(|w| w[1] - w[0]).max().unwrap_or_default();
    let mut min_window = usize::MAX;
    let mut start = from;
    while start + Duration::from_secs(1) <= to {
        let end = start + Duration::from_secs(1);
        min_window = min_window.min(inside.iter().filter(|t| **t >= start && **t < end).count());
        start += Duration::from_millis(100);
    }
    (max_gap, if min_window == usize::MAX { inside.len() } else { min_window })
}

/// A REST call; returns the status and the JSON body (`Null` if none).
pub async fn http(addr: SocketAddr, method: &str, path: &str, bearer: Option<&str>) -> (u16, serde_json::Value) {
    http_body(addr, method, path, bearer, "").await
}

/// [`http`] with a request body.
pub async fn http_body(
    addr: SocketAddr,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: &str,
) -> (u16, serde_json::Value) {
    tessera_client::rest::request(addr, method, path, bearer, body).await.expect("HTTP request")
}

/// The real `tessera` binary running as a child process, for measuring the server alone.
pub struct ServerProcess {
    pub addr: SocketAddr,
    pub child: tokio::process::Child,
    /// Every log line so far (stderr is drained continuously so the server never blocks on it).
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts `tessera serve` on a free loopback port with the test canvas and `extra` flags.
    pub async fn start(extra: &[&str]) -> anyhow::Result<Self> {
        Self::start_with_prefix(&[], extra).await
    }

    /// Like [`ServerProcess::start`], run through `prefix` (e.g. `prlimit --fsize=N --`).
    pub async fn start_with_prefix(prefix: &[&str], extra: &[&str]) -> anyhow::Result<Self> {
        Self::launch(prefix, "127.0.0.1:0", "127.0.0.1", extra).await
    }

    /// Starts `tessera serve` listening on `listen`, ICE on the loopback and the default
    /// route's address (browsers), with the test canvas and `extra` flags.
    pub async fn start_on(listen: SocketAddr, extra: &[&str]) -> anyhow::Result<Self> {
        let ice: Vec<String> = tessera::config::default_ice_addresses().iter().map(ToString::to_string).collect();
        Self::launch(&[], &listen.to_string(), &ice.join(","), extra).await
    }

    /// Starts the server listening on `listen` with ICE on `ice` (more with `--ice-addresses`
    /// in `extra`).
    async fn launch(prefix: &[&str], listen: &str, ice: &str, extra: &[&str]) -> anyhow::Result<Self> {
        use tokio::io::AsyncBufReadExt;
        let server = Self::binary();
        let (program, args): (&str, Vec<&str>) = match prefix.split_first() {
            Some((p, rest)) => (p, rest.iter().copied().chain([server.as_str()]).collect()),
            None => (server.as_str(), Vec::new()),
        };
        let mut command = tokio::process::Command::new(program);
        tessera_bench::loadgen::child::die_with_parent(command.as_std_mut());
        let mut child = command
            .args(args)
            .args(["serve", "--listen", listen, "--canvas", "640x360", "--ice-addresses", ice, "--dev"])
            .args(["--connections-per-address", "10000", "--joins-per-minute", "1000000"])
            .args(extra)
            .env("RUST_LOG", "info")
            .env("TESSERA_STALL_BACKTRACES", "1")
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sink = log.clone();
        tokio::spawn(async move {
            let mut tx = Some(tx);
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(addr) = line.split("listening on http://").nth(1)
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(addr.trim().to_owned());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let addr = tokio::time::timeout(secs(10), rx).await??.parse()?;
        Ok(Self { addr, child, log })
    }

    /// The server binary: this build's, or `TESSERA_SERVER_BIN` (e.g. `target/release/tessera`,
    /// for measuring an optimized build).
    pub fn binary() -> String {
        std::env::var("TESSERA_SERVER_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_tessera").to_owned())
    }

    /// The server's PID.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("server running")
    }

    /// Open file descriptors, threads and RSS (MiB) of the server.
    pub fn resources(&self) -> (usize, u64, f64) {
        let fds = std::fs::read_dir(format!("/proc/{}/fd", self.pid())).map(|d| d.count()).unwrap_or(0);
        let s = tessera_bench::loadgen::ProcSample::read(Some(self.pid())).expect("server /proc");
        (fds, s.threads, s.rss_mib)
    }

    /// The server's threads by name (`/proc/<pid>/task/*/comm`), counted.
    pub fn thread_names(&self) -> std::collections::BTreeMap<String, usize> {
        let mut names = std::collections::BTreeMap::new();
        for task in std::fs::read_dir(format!("/proc/{}/task", self.pid())).into_iter().flatten().flatten() {
            if let Ok(comm) = std::fs::read_to_string(task.path().join("comm")) {
                *names.entry(comm.trim().to_owned()).or_insert(0) += 1;
            }
        }
        names
    }
}
pub mod aiortc;
pub mod browser;
pub mod fleet;
pub mod recording;
pub mod turn;

/// Writes a decoded frame to a PNG file (for looking at what a test saw).
pub fn save_png(frame: &tessera_client::Frame, path: &std::path::Path) -> anyhow::Result<()> {
    use gst::prelude::*;
    let (w, h) = (frame.width(), frame.height());
    let mut rgb = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            rgb.extend(frame.rgb_at(x, y, 0));
        }
    }
    let desc = format!(
        "appsrc name=src caps=video/x-raw,format=RGB,width={w},height={h},framerate=0/1 ! videoconvert ! pngenc ! filesink location={}",
        path.display()
    );
    let pipeline = gst::parse::launch(&desc)?.downcast::<gst::Pipeline>().unwrap();
    let src = pipeline.by_name("src").unwrap().downcast::<gst_app::AppSrc>().unwrap();
    pipeline.set_state(gst::State::Playing)?;
    src.push_buffer(gst::Buffer::from_mut_slice(rgb))?;
    src.end_of_stream()?;
    pipeline
        .bus()
        .unwrap()
        .timed_pop_filtered(gst::ClockTime::from_seconds(5), &[gst::MessageType::Eos, gst::MessageType::Error]);
    pipeline.set_state(gst::State::Null)?;
    Ok(())
}
