//! Defaults, precedence, ranges and the file format.

use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::layout::Size;

#[test]
fn defaults_need_no_flag() {
    let c = ServeArgs::default().resolve().unwrap();
    assert_eq!(c.server.listen, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(c.composite.canvas.0, Size::new(1280, 720));
    assert_eq!(c.composite.fps, 30);
    assert_eq!(c.media.media_timeout(), std::time::Duration::from_secs(10));
    assert!(c.ice.addresses.contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)));
    assert_eq!(c.server.admin_key, None);
}

#[test]
fn media_timeout_and_admin_key_flags() {
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }
    let args = ["tessera", "--media-timeout", "4", "--admin-key", "k3y", "--record-dir", "/tmp/r", "--auto-record"];
    let c = <Cli as clap::Parser>::try_parse_from(args).unwrap().serve.resolve().unwrap();
    assert_eq!(c.media.media_timeout(), std::time::Duration::from_secs(4));
    assert_eq!(c.server.admin_key.as_deref(), Some("k3y"));
    assert_eq!((c.recording.dir.to_str(), c.recording.auto), (Some("/tmp/r"), true));
    assert!(<Cli as clap::Parser>::try_parse_from(["tessera", "--media-timeout", "soon"]).is_err());
    let empty = <Cli as clap::Parser>::try_parse_from(["tessera", "--admin-key", ""]).unwrap().serve.resolve();
    assert_eq!(empty.unwrap().server.admin_key, None, "an empty key is no key");
}

#[test]
fn out_of_range_values_are_refused_not_clamped() {
    let composite = |c: CompositeArgs| ServeArgs { composite: c, ..Default::default() };
    let media = |m: MediaArgs| ServeArgs { media: m, ..Default::default() };
    for (args, name) in [
        (composite(CompositeArgs { fps: Some(0), ..Default::default() }), "fps"),
        (composite(CompositeArgs { fps: Some(120), ..Default::default() }), "fps"),
        (composite(CompositeArgs { video_bitrate: Some(10), ..Default::default() }), "video_bitrate"),
        (composite(CompositeArgs { audio_bitrate: Some(1000), ..Default::default() }), "audio_bitrate"),
        (composite(CompositeArgs { audio_complexity: Some(11), ..Default::default() }), "audio_complexity"),
        (media(MediaArgs { jitter_ms: Some(5000), ..Default::default() }), "jitter_ms"),
        (media(MediaArgs { mix_wait_ms: Some(5000), ..Default::default() }), "mix_wait_ms"),
        (media(MediaArgs { media_timeout: Some(0), ..Default::default() }), "media_timeout"),
    ] {
        let err = args.resolve().unwrap_err().to_string();
        assert!(err.starts_with(name), "{err}");
    }
}

#[test]
fn resolved_config_prints_as_a_loadable_file() {
    let args = ServeArgs {
        composite: CompositeArgs { fps: Some(25), ..Default::default() },
        server: ServerArgs { admin_key: Some("secret".into()), ..Default::default() },
        ..Default::default()
    };
    let c = args.resolve().unwrap();
    let text = c.to_toml();
    assert!(text.contains("[composite]") && text.contains("fps = 25") && !text.contains("secret"), "{text}");
    let path = std::env::temp_dir().join(format!("tessera-printed-{}.toml", std::process::id()));
    std::fs::write(&path, text.replace("admin_key = \"(set)\"\n", "")).unwrap();
    let mut again = Config::from_file(&path).unwrap();
    again.server.admin_key = Some("secret".into());
    assert_eq!(again, c);
}

