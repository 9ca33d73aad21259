//! Straight into the RTP session: a stream's packets skip `webrtcbin`'s input chain when it
//! would hand them on unchanged.
//!
//! With max-bundle, a `webrtcbin` input runs `sink` (a ghost pad) → `clocksync` → (the FEC
//! stage, bypassed: [`super::fec_stage`]) → `rtpfunnel` → `rtpbin`'s `send_rtp_sink_0` (a
//! ghost) → the RTP session. None of these changes a packet: `clocksync` holds it until its
//! running time plus the branch's latency, and the funnel merges the inputs into the one
//! session, pushing an input's segment (and its custom sticky events) downstream each time the
//! input it forwards from changes. In a profile of the server's fan-out threads (4
//! publishers, 30 viewers), that chain and the funnel's turns were about a third of each
//! viewer's send.
//!
//! [`Shortcut::chain_list`] hands a packet list straight to the session's sink pad, where the
//! funnel would have pushed it, when the session's current segment is the stream's own but for
//! its position (so the funnel would have pushed nothing before it; see
//! [`super::funnel_events`]) and its caps are set. Otherwise it declines, and the caller sends
//! the list the usual way, through the funnel, which then gives the session this stream's
//! segment. Pushing into the session's pad takes its stream lock, as the funnel's push does,
//! so inputs pushed from several threads stay serialized.
//!
//! What the chain did besides is `clocksync`'s wait, which holds a packet until its running time
//! plus the latency. Audio skips it anyway (`src/media/audio_send.rs`); the server waits for
//! video once per shared output instead, before its tee (`src/media/egress.rs`).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use gst::prelude::*;

/// How many times [`Shortcut`] looks for the session before it gives up (the funnel and the
/// session exist once `webrtcbin` has linked its first input, before any packet flows).
const LOOKS: u32 = 50;

/// The way from one `webrtcbin` input straight to its RTP session's sink pad.
#[derive(Debug)]
pub struct Shortcut {
    /// The `webrtcbin` sink pad the stream is fed to.
    webrtc_sink: gst::glib::WeakRef<gst::Pad>,
    /// The RTP session's sink pad, once found (or `None` when there is none to find).
    session: OnceLock<Option<gst::glib::WeakRef<gst::Pad>>>,
    looks: AtomicU32,
}

impl Shortcut {
    /// The shortcut for the stream fed to `webrtc_sink` (a `webrtcbin` sink pad).
    pub fn new(webrtc_sink: &gst::Pad) -> Self {
        Self { webrtc_sink: webrtc_sink.downgrade(), session: OnceLock::new(), looks: AtomicU32::new(0) }
    }

    /// Hands `list`, from the stream whose events `stream` (the pad feeding `webrtc_sink`)
    /// holds, straight to the RTP session if the funnel would pass it on unchanged; gives it
    /// back when it should take the usual way.
    pub fn chain_list(
        &self,
        stream: &gst::Pad,
        list: gst::BufferList,
    ) -> Result<Result<gst::FlowSuccess, gst::FlowError>, gst::BufferList> {
        let Some(session) = self.session().and_then(|pad| pad.upgrade()) else { return Err(list) };
        // Held from the check to the push, so that no segment the funnel pushes for another
        // input comes between them (the pad's stream lock is recursive: the push takes it too).
        let _serialized = session.stream_lock();
        match ready(&session, stream) {
            true => Ok(session.chain_list(list)),
            false => Err(list),
        }
    }

    /// Like [`Self::chain_list`] for one buffer.
    pub fn chain(
        &self,
        stream: &gst::Pad,
        buffer: gst::Buffer,
    ) -> Result<Result<gst::FlowSuccess, gst::FlowError>, gst::Buffer> {
        let Some(session) = self.session().and_then(|pad| pad.upgrade()) else { return Err(buffer) };
        let _serialized = session.stream_lock();
        match ready(&session, stream) {
            true => Ok(session.chain(buffer)),
            false => Err(buffer),
        }
    }

