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

/// Server resources before churn, after its first half and after all of it.
///
/// The first half is a warm-up: the allocator's arenas and GStreamer's caches fill during a
/// server's first joins, then stay. In a room that stays up (4 publishers), 1000 cycles took
/// RSS from 97.9 to 113.6 MiB over the first 500 and to 114.9 over the next 500; the soak,
/// whose rooms end and start again, +10.6 MiB over its first 200 cycles and +1.7 over the
/// next 1800. A leak shows as growth over the second half.
#[derive(Debug, Clone, Serialize)]
pub struct ChurnReport {
    /// Join/leave cycles completed (half publishers, half viewers).
    pub cycles: usize,
    /// Wall time of the churn, seconds.
    pub secs: f64,
    /// Server before the first join.
    pub before: ProcSample,
    /// Server after the first half's last leave, settled.
    pub middle: ProcSample,
    /// Server after the last leave, settled.
    pub after: ProcSample,
}

impl ChurnReport {
    /// Growth of the second half allowed, MiB: 10 KiB a cycle, a small part of what one peer
    /// takes (a leaked `webrtcbin` alone is hundreds of KiB).
    pub fn allowed_growth_mib(&self) -> f64 {
        self.cycles.div_ceil(2) as f64 * 10.0 / 1024.0
    }

    /// Whether the server gave back what the second half took: RSS within
    /// [`Self::allowed_growth_mib`] of the middle, no more fds than before.
    pub fn flat(&self) -> bool {
        self.after.fds <= self.before.fds && self.after.rss_mib <= self.middle.rss_mib + self.allowed_growth_mib()
    }
}

/// `cycles` peers join `room` and leave once connected, [`CHURN_PARALLEL`] at a time;
/// alternately publishers of `clip` and packet-counting viewers. Samples the server at
/// `server_pid` before, halfway (settled) and after.
pub async fn churn(
    server: SocketAddr,
    server_pid: u32,
    room: &str,
    cycles: usize,
    clip: super::Clips,
) -> anyhow::Result<ChurnReport> {
    let before = ProcSample::read(Some(server_pid))?;
    let start = Instant::now();
    let half = cycles / 2;
    let mut middle = None;
    for batch in (0..cycles).collect::<Vec<_>>().chunks(CHURN_PARALLEL) {
        if middle.is_none() && batch[0] >= half {
            tokio::time::sleep(SETTLE).await;
            middle = Some(ProcSample::read(Some(server_pid))?);
        }
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
    // The churn's own time: without the settling before the middle sample.
    let secs = start.elapsed().saturating_sub(if middle.is_some() { SETTLE } else { Duration::ZERO }).as_secs_f64();
    tokio::time::sleep(SETTLE).await;
    let after = ProcSample::read(Some(server_pid))?;
    let middle = middle.unwrap_or(before);
    Ok(ChurnReport { cycles, secs, before, middle, after })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(rss_mib: f64, fds: u64) -> ProcSample {
        ProcSample { rss_mib, fds, ..Default::default() }
    }

    fn report(before: ProcSample, middle: ProcSample, after: ProcSample) -> ChurnReport {
        ChurnReport { cycles: 400, secs: 36.0, before, middle, after }
    }

    /// The warm-up's growth does not count; the second half's does, beyond 10 KiB a cycle; an
    /// fd kept does.
    #[test]
    fn flat_judges_the_second_half_and_the_fds() {
        assert!((report(sample(1.0, 9), sample(1.0, 9), sample(1.0, 9)).allowed_growth_mib() - 1.953).abs() < 0.001);
        assert!(report(sample(98.0, 61), sample(113.6, 61), sample(114.9, 61)).flat());
        assert!(!report(sample(98.0, 61), sample(113.6, 61), sample(115.6, 61)).flat(), "2 MiB over 200 cycles");
        assert!(!report(sample(98.0, 61), sample(98.0, 61), sample(98.0, 62)).flat(), "an fd kept");
    }
}
