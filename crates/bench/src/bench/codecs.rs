//! What the codecs beyond VP8 and Opus cost: the composite's H.264 encoder (started for a
//! receiver that takes only H.264) beside the VP8 one, and a room of G.711 publishers beside
//! the same room in Opus. Each pair is measured minutes apart on the same machine, so the
//! difference is the codec's.

use std::fmt::Write as _;

use serde::Serialize;
use tessera_client::Codec;

use super::{Plan, Results, measure_tessera};
use crate::loadgen::{self, LoadOptions};

/// One codec's extra cost: the same room with and without it.
#[derive(Debug, Clone, Serialize)]
pub struct CodecRun {
    /// What was compared.
    pub what: String,
    /// Server CPU (cores) without the codec.
    pub baseline_cpu_cores: f64,
    /// Server CPU (cores) with it.
    pub with_cpu_cores: f64,
    /// Composite frames/s at the probe with it (0 in audio-only rooms).
    pub probe_fps_mean: f64,
    /// Mix packets/s each publisher received with it.
    pub publisher_audio_pps: f64,
    /// The server's busiest thread groups with the codec (the H.264 encoder runs on
    /// `h264-queue:src`).
    pub with_threads: Vec<crate::loadgen::procfs::ThreadGroup>,
}

fn cpu(report: &loadgen::LoadReport) -> anyhow::Result<f64> {
    report.server.as_ref().map(|s| s.cpu_cores).ok_or_else(|| anyhow::anyhow!("no server sample"))
}

fn threads(report: &loadgen::LoadReport) -> Vec<crate::loadgen::procfs::ThreadGroup> {
    report.server.as_ref().map(|s| s.threads.iter().take(6).cloned().collect()).unwrap_or_default()
}

/// Measures both comparisons.
pub async fn measure(plan: &Plan, base: &LoadOptions, clips: &loadgen::Clips) -> anyhow::Result<Vec<CodecRun>> {
    let mut runs = Vec::new();
    // The canvas's H.264 copy: one viewer taking VP8 against one taking only H.264.
    let room = LoadOptions { publishers: plan.viewer_room, viewers: 1, ..base.clone() };
    let vp8 = measure_tessera(LoadOptions { viewer_codec: Codec::Vp8, ..room.clone() }, &[], clips).await?;
    let h264 = measure_tessera(LoadOptions { viewer_codec: Codec::H264, ..room }, &[], clips).await?;
    anyhow::ensure!(h264.viewer_video_pps > 10.0, "the H.264 viewer got {:.1} video packets/s", h264.viewer_video_pps);
    runs.push(CodecRun {
        what: format!("H.264 output (x264) for 1 viewer, {} publishers", plan.viewer_room),
        baseline_cpu_cores: cpu(&vp8)?,
        with_cpu_cores: cpu(&h264)?,
        probe_fps_mean: h264.probe_fps_mean,
        publisher_audio_pps: h264.publisher_audio_pps,
        with_threads: threads(&h264),
    });
    // G.711 publishers: each sends PCMU and hears its mix-minus in PCMU.
    let n = plan.audio.first().copied().unwrap_or(4);
    let audio = LoadOptions { publishers: n, audio_only: true, latency: false, ..base.clone() };
    let opus = measure_tessera(audio.clone(), &["--video", "false"], clips).await?;
    let pcmu = measure_tessera(LoadOptions { audio_codec: Codec::Pcmu, ..audio }, &["--video", "false"], clips).await?;
    anyhow::ensure!(
        pcmu.publisher_audio_pps >= 40.0,
        "PCMU publishers got {:.1} mix packets/s",
        pcmu.publisher_audio_pps
    );
    runs.push(CodecRun {
        what: format!("{n} PCMU publishers (audio only) instead of Opus"),
        baseline_cpu_cores: cpu(&opus)?,
        with_cpu_cores: cpu(&pcmu)?,
        probe_fps_mean: 0.0,
        publisher_audio_pps: pcmu.publisher_audio_pps,
        with_threads: threads(&pcmu),
    });
    Ok(runs)
}

/// The report's section.
pub fn section(s: &mut String, r: &Results) {
    if r.codecs.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "## Codecs beyond VP8 and Opus\n\n\
         The same room measured twice, minutes apart: once in VP8/Opus, once with the codec. The \
         H.264 encoder runs once per room, only while a receiver takes H.264 only; G.711 \
         publishers are decoded and their mix-minus encoded in G.711.\n\n\
         | Compared | CPU without (cores) | CPU with (cores) | Extra | Probe fps | Mix packets/s per publisher | Busiest threads with it (cores) |\n\
         |---|---|---|---|---|---|---|"
    );
    for c in &r.codecs {
        let _ = writeln!(
            s,
            "| {} | {:.3} | {:.3} | {:+.3} | {:.1} | {:.0} | {} |",
            c.what,
            c.baseline_cpu_cores,
            c.with_cpu_cores,
            c.with_cpu_cores - c.baseline_cpu_cores,
            c.probe_fps_mean,
            c.publisher_audio_pps,
            c.with_threads.iter().map(|t| format!("{} {:.3}", t.name, t.cores)).collect::<Vec<_>>().join(", ")
        );
    }
    let _ = writeln!(s);
}