    fn session(&self) -> Option<&gst::glib::WeakRef<gst::Pad>> {
        if let Some(found) = self.session.get() {
            return found.as_ref();
        }
        match self.webrtc_sink.upgrade().and_then(|sink| find_session(&sink)) {
            Some(pad) => self.session.get_or_init(|| Some(pad.downgrade())).as_ref(),
            None if self.looks.fetch_add(1, Ordering::Relaxed) + 1 >= LOOKS => {
                tracing::debug!("no RTP session behind a webrtcbin input: its packets take the usual way");
                self.session.get_or_init(|| None).as_ref()
            }
            None => None,
        }
    }
}

/// Whether `stream`'s next packet may go straight into `session`: it has caps, and the
/// stream's segment but for its position.
fn ready(session: &gst::Pad, stream: &gst::Pad) -> bool {
    let (Some(theirs), Some(ours)) =
        (session.sticky_event::<gst::event::Segment>(0), stream.sticky_event::<gst::event::Segment>(0))
    else {
        return false;
    };
    session.has_current_caps() && same_but_position(theirs.segment(), ours.segment())
}

/// The RTP session's sink pad that `webrtcbin`'s funnel feeds, for its sink pad `sink`.
fn find_session(sink: &gst::Pad) -> Option<gst::Pad> {
    let webrtc = sink.parent_element()?.downcast::<gst::Bin>().ok()?;
    let funnel = webrtc
        .iterate_elements()
        .into_iter()
        .flatten()
        .find(|e| e.factory().is_some_and(|f| f.name() == "rtpfunnel"))?;
    let rtpbin_sink = funnel.static_pad("src")?.peer()?;
    match rtpbin_sink.downcast_ref::<gst::GhostPad>() {
        Some(ghost) => ghost.target(),
        None => Some(rtpbin_sink),
    }
}

