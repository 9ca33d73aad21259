//! Load generation against a running server: N publishers replaying one pre-encoded clip,
//! V viewers that only count packets, and one probe viewer that decodes the composite. The
//! server's CPU, RSS and threads are read from `/proc/<pid>` over a steady window; the load
//! generator reports its own CPU separately. The first publisher can flash its frame white
//! once a second for glass-to-glass latency at the probe; afterwards newcomers can be timed
//! to their first frame and the room churned.

pub mod child;
mod joins;
pub mod procfs;
mod room_api;
pub mod soak;
pub mod stats;
pub mod stress;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_client::Codec;

use anyhow::Context;
use serde::Serialize;

pub use joins::{ChurnReport, churn, join_times};
pub use procfs::ProcSample;
pub use stats::Percentiles;

use tessera_client::latency;
use tessera_client::{AudioSource, ClipLadder, EncodedClip, PeerOptions, TestPeer, VideoSource, VideoSpec};
use tessera_protocol::Role;

/// What to generate.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadOptions {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub server: SocketAddr,
    /// Room to load.
    #[arg(long, default_value = "load")]
    pub room: String,
    /// Publishers sending the pre-encoded clip.
    #[arg(long, default_value_t = 4)]
    pub publishers: usize,
    /// Receive-only viewers that count packets without decoding.
    #[arg(long, default_value_t = 0)]
    pub viewers: usize,
    /// Publisher video width.
    #[arg(long, default_value_t = 640)]
    pub width: u32,
    /// Publisher video height.
    #[arg(long, default_value_t = 360)]
    pub height: u32,
    /// Publisher frame rate.
    #[arg(long, default_value_t = 30)]
    pub fps: u32,
    /// Publisher video bitrate, kbit/s.
    #[arg(long, default_value_t = 600)]
    pub kbps: u32,
    /// Seconds to settle before measuring.
    #[arg(long, default_value_t = 5)]
    pub warmup: u64,
    /// Seconds to measure.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// PID of the server process, to measure its CPU and memory.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Record the room during the measurement (POST /api/rooms/{room}/recordings).
    #[arg(long)]
    pub record: bool,
    /// Set the room's layout before measuring: grid, speaker or spotlight.
    #[arg(long)]
    pub layout: Option<String>,
    /// Admin key for --record and --layout, if the server needs one.
    #[arg(long, env = "TESSERA_ADMIN_KEY")]
    pub admin_key: Option<String>,
    /// The first publisher flashes its video white once a second (encoded live instead of the
    /// clip) and the probe times each flash: glass-to-glass latency.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub latency: bool,
    /// Publishers send audio only and nobody watches video (no probe, no latency).
    #[arg(long)]
    pub audio_only: bool,
    /// After measuring, this many decoding viewers join one after another, each timed from
    /// `join` to its first decoded frame.
    #[arg(long, default_value_t = 0)]
    pub joins: usize,
    /// After measuring, this many peers join and leave (needs --server-pid): the server's
    /// RSS and fds before and after.
    #[arg(long, default_value_t = 0)]
    pub churn: usize,
    /// The only video codec the counting viewers accept (vp8 or h264: the latter starts the
    /// room's H.264 encoder).
    #[arg(long, default_value = "vp8", value_parser = codec)]
    pub viewer_codec: Codec,
    /// Publishers ignore the server's `videoConstraints` and always send the full-size clip, as
    /// a client that does not know the message: what non-cooperating publishers cost. By
    /// default they replay the pre-encoded size that fills their tile.
    #[arg(long)]
    pub ignore_constraints: bool,
    /// The publishers' audio codec (opus sends the clip; pcmu or pcma a live tone, and they
    /// hear their mix-minus in it).
    #[arg(long, default_value = "opus", value_parser = codec)]
    pub audio_codec: Codec,
    /// Only the first this many publishers talk (Opus); the others send silence, as most of a
    /// real room does at any moment. Unset: everyone talks.
    #[arg(long)]
    pub talkers: Option<usize>,
}

fn codec(name: &str) -> Result<Codec, String> {
    Codec::from_encoding_name(name).ok_or_else(|| format!("unknown codec {name:?}: vp8, h264, opus, pcmu or pcma"))
}

