//! "Where the time goes": the server's CPU by thread group, from `/proc/<pid>/task` over the
//! measured window. GStreamer names each streaming thread after its element and pad, so a
//! thread group is a stage of the media path.

use std::fmt::Write;

use super::Results;
use crate::loadgen::procfs::ThreadGroup;

/// What each thread group does, for the table's last column.
fn stage(name: &str) -> &'static str {
    match name {
        "compositor:src" => "compositing, the one VP8 encode, payloading",
        "rtpjitterbuffer" => "per inbound stream: depayload and decode (VP8 or Opus), resample, feed the mixers",
        "mixer:src" => {
            "the mix-minus engine: voices summed once, the shared Opus encode, talkers' own encodes, each publisher's send (RTP session, SRTP, UDP)"
        }
        "fanout:src" => "per RTP output, for each of its receivers: RTP session, RTX store, SRTP encrypt, UDP send",
        "nicesrc#:src" => "per peer: UDP receive (libnice), handed to the next thread",
        "queue#:src" => "per peer (webrtcbin's receive queue): DTLS/SRTP decrypt, RTP session, into the jitter buffers",
        n if n.starts_with("room-") => "the room task: signaling, layout, decorations, speaker detection, bus",
        // GLib names its thread-pool threads `pool-<program>`; a stack sample shows them in
        // `gst_video_scaler_2d`: the compositor's converters run their slices there.
        "pool-tessera" => "the compositor's worker threads: scaling and converting each input into its tile",
        "tokio-rt-worker" => "tokio runtime: WebSocket signaling, REST",
        "webrtcbin-p#:pc" => "webrtcbin's own operations (SDP, ICE, stats)",
        "silence:src" => "a silent source that keeps each audio mix running",
        "background:src" => "the composite's live background (frame clock)",
        // Janus 1.1's AudioBridge (janus_audiobridge.c) and core.
        "mixer # #" => {
            "Janus: each participant's thread, awake every 2.5 ms: decodes what they sent, encodes their mix"
        }
        "mixer #" => "Janus: the room's mixer: sums everyone once, takes each listener's voice out",
        "hloop #" => "Janus: each participant's ICE loop: UDP receive and send, DTLS, SRTP",
        "log" => "Janus's logger",
        _ => "",
    }
}

fn table(s: &mut String, groups: &[ThreadGroup], total: f64) {
    let _ = writeln!(s, "| Thread group | Threads | Cores | Share | What runs there |\n|---|---|---|---|---|");
    for g in groups.iter().filter(|g| g.cores >= 0.005).take(10) {
        let share = if total > 0.0 { 100.0 * g.cores / total } else { 0.0 };
        let _ = writeln!(s, "| `{}` | {} | {:.3} | {:.0} % | {} |", g.name, g.threads, g.cores, share, stage(&g.name));
    }
    s.push('\n');
}

/// The breakdown section: the largest publisher run up to 16, and the largest audio-only room.
pub fn section(s: &mut String, r: &Results) {
    let _ = writeln!(
        s,
        "## Where the server's CPU goes\n\n\
         Per-thread CPU from `/proc/<pid>/task/*/stat` over the measured window, grouped by thread \
         name (GStreamer names streaming threads after their element and pad). Work that runs \
         downstream of an element in the same thread is counted there, so each row is a stage of \
         the media path.\n"
    );
    let video = r.tessera.iter().filter(|t| t.publishers <= 16).max_by_key(|t| t.publishers);
    if let Some(t) = video
        && let Some(server) = &t.server
    {
        let _ = writeln!(s, "**{} publishers** ({:.3} cores in all):\n", t.publishers, server.cpu_cores);
        table(s, &server.threads, server.cpu_cores);
    }
    // The smallest room is where Tessera and Janus are closest; the largest shows the scaling.
    let mut rooms: Vec<_> = r.audio.iter().filter(|a| a.talkers.is_none()).collect();
    rooms.sort_by_key(|a| a.participants);
    let shown = match rooms.as_slice() {
        [first, .., last] => vec![*first, *last],
        one => one.to_vec(),
    };
    for a in shown {
        let _ = writeln!(
            s,
            "**Audio-only room, {} participants** ({:.3} cores in all; Janus {:.3}):\n",
            a.participants, a.tessera_cpu_cores, a.janus_cpu_cores
        );
        table(s, &a.tessera_threads, a.tessera_cpu_cores);
        if !a.janus_threads.is_empty() {
            let _ = writeln!(s, "Janus AudioBridge, the same room (its thread names):\n");
            table(s, &a.janus_threads, a.janus_cpu_cores);
        }
    }
}
