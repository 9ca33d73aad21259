//! Configuration: command-line flags, `TESSERA_*` environment variables and a TOML file.
//!
//! Precedence: flag > environment > file > built-in default. Every setting has a default that
//! works for a local try, so `tessera serve` needs no flag.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::Context;
use serde::Deserialize;

use crate::layout::Size;

/// Settings of `tessera serve`; each may come from a flag, the environment or the config file.
#[derive(Debug, Default, Clone, clap::Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeArgs {
    /// TOML file with any of these settings (snake_case keys).
    #[arg(long, env = "TESSERA_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// HTTP/WebSocket listen address [default: 127.0.0.1:8080].
    #[arg(long, env = "TESSERA_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Local IP addresses ICE gathers candidates on, comma-separated
    /// [default: 127.0.0.1 and the address of the default route].
    #[arg(long, env = "TESSERA_ICE_ADDRESSES", value_delimiter = ',')]
    pub ice_addresses: Option<Vec<IpAddr>>,
    /// Public IP announced in host candidates instead of the local one (1:1 NAT, containers).
    #[arg(long, env = "TESSERA_ANNOUNCE_IP")]
    pub announce_ip: Option<IpAddr>,
    /// UDP port range for media, `MIN-MAX` [default: any port].
    #[arg(long, env = "TESSERA_UDP_PORTS")]
    pub udp_ports: Option<PortRange>,
    /// STUN server, `stun://host:port`.
    #[arg(long, env = "TESSERA_STUN")]
    pub stun: Option<String>,
    /// TURN servers, `turn(s)://user:password@host:port`, comma-separated.
    #[arg(long, env = "TESSERA_TURN", value_delimiter = ',')]
    pub turn: Option<Vec<String>>,
    /// Composite canvas size, `WIDTHxHEIGHT` [default: 1280x720].
    #[arg(long, env = "TESSERA_CANVAS")]
    pub canvas: Option<Canvas>,
    /// Composite frame rate [default: 30].
    #[arg(long, env = "TESSERA_FPS")]
    pub fps: Option<u32>,
    /// Composite video bitrate in kbit/s [default: 1500].
    #[arg(long, env = "TESSERA_VIDEO_BITRATE")]
    pub video_bitrate: Option<u32>,
    /// Audio bitrate per encoded mix in kbit/s [default: 32].
    #[arg(long, env = "TESSERA_AUDIO_BITRATE")]
    pub audio_bitrate: Option<u32>,
    /// Receive jitter-buffer latency in milliseconds [default: 50].
    #[arg(long, env = "TESSERA_JITTER_MS")]
    pub jitter_ms: Option<u32>,
    /// Seconds without inbound RTP after which a publisher is removed [default: 10].
    #[arg(long, env = "TESSERA_MEDIA_TIMEOUT")]
    pub media_timeout: Option<u64>,
    /// Bearer key guarding the mutating REST calls; without it they are allowed only when
    /// listening on loopback.
    #[arg(long, env = "TESSERA_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,
    /// Directory recordings are written to [default: ./recordings].
    #[arg(long, env = "TESSERA_RECORD_DIR")]
    pub record_dir: Option<PathBuf>,
    /// Record every room from its first join to its end.
    #[arg(long, env = "TESSERA_AUTO_RECORD", num_args = 0..=1, default_missing_value = "true")]
    pub auto_record: Option<bool>,
    /// Draw names, muted badges and the speaker border on the composite [default: true].
    #[arg(long, env = "TESSERA_DECORATIONS", num_args = 0..=1, default_missing_value = "true")]
    pub decorations: Option<bool>,
    /// Mix and send video [default: true]; false makes every room audio-only: no compositor,
    /// no video encoder, offers without a video m-line (audio conferences).
    #[arg(long, env = "TESSERA_VIDEO", num_args = 0..=1, default_missing_value = "true")]
    pub video: Option<bool>,
    /// Directory of the browser client [default: ./assets, else the source tree's].
    #[arg(long, env = "TESSERA_ASSETS_DIR")]
    pub assets_dir: Option<PathBuf>,
}

/// An inclusive UDP port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct PortRange {
    /// Lowest port.
    pub min: u16,
    /// Highest port.
    pub max: u16,
}

