//! What WHIP and WHEP clients send that is SDP: the offer, checked before anything is built,
//! and trickled candidate fragments (RFC 8840).

/// The offer in `body`, if it can start a WebRTC session: checked before anything is built,
/// because GStreamer's parser takes any text (lines it does not know are skipped, so "hello"
/// is an SDP message without media), asserts on an empty buffer, and webrtcbin never answers
/// an offer without media, which would hold a participant in the room until the join limit.
pub(super) fn parse_offer(body: &[u8]) -> Result<gst_sdp::SDPMessage, &'static str> {
    let text = std::str::from_utf8(body).map_err(|_| "the offer is not text")?;
    if !text.starts_with("v=0") {
        return Err("the offer is not SDP (it must begin with v=0)");
    }
    let offer = gst_sdp::SDPMessage::parse_buffer(text.as_bytes()).map_err(|_| "the offer is not valid SDP")?;
    if offer.medias_len() == 0 {
        return Err("the offer has no media");
    }
    let session = |key: &str| offer.attribute_val(key).is_some();
    for media in offer.medias() {
        let has = |key: &str| media.attribute_val(key).is_some() || session(key);
        if !(has("ice-ufrag") && has("ice-pwd") && has("fingerprint")) {
            return Err("every m-line needs ICE credentials and a DTLS fingerprint");
        }
    }
    Ok(offer)
}

/// Why a trickle fragment is not taken.
#[derive(Debug, PartialEq)]
pub(super) enum Trickle {
    /// It carries new ICE credentials.
    Restart,
    /// It does not read.
    Bad(String),
}

/// The candidates of an SDP fragment (RFC 8840), each with its m-line index.
pub(super) fn trickled(fragment: &str, mids: &[String]) -> Result<Vec<(u32, String)>, Trickle> {
    let mut mline = 0u32;
    let mut found = Vec::new();
    for line in fragment.lines().map(str::trim) {
        if line.starts_with("a=ice-ufrag:") || line.starts_with("a=ice-pwd:") {
            return Err(Trickle::Restart);
        }
        if let Some(mid) = line.strip_prefix("a=mid:") {
            let at = mids.iter().position(|m| m == mid).ok_or_else(|| Trickle::Bad(format!("unknown mid {mid:?}")))?;
            mline = at as u32;
        } else if let Some(candidate) = line.strip_prefix("a=")
            && candidate.starts_with("candidate:")
        {
            if found.len() >= 64 {
                return Err(Trickle::Bad("too many candidates".into()));
            }
            found.push((mline, candidate.to_owned()));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_without_media_or_credentials_are_refused_before_parsing_reaches_webrtcbin() {
        gst::init().unwrap();
        let media = "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n";
        let head = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";
        let ice = "a=ice-ufrag:u\r\na=ice-pwd:pppppppppppppppppppppp\r\na=fingerprint:sha-256 AB:CD\r\n";
        assert!(parse_offer(format!("{head}{ice}{media}").as_bytes()).is_ok(), "credentials at session level");
        assert!(parse_offer(format!("{head}{media}{ice}").as_bytes()).is_ok(), "credentials in the m-line");
        assert_eq!(
            parse_offer(format!("{head}{media}").as_bytes()).err(),
            Some("every m-line needs ICE credentials and a DTLS fingerprint")
        );
        assert_eq!(parse_offer(format!("{head}{ice}").as_bytes()).err(), Some("the offer has no media"));
        for junk in [&b""[..], b"hello", b"\xff\xfe", b"\0\x01"] {
            assert!(parse_offer(junk).is_err(), "{junk:?}");
        }
    }

    #[test]
    fn trickled_candidates_find_their_m_line_and_restarts_are_refused() {
        let mids = vec!["0".to_owned(), "1".to_owned()];
        let fragment = "a=group:BUNDLE 0 1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:1\r\n\
                        a=candidate:1 1 udp 2130706431 192.0.2.1 5000 typ host\r\na=end-of-candidates\r\n";
        assert_eq!(
            trickled(fragment, &mids),
            Ok(vec![(1, "candidate:1 1 udp 2130706431 192.0.2.1 5000 typ host".to_owned())])
        );
        assert_eq!(trickled("a=ice-ufrag:new\r\na=ice-pwd:x\r\n", &mids), Err(Trickle::Restart));
        assert!(matches!(trickled("a=mid:7\r\n", &mids), Err(Trickle::Bad(_))));
    }
}
