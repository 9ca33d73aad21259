//! One latency recalculation asks each mixer once.
//!
//! A recalculation (the room's answer to every LATENCY message) sends a latency query from
//! each sink of the pipeline upstream. Every receiver's sinks reach the compositor and the
//! audio engine, and each of those asks every one of its inputs: with N participants, N
//! queries through N inputs each. At 25 publishers one recalculation took 100–225 ms of
//! the room thread, about seven of them per join. Within one recalculation nothing
//! upstream of a mixer changes, so the first answer its source pad gives is every later
//! one's too: [`LatencyMemo`] remembers it for the rest of that recalculation, and a
//! recalculation costs N queries through each mixer instead of N². The LATENCY event the
//! recalculation then sends from every sink goes the same way; each mixer passes it upstream
//! once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use gst::prelude::*;

/// Numbers the room's recalculations; pads it watches answer from memory within one.
#[derive(Debug, Default, Clone)]
pub(super) struct LatencyMemo {
    /// The recalculation under way (0: none).
    current: Arc<AtomicU64>,
    /// The last one started.
    last: Arc<AtomicU64>,
}

/// A latency answer: live, minimum, maximum.
type Answer = (bool, gst::ClockTime, Option<gst::ClockTime>);

impl LatencyMemo {
    /// Recalculates `pipeline`'s latency, each watched pad answering at most once.
    pub(super) fn recalculate(&self, pipeline: &gst::Pipeline) -> Result<(), gst::glib::BoolError> {
        let round = self.last.fetch_add(1, Ordering::Relaxed) + 1;
        self.current.store(round, Ordering::Release);
        let result = pipeline.recalculate_latency();
        self.current.store(0, Ordering::Release);
        result
    }

    /// Makes `pad` (a mixer's source pad) answer a latency query and pass a LATENCY event
    /// once per recalculation; out of one, every query and event goes through as before.
    pub(super) fn watch(&self, pad: &gst::Pad) {
        self.answer_queries_once(pad);
        self.forward_latency_once(pad);
    }

    /// Makes `pad` answer every latency query of a recalculation after the first from memory.
    fn answer_queries_once(&self, pad: &gst::Pad) {
        let current = self.current.clone();
        let remembered: Mutex<Option<(u64, Answer)>> = Mutex::new(None);
        pad.add_probe(gst::PadProbeType::QUERY_UPSTREAM | gst::PadProbeType::PUSH | gst::PadProbeType::PULL, {
            move |_, info| {
                let round = current.load(Ordering::Acquire);
                let answered = info.mask.contains(gst::PadProbeType::PULL);
                let Some(gst::QueryViewMut::Latency(q)) = info.query_mut().map(|q| q.view_mut()) else {
                    return gst::PadProbeReturn::Ok;
                };
                if round == 0 {
                    return gst::PadProbeReturn::Ok;
                }
                let mut remembered = remembered.lock().unwrap();
                if answered {
                    *remembered = Some((round, q.result()));
                    return gst::PadProbeReturn::Ok;
                }
                match *remembered {
                    Some((r, (live, min, max))) if r == round => {
                        q.set(live, min, max);
                        gst::PadProbeReturn::Handled
                    }
                    _ => gst::PadProbeReturn::Ok,
                }
            }
        });
    }

    /// Makes `pad` pass a recalculation's LATENCY event upstream once: the pipeline sends one
    /// from every sink, and a mixer forwards each to every input, as with the queries. The
    /// later ones carry the same latency and stop here.
    fn forward_latency_once(&self, pad: &gst::Pad) {
        let current = self.current.clone();
        let forwarded: Mutex<Option<(u64, gst::ClockTime)>> = Mutex::new(None);
        pad.add_probe(gst::PadProbeType::EVENT_UPSTREAM, move |_, info| {
            let round = current.load(Ordering::Acquire);
            let Some(gst::EventView::Latency(event)) = info.event().map(|e| e.view()) else {
                return gst::PadProbeReturn::Ok;
            };
            if round == 0 {
                return gst::PadProbeReturn::Ok;
            }
            let latency = event.latency();
            let mut forwarded = forwarded.lock().unwrap();
            if *forwarded == Some((round, latency)) {
                // Dropped, the sender is told it went through (and it did, the first time).
                return super::discard::discard(info);
            }
            *forwarded = Some((round, latency));
            gst::PadProbeReturn::Ok
        });
    }
}

#[cfg(test)]
mod tests {
    use gst_base::prelude::*;

    use super::*;

