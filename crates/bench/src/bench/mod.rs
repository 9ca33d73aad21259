//! `tessera-bench bench`: CPU, memory, frame rate, latency, join time, churn and agents of Tessera against
//! the bare GStreamer floor and against Janus's AudioBridge, all measured in the same run on
//! this machine; writes `bench/results/<date>.json` and `docs/benchmarks.md`.

pub mod agents;
pub mod audio;
mod codecs;
mod compare;
mod derived;
mod floor;
pub mod janus;
pub mod janus_peer;
mod latency_floor;
mod observability;
mod paired;
mod plot;
mod profile;
pub mod redirect;
pub mod redis;
mod report;
pub mod server;
mod viewers;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use crate::loadgen::{self, LoadOptions, LoadReport, Percentiles};
use server::Server;
use tessera_client::VideoSpec;

/// What `tessera-bench bench` runs.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchOptions {
    /// N=4 only, with shorter windows (about a minute); writes `<date>-quick.json` and prints
    /// the tables instead of rewriting the docs.
    #[arg(long)]
    pub quick: bool,
    /// Directory for the JSON results.
    #[arg(long, default_value = "bench/results")]
    pub results: PathBuf,
    /// The Markdown page to regenerate (its plot goes next to it, `.svg`).
    #[arg(long, default_value = "docs/benchmarks.md")]
    pub docs: PathBuf,
    /// Run one step alone and print its table (nothing written).
    #[arg(long, value_enum)]
    pub only: Option<Step>,
}

/// A step that runs alone with `--only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Step {
    /// The CPU cost of `/metrics` scraping and webhooks at N=16 (N=4 with `--quick`).
    Observability,
    /// Agents: 4 publishers plus 1, 4 and 10 agents.
    Agents,
    /// Audio-only rooms against Janus AudioBridge (everyone talking; two talking).
    Audio,
    /// The viewer sweep (rounds of 0, 10 and 30 viewers on 4 publishers; not with `--quick`).
    Viewers,
}

/// What one run measures.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Publisher counts of the video sweep (no viewers).
    pub publishers: Vec<usize>,
    /// Publishers of the viewer sweep.
    pub viewer_room: usize,
    /// Viewer counts of the viewer sweep, 0 among them (`viewers`).
    pub viewers: Vec<usize>,
    /// Rounds of the viewer sweep, an even number (`viewers`).
    pub viewer_rounds: usize,
    /// Participant counts of the audio comparison.
    pub audio: Vec<usize>,
    /// Warm-up before each window, seconds.
    pub warmup: u64,
    /// Measured window, seconds.
    pub window: u64,
    /// Timed joins (in the publisher sweep's run at `viewer_room` publishers).
    pub joins: usize,
    /// Churn cycles (in the publisher sweep's run at `viewer_room` publishers).
    pub churn: usize,
}

impl Plan {
    fn new(quick: bool) -> Self {
        if quick {
            Self {
                publishers: vec![4],
                viewer_room: 4,
                viewers: vec![],
                viewer_rounds: 0,
                audio: vec![4],
                warmup: 3,
                window: 10,
                joins: 5,
                churn: 20,
            }
        } else {
            Self {
                publishers: vec![1, 4, 9, 16, 25],
                viewer_room: 4,
                viewers: vec![0, 10, 30],
                viewer_rounds: 4,
                audio: vec![4, 16],
                warmup: 5,
                window: 20,
                joins: 20,
                churn: 400,
            }
        }
    }
}

/// The floor at one N.
#[derive(Debug, Clone, Serialize)]
pub struct FloorRun {
    /// Inputs.
    pub publishers: usize,
    /// CPU in cores over the window.
    pub cpu_cores: f64,
    /// RSS at the end, MiB.
    pub rss_mib: f64,
    /// Encoded frames per second at its sink.
    pub fps: f64,
}

