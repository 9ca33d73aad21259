//! Helpers shared by the layout, speaker and decoration scenarios (`mod stage;` in each).

use gst::prelude::*;
use tessera::layout::{self, Rect};
use tessera_client::{AudioSource, Frame, PeerOptions, TestPeer};

use crate::common::{CANVAS, SOURCE};

/// A publisher of a solid colour and a tone of amplitude `volume` (0–1).
pub fn publisher(room: &str, name: &str, rgb: [u8; 3], hz: f64, volume: f64) -> PeerOptions {
    let mut o = PeerOptions::publisher(room, name, rgb, hz);
    o.audio = Some(AudioSource::ToneAt { hz, volume });
    o
}

/// Changes a publisher's tone amplitude while it runs (its `audiotestsrc`'s `volume`).
pub fn set_volume(peer: &TestPeer, volume: f64) {
    let src = peer
        .media()
        .pipeline()
        .iterate_recurse()
        .into_iter()
        .flatten()
        .find(|e| e.factory().is_some_and(|f| f.name() == "audiotestsrc"))
        .expect("the peer sends a tone");
    src.set_property("volume", volume);
}

/// Pixels of `frame` inside `r` that `pick` accepts.
pub fn count(frame: &Frame, r: Rect, pick: impl Fn([u8; 3]) -> bool) -> usize {
    let mut n = 0;
    for y in r.y..r.y + r.h {
        for x in r.x..r.x + r.w {
            n += usize::from(pick(frame.rgb_at(x, y, 0)));
        }
    }
    n
}

/// Light text pixels.
pub fn white(c: [u8; 3]) -> bool {
    c.iter().all(|v| *v > 170)
}

/// The speaker slot's picture for a test source in speaker mode.
pub fn speaker_slot() -> Rect {
    layout::fit(Rect { x: 0, y: 0, w: CANVAS.width, h: CANVAS.height - CANVAS.height / 5 }, SOURCE, (1, 1))
}

/// The colour at the centre of `r` in `peer`'s latest frame.
pub fn centre_of(peer: &TestPeer, r: Rect) -> Option<[u8; 3]> {
    peer.received().latest_frame().map(|f| {
        let (x, y) = r.centre();
        f.rgb_at(x, y, 8)
    })
}

/// The last DataChannel message of `kind` that `peer` received.
pub fn last_channel(peer: &TestPeer, kind: &str) -> Option<serde_json::Value> {
    peer.received().channel_messages().into_iter().rev().find(|m| m["type"] == kind)
}

/// Whether `peer` got a DataChannel `speakerChanged` naming `who`.
pub fn channel_speaker_is(peer: &TestPeer, who: &str) -> bool {
    peer.received().channel_messages().iter().any(|m| m["type"] == "speakerChanged" && m["participantId"] == who)
}
