//! Straight into the RTP session: a stream's packets skip `webrtcbin`'s input chain when it
//! would hand them on unchanged.
//!
//! With max-bundle, a `webrtcbin` input runs `sink` (a ghost pad) → `clocksync` → (the FEC
//! stage, bypassed: [`super::fec_stage`]) → `rtpfunnel` → `rtpbin`'s `send_rtp_sink_0` (a
//! ghost) → the RTP session. With neither ULPFEC, RED nor transport-wide sequence numbers
//! negotiated (Tessera offers none), none of these changes a packet: `clocksync` holds it until
//! its running time plus the branch's latency, and the funnel merges the inputs into the one
//! session, pushing an input's segment (and its custom sticky events) downstream each time the
//! input it forwards from changes. Skipping them cut the server's fan-out threads by about
//! 13 % (4 publishers, 30 viewers; docs/architecture.md, "What a viewer costs").
//!
//! [`Shortcut::chain_list`] hands a packet list straight to the session's sink pad, where the
//! funnel would have pushed it, once the funnel has set the session up (its caps) and when the
//! session's current segment is the stream's own but for its position, so that the funnel
//! would push nothing before it ([`super::funnel_events`] answers such a repeat). When the
//! session holds another input's segment, the shortcut first pushes the stream's segment out
//! of the funnel's output, as the funnel does when its input changes. Pushing into the
//! session's pad takes its stream lock, as the funnel's push does, so inputs pushed from
//! several threads stay serialized; upstream events (a receiver's key-unit request) still go
//! back through the funnel, which routes them by SSRC. Where the chain would change packets,
//! the shortcut declines and they take the usual way: a FEC stage `webrtcbin` kept because
//! ULPFEC or RED was negotiated, or header extensions the funnel writes (its caps' `extmap-N`).
//!
//! What the chain did besides is `clocksync`'s wait, which holds a packet until its running time
//! plus the latency. Audio skips it anyway (`src/media/audio_send.rs`); the server waits for
//! video once per shared output instead, before its tee (`src/media/egress.rs`).

use std::sync::OnceLock;

use gst::prelude::*;

use super::same_but_position;

/// What [`Shortcut::chain_list`] did with packets.
#[derive(Debug)]
pub enum Sent<T> {
    /// Pushed into the RTP session, which answered this.
    Straight(Result<gst::FlowSuccess, gst::FlowError>),
    /// Not taken: they go the usual way.
    Declined(T),
}

impl<T> Sent<T> {
    /// What the session answered, or what `usual` (the usual way) answers for declined packets.
    pub fn or_else(
        self,
        usual: impl FnOnce(T) -> Result<gst::FlowSuccess, gst::FlowError>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        match self {
            Sent::Straight(result) => result,
            Sent::Declined(packets) => usual(packets),
        }
    }
}

/// The way from one `webrtcbin` input straight to its RTP session's sink pad.
#[derive(Debug)]
pub struct Shortcut {
    /// The `webrtcbin` sink pad the stream is fed to; it holds the stream's segment.
    webrtc_sink: gst::Pad,
    /// The session's sink pad and the funnel's output, once found; looked for at each packet
    /// until then (a few pad lookups): `webrtcbin` links an input when it is negotiated, and
    /// keeps a FEC stage in the way when ULPFEC or RED is.
    route: OnceLock<Route>,
}

/// The pads a [`Shortcut`] pushes into.
#[derive(Debug)]
struct Route {
    /// The RTP session's sink pad, fed by the funnel.
    session: gst::Pad,
    /// The funnel's output, linked to `session`.
    funnel_src: gst::Pad,
}

impl Shortcut {
    /// The shortcut for the stream fed to `webrtc_sink` (a `webrtcbin` sink pad).
    pub fn new(webrtc_sink: &gst::Pad) -> Self {
        Self { webrtc_sink: webrtc_sink.clone(), route: OnceLock::new() }
    }

    /// Pushes `list` straight into the RTP session when what the funnel would do before it is
    /// done (see the module docs); declines it before the funnel has set the session up, and
    /// when `webrtcbin` negotiated something the chain does to packets (a FEC stage in the
    /// way, header extensions in the session's caps).
    pub fn chain_list(&self, list: gst::BufferList) -> Sent<gst::BufferList> {
        self.send(list, |session, list| session.chain_list(list))
    }