impl FromStr for PortRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, b) = s.split_once('-').ok_or("expected MIN-MAX")?;
        let min: u16 = a.trim().parse().map_err(|_| "bad MIN port")?;
        let max: u16 = b.trim().parse().map_err(|_| "bad MAX port")?;
        if min == 0 || min > max {
            return Err("need 0 < MIN <= MAX".into());
        }
        Ok(Self { min, max })
    }
}

impl TryFrom<String> for PortRange {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

/// A canvas size written `WIDTHxHEIGHT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Canvas(pub Size);

impl FromStr for Canvas {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (w, h) = s.split_once('x').ok_or("expected WIDTHxHEIGHT")?;
        let w: u32 = w.trim().parse().map_err(|_| "bad width")?;
        let h: u32 = h.trim().parse().map_err(|_| "bad height")?;
        if !(16..=3840).contains(&w) || !(16..=2160).contains(&h) || w % 2 == 1 || h % 2 == 1 {
            return Err("canvas must be even, 16x16 to 3840x2160".into());
        }
        Ok(Self(Size::new(w, h)))
    }
}

impl TryFrom<String> for Canvas {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

/// The resolved configuration of a server.
#[derive(Debug, Clone)]
pub struct Config {
    /// HTTP/WebSocket listen address.
    pub listen: SocketAddr,
    /// Directory served at `/`.
    pub assets_dir: PathBuf,
    /// Bearer key for the mutating REST calls.
    pub admin_key: Option<String>,
    /// Everything the media layer needs.
    pub media: MediaConfig,
}

/// Media settings shared by every room.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaConfig {
    /// Local addresses ICE gathers on.
    pub ice_addresses: Vec<IpAddr>,
    /// Address written into host candidates instead of the local one.
    pub announce_ip: Option<IpAddr>,
    /// UDP port range for ICE.
    pub udp_ports: Option<PortRange>,
    /// STUN server URI.
    pub stun: Option<String>,
    /// TURN server URIs.
    pub turn: Vec<String>,
    /// Composite size.
    pub canvas: Size,
    /// Composite frame rate.
    pub fps: u32,
    /// Composite video bitrate, kbit/s.
    pub video_bitrate_kbps: u32,
    /// Audio bitrate per mix, kbit/s.
    pub audio_bitrate_kbps: u32,
    /// Receive jitter-buffer latency, ms.
    pub jitter_ms: u32,
    /// A publisher sending no RTP for this long is removed.
    pub media_timeout: std::time::Duration,
    /// Where recordings go.
    pub record_dir: PathBuf,
    /// Record every room from its first join to its end.
    pub auto_record: bool,
    /// Draw names, muted badges and the speaker border (placeholders are always drawn).
    pub decorations: bool,
    /// Mix and send video; false: audio-only rooms.
    pub video: bool,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            ice_addresses: default_ice_addresses(),
            announce_ip: None,
            udp_ports: None,
            stun: None,
            turn: Vec::new(),
            canvas: Size::new(1280, 720),
            fps: 30,
            video_bitrate_kbps: 1500,
            audio_bitrate_kbps: 32,
            jitter_ms: 50,
            media_timeout: std::time::Duration::from_secs(10),
            record_dir: PathBuf::from("recordings"),
            auto_record: false,
            decorations: true,
            video: true,
        }
    }
}

/// Loopback plus the address of the default route, if the machine has one. Found by
/// "connecting" a UDP socket, which sends nothing.
pub fn default_ice_addresses() -> Vec<IpAddr> {
    let mut out = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
    let routed =
        UdpSocket::bind("0.0.0.0:0").and_then(|s| s.connect("192.0.2.1:9").map(|_| s)).and_then(|s| s.local_addr());
    if let Ok(addr) = routed {
        let ip = addr.ip();
        if !ip.is_loopback() && !ip.is_unspecified() {
            out.push(ip);
        }
    }
    out
}

