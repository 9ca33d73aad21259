//! A STUN or TURN server a client should use, in the shape of the browser's `RTCIceServer`, so
//! the `joined` message's list can be handed to `new RTCPeerConnection({ iceServers })` as is.

use serde::{Deserialize, Serialize};

/// One entry of `RTCConfiguration.iceServers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IceServer {
    /// `turn:host:port?transport=udp`, `turns:host:443?transport=tcp`, `stun:host:port`; every
    /// URL of one entry shares the credentials.
    pub urls: Vec<String>,
    /// TURN username; with the TURN REST scheme `<expiry, unix seconds>:<participant id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN password; with the TURN REST scheme base64(HMAC-SHA1(secret, username)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}
