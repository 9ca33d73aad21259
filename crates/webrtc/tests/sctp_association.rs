//! Two DataChannel sessions in one process, each a pair of `webrtcbin`s connected over
//! loopback: their SCTP associations must not share an id, and one that does must not leave a
//! task behind that blocks whoever lets its element go.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use gst::prelude::*;
use gst_webrtc::WebRTCDataChannelState;
use tessera_webrtc::{IceSettings, new_webrtcbin, sctp, teardown};

mod common;
use common::{LOOPBACK, exchange_candidates, negotiate};

/// A pipeline holding an offerer with a DataChannel and its answerer, negotiating. `tweak`
/// sees both `webrtcbin`s before they start.
struct Session {
    pipeline: gst::Pipeline,
    offerer: gst::Element,
    answerer: gst::Element,
    channel: gst_webrtc::WebRTCDataChannel,
}

impl Session {
    fn start(tweak: impl Fn(&gst::Element)) -> Self {
        let ice = IceSettings { addresses: &LOOPBACK, ..Default::default() };
        let pipeline = gst::Pipeline::new();
        let offerer = new_webrtcbin("offerer", 50, &ice).unwrap();
        let answerer = new_webrtcbin("answerer", 50, &ice).unwrap();
        tweak(&offerer);
        tweak(&answerer);
        pipeline.add_many([&offerer, &answerer]).unwrap();
        exchange_candidates(&offerer, &answerer);
        pipeline.set_state(gst::State::Playing).unwrap();
        let channel = offerer
            .emit_by_name::<Option<gst_webrtc::WebRTCDataChannel>>(
                "create-data-channel",
                &[&"probe", &None::<gst::Structure>],
            )
            .expect("a DataChannel");
        negotiate(&offerer, &answerer);
        Self { pipeline, offerer, answerer, channel }
    }

    fn open_within(&self, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.channel.ready_state() == WebRTCDataChannelState::Open {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

fn started_tasks(element: &gst::Element) -> Vec<String> {
    teardown::started_tasks(element).iter().map(|p| format!("{}:{}", p.parent().unwrap().name(), p.name())).collect()
}

#[test]
fn every_webrtcbin_gets_an_association_id_no_live_one_holds() {
    gst::init().unwrap();
    let first = Session::start(|_| {});
    let second = Session::start(|_| {});
    assert!(first.open_within(Duration::from_secs(10)), "first DataChannel opens");
    assert!(second.open_within(Duration::from_secs(10)), "second DataChannel opens");
    let mut by_bin = Vec::new();
    for webrtc in [&first.offerer, &first.answerer, &second.offerer, &second.answerer] {
        let ids = sctp::association_ids(webrtc);
        assert_eq!(ids.len(), 2, "an sctpenc and an sctpdec: {ids:?}");
        assert_eq!(ids[0].1, ids[1].1, "encoder and decoder of one webrtcbin share their association: {ids:?}");
        by_bin.push(ids[0].1);
    }
    let mut distinct = by_bin.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "four webrtcbins, four associations: {by_bin:?}");
    assert!(by_bin.iter().all(|id| sctp::is_held(*id)), "each id is held while its webrtcbin lives: {by_bin:?}");
    for session in [first, second] {
        teardown::stop(session.pipeline.upcast_ref()).unwrap();
        assert_eq!(started_tasks(session.pipeline.upcast_ref()), Vec::<String>::new());
    }
    assert!(!by_bin.iter().any(|id| sctp::is_held(*id)), "each id is let go with its webrtcbin: {by_bin:?}");
}

/// What `webrtcbin` did before [`sctp::assign_association_ids`]: a second session drawing the
/// id of an open one. Its `sctpenc` fails to start but starts its task, and keeps it in NULL.
#[test]
fn a_shared_association_id_leaves_a_task_that_stop_reports() {
    gst::init().unwrap();
    let first = Session::start(|_| {});
    assert!(first.open_within(Duration::from_secs(10)), "first DataChannel opens");
    let taken = sctp::association_ids(&first.offerer)[0].1;
    let second = Session::start(move |webrtc| {
        webrtc.downcast_ref::<gst::Bin>().unwrap().connect_element_added(move |_, element| {
            if element.find_property("sctp-association-id").is_some() {
                element.set_property("sctp-association-id", taken);
            }
        });
    });
    assert!(!second.open_within(Duration::from_secs(3)), "a DataChannel on a taken association cannot open");
    let stopped = teardown::stop(second.pipeline.upcast_ref());
    let problem = stopped.expect_err("stop reports the task it found");
    assert!(problem.contains(":src still runs its task in Null"), "{problem}");
    // The elements with the task are kept: letting the pipeline go would otherwise block here.
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        drop(second);
        let _ = done_tx.send(());
    });
    done_rx.recv_timeout(Duration::from_secs(10)).expect("the session is let go without blocking");
    teardown::stop(first.pipeline.upcast_ref()).unwrap();
}
