//! Egress: what each receiver gets, decided by its negotiated description.
//!
//! A receiver takes the composite and a mix in the codecs its description settled on, the
//! server's preference among those it accepts (VP8 before H.264: VP8 is encoded anyway, for
//! recordings; Opus before G.711). Receivers of one codec at one payload type share one
//! payloader and one tee ([`RtpOutput`]); each codec is encoded once per mix
//! ([`super::encoder`]). A publisher hears its own mix-minus ([`super::mixminus`]).
//!
//! Feeds are linked once the codecs are known (the answer to our offer, or our answer to the
//! client's); webrtcbin 1.22 holds a sink pad until caps arrive, and the room asks for a
//! keyframe once the connection is up.

use anyhow::{Context, anyhow};
use gst::prelude::*;
use tessera_webrtc::codecs::Codec;

use super::mixminus::AudioFeed;
use super::room_media::RoomMedia;
use crate::ids::ParticipantId;
use crate::protocol::Role;

/// Receivers sharing a payloader: one codec at one payload type.
pub(super) type OutputKey = (Codec, u32);

/// One payloader and the tee fanning its RTP out to receivers, a bin in the room's pipeline
/// fed by a mix's encoded output. The tee pushes to every receiver in the thread of the
/// queue before it (see [`super::egress_gate`]).
#[derive(Debug)]
pub(super) struct RtpOutput {
    /// `payloader ! queue ! tee` (video: `payloader ! queue ! clocksync ! tee`), with a
    /// `sink` ghost pad.
    bin: gst::Bin,
    /// The mix's encoded output feeding it (a ghost pad on the mix's bin).
    feed: gst::GhostPad,
    /// Fans the RTP out.
    tee: gst::Element,
    /// Receivers fed so far (names the ghost pads).
    receivers_added: std::sync::atomic::AtomicU32,
}

pub(super) fn payloader(codec: Codec, pt: u32) -> anyhow::Result<gst::Element> {
    let factory = match codec {
        Codec::Vp8 => "rtpvp8pay",
        Codec::H264 => "rtph264pay",
        Codec::Opus => "rtpopuspay",
        Codec::Pcmu => "rtppcmupay",
        Codec::Pcma => "rtppcmapay",
    };
    let pay = gst::ElementFactory::make(factory).property("pt", pt).build()?;
    match codec {
        Codec::Vp8 => {
            pay.set_property_from_str("picture-id-mode", "15-bit");
            pay.set_property("mtu", 1200u32);
        }
        Codec::H264 => {
            // SPS and PPS with every keyframe, so a newcomer decodes from its first one.
            pay.set_property("config-interval", -1i32);
            pay.set_property_from_str("aggregate-mode", "zero-latency");
            pay.set_property("mtu", 1200u32);
        }
        _ => {}
    }
    Ok(pay)
}

