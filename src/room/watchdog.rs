//! Notices a room thread stuck in one step. A room's thread handles one input at a time (a
//! command, a media notice, a tick); while it is stuck, that room answers no one (joins time
//! out after 10 s) and its participants cannot leave. One watchdog thread for the whole server
//! looks at every room twice a second and logs an error naming the room and the step once a
//! step has taken [`STALL`]; the step's end is logged too, with how long it took.
//!
//! With `TESSERA_STALL_BACKTRACES=1` in the environment, the first stall of the process also
//! writes every thread's backtrace to the log (`gdb -batch -p <pid>`), so a hang seen once
//! leaves more than a theory. It stops the whole process for about a second, so it is off by
//! default; the test suite turns it on.

use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use tracing::{error, warn};

use super::RoomCommand;
use crate::ids::RoomId;
use crate::signaling::PeerCommand;

/// A step taking this long is a stall.
pub(crate) const STALL: Duration = Duration::from_secs(2);
/// How often the watchdog looks.
const LOOK: Duration = Duration::from_millis(500);

/// What one room's thread is doing, if anything.
#[derive(Default)]
struct Busy {
    /// The step and when it began; `None` while the thread waits for input.
    step: Option<(&'static str, Instant)>,
    /// The current step has been reported.
    reported: bool,
}

struct Slot {
    room: RoomId,
    busy: Mutex<Busy>,
}

/// One room's entry; the room's thread marks its steps on it.
pub(super) struct Watch(Arc<Slot>);

impl Watch {
    /// Registers `room` with the watchdog (started on first use).
    pub(super) fn new(room: &RoomId) -> Self {
        let slot = Arc::new(Slot { room: room.clone(), busy: Mutex::new(Busy::default()) });
        watched().lock().unwrap_or_else(|e| e.into_inner()).push(Arc::downgrade(&slot));
        Self(slot)
    }

    /// The thread starts `step`; the returned guard ends it.
    pub(super) fn step(&self, step: &'static str) -> Stepping {
        *self.0.busy.lock().unwrap_or_else(|e| e.into_inner()) =
            Busy { step: Some((step, Instant::now())), reported: false };
        Stepping(self.0.clone())
    }
}

/// A step in progress; dropping it marks the room's thread idle again.
pub(super) struct Stepping(Arc<Slot>);

impl Drop for Stepping {
    fn drop(&mut self) {
        let slot = &self.0;
        let busy = std::mem::take(&mut *slot.busy.lock().unwrap_or_else(|e| e.into_inner()));
        if let (Some((step, since)), true) = (busy.step, busy.reported) {
            warn!(room = %slot.room, step, took_ms = since.elapsed().as_millis() as u64, "room thread answers again");
        }
    }
}

/// What `command` is, for the watchdog's reports.
pub(super) fn step_of(command: &RoomCommand) -> &'static str {
    match command {
        RoomCommand::Join { .. } => "join",
        RoomCommand::Offer { .. } => "offer",
        RoomCommand::Peer { command, .. } => match command {
            PeerCommand::Answer(_) => "answer",
            PeerCommand::Ice { .. } => "ice candidate",
            PeerCommand::Leave => "leave",
            PeerCommand::Mute { .. } => "mute",
            PeerCommand::SetLayout(_) => "participant's layout",
            PeerCommand::Chat(_) => "chat",
            PeerCommand::Caption { .. } => "caption",
        },
        RoomCommand::Gone { .. } => "socket gone",
        RoomCommand::Info { .. } => "info",
        RoomCommand::Kick { .. } => "kick",
        RoomCommand::StartRecording { .. } => "start recording",
        RoomCommand::StopRecording { .. } => "stop recording",
        RoomCommand::SetLayout { .. } => "layout",
        RoomCommand::TileImage { .. } => "tile image",
        RoomCommand::Snapshots { .. } => "snapshots",
        RoomCommand::Close { .. } => "close",
    }
}

fn watched() -> &'static Mutex<Vec<Weak<Slot>>> {
    static WATCHED: OnceLock<Mutex<Vec<Weak<Slot>>>> = OnceLock::new();
    WATCHED.get_or_init(|| {
        let spawned = std::thread::Builder::new().name("room-watchdog".into()).spawn(look_forever);
        if let Err(e) = spawned {
            error!("cannot start the room watchdog: {e}");
        }
        Mutex::new(Vec::new())
    })
}

fn look_forever() {
    let backtraces = std::env::var("TESSERA_STALL_BACKTRACES").is_ok_and(|v| v == "1");
    let mut dumped = false;
    loop {
        std::thread::sleep(LOOK);
        let stalled = look(Instant::now());
        if backtraces && !dumped && !stalled.is_empty() {
            dumped = true;
            log_backtraces();
        }
    }
}

/// Reports every room stuck in one step for [`STALL`] (once per step) and forgets rooms that
/// ended; returns the rooms newly reported.
fn look(now: Instant) -> Vec<RoomId> {
    let mut slots = watched().lock().unwrap_or_else(|e| e.into_inner());
    slots.retain(|w| w.strong_count() > 0);
    let mut stalled = Vec::new();
    for slot in slots.iter().filter_map(Weak::upgrade) {
        let mut busy = slot.busy.lock().unwrap_or_else(|e| e.into_inner());
        if let (Some((step, since)), false) = (busy.step, busy.reported) {
            let took = now.saturating_duration_since(since);
            if took >= STALL {
                busy.reported = true;
                error!(room = %slot.room, step, stalled_ms = took.as_millis() as u64, "room thread stalled");
                stalled.push(slot.room.clone());
            }
        }
    }
    stalled
}

/// Every thread's backtrace, from gdb attached to this process, line by line into the log.
fn log_backtraces() {
    let pid = std::process::id().to_string();
    let out = std::process::Command::new("gdb")
        .args(["-batch", "-nx", "-p", &pid, "-ex", "thread apply all bt"])
        .stdin(std::process::Stdio::null())
        .output();
    match out {
        Ok(out) => {
            for line in String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.is_empty()) {
                error!("stall backtrace: {line}");
            }
        }
        Err(e) => error!("cannot run gdb for the stall's backtraces: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_is_reported_once_when_it_outlasts_the_limit() {
        let room = RoomId::parse("watchdog-test").unwrap();
        let watch = Watch::new(&room);
        let step = watch.step("test step");
        let start = watch.0.busy.lock().unwrap().step.unwrap().1;
        let mine = |v: Vec<RoomId>| v.into_iter().filter(|r| *r == room).count();
        assert_eq!(mine(look(start + STALL / 2)), 0, "reported before the limit");
        assert_eq!(mine(look(start + STALL)), 1, "not reported at the limit");
        assert_eq!(mine(look(start + STALL * 2)), 0, "reported twice");
        drop(step);
        assert!(watch.0.busy.lock().unwrap().step.is_none(), "still busy after the step ended");
        assert_eq!(mine(look(start + STALL * 3)), 0, "an idle room reported");
    }
}