    /// Like [`Self::chain_list`] for one buffer.
    pub fn chain(&self, buffer: gst::Buffer) -> Sent<gst::Buffer> {
        self.send(buffer, |session, buffer| session.chain(buffer))
    }

    fn send<T>(
        &self,
        packets: T,
        push: impl FnOnce(&gst::Pad, T) -> Result<gst::FlowSuccess, gst::FlowError>,
    ) -> Sent<T> {
        let Some(route) = self.route() else { return Sent::Declined(packets) };
        let Some(ours) = self.webrtc_sink.sticky_event::<gst::event::Segment>(0) else {
            return Sent::Declined(packets);
        };
        if !plain_caps(&route.session) {
            return Sent::Declined(packets);
        }
        {
            // Held from the check to the push, so that no segment the funnel pushes for
            // another input comes between them (the lock is recursive: the push takes it too).
            let _serialized = route.session.stream_lock();
            if holds(&route.session, &ours) {
                return Sent::Straight(push(&route.session, packets));
            }
        }
        // The session holds another input's segment: give it this stream's, out of the
        // funnel's output as the funnel does when its input changes, and in the funnel's order
        // of locks (its output's, then the session's).
        let _turn = route.funnel_src.stream_lock();
        route.funnel_src.push_event(gst::event::Segment::new(ours.segment()));
        let _serialized = route.session.stream_lock();
        match holds(&route.session, &ours) {
            true => Sent::Straight(push(&route.session, packets)),
            false => Sent::Declined(packets),
        }
    }

    fn route(&self) -> Option<&Route> {
        if let Some(route) = self.route.get() {
            return Some(route);
        }
        let route = find_route(&self.webrtc_sink)?;
        Some(self.route.get_or_init(|| route))
    }
}

/// Whether `session`'s current segment is `ours` but for its position.
fn holds(session: &gst::Pad, ours: &gst::event::Segment) -> bool {
    session
        .sticky_event::<gst::event::Segment>(0)
        .is_some_and(|theirs| same_but_position(theirs.segment(), ours.segment()))
}

/// Whether `session` has caps, and none that ask the funnel to write into packets (a
/// transport-wide sequence number's `extmap-N`).
fn plain_caps(session: &gst::Pad) -> bool {
    session
        .current_caps()
        .is_some_and(|caps| caps.structure(0).is_some_and(|s| !s.fields().any(|field| field.starts_with("extmap-"))))
}