/// The outcome of one load run.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// Publishers.
    pub publishers: usize,
    /// Packet-counting viewers (the probe not included).
    pub viewers: usize,
    /// Whether publishers sent audio only.
    pub audio_only: bool,
    /// Whether publishers ignored the server's `videoConstraints` (sent full size).
    #[serde(default)]
    pub ignore_constraints: bool,
    /// Measured window, seconds.
    pub window_secs: f64,
    /// Server resources at the end of the window and its CPU over it, if a PID was given.
    pub server: Option<ServerUse>,
    /// The load generator's own CPU in cores.
    pub loadgen_cpu_cores: f64,
    /// Mean composite frame rate at the probe.
    pub probe_fps_mean: f64,
    /// Worst 1-second window of the composite frame rate at the probe.
    pub probe_fps_min: f64,
    /// Video packets per second received by each counting viewer, mean.
    pub viewer_video_pps: f64,
    /// Audio packets per second each publisher received (its mix-minus), mean.
    pub publisher_audio_pps: f64,
    /// Glass-to-glass delays from the flashing publisher to the probe.
    pub latency: Option<Percentiles>,
    /// Flashes captured during the window (each should appear in `latency`).
    pub flashes: usize,
    /// Bright onsets at the probe whose flash code could not be read.
    pub unreadable_flashes: usize,
    /// Join → first frame of the timed joiners.
    pub joins: Option<Percentiles>,
    /// Resources around churn.
    pub churn: Option<ChurnReport>,
    /// Size of the recording made during the run (with --record).
    pub recorded_bytes: Option<u64>,
    /// Grid tiles of the probe's last frame that show video (not black at their centre; the
    /// flashing tile counts when its flashes were seen); equals `publishers` when every
    /// publisher made it into the composite.
    pub probe_tiles_with_video: usize,
    /// The lowest decoded frame rate of any publisher at the server, over the window's
    /// one-second samples (REST `inbound.fps`): whether the crowd's video arrived in full
    /// (a starved load generator shows here). `None` without video or when the room was
    /// unreadable.
    #[serde(default)]
    pub publisher_fps_min: Option<f64>,
}

/// The server's resource use over the measured window.
#[derive(Debug, Clone, Serialize)]
pub struct ServerUse {
    /// CPU in cores (1.0 = one core fully busy).
    pub cpu_cores: f64,
    /// At the end of the window.
    pub at_end: ProcSample,
    /// Where that CPU went, by thread group, busiest first.
    pub threads: Vec<procfs::ThreadGroup>,
}

/// The peers of one run.
struct Crowd {
    publishers: Vec<TestPeer>,
    viewers: Vec<TestPeer>,
    probe: Option<TestPeer>,
}

/// The pre-encoded clips publishers replay.
#[derive(Debug, Clone)]
pub struct Clips {
    /// The video at the publishers' size and at the smaller sizes tiles need (VP8).
    pub ladder: Arc<ClipLadder>,
    /// The audio (Opus).
    pub audio: Arc<EncodedClip>,
}

impl Clips {
    /// The video at the publishers' full size.
    pub fn video(&self) -> Arc<EncodedClip> {
        self.ladder.rungs.last().expect("a ladder has rungs").clone()
    }
}

/// The fractions of the publishers' size pre-encoded beside it: the tiles of a 2x2, 3x3, 4x4
/// and 5x5 grid of a canvas twice the publishers' size (1280x720 for 640x360), and the
/// server's 160x90 floor for 640x360.
const RUNGS: [(u32, u32); 4] = [(2, 3), (1, 2), (2, 5), (1, 4)];

/// Encodes the clips `opts` asks for: 10 s of moving colour bars at the publishers' size and at
/// the [`RUNGS`], and a 440 Hz tone.
pub fn clips(opts: &LoadOptions) -> anyhow::Result<Clips> {
    let even = |v: u32| (v & !1).max(2);
    let mut sizes = vec![(opts.width, opts.height)];
    sizes.extend(RUNGS.iter().map(|(n, d)| (even(opts.width * n / d), even(opts.height * n / d))));
    let ladder = ClipLadder::vp8(&sizes, opts.fps, 10, opts.kbps)?;
    Ok(Clips { ladder, audio: EncodedClip::opus(440.0, 10)? })
}