impl ServeArgs {
    /// Resolves flags and environment (already in `self`) over the config file over defaults.
    pub fn resolve(self) -> anyhow::Result<Config> {
        let file = match &self.config {
            Some(path) => load_file(path)?,
            None => ServeArgs::default(),
        };
        let d = MediaConfig::default();
        macro_rules! pick {
            ($field:ident) => {
                self.$field.or(file.$field)
            };
        }
        let media = MediaConfig {
            ice_addresses: pick!(ice_addresses).unwrap_or(d.ice_addresses),
            announce_ip: pick!(announce_ip),
            udp_ports: pick!(udp_ports),
            stun: pick!(stun),
            turn: pick!(turn).unwrap_or_default(),
            canvas: pick!(canvas).map(|c| c.0).unwrap_or(d.canvas),
            fps: within("fps", pick!(fps).unwrap_or(d.fps), 1, 60)?,
            video_bitrate_kbps: within(
                "video_bitrate",
                pick!(video_bitrate).unwrap_or(d.video_bitrate_kbps),
                50,
                50_000,
            )?,
            audio_bitrate_kbps: within("audio_bitrate", pick!(audio_bitrate).unwrap_or(d.audio_bitrate_kbps), 6, 510)?,
            jitter_ms: within("jitter_ms", pick!(jitter_ms).unwrap_or(d.jitter_ms), 0, 2000)?,
            media_timeout: match pick!(media_timeout) {
                Some(s) => std::time::Duration::from_secs(within("media_timeout", s, 1, 3600)?),
                None => d.media_timeout,
            },
            record_dir: pick!(record_dir).unwrap_or(d.record_dir),
            auto_record: pick!(auto_record).unwrap_or(d.auto_record),
            decorations: pick!(decorations).unwrap_or(d.decorations),
            video: pick!(video).unwrap_or(d.video),
        };
        anyhow::ensure!(
            media.video || !media.auto_record,
            "--auto-record needs video: recordings hold the composite, and --video false turns it off"
        );
        Ok(Config {
            listen: pick!(listen).unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080))),
            assets_dir: pick!(assets_dir).unwrap_or_else(default_assets_dir),
            admin_key: pick!(admin_key).filter(|k| !k.is_empty()),
            media,
        })
    }
}

/// `value` when it lies in `min..=max`, else an error naming the setting.
fn within<T: PartialOrd + std::fmt::Display>(name: &str, value: T, min: T, max: T) -> anyhow::Result<T> {
    anyhow::ensure!(value >= min && value <= max, "{name} must be between {min} and {max}, not {value}");
    Ok(value)
}

impl Config {
    /// The resolved settings as TOML, in the config file's keys (the admin key masked): what
    /// `tessera config` prints, and a starting point for a config file.
    pub fn to_toml(&self) -> String {
        use toml::Value;
        let m = &self.media;
        let strings = |v: &[String]| Value::Array(v.iter().cloned().map(Value::String).collect());
        let mut t = toml::Table::new();
        let mut put = |k: &str, v: Value| {
            t.insert(k.to_owned(), v);
        };
        put("listen", Value::String(self.listen.to_string()));
        let ips: Vec<String> = m.ice_addresses.iter().map(IpAddr::to_string).collect();
        put("ice_addresses", strings(&ips));
        if let Some(ip) = m.announce_ip {
            put("announce_ip", Value::String(ip.to_string()));
        }
        if let Some(p) = m.udp_ports {
            put("udp_ports", Value::String(format!("{}-{}", p.min, p.max)));
        }
        if let Some(stun) = &m.stun {
            put("stun", Value::String(stun.clone()));
        }
        put("turn", strings(&m.turn));
        put("canvas", Value::String(format!("{}x{}", m.canvas.width, m.canvas.height)));
        put("fps", Value::Integer(m.fps.into()));
        put("video_bitrate", Value::Integer(m.video_bitrate_kbps.into()));
        put("audio_bitrate", Value::Integer(m.audio_bitrate_kbps.into()));
        put("jitter_ms", Value::Integer(m.jitter_ms.into()));
        put("media_timeout", Value::Integer(m.media_timeout.as_secs() as i64));
        if self.admin_key.is_some() {
            put("admin_key", Value::String("(set)".into()));
        }
        put("record_dir", Value::String(m.record_dir.display().to_string()));
        put("auto_record", Value::Boolean(m.auto_record));
        put("decorations", Value::Boolean(m.decorations));
        put("video", Value::Boolean(m.video));
        put("assets_dir", Value::String(self.assets_dir.display().to_string()));
        toml::to_string(&t).expect("a TOML table serializes")
    }
}

fn load_file(path: &Path) -> anyhow::Result<ServeArgs> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))
}