impl RtpOutput {
    /// Builds `payloader ! tee` named `name` in `pipeline`, started, fed by `feed`.
    fn new(pipeline: &gst::Pipeline, name: &str, (codec, pt): OutputKey, feed: gst::GhostPad) -> anyhow::Result<Self> {
        let bin = gst::Bin::builder().name(name).build();
        let pay = payloader(codec, pt)?;
        let tee = gst::ElementFactory::make("tee").property("allow-not-linked", true).build()?;
        let fanout = super::egress_gate::fanout_queue(name)?;
        let fanout = fanout.upcast_ref::<gst::Element>();
        bin.add_many([&pay, fanout, &tee])?;
        if codec.is_video() {
            // The composite leaves at its running time plus the latency, frame after frame,
            // whatever the encoder took: the wait `webrtcbin`'s own `clocksync` did in each
            // receiver's path, which the gates' shortcut skips (`egress_gate`). Once here, in
            // the fan-out thread, for every receiver. Audio does not wait (`audio_send`).
            let paced = gst::ElementFactory::make("clocksync").name("pace").property("sync", true).build()?;
            bin.add(&paced)?;
            gst::Element::link_many([fanout, &paced, &tee])?;
        } else {
            fanout.link(&tee)?;
        }
        if codec == Codec::H264 {
            // x264 marks its constrained-baseline streams 42c0xx (and picks the level from the
            // canvas); receivers were offered 42e01f, and webrtcbin refuses caps that differ.
            // The stream is within what 42e01f promises, so say so.
            let profile = gst::ElementFactory::make("capssetter").build()?;
            let caps = gst::Caps::builder("application/x-rtp")
                .field("profile-level-id", tessera_webrtc::codecs::H264_PROFILE_LEVEL_ID)
                .build();
            profile.set_property("caps", caps);
            bin.add(&profile)?;
            gst::Element::link_many([&pay, &profile, fanout])?;
        } else {
            pay.link(fanout)?;
        }
        super::ghost::expose(&bin, &pay.static_pad("sink").expect("payloaders take input"), "sink")?;
        pipeline.add(&bin)?;
        let started = bin
            .sync_state_with_parent()
            .map_err(anyhow::Error::from)
            .and_then(|_| feed.link(&bin.static_pad("sink").expect("just added")).map_err(anyhow::Error::from));
        if let Err(e) = started {
            let _ = tessera_webrtc::teardown::stop(bin.upcast_ref());
            let _ = pipeline.remove(&bin);
            return Err(e);
        }
        Ok(Self { bin, feed, tee, receivers_added: Default::default() })
    }

    /// Feeds one more receiver's sink pad; returns the pad feeding it (a ghost on the bin of
    /// a tee pad).
    fn add_receiver(&self, sink: &impl IsA<gst::Pad>) -> anyhow::Result<gst::GhostPad> {
        let n = self.receivers_added.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let src = super::ghost::request(&self.bin, &self.tee, "src_%u", &format!("to_{n}"))?;
        src.link(sink).inspect_err(|_| super::ghost::release(&self.bin, &self.tee, &src))?;
        Ok(src)
    }

    /// Stops feeding a receiver.
    fn remove_receiver(&self, pad: &gst::GhostPad) {
        super::ghost::release(&self.bin, &self.tee, pad);
    }

    /// How many receivers it feeds.
    fn receivers(&self) -> usize {
        self.tee.src_pads().len()
    }

    /// Stops and removes the bin; its feed must already be released.
    fn stop(self, pipeline: &gst::Pipeline) {
        if let Err(e) = tessera_webrtc::teardown::stop(self.bin.upcast_ref()) {
            tracing::warn!(output = %self.bin.name(), "RTP output did not stop cleanly: {e}");
        }
        let _ = pipeline.remove(&self.bin);
    }
}

/// The codec and payload type to send on an m-line of kind `media`: among the formats the
/// description lists, the server's preference of those it can encode (`encodable`: this
/// server's encoders, see [`super::encoder::available`]). The error says what was missing,
/// so a receiver that takes only H.264 from a server without x264 knows why it gets nothing.
fn pick(sdp: &gst_sdp::SDPMessageRef, media: &str, encodable: impl Fn(Codec) -> bool) -> anyhow::Result<OutputKey> {
    let none = || anyhow!("the description accepts no {media} codec Tessera sends");
    let m = sdp.medias().find(|m| m.media() == Some(media) && m.port() != 0).ok_or_else(none)?;
    let offered = if media == "video" { &Codec::VIDEO[..] } else { &Codec::AUDIO[..] };
    let listed: Vec<OutputKey> = m
        .formats()
        .filter_map(|f| f.parse::<u32>().ok())
        .filter_map(|pt| {
            let caps = m.caps_from_media(pt as i32)?;
            let s = caps.structure(0)?;
            let codec = Codec::from_encoding_name(s.get::<&str>("encoding-name").ok()?)?;
            // Tessera's H.264 payloader sends packetization mode 1 only.
            let mode_1 = s.get::<&str>("packetization-mode").is_ok_and(|m| m == "1");
            (codec != Codec::H264 || mode_1).then_some((codec, pt))
        })
        .collect();
    let accepted = |c: &Codec| listed.iter().find(|(codec, _)| codec == c).copied();
    if let Some(key) = offered.iter().filter(|c| encodable(**c)).find_map(accepted) {
        return Ok(key);
    }
    match offered.iter().find(|c| accepted(c).is_some()) {
        Some(&c) => Err(anyhow!(
            "the description accepts only {c} for {media}, which this server cannot encode: {} is not installed",
            super::encoder::missing_element(c)
        )),
        None => Err(none()),
    }
}

