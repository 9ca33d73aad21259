//! The fixed GStreamer chains, as launch strings kept in `pipelines/*.txt` (the media layer
//! parses them into bins and sets what depends on the configuration by element name). Public
//! so that the benchmark's bare-GStreamer floor runs exactly the same chains.

/// `pipelines/video-mix.txt`: compositor → canvas caps → `raw` tee.
pub const VIDEO_MIX: &str = include_str!("../pipelines/video-mix.txt");
/// `pipelines/audio-mix.txt`: audiomixer (+ silence) → `raw` tee.
pub const AUDIO_MIX: &str = include_str!("../pipelines/audio-mix.txt");
/// `pipelines/vp8-encoder.txt`: vp8enc → `encoded` tee.
pub const VP8_ENCODER: &str = include_str!("../pipelines/vp8-encoder.txt");
/// `pipelines/h264-encoder.txt`: leaky queue → x264enc → `encoded` tee.
pub const H264_ENCODER: &str = include_str!("../pipelines/h264-encoder.txt");
/// `pipelines/opus-encoder.txt`: opusenc → `encoded` tee.
pub const OPUS_ENCODER: &str = include_str!("../pipelines/opus-encoder.txt");
/// `pipelines/pcmu-encoder.txt`: 8 kHz µ-law → `encoded` tee.
pub const PCMU_ENCODER: &str = include_str!("../pipelines/pcmu-encoder.txt");
/// `pipelines/pcma-encoder.txt`: 8 kHz A-law → `encoded` tee.
pub const PCMA_ENCODER: &str = include_str!("../pipelines/pcma-encoder.txt");
/// `pipelines/recorder.txt`: two leaky queues → webmmux → filesink.
pub const RECORDER: &str = include_str!("../pipelines/recorder.txt");
/// `pipelines/snapshot.txt`: leaky queue → 5 fps → jpegenc → appsink (agents' snapshots).
pub const SNAPSHOT: &str = include_str!("../pipelines/snapshot.txt");
