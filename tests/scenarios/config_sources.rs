//! Every setting comes from a flag, a `TESSERA_*` environment variable or the `--config` TOML
//! file, in that order of precedence, checked on the real binary; bad values are refused with a
//! message naming the setting, and a server configured only through the environment serves.

use std::process::Command;

fn tessera() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
    cmd.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd
}

fn value<'a>(toml: &'a str, key: &str) -> &'a str {
    toml.lines().find_map(|l| l.strip_prefix(&format!("{key} = "))).unwrap_or_else(|| panic!("{key} in {toml}"))
}

#[test]
fn flags_beat_environment_beat_file() {
    let dir = std::env::temp_dir().join(format!("tessera-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tessera.toml");
    std::fs::write(
        &file,
        "[composite]\nfps = 20\ncanvas = \"800x600\"\nvideo_bitrate = 900\n[ice]\nudp_ports = \"20000-20100\"\n",
    )
    .unwrap();
    let out = tessera()
        .args(["config", "--config", file.to_str().unwrap(), "--video-bitrate", "1000"])
        .env("TESSERA_FPS", "25")
        .env("TESSERA_VIDEO_BITRATE", "1200")
        .env("TESSERA_TURN", "turn://u:p@a:3478,turn://u:p@b:3478")
        .env("TESSERA_MEDIA_TIMEOUT", "7")
        .env("TESSERA_ADMIN_KEY", "s3cret")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(value(&text, "fps"), "25", "the environment wins over the file");
    assert_eq!(value(&text, "video_bitrate"), "1000", "a flag wins over the environment");
    assert_eq!(value(&text, "canvas"), "\"800x600\"", "the file wins over the default");
    assert_eq!(value(&text, "udp_ports"), "\"20000-20100\"");
    assert_eq!(value(&text, "media_timeout"), "7");
    assert_eq!(value(&text, "turn"), r#"["turn://u:p@a:3478", "turn://u:p@b:3478"]"#);
    assert!(!text.contains("s3cret"), "the admin key is never printed");
    assert_eq!(value(&text, "listen"), "\"127.0.0.1:8080\"", "no setting needed for a local try");
}

#[test]
fn bad_values_are_refused_with_the_setting_named() {
    for (var, val, name) in [
        ("TESSERA_FPS", "0", "fps"),
        ("TESSERA_CANVAS", "99x99", "canvas"),
        ("TESSERA_UDP_PORTS", "9-5", "udp-ports"),
        ("TESSERA_AUDIO_BITRATE", "9000", "audio_bitrate"),
    ] {
        let out = tessera().arg("config").env(var, val).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        println!("{var}={val}: {}", err.trim());
        assert!(!out.status.success(), "{var}={val} accepted");
        assert!(err.contains(name), "{var}={val}: {err}");
    }
}

#[test]
fn a_server_configured_by_environment_alone_serves() {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut child = tessera()
        .arg("serve")
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .env("TESSERA_ICE_ADDRESSES", "127.0.0.1")
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.split("listening on http://").nth(1).map(|a| a.trim().to_owned()))
        .expect("listening line");
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    write!(stream, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    println!("{addr}: {}", reply.lines().next().unwrap_or_default());
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    child.kill().unwrap();
    child.wait().unwrap();
}