/// Whether two segments differ at most in their position, without copying either.
pub(super) fn same_but_position(a: &gst::Segment, b: &gst::Segment) -> bool {
    a.format() == b.format()
        && a.flags() == b.flags()
        && a.rate() == b.rate()
        && a.applied_rate() == b.applied_rate()
        && a.base() == b.base()
        && a.offset() == b.offset()
        && a.start() == b.start()
        && a.stop() == b.stop()
        && a.time() == b.time()
        && a.duration() == b.duration()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// A stand-in for a `webrtcbin`: a bin with an `rtpfunnel` whose output is the "session",
    /// a sink pad counting the lists it gets. Lists through the funnel are counted too.
    struct Bundle {
        bin: gst::Bin,
        funnel: gst::Element,
        session: gst::Pad,
        at_session: Arc<AtomicUsize>,
        through_funnel: Arc<AtomicUsize>,
    }

    impl Bundle {
        fn new() -> Self {
            gst::init().unwrap();
            let bin = gst::Bin::new();
            let funnel = gst::ElementFactory::make("rtpfunnel").build().unwrap();
            bin.add(&funnel).unwrap();
            let (at_session, through_funnel) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
            let counted = Arc::clone(&at_session);
            let session = gst::Pad::builder(gst::PadDirection::Sink)
                .chain_function(|_, _, _| Ok(gst::FlowSuccess::Ok))
                .chain_list_function(move |_, _, _| {
                    counted.fetch_add(1, Ordering::Relaxed);
                    Ok(gst::FlowSuccess::Ok)
                })
                .build();
            session.set_active(true).unwrap();
            let src = funnel.static_pad("src").unwrap();
            src.link(&session).unwrap();
            let counted = Arc::clone(&through_funnel);
            src.add_probe(gst::PadProbeType::BUFFER_LIST, move |_, _| {
                counted.fetch_add(1, Ordering::Relaxed);
                gst::PadProbeReturn::Ok
            });
            funnel.set_state(gst::State::Playing).unwrap();
            Self { bin, funnel, session, at_session, through_funnel }
        }

        /// A new input: the bin's sink pad (as a `webrtcbin` input) and the pad feeding it,
        /// which has sent its stream's events: a segment with `base`, positioned at `position`.
        fn input(&self, n: u32, base: u64, position: u64) -> (gst::GhostPad, gst::Pad) {
            let target = self.funnel.request_pad_simple("sink_%u").unwrap();
            let sink = gst::GhostPad::builder_with_target(&target).unwrap().name(format!("sink_{n}")).build();
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

        fn counts(&self) -> (usize, usize) {
            (self.at_session.load(Ordering::Relaxed), self.through_funnel.load(Ordering::Relaxed))
        }
    }

    impl Drop for Bundle {
        fn drop(&mut self) {
            let _ = self.funnel.set_state(gst::State::Null);
        }
    }

    fn packets() -> gst::BufferList {
        let mut list = gst::BufferList::new();
        let header = [0x80u8, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        list.get_mut().unwrap().add(gst::Buffer::from_slice(header));
        list
    }

    #[test]
    fn lists_go_straight_to_the_session_once_it_has_the_streams_segment_and_caps() {
        let bundle = Bundle::new();
        let (sink, feed) = bundle.input(0, 0, 5);
        let shortcut = Shortcut::new(sink.upcast_ref());
        // Nothing went through the funnel yet: the session has no caps and no segment.
        let declined = shortcut.chain_list(sink.upcast_ref(), packets()).expect_err("the session is not set up");
        feed.push_list(declined).unwrap();
        assert_eq!(bundle.counts(), (1, 1), "the usual way, through the funnel");
        shortcut.chain_list(sink.upcast_ref(), packets()).expect("straight in").unwrap();
        assert_eq!(bundle.counts(), (2, 1), "straight into the session, past the funnel");
        assert_eq!(
            bundle.session.sticky_event::<gst::event::Segment>(0).unwrap().segment().base(),
            gst::GenericFormattedValue::from(gst::ClockTime::ZERO)
        );
    }

    #[test]
    fn a_stream_whose_segment_differs_from_the_sessions_takes_the_funnel() {
        let bundle = Bundle::new();
        let (first, feed) = bundle.input(0, 0, 5);
        feed.push_list(packets()).unwrap();
        // A second input with the same segment but for its position goes straight in; one
        // with a segment of its own must have the funnel push it first.
        let (same, _) = bundle.input(1, 0, 9);
        let (other, other_feed) = bundle.input(2, 3, 0);
        Shortcut::new(same.upcast_ref()).chain_list(same.upcast_ref(), packets()).expect("same segment").unwrap();
        assert_eq!(bundle.counts(), (2, 1));
        let to_other = Shortcut::new(other.upcast_ref());
        let declined = to_other.chain_list(other.upcast_ref(), packets()).expect_err("another segment");
        other_feed.push_list(declined).unwrap();
        assert_eq!(bundle.counts(), (3, 2), "through the funnel, which hands on its segment");
        to_other.chain_list(other.upcast_ref(), packets()).expect("its segment is the session's now").unwrap();
        let back = Shortcut::new(first.upcast_ref());
        assert!(back.chain_list(first.upcast_ref(), packets()).is_err(), "the first input's segment is not current");
    }

    #[test]
    fn no_funnel_no_shortcut() {
        gst::init().unwrap();
        let bin = gst::Bin::new();
        let identity = gst::ElementFactory::make("identity").build().unwrap();
        bin.add(&identity).unwrap();
        let sink = gst::GhostPad::with_target(&identity.static_pad("sink").unwrap()).unwrap();
        bin.add_pad(&sink).unwrap();
        let shortcut = Shortcut::new(sink.upcast_ref());
        for _ in 0..LOOKS {
            assert!(shortcut.chain_list(sink.upcast_ref(), packets()).is_err());
        }
        assert_eq!(shortcut.session.get(), Some(&None), "gave up looking");
    }
}
