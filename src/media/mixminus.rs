//! Mix-minus wiring: each publisher's decoded audio tee feeds the full mix and every other
//! publisher's own mix, through one tap each. A tap isolates its mix: a mix that fails
//! downstream costs only its own listener, never the speaker's stream.

use anyhow::Context;
use gst::prelude::*;

use super::egress::{MixMinus, OutputKey};
use super::ghost;
use super::mixer::AudioMix;
use super::room_media::RoomMedia;
use crate::ids::ParticipantId;

/// Where a publisher's decoded audio goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mix {
    /// The full mix (viewers).
    Full,
    /// This publisher's mix-minus.
    MinusOf(ParticipantId),
}

/// What feeds a participant's outgoing audio.
#[derive(Debug)]
pub(super) enum AudioFeed {
    /// Not yet: the codecs are known once the description is negotiated.
    Pending,
    /// A viewer hears the full mix: the pad of the shared output feeding them.
    FullMix(OutputKey, gst::GhostPad),
    /// A publisher hears everyone but themselves: their own mix.
    MixMinus(MixMinus),
}

/// One branch of a publisher's audio tee into a mix.
#[derive(Debug)]
pub(super) struct Tap {
    /// The mix it feeds.
    pub(super) to: Mix,
    /// Ghost of the tee's request pad, on the publisher's bin.
    pub(super) src: gst::GhostPad,
    /// Ghost of the audiomixer's request pad, on the mix's bin.
    pub(super) sink: gst::GhostPad,
}

/// A publisher's decoded audio and where it goes.
#[derive(Debug)]
pub(super) struct AudioSource {
    /// The decoded-audio tee inside the publisher's bin.
    pub(super) tee: gst::Element,
    /// One branch per mix that hears this publisher.
    pub(super) taps: Vec<Tap>,
}

impl RoomMedia {
    pub(super) fn mix(&self, to: Mix) -> Option<&AudioMix> {
        match to {
            Mix::Full => Some(&self.audio),
            Mix::MinusOf(p) => match &self.peers.get(&p)?.audio_feed {
                AudioFeed::MixMinus(minus) => Some(&minus.mix),
                AudioFeed::FullMix(..) | AudioFeed::Pending => None,
            },
        }
    }

    /// Records `from`'s decoded audio tee and feeds it into the full mix and every other
    /// publisher's mix-minus (one still negotiating gets it when its mix is built).
    pub(super) fn add_audio_source(&mut self, from: ParticipantId, tee: gst::Element) -> anyhow::Result<()> {
        let Some(peer) = self.peers.get_mut(&from) else { return Ok(()) };
        peer.audio = Some(AudioSource { tee, taps: Vec::new() });
        self.tap(from, Mix::Full)?;
        for other in self.tiles_order().into_iter().filter(|p| *p != from) {
            self.tap(from, Mix::MinusOf(other))?;
        }
        Ok(())
    }

    /// Feeds `from`'s decoded audio into mix `to`; on failure nothing is left half-linked.
    pub(super) fn tap(&mut self, from: ParticipantId, to: Mix) -> anyhow::Result<()> {
        let (Some(mix), Some(peer)) = (self.mix(to), self.peers.get(&from)) else { return Ok(()) };
        let Some(AudioSource { tee, .. }) = &peer.audio else { return Ok(()) };
        let name = match to {
            Mix::Full => "tap-full".to_owned(),
            Mix::MinusOf(p) => format!("tap-{p}"),
        };
        let sink = mix.add_input(from)?;
        let src = ghost::request_isolated(&peer.bin.bin, tee, "src_%u", &name, format!("{from}'s audio into {to:?}"))
            .inspect_err(|_| mix.remove_input(&sink))?;
        if let Err(e) = src.link(&sink) {
            ghost::release(&peer.bin.bin, tee, &src);
            mix.remove_input(&sink);
            return Err(e).with_context(|| format!("linking {from}'s audio into {to:?}"));
        }
        if let Some(audio) = self.peers.get_mut(&from).and_then(|p| p.audio.as_mut()) {
            audio.taps.push(Tap { to, src, sink });
        }
        Ok(())
    }
}