/// The session's sink pad and the funnel's output behind the `webrtcbin` sink pad `sink`,
/// once `webrtcbin` has linked it: `sink` → `clocksync` → the funnel (the FEC stage bypassed:
/// a stage left in the way wraps packets, and there is no route) → `rtpbin`'s ghost pad.
fn find_route(sink: &gst::Pad) -> Option<Route> {
    let first = sink.downcast_ref::<gst::GhostPad>()?.target()?.parent_element()?;
    let funnel_sink = first.static_pad("src")?.peer()?;
    let funnel = funnel_sink.parent_element()?;
    if funnel.factory().is_none_or(|f| f.name() != "rtpfunnel") {
        return None;
    }
    let funnel_src = funnel.static_pad("src")?;
    let into_rtpbin = funnel_src.peer()?;
    let session = match into_rtpbin.downcast_ref::<gst::GhostPad>() {
        Some(ghost) => ghost.target()?,
        None => into_rtpbin,
    };
    Some(Route { session, funnel_src })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// What reached the stand-in session, and what crossed the funnel's output.
    #[derive(Default)]
    struct Counts {
        at_session: AtomicUsize,
        through_funnel: AtomicUsize,
        segments_out_of_funnel: AtomicUsize,
    }

    /// A stand-in for a `webrtcbin`: inputs are ghost pads onto an `identity` (its
    /// `clocksync`) linked to an `rtpfunnel`, whose output is the "session", a sink pad
    /// counting what it gets.
    struct Bundle {
        bin: gst::Bin,
        funnel: gst::Element,
        session: gst::Pad,
        counts: Arc<Counts>,
    }

    impl Bundle {
        fn new() -> Self {
            gst::init().unwrap();
            let bin = gst::Bin::new();
            let funnel = gst::ElementFactory::make("rtpfunnel").build().unwrap();
            bin.add(&funnel).unwrap();
            let counts = Arc::new(Counts::default());
            let (lists, buffers) = (Arc::clone(&counts), Arc::clone(&counts));
            let session = gst::Pad::builder(gst::PadDirection::Sink)
                .event_function(|_, _, _| true)
                .chain_function(move |_, _, _| {
                    buffers.at_session.fetch_add(1, Ordering::Relaxed);
                    Ok(gst::FlowSuccess::Ok)
                })
                .chain_list_function(move |_, _, _| {
                    lists.at_session.fetch_add(1, Ordering::Relaxed);
                    Ok(gst::FlowSuccess::Ok)
                })
                .build();
            session.set_active(true).unwrap();
            let src = funnel.static_pad("src").unwrap();
            src.link(&session).unwrap();
            let seen = Arc::clone(&counts);
            src.add_probe(
                gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST | gst::PadProbeType::EVENT_DOWNSTREAM,
                move |_, info| {
                    match &info.data {
                        Some(gst::PadProbeData::Event(e)) if e.type_() == gst::EventType::Segment => {
                            seen.segments_out_of_funnel.fetch_add(1, Ordering::Relaxed);
                        }
                        Some(gst::PadProbeData::Event(_)) => {}
                        _ => drop(seen.through_funnel.fetch_add(1, Ordering::Relaxed)),
                    }
                    gst::PadProbeReturn::Ok
                },
            );
            bin.set_state(gst::State::Playing).unwrap();
            Self { bin, funnel, session, counts }
        }

        /// A new input, `webrtcbin`-like, and the pad feeding it, which has sent its stream's
        /// events: a segment with `base`, positioned at `position`.
        fn input(&self, n: u32, base: u64, position: u64) -> (gst::GhostPad, gst::Pad) {
            let clocksync = gst::ElementFactory::make("identity").build().unwrap();
            self.bin.add(&clocksync).unwrap();
            clocksync.link_pads(Some("src"), &self.funnel, Some("sink_%u")).unwrap();
            clocksync.sync_state_with_parent().unwrap();
            let sink = gst::GhostPad::builder_with_target(&clocksync.static_pad("sink").unwrap())
                .unwrap()
                .name(format!("sink_{n}"))
                .build();
            sink.set_active(true).unwrap();
            self.bin.add_pad(&sink).unwrap();
            let feed = gst::Pad::builder(gst::PadDirection::Src).build();
            feed.set_active(true).unwrap();
            feed.link(&sink).unwrap();
            feed.push_event(gst::event::StreamStart::new(&n.to_string()));
            feed.push_event(gst::event::Caps::new(&gst::Caps::new_empty_simple("application/x-rtp")));
            let mut segment = gst::FormattedSegment::<gst::ClockTime>::new();
            segment.set_base(gst::ClockTime::from_seconds(base));
            segment.set_position(gst::ClockTime::from_mseconds(position));
            feed.push_event(gst::event::Segment::new(&segment));
            (sink, feed)
        }

        /// (Packets at the session, packets through the funnel, segments out of the funnel.)
        fn counts(&self) -> [usize; 3] {
            let c = &self.counts;
            [&c.at_session, &c.through_funnel, &c.segments_out_of_funnel].map(|n| n.load(Ordering::Relaxed))
        }

        fn session_base(&self) -> gst::GenericFormattedValue {
            self.session.sticky_event::<gst::event::Segment>(0).unwrap().segment().base()
        }
    }

    impl Drop for Bundle {
        fn drop(&mut self) {
            let _ = self.bin.set_state(gst::State::Null);
        }
    }

    fn packets() -> gst::BufferList {
        let mut list = gst::BufferList::new();
        list.get_mut().unwrap().add(packet());
        list
    }

    fn packet() -> gst::Buffer {
        gst::Buffer::from_slice([0x80u8, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1])
    }

    fn seconds(s: u64) -> gst::GenericFormattedValue {
        gst::ClockTime::from_seconds(s).into()
    }

    #[test]
    fn packets_go_straight_to_the_session_once_the_funnel_has_set_it_up() {
        let bundle = Bundle::new();
        let (sink, feed) = bundle.input(0, 0, 5);
        let shortcut = Shortcut::new(sink.upcast_ref());
        let Sent::Declined(list) = shortcut.chain_list(packets()) else { panic!("the session has no caps yet") };
        feed.push_list(list).unwrap();
        assert_eq!(bundle.counts(), [1, 1, 1], "the usual way, through the funnel");
        assert!(matches!(shortcut.chain_list(packets()), Sent::Straight(Ok(_))));
        assert!(matches!(shortcut.chain(packet()), Sent::Straight(Ok(_))));
        assert_eq!(bundle.counts(), [3, 1, 1], "straight into the session, past the funnel");
    }

    #[test]
    fn an_input_with_another_segment_gives_the_session_its_own_first() {
        let bundle = Bundle::new();
        let (first, feed) = bundle.input(0, 0, 5);
        feed.push_list(packets()).unwrap();
        let (same, _) = bundle.input(1, 0, 9);
        let (other, _) = bundle.input(2, 3, 0);
        assert!(matches!(Shortcut::new(same.upcast_ref()).chain_list(packets()), Sent::Straight(Ok(_))));
        assert_eq!(bundle.counts(), [2, 1, 1], "the same segment but for its position: nothing to push first");
        assert!(matches!(Shortcut::new(other.upcast_ref()).chain_list(packets()), Sent::Straight(Ok(_))));
        assert_eq!(bundle.counts(), [3, 1, 2], "its segment went out of the funnel first");
        assert_eq!(bundle.session_base(), seconds(3));
        assert!(matches!(Shortcut::new(first.upcast_ref()).chain_list(packets()), Sent::Straight(Ok(_))));
        assert_eq!(bundle.session_base(), seconds(0), "and back");
        assert_eq!(bundle.counts(), [4, 1, 3]);
    }

    #[test]
    fn a_session_without_caps_or_with_header_extensions_is_left_to_the_funnel() {
        // The session set up by hand: stream-start and segment, then caps `caps` if any.
        let shortcut_to = |caps: Option<gst::Caps>| {
            let bundle = Bundle::new();
            let (sink, _) = bundle.input(0, 0, 5);
            bundle.session.send_event(gst::event::StreamStart::new("s"));
            if let Some(caps) = caps {
                assert!(bundle.session.send_event(gst::event::Caps::new(&caps)));
            }
            bundle.session.send_event(gst::event::Segment::new(&gst::FormattedSegment::<gst::ClockTime>::new()));
            assert!(bundle.session.sticky_event::<gst::event::Segment>(0).is_some());
            let sent = Shortcut::new(sink.upcast_ref()).chain_list(packets());
            matches!(sent, Sent::Straight(Ok(_)))
        };
        assert!(!shortcut_to(None), "a segment but no caps");
        let twcc = gst::Caps::builder("application/x-rtp")
            .field("extmap-3", "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01")
            .build();
        assert!(!shortcut_to(Some(twcc)), "the funnel writes an extension");
        assert!(shortcut_to(Some(gst::Caps::new_empty_simple("application/x-rtp"))));
    }

    #[test]
    fn no_shortcut_past_a_stage_left_before_the_funnel() {
        let bundle = Bundle::new();
        let stage = gst::ElementFactory::make("identity").build().unwrap();
        let clocksync = gst::ElementFactory::make("identity").build().unwrap();
        bundle.bin.add_many([&clocksync, &stage]).unwrap();
        clocksync.link(&stage).unwrap();
        stage.link_pads(Some("src"), &bundle.funnel, Some("sink_%u")).unwrap();
        for element in [&clocksync, &stage] {
            element.sync_state_with_parent().unwrap();
        }
        let sink = gst::GhostPad::with_target(&clocksync.static_pad("sink").unwrap()).unwrap();
        sink.set_active(true).unwrap();
        bundle.bin.add_pad(&sink).unwrap();
        let (feed, shortcut) = (gst::Pad::builder(gst::PadDirection::Src).build(), Shortcut::new(sink.upcast_ref()));
        feed.set_active(true).unwrap();
        feed.link(&sink).unwrap();
        feed.push_event(gst::event::StreamStart::new("0"));
        feed.push_event(gst::event::Caps::new(&gst::Caps::new_empty_simple("application/x-rtp")));
        feed.push_event(gst::event::Segment::new(&gst::FormattedSegment::<gst::ClockTime>::new()));
        feed.push_list(packets()).unwrap();
        assert_eq!(bundle.counts(), [1, 1, 1], "the usual way works");
        assert!(matches!(shortcut.chain_list(packets()), Sent::Declined(_)), "a stage may change packets");
        assert!(shortcut.route.get().is_none());
    }
}