impl RoomMedia {
    /// Feeds `peer` what its negotiated description `sdp` (their answer, or ours to their
    /// offer) settled on: the composite, and the full mix (viewer) or its own mix-minus
    /// (publisher). An m-line that settled on nothing Tessera sends is an error.
    pub(super) fn link_egress(&mut self, id: ParticipantId, sdp: &gst_sdp::SDPMessageRef) -> anyhow::Result<()> {
        let Some(peer) = self.peers.get(&id) else { return Ok(()) };
        if !matches!(peer.audio_feed, AudioFeed::Pending) {
            return Ok(()); // already linked: a renegotiation keeps what it has
        }
        let Some(audio_in) = peer.bin.audio_in.clone() else {
            return Ok(()); // an ingest-only client: nothing flows to it
        };
        let (role, video_in) = (peer.role, peer.bin.video_in.clone());
        let audio = pick(sdp, "audio", super::encoder::available)?;
        let video = match (&video_in, self.video.is_some()) {
            (Some(_), true) => Some(pick(sdp, "video", super::encoder::available)?),
            _ => None,
        };
        let audio_feed = match role {
            Role::Viewer => {
                let pad = self.feed_output(audio, &audio_in)?;
                AudioFeed::FullMix(audio, pad)
            }
            Role::Publisher => AudioFeed::MixMinus(self.new_listener(id, Some(audio), &audio_in)?),
            Role::Agent => return Ok(()), // fed raw from the start (`media::agent`)
        };
        let video_feed = match (video, &video_in) {
            (Some(key), Some(sink)) => match self.feed_output(key, sink) {
                Ok(pad) => Some((key, pad)),
                Err(e) => {
                    self.unlink_audio(audio_feed);
                    return Err(e);
                }
            },
            _ => None,
        };
        tracing::info!(participant = %id, video = ?video, audio = ?audio, "sending");
        let peer = self.peers.get_mut(&id).expect("checked above");
        peer.video_feed = video_feed;
        peer.audio_feed = audio_feed;
        Ok(())
    }

    /// Feeds `sink` from the shared output `key` (built, with its encoder, if needed).
    fn feed_output(&mut self, key: OutputKey, sink: &impl IsA<gst::Pad>) -> anyhow::Result<gst::GhostPad> {
        if !self.outputs.contains_key(&key) {
            let name = format!("rtp-{}-{}", key.0.encoding_name().to_ascii_lowercase(), key.1);
            let feed = match key.0.is_video() {
                true => {
                    self.video.as_mut().context("an audio-only room")?.add_encoded_output(key.0, &name, &self.config)?
                }
                false => self.audio.add_encoded_output(key.0, &name, &self.config)?,
            };
            match RtpOutput::new(&self.pipeline, &name, key, feed.clone()) {
                Ok(output) => drop(self.outputs.insert(key, output)),
                Err(e) => {
                    self.release_encoded(key.0, &feed);
                    return Err(e);
                }
            }
        }
        let pad = self.outputs[&key].add_receiver(sink);
        if pad.is_err() {
            self.drop_idle_output(key);
        }
        pad
    }

    /// Releases a receiver's pad on output `key`; the output (and an encoder nobody else
    /// needs) goes with its last receiver.
    pub(super) fn unfeed_output(&mut self, key: OutputKey, pad: &gst::GhostPad) {
        if let Some(output) = self.outputs.get(&key) {
            output.remove_receiver(pad);
        }
        self.drop_idle_output(key);
    }

    fn drop_idle_output(&mut self, key: OutputKey) {
        if self.outputs.get(&key).is_none_or(|o| o.receivers() > 0) {
            return;
        }
        let output = self.outputs.remove(&key).expect("checked above");
        self.release_encoded(key.0, &output.feed);
        output.stop(&self.pipeline);
    }

