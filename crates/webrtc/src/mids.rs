//! Which m-line an ICE candidate belongs to, named by its `mid` or its index (pure).
//!
//! `webrtcbin` (1.22) names candidates by m-line index only, in both directions, while a
//! candidate on the wire may carry either or both: browsers send both, aiortc matches remote
//! candidates by `sdpMid` alone. So every candidate we send carries both (the mid read from
//! our own description), and a candidate we receive is mapped to its index here. As in the
//! WebRTC API (`addIceCandidate`), a given `sdpMid` wins over `sdpMLineIndex`.

/// An m-line as a candidate names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MLine {
    /// By its `a=mid` value.
    Mid(String),
    /// By its position in the description, from 0.
    Index(u32),
}

impl MLine {
    /// The m-line a candidate names: its `sdpMid` when it has one, else its `sdpMLineIndex`;
    /// `None` when it has neither.
    pub fn of_candidate(sdp_mid: Option<String>, sdp_m_line_index: Option<u32>) -> Option<Self> {
        sdp_mid.map(Self::Mid).or(sdp_m_line_index.map(Self::Index))
    }
}

/// A candidate's m-line is not in the description.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MLineError {
    /// No m-line has this mid.
    #[error("no m-line has mid {0:?}")]
    UnknownMid(String),
    /// The description has fewer m-lines.
    #[error("m-line index {index} is out of range: the description has {count} m-lines")]
    OutOfRange {
        /// The index asked for.
        index: u32,
        /// How many m-lines there are.
        count: usize,
    },
}

/// The `a=mid` of each m-line of `sdp`, in order (`None` for an m-line without one).
pub fn mids_of(sdp: &gst_sdp::SDPMessageRef) -> Vec<Option<String>> {
    sdp.medias().map(|m| m.attribute_val("mid").map(str::to_owned)).collect()
}

/// The index of `mline` among `mids` (the description's, from [`mids_of`]).
pub fn index_of(mids: &[Option<String>], mline: &MLine) -> Result<u32, MLineError> {
    match mline {
        MLine::Mid(mid) => mids
            .iter()
            .position(|m| m.as_deref() == Some(mid.as_str()))
            .map(|i| i as u32)
            .ok_or_else(|| MLineError::UnknownMid(mid.clone())),
        MLine::Index(index) if (*index as usize) < mids.len() => Ok(*index),
        MLine::Index(index) => Err(MLineError::OutOfRange { index: *index, count: mids.len() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer_mids() -> Vec<Option<String>> {
        gst::init().unwrap();
        let sdp = "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:video0\r\n\
            m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:audio1\r\n\
            m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:application2\r\n";
        mids_of(&gst_sdp::SDPMessage::parse_buffer(sdp.as_bytes()).unwrap())
    }

    #[test]
    fn reads_every_mid_in_order() {
        let mids = offer_mids();
        let names: Vec<_> = mids.iter().map(|m| m.as_deref().unwrap()).collect();
        assert_eq!(names, ["video0", "audio1", "application2"]);
    }

    #[test]
    fn mid_wins_over_index_and_either_alone_will_do() {
        assert_eq!(MLine::of_candidate(Some("audio1".into()), Some(0)), Some(MLine::Mid("audio1".into())));
        assert_eq!(MLine::of_candidate(None, Some(2)), Some(MLine::Index(2)));
        assert_eq!(MLine::of_candidate(Some("video0".into()), None), Some(MLine::Mid("video0".into())));
        assert_eq!(MLine::of_candidate(None, None), None);
    }

    #[test]
    fn maps_mids_and_checks_indices() {
        let mids = offer_mids();
        assert_eq!(index_of(&mids, &MLine::Mid("audio1".into())), Ok(1));
        assert_eq!(index_of(&mids, &MLine::Mid("application2".into())), Ok(2));
        assert_eq!(index_of(&mids, &MLine::Index(0)), Ok(0));
        assert_eq!(index_of(&mids, &MLine::Mid("0".into())), Err(MLineError::UnknownMid("0".into())));
        assert_eq!(index_of(&mids, &MLine::Index(3)), Err(MLineError::OutOfRange { index: 3, count: 3 }));
        assert!(index_of(&[], &MLine::Index(0)).is_err(), "no description yet: nothing to map to");
    }
}
