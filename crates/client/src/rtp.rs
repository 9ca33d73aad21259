//! Receiving without decoding: count RTP packets and VP8 keyframes, which costs next to
//! nothing, for load-generation viewers and keyframe checks.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use gst::prelude::*;

use super::Received;

/// Counts RTP packets (and VP8 keyframe starts) without decoding.
pub fn count_chain(pipeline: &gst::Pipeline, pad: &gst::Pad, received: &Arc<Received>) -> anyhow::Result<()> {
    let received = received.clone();
    let caps = pad.current_caps().context("incoming pad without caps")?;
    let video = caps.structure(0).and_then(|s| s.get::<&str>("media").ok()) == Some("video");
    let sink = gst::ElementFactory::make("fakesink").property("sync", false).property("async", false).build()?;
    count_packets(&sink.static_pad("sink").unwrap(), received, video);
    pipeline.add(&sink)?;
    sink.sync_state_with_parent()?;
    pad.link(&sink.static_pad("sink").unwrap())?;
    Ok(())
}

/// Counts the RTP packets (and VP8 keyframe starts) that pass `pad` into `received`.
pub(super) fn count_packets(pad: &gst::Pad, received: Arc<Received>, video: bool) {
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if let Some(buffer) = info.buffer() {
            let mut rtp = received.rtp.lock().unwrap();
            if video {
                rtp.video_packets += 1;
                if let Ok(m) = buffer.map_readable()
                    && is_vp8_keyframe_start(&m)
                {
                    rtp.keyframes += 1;
                    received.keyframe_arrivals.lock().unwrap().push(Instant::now());
                    let timestamp = u32::from_be_bytes([m[4], m[5], m[6], m[7]]);
                    received.keyframe_timestamps.lock().unwrap().push(timestamp);
                }
            } else {
                rtp.audio_packets += 1;
            }
        }
        gst::PadProbeReturn::Ok
    });
}

/// True when an RTP packet carries the start of a VP8 keyframe (RFC 7741 §4.2–4.3).
pub fn is_vp8_keyframe_start(packet: &[u8]) -> bool {
    if packet.len() < 12 {
        return false;
    }
    let cc = usize::from(packet[0] & 0x0f);
    let mut i = 12 + 4 * cc;
    if packet[0] & 0x10 != 0 {
        // RTP header extension: 4-byte header plus its length in words.
        let Some(len) = packet.get(i + 2..i + 4) else { return false };
        i += 4 + 4 * usize::from(u16::from_be_bytes([len[0], len[1]]));
    }
    let Some(&d) = packet.get(i) else { return false };
    let (extended, start, partition) = (d & 0x80 != 0, d & 0x10 != 0, d & 0x07);
    i += 1;
    if extended {
        let Some(&x) = packet.get(i) else { return false };
        i += 1;
        if x & 0x80 != 0 {
            let Some(&pid) = packet.get(i) else { return false };
            i += if pid & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            i += 1;
        }
        if x & 0x30 != 0 {
            i += 1;
        }
    }
    start && partition == 0 && packet.get(i).is_some_and(|h| h & 0x01 == 0)
}

#[cfg(test)]
mod tests {
    use super::is_vp8_keyframe_start;

    fn packet(descriptor: &[u8], payload_header: u8) -> Vec<u8> {
        let mut p = vec![0x80, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        p.extend_from_slice(descriptor);
        p.push(payload_header);
        p
    }

    #[test]
    fn detects_vp8_keyframe_starts() {
        // S=1, partition 0, P bit clear: keyframe start.
        assert!(is_vp8_keyframe_start(&packet(&[0x10], 0x00)));
        // Extended descriptor with a 15-bit picture id.
        assert!(is_vp8_keyframe_start(&packet(&[0x90, 0x80, 0x81, 0x23], 0x10)));
        // Inter frame (P bit set), continuation packet (S=0), later partition.
        assert!(!is_vp8_keyframe_start(&packet(&[0x10], 0x01)));
        assert!(!is_vp8_keyframe_start(&packet(&[0x00], 0x00)));
        assert!(!is_vp8_keyframe_start(&packet(&[0x11], 0x00)));
        assert!(!is_vp8_keyframe_start(&[0x80, 96, 0]));
    }
}
