//! The fixed GStreamer chains, as launch strings kept in `pipelines/*.txt` (the media layer
//! parses them into bins and sets what depends on the configuration by element name). Public
//! so that the benchmark's bare-GStreamer floor runs exactly the same chains.

/// `pipelines/video-mix.txt`: compositor → canvas caps → vp8enc → rtpvp8pay.
pub const VIDEO_MIX: &str = include_str!("../pipelines/video-mix.txt");
/// `pipelines/audio-mix.txt`: audiomixer (+ silence) → opusenc → rtpopuspay.
pub const AUDIO_MIX: &str = include_str!("../pipelines/audio-mix.txt");
/// `pipelines/recorder.txt`: two leaky queues → webmmux → filesink.
pub const RECORDER: &str = include_str!("../pipelines/recorder.txt");

#[cfg(test)]
mod tests {
    use tessera_webrtc::codecs::{OPUS_PT, VP8_PT};

    #[test]
    fn payloaders_use_the_negotiated_payload_types() {
        assert!(super::VIDEO_MIX.contains(&format!("rtpvp8pay name=vp8pay pt={VP8_PT} ")), "video-mix.txt");
        assert!(super::AUDIO_MIX.contains(&format!("rtpopuspay name=opuspay pt={OPUS_PT}")), "audio-mix.txt");
    }
}