/// Runs the load and measures.
pub async fn run(opts: &LoadOptions) -> anyhow::Result<LoadReport> {
    let for_clips = opts.clone();
    run_with(opts, &blocking(move || clips(&for_clips)).await?).await
}

/// Runs `work` (which builds, runs and stops pipelines) on a blocking thread, not on the async
/// runtime's workers: a pipeline's change to NULL joins its streaming threads.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(work).await?
}

/// Runs the load with clips encoded beforehand (see [`clips`]) and measures.
pub async fn run_with(opts: &LoadOptions, clips: &Clips) -> anyhow::Result<LoadReport> {
    let crowd = gather(opts, clips).await?;
    if let Some(mode) = &opts.layout {
        let path = format!("/api/rooms/{}/layout", opts.room);
        let body = serde_json::json!({ "mode": mode }).to_string();
        let (status, reply) =
            tessera_client::rest::request(opts.server, "PUT", &path, opts.admin_key.as_deref(), &body).await?;
        anyhow::ensure!(status == 200, "setting the layout failed: {status} {reply}");
    }
    let recording = if opts.record { Some(room_api::start_recording(opts).await?) } else { None };
    tokio::time::sleep(Duration::from_secs(opts.warmup)).await;

    let (server0, self0) = (opts.server_pid.map(|p| ProcSample::read(Some(p))).transpose()?, ProcSample::read(None)?);
    let threads0 = opts.server_pid.map(procfs::thread_times).transpose()?;
    let video_packets = |c: &Crowd| c.viewers.iter().map(|v| v.received().rtp().video_packets).sum::<u64>();
    let audio_packets = |c: &Crowd| c.publishers.iter().map(|v| v.received().rtp().audio_packets).sum::<u64>();
    let (video0, audio0) = (video_packets(&crowd), audio_packets(&crowd));
    let probe_frames = || crowd.probe.as_ref().map_or(0, |p| p.received().frames());
    let start = Instant::now();
    let (mut windows, mut publisher_fps) = (Vec::new(), Vec::new());
    let mut last = probe_frames();
    let mut seconds =
        tokio::time::interval_at(tokio::time::Instant::now() + Duration::from_secs(1), Duration::from_secs(1));
    seconds.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for _ in 0..opts.seconds {
        seconds.tick().await;
        let now = probe_frames();
        windows.push((now - last) as f64);
        last = now;
        if !opts.audio_only {
            publisher_fps.extend(room_api::slowest_publisher_fps(opts).await);
        }
    }
    let window = start.elapsed().as_secs_f64();
    let server1 = opts.server_pid.map(|p| ProcSample::read(Some(p))).transpose()?;
    let threads1 = opts.server_pid.map(procfs::thread_times).transpose()?;
    let self1 = ProcSample::read(None)?;
    let per = |n: u64, peers: usize| if peers == 0 { 0.0 } else { n as f64 / window / peers as f64 };
    let viewer_video_pps = per(video_packets(&crowd) - video0, crowd.viewers.len());
    let publisher_audio_pps = per(audio_packets(&crowd) - audio0, crowd.publishers.len());
    let flashes = match (&crowd.probe, crowd.publishers.first()) {
        (Some(probe), Some(flasher)) if opts.latency => {
            latency::match_flashes(&flasher.media().flashes(), &probe.received().flash_onsets(), start)
        }
        _ => latency::FlashMatch::default(),
    };
    let recorded_bytes = match &recording {
        Some(id) => room_api::stop_recording(opts, id).await?,
        None => None,
    };
    let probe_tiles_with_video = tiles_with_video(opts, &crowd, !flashes.delays.is_empty());
    let joins =
        if opts.joins > 0 { Percentiles::of(&join_times(opts.server, &opts.room, opts.joins).await?) } else { None };
    let churn = match opts.server_pid {
        Some(pid) if opts.churn > 0 => Some(churn(opts.server, pid, &opts.room, opts.churn, clips.clone()).await?),
        _ => None,
    };
    Ok(LoadReport {
        publishers: opts.publishers,
        viewers: opts.viewers,
        audio_only: opts.audio_only,
        ignore_constraints: opts.ignore_constraints,
        window_secs: window,
        server: server0.zip(server1).map(|(a, b)| ServerUse {
            cpu_cores: a.cores_until(&b, window),
            at_end: b,
            threads: threads0.zip(threads1).map(|(t0, t1)| procfs::thread_groups(&t0, &t1, window)).unwrap_or_default(),
        }),
        loadgen_cpu_cores: self0.cores_until(&self1, window),
        probe_fps_mean: windows.iter().sum::<f64>() / window,
        probe_fps_min: if crowd.probe.is_some() { windows.iter().copied().fold(f64::INFINITY, f64::min) } else { 0.0 },
        viewer_video_pps,
        publisher_audio_pps,
        latency: Percentiles::of(&flashes.delays),
        flashes: flashes.flashes,
        unreadable_flashes: flashes.unreadable,
        joins,
        churn,
        recorded_bytes,
        probe_tiles_with_video,
        publisher_fps_min: publisher_fps.into_iter().reduce(f64::min),
    })
}

