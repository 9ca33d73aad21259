//! `webrtcbin` the one way Tessera uses it, on the server and in its client library alike:
//! how one is built ([`webrtcbin::new_webrtcbin`]) and let go ([`teardown`]) without tripping
//! over GStreamer 1.22's lifetime bugs, the codecs with their fixed payload types
//! ([`codecs`]), sender reports in capture time ([`rtcp`]), a send path that does less per
//! packet ([`send_path`]), SRTP on OpenSSL ([`srtp`]), the candidate rules ([`ice`]),
//! DataChannel association ids ([`sctp`]), the ECDSA DTLS certificate ([`dtls_cert`]) and the
//! m-lines' mids ([`mids`]).

#![deny(missing_docs)]

pub mod codecs;
pub mod dtls_cert;
pub mod ice;
pub mod mids;
pub mod rtcp;
pub mod sctp;
pub mod send_path;
pub mod srtp;
pub mod teardown;
pub mod webrtcbin;

pub use webrtcbin::{IceSettings, live_ice_agents, live_webrtcbins, new_webrtcbin};