    /// Counts the latency queries that leave by `pad` and the LATENCY events that reach its peer.
    fn counting(pad: &gst::Pad) -> (Arc<AtomicU64>, Arc<AtomicU64>) {
        let (queries, events) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (q, e) = (queries.clone(), events.clone());
        pad.add_probe(gst::PadProbeType::QUERY_UPSTREAM | gst::PadProbeType::PUSH, move |_, info| {
            if matches!(info.query().map(|q| q.view()), Some(gst::QueryView::Latency(_))) {
                q.fetch_add(1, Ordering::Relaxed);
            }
            gst::PadProbeReturn::Ok
        });
        // An aggregator sends upstream events straight to each input's peer.
        pad.peer().unwrap().add_probe(gst::PadProbeType::EVENT_UPSTREAM, move |_, info| {
            if matches!(info.event().map(|e| e.view()), Some(gst::EventView::Latency(_))) {
                e.fetch_add(1, Ordering::Relaxed);
            }
            gst::PadProbeReturn::Ok
        });
        (queries, events)
    }

    /// A live source into a mixer whose output four sinks take: a recalculation asks the
    /// mixer's input once and sends it one LATENCY event, gives every sink the same latency,
    /// and a query outside one goes through again.
    #[test]
    fn a_recalculation_asks_through_a_watched_pad_once() {
        gst::init().unwrap();
        let pipeline = gst::parse::launch(
            "audiotestsrc is-live=true name=src ! audiomixer name=mix latency=20000000 ! tee name=t \
             t. ! queue ! fakesink sync=true name=s0 t. ! queue ! fakesink sync=true name=s1 \
             t. ! queue ! fakesink sync=true name=s2 t. ! queue ! fakesink sync=true name=s3",
        )
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        let mix = pipeline.by_name("mix").unwrap();
        let (input, events) = counting(&mix.sink_pads()[0]);
        let memo = LatencyMemo::default();
        memo.watch(&mix.static_pad("src").unwrap());
        pipeline.set_state(gst::State::Playing).unwrap();
        // A sink answers as live once it has prerolled on a buffer.
        let started = std::time::Instant::now();
        while !pipeline.by_name("s3").unwrap().sink_pads().iter().all(|p| {
            let mut q = gst::query::Latency::new();
            p.peer_query(&mut q) && pipeline.query(&mut q) && q.result().0
        }) {
            assert!(started.elapsed() < std::time::Duration::from_secs(5), "the sinks answer as live");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }

        let sink = pipeline.by_name("s3").unwrap().downcast::<gst_base::BaseSink>().unwrap();
        let before = input.load(Ordering::Relaxed);
        sink.send_event(gst::event::Latency::new(gst::ClockTime::ZERO));
        let events_before = events.load(Ordering::Relaxed);
        pipeline.recalculate_latency().unwrap();
        let plain = input.load(Ordering::Relaxed) - before;
        let plain_events = events.load(Ordering::Relaxed) - events_before;
        assert!(plain_events >= 4, "without the memo each sink's LATENCY event reaches the input: {plain_events}");
        let plain_latency = sink.latency();
        assert!(plain >= 4, "without the memo each sink's query reaches the input: {plain}");
        assert!(plain_latency >= gst::ClockTime::from_mseconds(20), "{plain_latency}");

        let before = input.load(Ordering::Relaxed);
        sink.send_event(gst::event::Latency::new(gst::ClockTime::ZERO));
        let events_before = events.load(Ordering::Relaxed);
        memo.recalculate(&pipeline).unwrap();
        let memoized = input.load(Ordering::Relaxed) - before;
        assert_eq!(memoized, 1, "with it, once ({plain} without)");
        assert_eq!(events.load(Ordering::Relaxed) - events_before, 1, "and one LATENCY event ({plain_events} without)");
        assert_eq!(sink.latency(), plain_latency, "and every sink is given the same latency");

        let mut q = gst::query::Latency::new();
        assert!(pipeline.by_name("s0").unwrap().static_pad("sink").unwrap().peer_query(&mut q));
        let (live, min, _) = q.result();
        assert!(live && min >= gst::ClockTime::from_mseconds(20), "the mixer's own latency is in it: {min}");
        let before = input.load(Ordering::Relaxed);
        let mut q = gst::query::Latency::new();
        assert!(pipeline.by_name("s1").unwrap().static_pad("sink").unwrap().peer_query(&mut q));
        assert_eq!(input.load(Ordering::Relaxed) - before, 1, "out of a recalculation, queries go through");
        pipeline.set_state(gst::State::Null).unwrap();
    }
}