/// The machine the numbers come from.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// CPUs available to this process.
    pub cores: usize,
    /// CPU model from `/proc/cpuinfo`.
    pub model: String,
    /// Operating system.
    pub os: String,
    /// Kernel release.
    pub kernel: String,
    /// GStreamer version.
    pub gstreamer: String,
    /// Janus version, when installed.
    pub janus: Option<String>,
    /// The libsrtp2 Tessera and Janus encrypt with (`tessera_webrtc::srtp`).
    pub srtp: String,
    /// Tessera version.
    pub tessera: String,
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    /// When the run started (UTC).
    pub started: String,
    /// How long it took, seconds.
    pub duration_secs: f64,
    /// What was run.
    pub plan: Plan,
    /// Where.
    pub machine: Machine,
    /// The test clients' own share of glass-to-glass latency (encode, jitter buffer, decode;
    /// no network, no server).
    pub client_latency: Option<Percentiles>,
    /// The least glass-to-glass delay possible: the client loopback's shortest plus the
    /// shortest encode of one canvas frame (see `latency_floor`); a run below it is refused.
    pub latency_floor_ms: f64,
    /// Tessera, publisher sweep (no viewers).
    pub tessera: Vec<LoadReport>,
    /// The same publisher sweep with publishers ignoring their `videoConstraints` (every one
    /// sends 640x360 whatever its tile): what non-cooperating clients cost.
    #[serde(default)]
    pub ignoring: Vec<LoadReport>,
    /// Tessera, viewer sweep, run by run in the order run (`viewers`).
    pub viewers: Vec<LoadReport>,
    /// What the viewer sweep ran again, and why.
    pub viewer_sweep: viewers::SweepLog,
    /// The floor, publisher sweep.
    pub floor: Vec<FloorRun>,
    /// Tessera and the floor at the target size in adjacent windows (not with `--quick`).
    pub paired: Option<paired::Paired>,
    /// Audio-only rooms against Janus.
    pub audio: Vec<audio::AudioRun>,
    /// What H.264 output and G.711 publishers add.
    pub codecs: Vec<codecs::CodecRun>,
    /// The join latency a fleet's redirect adds.
    pub redirect: Option<redirect::RedirectRun>,
    /// What metrics scraping and webhooks add.
    pub observability: Option<observability::ObservabilityRun>,
    /// What agents cost, their latency and cadence.
    pub agents: Option<agents::AgentBench>,
}

