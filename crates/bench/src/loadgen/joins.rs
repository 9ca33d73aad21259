//! Joining under load: how long a newcomer waits for its first frame, and whether a room that
//! sees many joins and leaves gives back what they took.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use super::procfs::ProcSample;
use tessera_client::{AudioSource, PeerOptions, TestPeer, VideoSource};
use tessera_protocol::Role;

/// How long one joiner may take before the run fails.
const JOIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Joins and leaves in flight at once during churn.
const CHURN_PARALLEL: usize = 4;
/// Time for the server to finish tearing down before the "after" sample.
const SETTLE: Duration = Duration::from_secs(3);

/// `count` decoding viewers join `room` one after another; each time is from sending `join`
/// (connecting included) to the first decoded composite frame.
pub async fn join_times(server: SocketAddr, room: &str, count: usize) -> anyhow::Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(count);
    for i in 0..count {
        let start = Instant::now();
        let peer = TestPeer::join(server, PeerOptions::viewer(room, &format!("joiner-{i}"))).await?;
        peer.wait_for(JOIN_TIMEOUT, |p| p.received().frames() > 0).await.with_context(|| format!("joiner {i}"))?;
        times.push(peer.received().first_frame_at().expect("a frame arrived").duration_since(start));
        peer.leave().await?;
    }
    Ok(times)
}

/// Server resources before and after churn.
#[derive(Debug, Clone, Serialize)]
pub struct ChurnReport {
    /// Join/leave cycles completed (half publishers, half viewers).
    pub cycles: usize,
    /// Wall time of the churn, seconds.
    pub secs: f64,
    /// Server before the first join.
    pub before: ProcSample,
    /// Server after the last leave, settled.
    pub after: ProcSample,
}

/// `cycles` peers join `room` and leave once connected, [`CHURN_PARALLEL`] at a time;
/// alternately publishers of `clip` and packet-counting viewers. Samples the server at
/// `server_pid` before and after.
pub async fn churn(
    server: SocketAddr,
    server_pid: u32,
    room: &str,
    cycles: usize,
    clip: super::Clips,
) -> anyhow::Result<ChurnReport> {
    let before = ProcSample::read(Some(server_pid))?;
    let start = Instant::now();
    for batch in (0..cycles).collect::<Vec<_>>().chunks(CHURN_PARALLEL) {
        let rounds = batch.iter().map(|&i| {
            let options = if i % 2 == 0 {
                PeerOptions {
                    room: room.to_owned(),
                    name: format!("churn-{i}"),
                    role: Role::Publisher,
                    video: Some(VideoSource::Ladder(clip.ladder.clone())),
                    audio: Some(AudioSource::Clip(clip.audio.clone())),
                    decode: false,
                    token: None,
                    video_codec: tessera_client::Codec::Vp8,
                    audio_codec: tessera_client::Codec::Opus,
                    follow_constraints: true,
                }
            } else {
                PeerOptions { decode: false, ..PeerOptions::viewer(room, &format!("churn-{i}")) }
            };
            async move {
                let peer = TestPeer::join(server, options).await?;
                peer.wait_for(JOIN_TIMEOUT, |p| p.received().rtp().video_packets > 0)
                    .await
                    .with_context(|| format!("churn peer {i} got no media"))?;
                peer.leave().await
            }
        });
        for result in futures_util::future::join_all(rounds).await {
            result?;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    tokio::time::sleep(SETTLE).await;
    Ok(ChurnReport { cycles, secs, before, after: ProcSample::read(Some(server_pid))? })
}
