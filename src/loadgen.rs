//! Load generation against a running server: N publishers replaying one pre-encoded clip,
//! V viewers that only count packets, and one probe viewer that decodes the composite. The
//! server's CPU, RSS and threads are read from `/proc/<pid>` over a steady window; the load
//! generator reports its own CPU separately.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use crate::client::{AudioSource, EncodedClip, PeerOptions, TestPeer, VideoSource};
use crate::protocol::Role;

/// Linux reports `/proc/<pid>/stat` times in USER_HZ, 100 on every mainstream architecture.
const TICKS_PER_SEC: f64 = 100.0;

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
}

/// One process's resource use from `/proc`.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ProcSample {
    /// User + system CPU time, seconds.
    pub cpu_secs: f64,
    /// Resident memory, MiB.
    pub rss_mib: f64,
    /// Threads.
    pub threads: u64,
}

impl ProcSample {
    /// Reads `/proc/<pid>` (`self` when `pid` is `None`).
    pub fn read(pid: Option<u32>) -> anyhow::Result<Self> {
        let dir = pid.map_or("/proc/self".to_owned(), |p| format!("/proc/{p}"));
        let stat = std::fs::read_to_string(format!("{dir}/stat")).with_context(|| format!("reading {dir}/stat"))?;
        // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
        let rest = stat.rsplit_once(')').context("malformed stat")?.1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks: f64 = f[11].parse::<f64>()? + f[12].parse::<f64>()?;
        let status = std::fs::read_to_string(format!("{dir}/status"))?;
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        };
        Ok(Self {
            cpu_secs: ticks / TICKS_PER_SEC,
            rss_mib: field("VmRSS:") as f64 / 1024.0,
            threads: field("Threads:"),
        })
    }
}

/// The outcome of one load run.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// Publishers.
    pub publishers: usize,
    /// Packet-counting viewers (the probe not included).
    pub viewers: usize,
    /// Measured window, seconds.
    pub window_secs: f64,
    /// Server CPU in cores (1.0 = one core fully busy), if a PID was given.
    pub server_cpu_cores: Option<f64>,
    /// Server RSS at the end, MiB.
    pub server_rss_mib: Option<f64>,
    /// Server threads at the end.
    pub server_threads: Option<u64>,
    /// The load generator's own CPU in cores.
    pub loadgen_cpu_cores: f64,
    /// Mean composite frame rate at the probe.
    pub probe_fps_mean: f64,
    /// Worst 1-second window of the composite frame rate at the probe.
    pub probe_fps_min: f64,
    /// Video packets per second received by each counting viewer, mean.
    pub viewer_video_pps: f64,
    /// Size of the recording made during the run (with --record).
    pub recorded_bytes: Option<u64>,
    /// Grid tiles of the probe's last frame that show video (not black at their centre); equals
    /// `publishers` when every publisher made it into the composite.
    pub probe_tiles_with_video: usize,
}

/// Runs the load and measures.
pub async fn run(opts: &LoadOptions) -> anyhow::Result<LoadReport> {
    let video = EncodedClip::vp8(opts.width, opts.height, opts.fps, 10, opts.kbps)?;
    let audio = EncodedClip::opus(440.0, 10)?;
    let mut peers = Vec::new();
    for i in 0..opts.publishers {
        let o = PeerOptions {
            room: opts.room.clone(),
            name: format!("pub-{i}"),
            role: Role::Publisher,
            video: Some(VideoSource::Clip(video.clone())),
            audio: Some(AudioSource::Clip(audio.clone())),
            decode: false,
        };
        peers.push(TestPeer::join(opts.server, o).await?);
    }
    let mut viewers = Vec::new();
    for i in 0..opts.viewers {
        let o = PeerOptions { decode: false, ..PeerOptions::viewer(&opts.room, &format!("viewer-{i}")) };
        viewers.push(TestPeer::join(opts.server, o).await?);
    }
    let probe = TestPeer::join(opts.server, PeerOptions::viewer(&opts.room, "probe")).await?;
    probe.wait_for(Duration::from_secs(20), |p| p.received().frames() > 0).await.context("probe got no video")?;
    if let Some(mode) = &opts.layout {
        let path = format!("/api/rooms/{}/layout", opts.room);
        let body = serde_json::json!({ "mode": mode }).to_string();
        let (status, reply) =
            crate::client::rest::request(opts.server, "PUT", &path, opts.admin_key.as_deref(), &body).await?;
        anyhow::ensure!(status == 200, "setting the layout failed: {status} {reply}");
    }
    let recording = if opts.record {
        let path = format!("/api/rooms/{}/recordings", opts.room);
        let (status, body) =
            crate::client::rest::request(opts.server, "POST", &path, opts.admin_key.as_deref(), "").await?;
        anyhow::ensure!(status == 201, "starting a recording failed: {status} {body}");
        body["id"].as_str().map(str::to_owned)
    } else {
        None
    };
    tokio::time::sleep(Duration::from_secs(opts.warmup)).await;

    let (server0, self0) = (opts.server_pid.map(|p| ProcSample::read(Some(p))).transpose()?, ProcSample::read(None)?);
    let packets0: u64 = viewers.iter().map(|v| v.received().rtp().video_packets).sum();
    let start = Instant::now();
    let mut windows = Vec::new();
    let mut last = probe.received().frames();
    for _ in 0..opts.seconds {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = probe.received().frames();
        windows.push((now - last) as f64);
        last = now;
    }
    let window = start.elapsed().as_secs_f64();
    let server1 = opts.server_pid.map(|p| ProcSample::read(Some(p))).transpose()?;
    let self1 = ProcSample::read(None)?;
    let packets1: u64 = viewers.iter().map(|v| v.received().rtp().video_packets).sum();
    let frames: f64 = windows.iter().sum();
    let recorded_bytes = match &recording {
        Some(id) => {
            let path = format!("/api/rooms/{}/recordings/{id}", opts.room);
            let (_, body) =
                crate::client::rest::request(opts.server, "DELETE", &path, opts.admin_key.as_deref(), "").await?;
            body["bytes"].as_u64()
        }
        None => None,
    };
    let tiles_with_video = probe.received().latest_frame().map_or(0, |f| {
        let canvas = crate::layout::Size::new(f.width(), f.height());
        crate::layout::grid(opts.publishers, canvas)
            .iter()
            .filter(|cell| {
                let (x, y) = cell.centre();
                f.rgb_at(x, y, 16).iter().any(|c| *c > 40)
            })
            .count()
    });
    Ok(LoadReport {
        publishers: opts.publishers,
        viewers: opts.viewers,
        window_secs: window,
        server_cpu_cores: server0.zip(server1).map(|(a, b)| (b.cpu_secs - a.cpu_secs) / window),
        server_rss_mib: server1.map(|s| s.rss_mib),
        server_threads: server1.map(|s| s.threads),
        loadgen_cpu_cores: (self1.cpu_secs - self0.cpu_secs) / window,
        probe_fps_mean: frames / window,
        probe_fps_min: windows.iter().copied().fold(f64::INFINITY, f64::min),
        probe_tiles_with_video: tiles_with_video,
        recorded_bytes,
        viewer_video_pps: if viewers.is_empty() {
            0.0
        } else {
            (packets1 - packets0) as f64 / window / viewers.len() as f64
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_proc_stats() {
        let s = ProcSample::read(None).unwrap();
        assert!(s.threads >= 1 && s.rss_mib > 1.0 && s.cpu_secs >= 0.0, "{s:?}");
    }
}
