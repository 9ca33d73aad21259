//! The room's audio mix: the mix-minus engine ([`super::mixengine`]) with a silent input, and
//! the full mix's encoders, each run once ([`super::encoder`]).

use std::sync::Arc;

use anyhow::anyhow;
use gst::prelude::*;
use tessera_webrtc::codecs::Codec;

use super::ghost;
use super::mixengine::{Listen, MixEngine, Route, SharedDemand};
use super::mixer::{Encoders, child, parse_fragment};
use crate::config::Config;
use crate::ids::ParticipantId;
use crate::pipelines::AUDIO_MIX;

/// The room's audio mix: the mix-minus engine with a silent input, and the full mix's
/// encoders. The full mix always encodes Opus (viewers, recordings, and every Opus listener
/// while they are not talking) and G.711 while a viewer takes only that.
#[derive(Debug)]
pub struct AudioMix {
    /// The bin; its encoders' outputs and listeners' pads are ghost pads on it.
    pub bin: gst::Bin,
    /// The engine, whose request pads are the participants' voices.
    engine: MixEngine,
    /// The codec never stopped (Opus).
    main: Option<Codec>,
    /// Its encoders.
    encoders: Encoders,
    /// Who hears the main encode, which skips the frames nobody hears.
    demand: Arc<SharedDemand>,
}

impl AudioMix {
    /// Builds a mix named `name` encoding `main`.
    pub fn new(name: &str, main: Option<Codec>, config: &Config) -> anyhow::Result<Self> {
        let bin = parse_fragment(AUDIO_MIX, false)?;
        bin.set_property("name", name);
        let mixer = child(&bin, "mixer")?;
        super::mix_latency::unbounded_upstream_latency(&mixer, super::mix_latency::mix_wait(config));
        mixer.set_property("latency", gst::ClockTime::from_mseconds(20).nseconds());
        mixer.set_property("min-upstream-latency", super::mix_latency::mix_wait(config).nseconds());
        let engine = mixer.downcast::<MixEngine>().map_err(|_| anyhow!("audio-mix.txt's mixer is not tesseramix"))?;
        let mut encoders = Encoders::new(&bin)?;
        let demand = engine.shared_demand();
        if let Some(main) = main {
            let encoder = encoders.ensure(&bin, main, config)?;
            if main == Codec::Opus {
                let opus = encoder.element.clone().downcast::<super::opus::OpusEncoder>();
                let opus = opus.map_err(|_| anyhow!("the Opus encoder fragment is not tesseraopusenc"))?;
                let demand = demand.clone();
                opus.set_heard(move || demand.heard())?;
            }
        }
        Ok(Self { bin, engine, main, encoders, demand })
    }

    /// The engine's source pad (the full mix; every listener's pad asks it too).
    pub(super) fn mixer_src(&self) -> gst::Pad {
        self.engine.static_pad("src").expect("the engine has a src pad")
    }

    /// Adds an input for `participant`'s decoded audio.
    pub fn add_input(&self, participant: ParticipantId) -> anyhow::Result<gst::GhostPad> {
        ghost::request(&self.bin, self.engine.upcast_ref(), "sink_%u", &format!("audio-{participant}"))
    }

    /// Releases an input; its upstream must already be cut or stopped.
    pub fn remove_input(&self, input: &gst::GhostPad) {
        ghost::release(&self.bin, self.engine.upcast_ref(), input);
    }

    /// A new listener's own mix, a ghost pad named `name`, and the route of their frames.
    pub(super) fn add_listener(&self, listen: Listen, name: &str) -> anyhow::Result<(gst::GhostPad, Arc<Route>)> {
        let (pad, route) = self.engine.add_listener(listen)?;
        match ghost::expose(&self.bin, &pad, name) {
            Ok(ghost) => Ok((ghost, route)),
            Err(e) => {
                self.engine.remove_listener(&pad);
                Err(e)
            }
        }
    }

