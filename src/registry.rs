//! The room registry: rooms by id, created on first join, forgotten when they close.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use crate::config::Config;
use crate::fleet::{Fleet, Route};
use crate::ids::RoomId;
use crate::media::Session;
use crate::protocol::Role;
use crate::recording::RecordingStore;
use crate::room::{self, JoinError, Joined, Outbound, RoomHandle};

/// The registry's lock-protected state.
#[derive(Debug, Default)]
struct Rooms {
    /// Live rooms by id.
    live: HashMap<RoomId, RoomHandle>,
    /// Set once shutdown starts; no room is created from then on.
    closing: bool,
}

/// All live rooms of a server.
#[derive(Debug)]
pub struct Registry {
    /// Live rooms and the closing flag, under one lock so a join racing shutdown either gets
    /// its room shut down or is refused. Never held across `.await`.
    rooms: Mutex<Rooms>,
    /// Media settings for new rooms.
    config: Arc<Config>,
    /// Every recording of every room, for the REST API.
    recordings: Arc<RecordingStore>,
    /// For the rooms' `on_close` callbacks (a room knows nothing of the registry).
    me: Weak<Registry>,
    /// The fleet this server shares rooms with (`None`: alone).
    fleet: Option<Arc<Fleet>>,
}

impl Registry {
    /// An empty registry creating rooms with `config`, in `fleet` if there is one.
    pub fn new(config: Arc<Config>, fleet: Option<Arc<Fleet>>) -> Arc<Self> {
        let recordings = Arc::new(RecordingStore::default());
        Arc::new_cyclic(|me| Self { rooms: Mutex::new(Rooms::default()), config, recordings, me: me.clone(), fleet })
    }

    /// The fleet this server belongs to, if any.
    pub fn fleet(&self) -> Option<&Arc<Fleet>> {
        self.fleet.as_ref()
    }

    /// Every recording made by this server.
    pub fn recordings(&self) -> &RecordingStore {
        &self.recordings
    }

    /// Adds a participant to `room`, creating the room if needed.
    pub async fn join(
        &self,
        room: &RoomId,
        name: String,
        role: Role,
        may_set_layout: bool,
        outbound: Outbound,
        session: Session,
    ) -> Result<(RoomHandle, Joined), JoinError> {
        // A room that closes between lookup and join refuses with `Closed`; the next lookup
        // then creates a fresh one (where the fleet says).
        for _ in 0..3 {
            self.place(room).await?;
            let handle = self.get_or_create(room)?;
            match handle.join(name.clone(), role, may_set_layout, outbound.clone(), session).await {
                Err(JoinError::Closed) => continue,
                other => return other.map(|id| (handle, id)),
            }
        }
        Err(JoinError::Closed)
    }

    /// In a fleet, a room not running here is served where the fleet places it: `Elsewhere`
    /// when that is another node. A room running here was ours when it started and stays ours
    /// (even while Redis is out of reach) until the heartbeat finds another node holding it.
    async fn place(&self, room: &RoomId) -> Result<(), JoinError> {
        if let Some(fleet) = &self.fleet
            && self.get(room).is_none()
            && let Route::Elsewhere(url) = fleet.route(room).await?
        {
            return Err(JoinError::Elsewhere(url));
        }
        Ok(())
    }

    fn get_or_create(&self, room: &RoomId) -> Result<RoomHandle, JoinError> {
        let mut rooms = self.rooms.lock().unwrap();
        if rooms.closing {
            return Err(JoinError::ShuttingDown);
        }
        if let Some(h) = rooms.live.get(room).filter(|h| !h.is_closed()) {
            return Ok(h.clone());
        }
        // Checked before anything is built: a refused room costs no thread and no pipeline.
        let max = self.config.limits.max_rooms;
        if rooms.live.values().filter(|h| !h.is_closed()).count() >= max {
            return Err(JoinError::ServerFull(max));
        }
        let registry = self.me.clone();
        let on_close: room::OnClose = Box::new(move |id, uid| {
            if let Some(registry) = registry.upgrade() {
                registry.forget(id, uid);
            }
        });
        let handle = room::spawn(room.clone(), self.config.clone(), self.recordings.clone(), on_close)
            .map_err(|e| JoinError::Media(format!("cannot start room thread: {e}")))?;
        rooms.live.insert(room.clone(), handle.clone());
        Ok(handle)
    }

    /// The room called `room`, if it is live.
    pub fn get(&self, room: &RoomId) -> Option<RoomHandle> {
        self.rooms.lock().unwrap().live.get(room).filter(|h| !h.is_closed()).cloned()
    }

    /// Every live room.
    pub fn rooms(&self) -> Vec<RoomHandle> {
        self.rooms.lock().unwrap().live.values().filter(|h| !h.is_closed()).cloned().collect()
    }

    /// A room stopped taking commands: drops its entry unless a newer room took the name.
    fn forget(&self, room: &RoomId, uid: u64) {
        let mut rooms = self.rooms.lock().unwrap();
        if rooms.live.get(room).is_some_and(|h| h.uid() == uid) {
            rooms.live.remove(room);
            if let Some(fleet) = &self.fleet {
                fleet.release(room.clone());
            }
        }
    }

    /// Refuses new joins, then shuts every room down and waits for them.
    pub async fn shutdown(&self) {
        let rooms: Vec<RoomHandle> = {
            let mut rooms = self.rooms.lock().unwrap();
            rooms.closing = true;
            rooms.live.drain().map(|(_, h)| h).collect()
        };
        futures_util::future::join_all(rooms.iter().map(|r| r.shutdown())).await;
    }
}