/// `./assets` when it exists (run from a checkout or the container's work dir), else the
/// source tree's `assets/`.
fn default_assets_dir() -> PathBuf {
    let local = PathBuf::from("assets");
    if local.join("index.html").exists() { local } else { Path::new(env!("CARGO_MANIFEST_DIR")).join("assets") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_no_flag() {
        let c = ServeArgs::default().resolve().unwrap();
        assert_eq!(c.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(c.media.canvas, Size::new(1280, 720));
        assert_eq!(c.media.fps, 30);
        assert_eq!(c.media.media_timeout, std::time::Duration::from_secs(10));
        assert!(c.media.ice_addresses.contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert_eq!(c.media.media_timeout, std::time::Duration::from_secs(10));
        assert_eq!(c.admin_key, None);
    }

    #[test]
    fn media_timeout_and_admin_key_flags() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            serve: ServeArgs,
        }
        let args = ["tessera", "--media-timeout", "4", "--admin-key", "k3y"];
        let c = <Cli as clap::Parser>::try_parse_from(args).unwrap().serve.resolve().unwrap();
        assert_eq!(c.media.media_timeout, std::time::Duration::from_secs(4));
        assert_eq!(c.admin_key.as_deref(), Some("k3y"));
        assert!(<Cli as clap::Parser>::try_parse_from(["tessera", "--media-timeout", "soon"]).is_err());
    }

    #[test]
    fn out_of_range_values_are_refused_not_clamped() {
        for (args, name) in [
            (ServeArgs { fps: Some(0), ..Default::default() }, "fps"),
            (ServeArgs { fps: Some(120), ..Default::default() }, "fps"),
            (ServeArgs { video_bitrate: Some(10), ..Default::default() }, "video_bitrate"),
            (ServeArgs { audio_bitrate: Some(1000), ..Default::default() }, "audio_bitrate"),
            (ServeArgs { jitter_ms: Some(5000), ..Default::default() }, "jitter_ms"),
            (ServeArgs { media_timeout: Some(0), ..Default::default() }, "media_timeout"),
        ] {
            let err = args.resolve().unwrap_err().to_string();
            assert!(err.starts_with(name), "{err}");
        }
    }

    #[test]
    fn resolved_config_prints_as_a_loadable_file() {
        let c = ServeArgs { fps: Some(25), admin_key: Some("secret".into()), ..Default::default() }.resolve().unwrap();
        let text = c.to_toml();
        assert!(text.contains("fps = 25") && !text.contains("secret"), "{text}");
        let mut again: ServeArgs = toml::from_str(&text.replace("admin_key = \"(set)\"\n", "")).unwrap();
        again.admin_key = Some("secret".into());
        assert_eq!(again.resolve().unwrap().media, c.media);
    }

    #[test]
    fn file_is_overridden_by_flags() {
        let dir = std::env::temp_dir().join(format!("tessera-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.toml");
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:9000\"\ncanvas = \"640x360\"\nfps = 25\nudp_ports = \"20000-20100\"\n\
             turn = [\"turn://u:p@h:3478\"]\nice_addresses = [\"10.0.0.1\"]\n",
        )
        .unwrap();
        let args = ServeArgs { config: Some(path.clone()), fps: Some(15), ..Default::default() };
        let c = args.resolve().unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.media.canvas, Size::new(640, 360));
        assert_eq!(c.media.fps, 15, "the flag wins over the file");
        assert_eq!(c.media.udp_ports, Some(PortRange { min: 20000, max: 20100 }));
        assert_eq!(c.media.turn.len(), 1);
        assert_eq!(c.media.ice_addresses, vec!["10.0.0.1".parse::<IpAddr>().unwrap()]);
        std::fs::write(&path, "bogus_key = 1\n").unwrap();
        let err = ServeArgs { config: Some(path), ..Default::default() }.resolve().unwrap_err();
        assert!(format!("{err:#}").contains("bogus_key"), "{err:#}");
    }

    #[test]
    fn parsers() {
        assert_eq!("1920x1080".parse::<Canvas>().unwrap().0, Size::new(1920, 1080));
        assert!("1921x1080".parse::<Canvas>().is_err());
        assert!("big".parse::<Canvas>().is_err());
        assert!("10-5".parse::<PortRange>().is_err());
        assert_eq!("5-10".parse::<PortRange>().unwrap(), PortRange { min: 5, max: 10 });
    }
}
