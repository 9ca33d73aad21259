//! Configuration: command-line flags, `TESSERA_*` environment variables and a TOML file with
//! sections (`[server]`, `[ice]`, `[composite]`, `[media]`, `[recording]`, `[limits]`, `[fleet]`,
//! `[metrics]`, `[webhooks]`).
//!
//! Precedence: flag > environment > file > built-in default. Each default is written once, in
//! its section's `Default` impl ([`sections`]); the flags ([`ServeArgs`]) are laid over the file
//! with the same keys, so resolving needs no code per setting; `tessera config` prints the
//! result by serializing it; the README's table is generated from both ([`table`]), and a test
//! fails when they differ.

mod args;
mod observability;
pub mod sections;
pub mod table;

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

pub use args::{
    CompositeArgs, FleetArgs, IceArgs, LimitsArgs, MediaArgs, MetricsArgs, RecordingArgs, ServeArgs, ServerArgs,
    WebhookArgs,
};
pub use observability::{MetricsSettings, WebhookSettings};
pub use sections::{
    Canvas, CompositeSettings, FleetSettings, IceSettings, LimitsSettings, MediaSettings, PortRange, RecordingSettings,
    ServerSettings, default_ice_addresses,
};

/// A server's resolved configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[server]`.
    pub server: ServerSettings,
    /// `[ice]`.
    pub ice: IceSettings,
    /// `[composite]`.
    pub composite: CompositeSettings,
    /// `[media]`.
    pub media: MediaSettings,
    /// `[recording]`.
    pub recording: RecordingSettings,
    /// `[limits]`.
    pub limits: LimitsSettings,
    /// `[fleet]`.
    pub fleet: FleetSettings,
    /// `[metrics]`.
    pub metrics: MetricsSettings,
    /// `[webhooks]`.
    pub webhooks: WebhookSettings,
}

impl ServeArgs {
    /// Resolves flags and environment (already in `self`) over the config file over defaults.
    pub fn resolve(self) -> anyhow::Result<Config> {
        let mut merged = toml::Table::try_from(Config::default()).expect("the defaults serialize");
        if let Some(path) = &self.config {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("reading config file {}", path.display()))?;
            let file: toml::Table = text.parse().with_context(|| format!("parsing config file {}", path.display()))?;
            lay_over(&mut merged, file);
            // Unknown keys and wrong types are reported against the file.
            toml::from_str::<Config>(&text).with_context(|| format!("parsing config file {}", path.display()))?;
        }
        lay_over(&mut merged, toml::Table::try_from(&self).expect("flags serialize"));
        // An empty secret (an unset variable in a unit file, say) is no secret.
        for (section, key) in
            [("server", "admin_key"), ("ice", "turn_secret"), ("fleet", "redis_url"), ("webhooks", "secret")]
        {
            if merged[section].get(key).and_then(|k| k.as_str()) == Some("") {
                merged[section].as_table_mut().expect("a section").remove(key);
            }
        }
        let config: Config = merged.try_into().context("resolving the configuration")?;
        config.validated()
    }
}

/// Lays `top`'s keys over `base`, section by section.
fn lay_over(base: &mut toml::Table, top: toml::Table) {
    for (key, value) in top {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(section)), toml::Value::Table(values)) => section.extend(values),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// `value` when it lies in `min..=max`, else an error naming the setting.
fn within<T: PartialOrd + std::fmt::Display>(name: &str, value: T, min: T, max: T) -> anyhow::Result<T> {
    anyhow::ensure!(value >= min && value <= max, "{name} must be between {min} and {max}, not {value}");
    Ok(value)
}

impl Config {
    /// Checks ranges and combinations; out-of-range values are refused, not clamped.
    fn validated(self) -> anyhow::Result<Self> {
        let c = &self.composite;
        within("fps", c.fps, 1, 60)?;
        within("video_bitrate", c.video_bitrate, 50, 50_000)?;
        within("audio_bitrate", c.audio_bitrate, 6, 510)?;
        within("audio_complexity", c.audio_complexity, 0, 10)?;
        within("jitter_ms", self.media.jitter_ms, 0, 2000)?;
        within("mix_wait_ms", self.media.mix_wait_ms, 0, 2000)?;
        within("media_timeout", self.media.media_timeout, 1, 3600)?;
        within("max_active", self.recording.max_active, 0, 10_000)?;
        within("max_duration", self.recording.max_duration, 1, 7 * 24 * 3600)?;
        let (s, l) = (&self.server, &self.limits);
        anyhow::ensure!(s.tls_cert.is_some() == s.tls_key.is_some(), "--tls-cert and --tls-key go together");
        within("max_rooms", l.max_rooms, 1, 100_000)?;
        within("max_participants", l.max_participants, 1, 10_000)?;
        within("connections_per_address", l.connections_per_address, 1, 1_000_000)?;
        within("joins_per_minute", l.joins_per_minute, 1, 1_000_000)?;
        within("join_timeout", l.join_timeout, 1, 3600)?;
        within("max_candidates", l.max_candidates, 1, 10_000)?;
        within("video_size_changes", l.video_size_changes, 1, 1000)?;
        crate::access::Keys::new(&s.token_secret)?;
        within("turn_ttl", self.ice.turn_ttl, 60, 7 * 24 * 3600)?;
        within("fleet ttl_ms", self.fleet.ttl_ms, 300, 600_000)?;
        self.ice.turn_issuer()?;
        self.webhooks.check()?;
        anyhow::ensure!(
            c.video || !self.recording.auto,
            "--auto-record needs video: recordings hold the composite, and --video false turns it off"
        );
        Ok(self)
    }

    /// The settings as a TOML file, in sections (the admin key and secrets masked): what `tessera config`
    /// prints, and a starting point for a config file.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("the configuration serializes")
    }

    /// Loads a TOML file of settings laid over the defaults (no flags or environment).
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        ServeArgs { config: Some(path.to_owned()), ..Default::default() }.resolve()
    }
}

#[cfg(test)]
mod tests;