/// Joins the publishers, the counting viewers and the probe, and waits for the probe's first
/// frame (with the flasher's tile watched).
async fn gather(opts: &LoadOptions, clips: &Clips) -> anyhow::Result<Crowd> {
    let silent = match opts.talkers {
        Some(_) => Some(blocking(|| EncodedClip::opus_silent(10)).await?),
        None => None,
    };
    let mut publishers = Vec::new();
    for i in 0..opts.publishers {
        let flash = VideoSpec { rgb: [0, 0, 0], width: opts.width, height: opts.height, fps: opts.fps };
        let flasher = i == 0 && opts.latency && !opts.audio_only;
        let video = match (opts.audio_only, flasher) {
            (true, _) => None,
            (false, true) => Some(VideoSource::Flash(flash)),
            (false, false) => Some(VideoSource::Ladder(clips.ladder.clone())),
        };
        let o = PeerOptions {
            room: opts.room.clone(),
            name: format!("pub-{i}"),
            role: Role::Publisher,
            video,
            audio: Some(match (opts.audio_codec, &silent) {
                (Codec::Opus, Some(silent)) if opts.talkers.is_some_and(|t| i >= t) => {
                    AudioSource::Clip(silent.clone())
                }
                (Codec::Opus, _) => AudioSource::Clip(clips.audio.clone()),
                (_, _) => AudioSource::Tone(300.0 + 50.0 * i as f64),
            }),
            decode: false,
            token: None,
            video_codec: Codec::Vp8,
            audio_codec: opts.audio_codec,
            follow_constraints: !opts.ignore_constraints,
        };
        publishers.push(TestPeer::join(opts.server, o).await?);
    }
    let mut viewers = Vec::new();
    for i in 0..opts.viewers {
        let o = PeerOptions { decode: false, ..PeerOptions::viewer(&opts.room, &format!("viewer-{i}")) }
            .with_codecs(opts.viewer_codec, Codec::Opus);
        viewers.push(TestPeer::join(opts.server, o).await?);
    }
    let probe = if opts.audio_only {
        None
    } else {
        let probe = TestPeer::join(opts.server, PeerOptions::viewer(&opts.room, "probe")).await?;
        probe.wait_for(Duration::from_secs(20), |p| p.received().frames() > 0).await.context("probe got no video")?;
        let frame = probe.received().latest_frame().context("probe frame")?;
        let tile0 = tessera_protocol::layout::grid(
            opts.publishers.max(1),
            tessera_protocol::layout::Size::new(frame.width(), frame.height()),
        )[0];
        probe.received().watch_flashes(tile0);
        Some(probe)
    };
    Ok(Crowd { publishers, viewers, probe })
}

/// Counts the grid tiles of the probe's last frame that show video.
fn tiles_with_video(opts: &LoadOptions, crowd: &Crowd, flashes_seen: bool) -> usize {
    let Some(frame) = crowd.probe.as_ref().and_then(|p| p.received().latest_frame()) else { return 0 };
    let canvas = tessera_protocol::layout::Size::new(frame.width(), frame.height());
    tessera_protocol::layout::grid(opts.publishers, canvas)
        .iter()
        .enumerate()
        .filter(|(i, cell)| {
            if *i == 0 && opts.latency {
                return flashes_seen;
            }
            let (x, y) = cell.centre();
            frame.rgb_at(x, y, 16).iter().any(|c| *c > 40)
        })
        .count()
}
