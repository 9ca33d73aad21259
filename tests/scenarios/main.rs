//! Every end-to-end scenario, one per file, linked into one test binary.
//!
//! Each scenario starts its own server and real `webrtcbin` peers; nextest still runs every test
//! in a process of its own. One binary instead of one per file: each linked GStreamer, tokio and
//! warp with their debug info (≈ 160 MB apiece), and 45 of them filled a CI machine's disk.
//! Run one scenario with `cargo nextest run -E 'test(/^leave::/)'`, or by a name fragment.

mod common;
mod stage;

mod abrupt_departures;
mod agent_audio;
mod agent_errors;
mod agent_examples;
mod agent_pacing;
mod agent_snapshot;
mod aiortc_publisher;
mod aiortc_viewer;
mod audio_only;
mod bad_signaling;
mod browser_agent_chat;
mod browser_av_sync;
mod browser_constraints;
mod browser_failed;
mod browser_h264;
mod browser_messages;
mod browser_reconnect;
mod browser_room;
mod browser_server_errors;
mod browser_viewer;
mod churn_no_leaks;
mod clip_publisher;
mod codecs;
mod concurrent_rooms;
mod config_sources;
mod crash_recovery;
mod datachannel_events;
mod decoder_garbage;
mod dtx;
mod fleet_failover;
mod fleet_placement;
mod fleet_redis_restart;
mod fleet_split_brain;
mod hd_colours;
mod janus_audiobridge;
mod join_latency;
mod keyframe_requests;
mod layout_custom;
mod layout_spotlight;
mod leave;
mod leave_no_freeze;
mod letterbox;
mod listeners;
mod metrics_scrape;
mod mixminus_switch;
mod mute_badge;
mod offer_sdp;
mod placeholders;
mod publisher_constraints;
mod recording_av_sync;
mod recording_basic;
mod recording_crash;
mod recording_errors;
mod recording_join;
mod recording_restart;
mod rest_api;
mod room_isolation;
mod security_access;
mod security_floods;
mod security_limits;
mod security_media;
mod security_tokens;
mod shutdown;
mod silence_badge;
mod speaker_handover;
mod speaker_pin;
mod stage_rate_limit;
mod stalled_publisher;
mod tile_names;
mod tls;
mod turn_relay;
mod two_publishers;
mod viewer;
mod webhook_events;
mod whip_aiortc;
mod whip_browser;
mod whip_errors;
mod ws_drop;