#[test]
fn file_is_overridden_by_flags() {
    let dir = std::env::temp_dir().join(format!("tessera-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.toml");
    std::fs::write(
        &path,
        "[server]\nlisten = \"0.0.0.0:9000\"\n[composite]\ncanvas = \"640x360\"\nfps = 25\n\
         [ice]\nudp_ports = \"20000-20100\"\nturn = [\"turn://u:p@h:3478\"]\naddresses = [\"10.0.0.1\"]\n",
    )
    .unwrap();
    let args = ServeArgs {
        config: Some(path.clone()),
        composite: CompositeArgs { fps: Some(15), ..Default::default() },
        ..Default::default()
    };
    let c = args.resolve().unwrap();
    assert_eq!(c.server.listen.port(), 9000);
    assert_eq!(c.composite.canvas.0, Size::new(640, 360));
    assert_eq!(c.composite.fps, 15, "the flag wins over the file");
    assert_eq!(c.ice.udp_ports, Some(PortRange { min: 20000, max: 20100 }));
    assert_eq!(c.ice.turn.len(), 1);
    assert_eq!(c.ice.addresses, vec!["10.0.0.1".parse::<IpAddr>().unwrap()]);
    for bad in ["bogus_key = 1\n", "[composite]\nbogus = 1\n", "fps = 25\n"] {
        std::fs::write(&path, bad).unwrap();
        let err = ServeArgs { config: Some(path.clone()), ..Default::default() }.resolve().unwrap_err();
        assert!(format!("{err:#}").contains("unknown field"), "{bad}: {err:#}");
    }
}

#[test]
fn parsers() {
    assert_eq!("1920x1080".parse::<Canvas>().unwrap().0, Size::new(1920, 1080));
    assert!("1921x1080".parse::<Canvas>().is_err());
    assert!("big".parse::<Canvas>().is_err());
    assert!("10-5".parse::<PortRange>().is_err());
    assert_eq!("5-10".parse::<PortRange>().unwrap(), PortRange { min: 5, max: 10 });
}

#[test]
fn turn_for_clients_is_checked_and_its_secret_never_printed() {
    let secret = "0123456789abcdef-turn-secret";
    let ice = |urls: &[&str], secret: Option<&str>| ServeArgs {
        ice: IceArgs {
            turn_urls: Some(urls.iter().map(|u| u.to_string()).collect()),
            turn_secret: secret.map(str::to_owned),
            ..Default::default()
        },
        ..Default::default()
    };
    let c = ice(&["turn:turn.example.com:3478", "turns:turn.example.com:443?transport=tcp"], Some(secret))
        .resolve()
        .unwrap();
    assert_eq!(c.ice.turn_ttl, 3600, "credentials live an hour by default");
    assert!(c.ice.turn_issuer().unwrap().is_some());
    let printed = c.to_toml();
    assert!(printed.contains("turn_secret = \"(set)\"") && !printed.contains(secret), "{printed}");
    for (args, expected) in [
        (ice(&["turn:h"], None), "--turn-urls needs --turn-secret"),
        (ice(&["turn:h"], Some("")), "--turn-urls needs --turn-secret"),
        (ice(&[], Some(secret)), "--turn-secret needs --turn-urls"),
        (ice(&["turn:h"], Some("short")), "--turn-secret must be at least 16 bytes"),
        (ice(&["turn://u:p@h:3478"], Some(secret)), "turn URL \"turn://u:p@h:3478\""),
    ] {
        let err = format!("{:#}", args.resolve().unwrap_err());
        assert!(err.starts_with(expected), "{expected}: {err}");
    }
    let mut long = ice(&["turn:h"], Some(secret));
    long.ice.turn_ttl = Some(30);
    assert!(long.resolve().unwrap_err().to_string().starts_with("turn_ttl"));
    let unset = ServeArgs::default().resolve().unwrap();
    assert!(unset.ice.turn_issuer().unwrap().is_none(), "no TURN configured: clients get none");
    assert!(!unset.to_toml().contains("turn_secret"));
}

#[test]
fn webhooks_are_checked_and_their_secret_never_printed() {
    let secret = "webhook-secret-0123456789";
    let hooks = |urls: &[&str], secret: Option<&str>| ServeArgs {
        webhooks: WebhookArgs {
            urls: Some(urls.iter().map(|u| u.to_string()).collect()),
            secret: secret.map(str::to_owned),
            ..Default::default()
        },
        ..Default::default()
    };
    let c = hooks(&["http://127.0.0.1:9000/hooks", "http://backend.internal/tessera"], Some(secret)).resolve().unwrap();
    assert_eq!((c.webhooks.urls.len(), c.webhooks.retry_for), (2, 60));
    let printed = c.to_toml();
    assert!(printed.contains("[webhooks]") && printed.contains("secret = \"(set)\"") && !printed.contains(secret));
    for (args, expected) in [
        (hooks(&["http://h/x"], None), "--webhook-url needs --webhook-secret"),
        (hooks(&["http://h/x"], Some("")), "--webhook-url needs --webhook-secret"),
        (hooks(&["https://h/x"], Some(secret)), "webhook URL \"https://h/x\": only http://"),
        (hooks(&["h:80/x"], Some(secret)), "webhook URL \"h:80/x\""),
    ] {
        let err = format!("{:#}", args.resolve().unwrap_err());
        assert!(err.starts_with(expected), "{expected}: {err}");
    }
    assert!(hooks(&[], None).resolve().unwrap().webhooks.urls.is_empty(), "no URLs: no secret needed");
}
