//! An `rtpfunnel`'s output without the events it repeats each time its input changes.

use gst::prelude::*;

use super::same_but_position;

/// What an `rtpfunnel` has already sent downstream, so that it is not sent again.
#[derive(Default)]
struct Forwarded {
    /// The last segment (downstream has it).
    segment: Option<gst::Segment>,
    /// The mids whose TOS event went through (a few: one per m-line).
    tos_mids: Vec<String>,
}

impl Forwarded {
    /// Whether `event`, on its way out of the funnel, tells downstream nothing new; notes it if
    /// it does.
    fn repeats(&mut self, event: &gst::EventRef) -> bool {
        match event.view() {
            gst::EventView::Segment(e) => {
                let repeated = self.segment.as_ref().is_some_and(|last| same_but_position(last, e.segment()));
                if !repeated {
                    self.segment = Some(e.segment().clone());
                }
                repeated
            }
            // Flushing resets downstream's segment: the next one must go.
            gst::EventView::FlushStop(_) => {
                self.segment = None;
                false
            }
            gst::EventView::CustomDownstreamSticky(e) => match e.structure() {
                Some(s) if s.name() == TOS_EVENT => {
                    let mid = s.get::<&str>("mid").unwrap_or_default();
                    let repeated = self.tos_mids.iter().any(|seen| seen == mid);
                    if !repeated {
                        self.tos_mids.push(mid.to_owned());
                    }
                    repeated
                }
                _ => false,
            },
            _ => false,
        }
    }
}

/// The event with which `webrtcbin` has `nicesink` set the DSCP of a mid's packets.
const TOS_EVENT: &str = "GstWebRtcBinUpdateTos";

/// Has `funnel`'s output drop the events it repeats each time its input changes, when
/// downstream has them already: a segment equal to the last one but for its position, and a
/// mid's TOS event after its first. Each mid's TOS event has `nicesink` set the DSCP that the
/// mid's sender priority maps to; Tessera leaves every sender at the default priority (low:
/// DSCP 0), so they all set the same value, and once is enough. (Giving audio a higher class
/// than video over one bundle would need a DSCP per packet: these events back.)
pub(super) fn drop_repeats(funnel: &gst::Element) {
    let Some(src) = funnel.static_pad("src") else { return };
    let forwarded = std::sync::Mutex::new(Forwarded::default());
    src.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM | gst::PadProbeType::EVENT_FLUSH, move |_, info| {
        let mut forwarded = forwarded.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match info.event() {
            // Handled, not dropped: a sticky event dropped stays pending, and GStreamer would
            // try it again before every buffer.
            Some(event) if forwarded.repeats(event) => gst::PadProbeReturn::Handled,
            _ => gst::PadProbeReturn::Ok,
        }
    });
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// What crossed the funnel's output: segments as the funnel pushed them, and segments and
    /// TOS events as they reached downstream.
    #[derive(Default)]
    struct Counts {
        pushed_segments: AtomicUsize,
        segments: AtomicUsize,
        tos: AtomicUsize,
    }

    /// An input of `funnel` with the sticky events a `webrtcbin` input has: a segment starting
    /// at `base` (positioned at `position`) and the TOS event of `mid`.
    fn input(funnel: &gst::Element, mid: &str, base: u64, position: u64) -> gst::Pad {
        let pad = gst::Pad::builder(gst::PadDirection::Src).build();
        pad.set_active(true).unwrap();
        pad.link(&funnel.request_pad_simple("sink_%u").unwrap()).unwrap();
        pad.push_event(gst::event::StreamStart::new(mid));
        pad.push_event(gst::event::Caps::new(&gst::Caps::new_empty_simple("application/x-rtp")));
        let mut segment = gst::FormattedSegment::<gst::ClockTime>::new();
        segment.set_base(gst::ClockTime::from_seconds(base));
        segment.set_position(gst::ClockTime::from_mseconds(position));
        pad.push_event(gst::event::Segment::new(&segment));
        let tos = gst::Structure::builder(TOS_EVENT).field("mid", mid).build();
        pad.push_event(gst::event::CustomDownstreamSticky::new(tos));
        pad
    }

    /// Two inputs (segment bases `bases`) take turns through a watched `rtpfunnel`, in bursts
    /// of 5 packets, 10 bursts.
    fn take_turns(bases: [u64; 2]) -> Arc<Counts> {
        gst::init().unwrap();
        let counts = Arc::new(Counts::default());
        let bin = gst::Bin::new();
        super::super::streamline(bin.upcast_ref());
        let funnel = gst::ElementFactory::make("rtpfunnel").build().unwrap();
        let pushed = Arc::clone(&counts);
        // Added before the funnel joins the bin, so before the probe under test: it sees
        // every segment the funnel pushes, repeats included.
        funnel.static_pad("src").unwrap().add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
            if matches!(info.event().map(|e| e.view()), Some(gst::EventView::Segment(_))) {
                pushed.pushed_segments.fetch_add(1, Ordering::Relaxed);
            }
            gst::PadProbeReturn::Ok
        });
        bin.add(&funnel).unwrap();
        let seen = Arc::clone(&counts);
        let sink = gst::Pad::builder(gst::PadDirection::Sink)
            .chain_function(|_, _, _| Ok(gst::FlowSuccess::Ok))
            .event_function(move |_, _, event| {
                match event.view() {
                    gst::EventView::Segment(_) => seen.segments.fetch_add(1, Ordering::Relaxed),
                    gst::EventView::CustomDownstreamSticky(_) => seen.tos.fetch_add(1, Ordering::Relaxed),
                    _ => 0,
                };
                true
            })
            .build();
        sink.set_active(true).unwrap();
        funnel.static_pad("src").unwrap().link(&sink).unwrap();
        funnel.set_state(gst::State::Playing).unwrap();
        let inputs = [input(&funnel, "0", bases[0], 5), input(&funnel, "1", bases[1], 7)];
        for burst in 0..10u16 {
            for n in 0..5u16 {
                let seq = (burst * 5 + n).to_be_bytes();
                let header = [0x80, 96, seq[0], seq[1], 0, 0, 0, 0, 0, 0, 0, burst as u8 % 2];
                inputs[usize::from(burst % 2)].push(gst::Buffer::from_slice(header)).unwrap();
            }
        }
        funnel.set_state(gst::State::Null).unwrap();
        counts
    }

    #[test]
    fn turns_of_equal_segments_cost_one_segment_and_one_tos_event_per_mid() {
        let counts = take_turns([0, 0]);
        assert_eq!(counts.segments.load(Ordering::Relaxed), 1, "repeated segments reached downstream");
        assert_eq!(counts.tos.load(Ordering::Relaxed), 2, "each mid's TOS event, once");
        // A repeat dropped instead of handled stays pending and is pushed again before every
        // packet (50), not once per turn (10).
        assert!(counts.pushed_segments.load(Ordering::Relaxed) <= 10, "repeats pushed again per packet");
    }

    #[test]
    fn a_different_segment_still_goes_at_every_turn() {
        let counts = take_turns([0, 1]);
        assert_eq!(counts.segments.load(Ordering::Relaxed), 10, "a turn's own segment was dropped");
    }
}
