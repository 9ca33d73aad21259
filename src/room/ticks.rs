//! What the room does on its stage tick.

use std::time::Instant;

use super::actor::RoomActor;
use super::core::Input;

impl RoomActor {
    /// Ten times a second: levels and frame counts to the rules (speaker, decorations), and the
    /// pipeline's latency once the changes that asked for it have settled.
    pub(super) fn on_stage_tick(&mut self) {
        self.media.settle_latency(Instant::now());
        let levels = self.media.take_levels();
        let frames = self.media.frame_counts();
        self.feed(Input::StageTick { levels, frames });
    }
}