/// Runs the whole benchmark and writes its results.
pub async fn run(opts: &BenchOptions) -> anyhow::Result<Results> {
    let started = Instant::now();
    let plan = Plan::new(opts.quick);
    if opts.only == Some(Step::Agents) {
        return agents::run_alone(plan, started).await;
    }
    let base = base_options(&plan);
    let for_clips = base.clone();
    let clips = loadgen::blocking(move || loadgen::clips(&for_clips)).await?;
    let spec = VideoSpec { rgb: [0, 0, 0], width: base.width, height: base.height, fps: base.fps };
    tracing::info!("client latency loopback");
    let delays = tessera_client::latency::loopback(&spec, Duration::from_secs(plan.window / 2)).await?.delays;
    let shortest_loopback = delays.iter().min().copied().context("the client loopback saw no flash")?;
    let encode = loadgen::blocking(|| latency_floor::shortest_encode(&tessera::config::Config::default())).await?;
    let latency_floor_ms = (shortest_loopback + encode).as_secs_f64() * 1000.0;
    tracing::info!(latency_floor_ms, "latency floor: client loopback {shortest_loopback:?} + canvas encode {encode:?}");
    let mut results = Results {
        started: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        duration_secs: 0.0,
        plan: plan.clone(),
        machine: machine(),
        client_latency: Percentiles::of(&delays),
        latency_floor_ms,
        tessera: Vec::new(),
        ignoring: Vec::new(),
        viewers: Vec::new(),
        viewer_sweep: Default::default(),
        floor: Vec::new(),
        paired: None,
        audio: Vec::new(),
        codecs: Vec::new(),
        redirect: None,
        observability: None,
        agents: None,
    };
    match opts.only {
        Some(Step::Observability) => return observability::alone(&plan, &base, &clips, results).await,
        Some(Step::Audio) => return audio::alone(&plan, &base, &clips, results).await,
        Some(Step::Viewers) => return viewers::alone(&plan, &base, &clips, results).await,
        _ => {}
    }
    for &n in &plan.publishers {
        tracing::info!(publishers = n, "tessera");
        let timed = n == plan.viewer_room;
        let load = LoadOptions {
            publishers: n,
            joins: if timed { plan.joins } else { 0 },
            churn: if timed { plan.churn } else { 0 },
            ..base.clone()
        };
        let report = measure_tessera(load, &[], &clips).await?;
        latency_floor::refuse_impossible_latency(&report, results.latency_floor_ms)?;
        results.tessera.push(report);
        tracing::info!(publishers = n, "tessera, publishers ignoring their constraints");
        let ignoring = LoadOptions { publishers: n, ignore_constraints: true, ..base.clone() };
        results.ignoring.push(measure_tessera(ignoring, &[], &clips).await?);
    }
    (results.viewers, results.viewer_sweep) = viewers::measure(&plan, &base, &clips, results.latency_floor_ms).await?;
    let dir = std::env::temp_dir().join(format!("tessera-bench-floor-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("publisher.webm");
    let (video, audio, secs, path) =
        (clips.video(), clips.audio.clone(), (plan.warmup + plan.window + 15) as u32, file.clone());
    loadgen::blocking(move || floor::write_webm(&video, &audio, secs, &path)).await?;
    for &n in &plan.publishers {
        tracing::info!(publishers = n, "floor");
        results.floor.push(floor::measure(n, &file, &plan, &dir)?);
    }
    if !opts.quick {
        results.paired = Some(paired::measure(&plan, &base, &clips, &file, &dir).await?);
    }
    let _ = std::fs::remove_dir_all(&dir);
    results.audio = audio::measure_all(&plan, &base, &clips).await?;
    tracing::info!("codecs: H.264 output, G.711 publishers");
    results.codecs = codecs::measure(&plan, &base, &clips).await?;
    tracing::info!("fleet: joins through a redirect");
    results.redirect = Some(redirect::measure(plan.joins).await?);
    results.observability = Some(observability::measure(&plan, &base, &clips).await?);
    tracing::info!("agents: 4 publishers plus 1, 4 and 10 agents");
    results.agents = Some(agents::measure(&plan).await?);
    results.duration_secs = started.elapsed().as_secs_f64();
    write(opts, &results)?;
    Ok(results)
}

/// The load every run starts from: 640x360@30 600 kbit/s publishers, latency measured.
fn base_options(plan: &Plan) -> LoadOptions {
    LoadOptions {
        server: ([127, 0, 0, 1], 0).into(),
        room: "bench".into(),
        publishers: 0,
        viewers: 0,
        width: 640,
        height: 360,
        fps: 30,
        kbps: 600,
        warmup: plan.warmup,
        seconds: plan.window,
        server_pid: None,
        record: false,
        layout: None,
        admin_key: Some(server::ADMIN_KEY.into()),
        latency: true,
        audio_only: false,
        ignore_constraints: false,
        joins: 0,
        churn: 0,
        viewer_codec: tessera_client::Codec::Vp8,
        audio_codec: tessera_client::Codec::Opus,
        talkers: None,
    }
}

/// One load run against a fresh server started with `flags`.
async fn measure_tessera(load: LoadOptions, flags: &[&str], clips: &loadgen::Clips) -> anyhow::Result<LoadReport> {
    let server = Server::start(flags).await?;
    let load = LoadOptions { server: server.addr, server_pid: Some(server.pid()), ..load };
    loadgen::run_with(&load, clips)
        .await
        .with_context(|| format!("{} publishers, {} viewers", load.publishers, load.viewers))
}

fn machine() -> Machine {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let model = cpuinfo.lines().find_map(|l| l.strip_prefix("model name")?.split(':').nth(1)).unwrap_or("unknown");
    let os = read("/etc/os-release");
    let os = os.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=")).unwrap_or("unknown").trim_matches('"');
    let janus = std::process::Command::new("janus").arg("--version").output().ok().and_then(|o| {
        String::from_utf8_lossy(&o.stdout).lines().find(|l| l.starts_with("Janus version")).map(str::to_owned)
    });
    Machine {
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        model: model.trim().to_owned(),
        os: os.to_owned(),
        kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
        gstreamer: gst::version_string().to_string(),
        janus,
        srtp: match tessera_webrtc::srtp::preload() {
            tessera_webrtc::srtp::Preloaded::Library(path) => format!("libsrtp2 on OpenSSL ({})", path.display()),
            other => format!("the system's libsrtp2 ({other:?})"),
        },
        tessera: env!("CARGO_PKG_VERSION").to_owned(),
    }
}

/// Writes the JSON results and regenerates the docs page (or, quick, prints the tables).
fn write(opts: &BenchOptions, results: &Results) -> anyhow::Result<()> {
    std::fs::create_dir_all(&opts.results)?;
    // Named by when it started, so a second run on one day keeps the first for the comparison.
    let stamp = results.started.replace(':', "-");
    let name = if opts.quick { format!("{}-quick.json", &stamp[..10]) } else { format!("{stamp}.json") };
    let path = opts.results.join(name);
    let previous = compare::previous(&opts.results, &path);
    std::fs::write(&path, serde_json::to_string_pretty(results)? + "\n")?;
    let mut markdown = report::markdown(results, &path);
    let mut before_after = String::new();
    compare::section(&mut before_after, &serde_json::to_value(results)?, previous.as_ref());
    // Right after the Targets table.
    let at = markdown.find("\n## ").and_then(|t| markdown[t + 1..].find("\n## ").map(|n| t + n + 2));
    markdown.insert_str(at.unwrap_or(markdown.len()), &before_after);
    if opts.quick {
        println!("{markdown}");
    } else {
        let svg = opts.docs.with_extension("svg");
        std::fs::write(&svg, plot::cpu_svg(results))?;
        // The soak's section is written by `tessera-bench soak`; keep it.
        let old = std::fs::read_to_string(&opts.docs).unwrap_or_default();
        let markdown = match crate::loadgen::soak::section(&old) {
            Some(soak) => crate::loadgen::soak::with_section(&markdown, soak),
            None => markdown,
        };
        std::fs::write(&opts.docs, markdown)?;
        println!("wrote {}, {} and {}", path.display(), opts.docs.display(), svg.display());
    }
    Ok(())
}
