//! What a message's contents must be: JSON of a known type, an ICE candidate line of the
//! RFC 8839 shape, an SDP answer with what WebRTC needs. Pure, and fed arbitrary input by the
//! property tests.

use tessera_webrtc::mids::MLine;

use super::SignalingError;
use crate::protocol::{ClientMessage, MAX_TEXT_CHARS};

/// The longest `sdpMid` accepted: mids are short tokens (`video0`; RFC 8843 advises at most 16
/// characters, to fit the RTP header extension).
const MAX_MID_CHARS: usize = 64;

/// The m-line a candidate names: `sdpMid` wins over `sdpMLineIndex`, as in the WebRTC API; one
/// of them is required. Whether it exists is for the room to tell, which knows our offer.
pub fn candidate_mline(sdp_mid: Option<String>, sdp_m_line_index: Option<u32>) -> Result<MLine, SignalingError> {
    if sdp_mid.as_ref().is_some_and(|mid| mid.chars().count() > MAX_MID_CHARS) {
        return Err(SignalingError::InvalidMessage(format!("`sdpMid` is longer than {MAX_MID_CHARS} characters")));
    }
    MLine::of_candidate(sdp_mid, sdp_m_line_index).ok_or_else(|| {
        SignalingError::InvalidMessage("`ice` needs `sdpMid` or `sdpMLineIndex` to name the candidate's m-line".into())
    })
}

/// A `chat` or `caption` text: trimmed, 1 to [`MAX_TEXT_CHARS`] characters, no control
/// characters but newlines.
pub fn text(text: String) -> Result<String, SignalingError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(SignalingError::InvalidMessage("`text` is empty".into()));
    }
    if trimmed.chars().count() > MAX_TEXT_CHARS {
        return Err(SignalingError::InvalidMessage(format!("`text` is longer than {MAX_TEXT_CHARS} characters")));
    }
    if trimmed.chars().any(|c| c.is_control() && c != '\n') {
        return Err(SignalingError::InvalidMessage("`text` has control characters".into()));
    }
    Ok(if trimmed.len() == text.len() { text } else { trimmed.to_owned() })
}

/// Parses a frame into a [`ClientMessage`], telling malformed JSON, unknown types and bad
/// fields apart.
pub fn decode(text: &str) -> Result<ClientMessage, SignalingError> {
    // Nearly every frame is well formed: one typed pass. Otherwise the generic parse tells the
    // errors apart (and, as it always did, takes the last of a key given twice).
    if let Ok(msg) = serde_json::from_str(text) {
        return Ok(msg);
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| SignalingError::BadJson(e.to_string()))?;
    let kind = value
        .get("type")
        .ok_or_else(|| SignalingError::InvalidMessage("missing field `type`".into()))?
        .as_str()
        .ok_or_else(|| SignalingError::InvalidMessage("`type` must be a string".into()))?;
    if !ClientMessage::TYPES.contains(&kind) {
        return Err(SignalingError::UnknownType(kind.chars().take(64).collect()));
    }
    serde_json::from_value(value).map_err(|e| SignalingError::InvalidMessage(e.to_string()))
}

/// Checks the shape of an ICE candidate line (RFC 8839 §5.1): `candidate:` (the prefix may be
/// omitted), foundation, component, transport, priority, address, port, `typ`, type.
pub fn check_candidate(candidate: &str) -> Result<(), SignalingError> {
    let line = candidate.trim();
    let line = line.strip_prefix("a=").unwrap_or(line);
    let line = line.strip_prefix("candidate:").unwrap_or(line);
    let f: Vec<&str> = line.split_ascii_whitespace().collect();
    let ok = f.len() >= 8
        && f[1].parse::<u8>().is_ok_and(|c| c >= 1)
        && ["udp", "tcp"].contains(&f[2].to_ascii_lowercase().as_str())
        && f[3].parse::<u32>().is_ok()
        && !f[4].is_empty()
        && f[5].parse::<u16>().is_ok()
        && f[6] == "typ"
        && ["host", "srflx", "prflx", "relay"].contains(&f[7]);
    if ok { Ok(()) } else { Err(SignalingError::InvalidCandidate(candidate.chars().take(100).collect())) }
}

/// Parses an SDP answer and checks it carries what a WebRTC answer must: media sections,
/// ICE credentials and a DTLS fingerprint.
pub fn parse_answer(sdp: &str) -> Result<gst_sdp::SDPMessage, SignalingError> {
    let bad = |why: &str| SignalingError::InvalidSdp(why.to_owned());
    if !sdp.trim_start().starts_with("v=0") {
        return Err(bad("must start with v=0"));
    }
    // The SDP parser asserts GStreamer is initialized; init is idempotent and cheap.
    gst::init().map_err(|e| bad(&format!("GStreamer unavailable: {e}")))?;
    let msg = gst_sdp::SDPMessage::parse_buffer(sdp.as_bytes()).map_err(|_| bad("unparsable"))?;
    if msg.medias_len() == 0 {
        return Err(bad("no media sections"));
    }
    let session_has = |attr: &str| msg.attribute_val(attr).is_some();
    for media in msg.medias() {
        let has = |attr: &str| media.attribute_val(attr).is_some() || session_has(attr);
        if !has("ice-ufrag") || !has("ice-pwd") {
            return Err(bad("missing ICE credentials"));
        }
        if !has("fingerprint") {
            return Err(bad("missing DTLS fingerprint"));
        }
    }
    Ok(msg)
}
