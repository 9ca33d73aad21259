//! The room registry: rooms by id, created on first join, forgotten when they close.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use crate::config::MediaConfig;
use crate::ids::{ParticipantId, RoomId};
use crate::protocol::Role;
use crate::room::{self, JoinError, Outbound, RoomHandle};

/// All live rooms of a server.
#[derive(Debug)]
pub struct Registry {
    /// Live rooms. Never held across `.await`.
    rooms: Mutex<HashMap<RoomId, RoomHandle>>,
    /// Set once shutdown starts; joins are refused from then on.
    closing: std::sync::atomic::AtomicBool,
    /// Media settings for new rooms.
    config: Arc<MediaConfig>,
    /// Handed to room tasks so they can forget themselves.
    me: Weak<Registry>,
}

impl Registry {
    /// An empty registry creating rooms with `config`.
    pub fn new(config: Arc<MediaConfig>) -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            rooms: Mutex::new(HashMap::new()),
            closing: Default::default(),
            config,
            me: me.clone(),
        })
    }

    /// Adds a participant to `room`, creating the room if needed.
    pub async fn join(
        &self,
        room: &RoomId,
        name: String,
        role: Role,
        outbound: Outbound,
    ) -> Result<(RoomHandle, ParticipantId), JoinError> {
        // A room that closes between lookup and join refuses with `Closed`; the next lookup
        // then creates a fresh one.
        for _ in 0..3 {
            let handle = self.get_or_create(room)?;
            match handle.join(name.clone(), role, outbound.clone()).await {
                Err(JoinError::Closed) => continue,
                other => return other.map(|id| (handle, id)),
            }
        }
        Err(JoinError::Closed)
    }

    fn get_or_create(&self, room: &RoomId) -> Result<RoomHandle, JoinError> {
        if self.closing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(JoinError::ShuttingDown);
        }
        let mut rooms = self.rooms.lock().unwrap();
        if let Some(h) = rooms.get(room).filter(|h| !h.is_closed()) {
            return Ok(h.clone());
        }
        let handle = room::spawn(room.clone(), self.config.clone(), self.me.clone())
            .map_err(|e| JoinError::Media(format!("cannot start room thread: {e}")))?;
        rooms.insert(room.clone(), handle.clone());
        Ok(handle)
    }

    /// The room called `room`, if it is live.
    pub fn get(&self, room: &RoomId) -> Option<RoomHandle> {
        self.rooms.lock().unwrap().get(room).filter(|h| !h.is_closed()).cloned()
    }

    /// Every live room.
    pub fn rooms(&self) -> Vec<RoomHandle> {
        self.rooms.lock().unwrap().values().filter(|h| !h.is_closed()).cloned().collect()
    }

    /// Called by a closing room task: drops its entry unless a newer room took the name.
    pub(crate) fn forget(&self, room: &RoomId, uid: u64) {
        let mut rooms = self.rooms.lock().unwrap();
        if rooms.get(room).is_some_and(|h| h.uid() == uid) {
            rooms.remove(room);
        }
    }

    /// Refuses new joins, then shuts every room down and waits for them.
    pub async fn shutdown(&self) {
        self.closing.store(true, std::sync::atomic::Ordering::SeqCst);
        let rooms: Vec<RoomHandle> = self.rooms.lock().unwrap().drain().map(|(_, h)| h).collect();
        futures_util::future::join_all(rooms.iter().map(|r| r.shutdown())).await;
    }
}