    fn release_encoded(&mut self, codec: Codec, feed: &gst::GhostPad) {
        match (codec.is_video(), self.video.as_mut()) {
            (true, Some(video)) => video.remove_encoded_output(codec, feed),
            (true, None) => {}
            (false, _) => self.audio.remove_encoded_output(codec, feed),
        }
    }

    /// Undoes an audio feed (a link that failed half way, or a peer leaving).
    pub(super) fn unlink_audio(&mut self, feed: AudioFeed) {
        match feed {
            AudioFeed::Pending => {}
            AudioFeed::FullMix(key, pad) => self.unfeed_output(key, &pad),
            AudioFeed::MixMinus(listener) => self.drop_listener(listener),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sdp(text: &str) -> gst_sdp::SDPMessage {
        let head = "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n";
        gst_sdp::SDPMessage::parse_buffer(format!("{head}{text}").as_bytes()).unwrap()
    }

    #[test]
    fn the_server_sends_its_preference_among_what_the_description_accepts() {
        gst::init().unwrap();
        let both = sdp("m=video 9 UDP/TLS/RTP/SAVPF 45 108 96\r\na=rtpmap:45 AV1/90000\r\n\
                        a=rtpmap:108 H264/90000\r\na=fmtp:108 packetization-mode=1\r\na=rtpmap:96 VP8/90000\r\n\
                        m=audio 9 UDP/TLS/RTP/SAVPF 0 111\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:111 opus/48000/2\r\n");
        let all = |_: Codec| true;
        assert_eq!(pick(&both, "video", all).unwrap(), (Codec::Vp8, 96), "VP8 is encoded anyway");
        assert_eq!(pick(&both, "audio", all).unwrap(), (Codec::Opus, 111));
        let h264_only = sdp("m=video 9 UDP/TLS/RTP/SAVPF 127 108\r\na=rtpmap:127 H264/90000\r\n\
                             a=fmtp:127 packetization-mode=0\r\na=rtpmap:108 H264/90000\r\n\
                             a=fmtp:108 packetization-mode=1;profile-level-id=42e01f\r\n\
                             m=audio 9 UDP/TLS/RTP/SAVPF 8 0\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n");
        assert_eq!(pick(&h264_only, "video", all).unwrap(), (Codec::H264, 108), "packetization mode 1 only");
        assert_eq!(pick(&h264_only, "audio", all).unwrap(), (Codec::Pcmu, 0));
        let none =
            sdp("m=video 9 UDP/TLS/RTP/SAVPF 45\r\na=rtpmap:45 AV1/90000\r\nm=audio 0 UDP/TLS/RTP/SAVPF 111\r\n");
        let error = pick(&none, "video", all).unwrap_err().to_string();
        assert_eq!(error, "the description accepts no video codec Tessera sends");
        assert!(pick(&none, "audio", all).is_err(), "a rejected m-line");
    }

    #[test]
    fn without_x264_h264_receivers_are_told_why_and_the_others_get_vp8() {
        gst::init().unwrap();
        let no_x264 = |c: Codec| c != Codec::H264;
        let both = sdp("m=video 9 UDP/TLS/RTP/SAVPF 108 96\r\na=rtpmap:108 H264/90000\r\n\
                        a=fmtp:108 packetization-mode=1\r\na=rtpmap:96 VP8/90000\r\n");
        assert_eq!(pick(&both, "video", no_x264).unwrap(), (Codec::Vp8, 96));
        let h264_only = sdp("m=video 9 UDP/TLS/RTP/SAVPF 108\r\na=rtpmap:108 H264/90000\r\n\
                             a=fmtp:108 packetization-mode=1;profile-level-id=42e01f\r\n");
        let error = pick(&h264_only, "video", no_x264).unwrap_err().to_string();
        assert_eq!(
            error,
            "the description accepts only H264 for video, which this server cannot encode: \
             x264enc (gstreamer1.0-plugins-ugly) is not installed"
        );
    }
}