    /// Tells the engine that `voice` (an input of [`AudioMix::add_input`]) is the listener's own.
    pub(super) fn set_voice(&self, listener: &gst::GhostPad, voice: Option<&gst::GhostPad>) {
        if let Some(pad) = listener.target() {
            self.engine.set_voice(&pad, voice.and_then(|v| v.target()).as_ref());
        }
    }

    /// Removes a listener: the engine stops pushing their frames at once.
    pub(super) fn remove_listener(&self, listener: &gst::GhostPad) {
        let target = listener.target();
        let _ = listener.set_target(None::<&gst::Pad>);
        let _ = listener.set_active(false);
        let _ = self.bin.remove_pad(listener);
        if let Some(pad) = target {
            self.engine.remove_listener(&pad);
        }
    }

    /// A new output of the mix encoded in `codec` (whose encoder starts if it is not running),
    /// named `name`, taking every frame (a viewer, a recording); isolated like the video one.
    pub fn add_encoded_output(&mut self, codec: Codec, name: &str, config: &Config) -> anyhow::Result<gst::GhostPad> {
        let output = self.add_output(codec, name, config)?;
        if Some(codec) == self.main {
            self.demand.add_steady();
        }
        Ok(output)
    }

    /// Releases an output of [`AudioMix::add_encoded_output`]; an encoder other than the main
    /// one stops with its last output.
    pub fn remove_encoded_output(&mut self, codec: Codec, output: &gst::GhostPad) {
        if Some(codec) == self.main {
            self.demand.remove_steady();
        }
        self.remove_output(codec, output);
    }

    /// Whether the main encode ran on the last frame (someone heard it).
    pub(super) fn full_mix_heard(&self) -> bool {
        self.demand.heard()
    }

    /// A listener's input of the main (Opus) encode, which takes only the frames in which they
    /// do not talk ([`Route`]); the encode skips a frame nobody takes.
    pub(super) fn add_listener_share(&mut self, name: &str, config: &Config) -> anyhow::Result<gst::GhostPad> {
        self.add_output(Codec::Opus, name, config)
    }

    /// Releases an input of [`AudioMix::add_listener_share`].
    pub(super) fn remove_listener_share(&mut self, output: &gst::GhostPad) {
        self.remove_output(Codec::Opus, output);
    }

    fn add_output(&mut self, codec: Codec, name: &str, config: &Config) -> anyhow::Result<gst::GhostPad> {
        let output = self.encoders.ensure(&self.bin, codec, config)?.add_output(&self.bin, name);
        if output.is_err() {
            self.encoders.stop_idle(&self.bin, codec, self.main);
        }
        output
    }

    fn remove_output(&mut self, codec: Codec, output: &gst::GhostPad) {
        if let Some(encoder) = self.encoders.get(codec) {
            encoder.remove_output(&self.bin, output);
        }
        self.encoders.stop_idle(&self.bin, codec, self.main);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_main_encoder_runs_always_and_the_others_while_someone_takes_them() {
        gst::init().unwrap();
        let config = Config::default();
        let mut audio = AudioMix::new("audio-mix", Some(Codec::Opus), &config).unwrap();
        assert!(audio.engine.property::<bool>("force-live"));
        for codec in [Codec::Pcmu, Codec::Pcma, Codec::Opus] {
            let out = audio.add_encoded_output(codec, "out", &config).unwrap();
            audio.remove_encoded_output(codec, &out);
            assert_eq!(audio.encoders.get(codec).is_some(), codec == Codec::Opus, "{codec}");
        }
        // A viewer or a recording hears every frame of the main encode; a listener's share
        // only the frames the engine routes to it.
        assert!(!audio.demand.heard(), "nobody takes the full mix");
        let viewer = audio.add_encoded_output(Codec::Opus, "viewer", &config).unwrap();
        let share = audio.add_listener_share("share", &config).unwrap();
        assert!(audio.demand.heard());
        audio.remove_encoded_output(Codec::Opus, &viewer);
        assert!(!audio.demand.heard(), "a listener's share is heard only in the frames routed to it");
        audio.remove_listener_share(&share);
    }
}
