//! The peer in the benchmark: Janus (the Debian `janus` package) with its AudioBridge plugin,
//! started with a configuration of our own and driven over its HTTP API.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use tessera_client::rest;

/// The AudioBridge room the benchmark uses.
pub const ROOM: u64 = 1234;
/// Plugin, transport and logger folders of the Debian package, by architecture.
const LIB_DIRS: &[&str] = &["/usr/lib/x86_64-linux-gnu/janus", "/usr/lib/aarch64-linux-gnu/janus", "/usr/lib/janus"];

/// A running Janus with only the AudioBridge plugin and the HTTP transport on loopback.
pub struct Janus {
    child: Child,
    dir: PathBuf,
    /// The HTTP API's address.
    pub api: SocketAddr,
}

impl Janus {
    /// Writes a configuration into a fresh directory and starts `janus` on a free port.
    pub async fn start() -> anyhow::Result<Self> {
        let lib = LIB_DIRS
            .iter()
            .map(Path::new)
            .find(|d| d.join("plugins/libjanus_audiobridge.so").exists())
            .context("Janus is not installed (scripts/install-deps.sh --bench installs it)")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = std::env::temp_dir().join(format!("tessera-bench-janus-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        write_config(&dir, lib, port)?;
        let log = std::fs::File::create(dir.join("janus.log"))?;
        let mut command = Command::new("janus");
        // The same SRTP as Tessera's, so the comparison is of the audio work, not of NSS.
        if let tessera_webrtc::srtp::Preloaded::Library(srtp) = tessera_webrtc::srtp::preload() {
            command.env("LD_PRELOAD", srtp);
        }
        let child = crate::loadgen::child::die_with_parent(&mut command)
            .arg("--configs-folder")
            .arg(&dir)
            .arg("--config")
            .arg(dir.join("janus.jcfg"))
            .stdout(log.try_clone()?)
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .context("starting janus")?;
        let janus = Self { child, dir, api: SocketAddr::from(([127, 0, 0, 1], port)) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while janus.call("/janus", json!({ "janus": "info" })).await.is_err() {
            if Instant::now() > deadline {
                bail!("janus did not answer within 10 s; see {}", janus.dir.join("janus.log").display());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(janus)
    }

    /// What Janus has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("janus.log")).unwrap_or_default()
    }

    /// Janus's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends one API request (a transaction id is added) and returns the reply.
    pub async fn call(&self, path: &str, mut body: Value) -> anyhow::Result<Value> {
        body["transaction"] = json!(format!("t{}", rand_u32()));
        let (status, reply) = rest::request(self.api, "POST", path, None, &body.to_string()).await?;
        if status != 200 || reply["janus"] == "error" {
            bail!("janus {path}: {status} {reply}");
        }
        Ok(reply)
    }

    /// Creates a session and attaches an AudioBridge handle: (session, handle).
    pub async fn attach(&self) -> anyhow::Result<(u64, u64)> {
        let session =
            self.call("/janus", json!({ "janus": "create" })).await?["data"]["id"].as_u64().context("no session id")?;
        let handle = self
            .call(&format!("/janus/{session}"), json!({ "janus": "attach", "plugin": "janus.plugin.audiobridge" }))
            .await?["data"]["id"]
            .as_u64()
            .context("no handle id")?;
        Ok((session, handle))
    }

    /// Joins `ROOM` on `handle` with an SDP offer and returns Janus's answer.
    pub async fn join(&self, (session, handle): (u64, u64), name: &str, offer: &str) -> anyhow::Result<String> {
        let body = json!({
            "janus": "message",
            "body": { "request": "join", "room": ROOM, "display": name },
            "jsep": { "type": "offer", "sdp": offer },
        });
        self.call(&format!("/janus/{session}/{handle}"), body).await?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            // Long poll: returns an event or, after 30 s, a keepalive.
            let (_, event) = rest::request(self.api, "GET", &format!("/janus/{session}?maxev=1"), None, "").await?;
            if let Some(sdp) = event["jsep"]["sdp"].as_str() {
                return Ok(sdp.to_owned());
            }
            if event["plugindata"]["data"]["error"].is_string() {
                bail!("janus refused the join: {event}");
            }
        }
        bail!("no answer from janus within 10 s")
    }

    /// Keeps `session` from timing out (Janus drops sessions idle for 60 s).
    pub async fn keepalive(&self, session: u64) -> anyhow::Result<()> {
        self.call(&format!("/janus/{session}"), json!({ "janus": "keepalive" })).await.map(drop)
    }
}

impl Drop for Janus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A transaction id: unique enough within one run.
fn rand_u32() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Janus's configuration: only AudioBridge and HTTP, warnings-only logging, one 48 kHz room,
/// ICE on the host's own interfaces (Janus never gathers on loopback; the peers reach it
/// through the kernel's local route all the same).
fn write_config(dir: &Path, lib: &Path, port: u16) -> anyhow::Result<()> {
    let others = |kind: &str, keep: &str| -> anyhow::Result<String> {
        let mut names: Vec<String> = std::fs::read_dir(lib.join(kind))?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".so") && n != keep)
            .collect();
        names.sort();
        Ok(names.join(","))
    };
    let main = format!(
        "general: {{\n  configs_folder = \"{dir}\"\n  plugins_folder = \"{lib}/plugins\"\n  \
         transports_folder = \"{lib}/transports\"\n  events_folder = \"{lib}/events\"\n  \
         loggers_folder = \"{lib}/loggers\"\n  debug_level = 3\n}}\n\
         plugins: {{\n  disable = \"{plugins}\"\n}}\n\
         transports: {{\n  disable = \"{transports}\"\n}}\n\
         loggers: {{\n  disable = \"{loggers}\"\n}}\n\
         events: {{\n  broadcast = false\n}}\n",
        dir = dir.display(),
        lib = lib.display(),
        plugins = others("plugins", "libjanus_audiobridge.so")?,
        transports = others("transports", "libjanus_http.so")?,
        loggers = others("loggers", "")?,
    );
    std::fs::write(dir.join("janus.jcfg"), main)?;
    std::fs::write(
        dir.join("janus.transport.http.jcfg"),
        format!(
            "general: {{\n  base_path = \"/janus\"\n  http = true\n  ip = \"127.0.0.1\"\n  port = {port}\n  \
             https = false\n}}\nadmin: {{\n  admin_http = false\n}}\n"
        ),
    )?;
    std::fs::write(
        dir.join("janus.plugin.audiobridge.jcfg"),
        format!(
            "general: {{\n}}\nroom-{ROOM}: {{\n  description = \"tessera bench\"\n  sampling_rate = 48000\n  \
             record = false\n}}\n"
        ),
    )?;
    Ok(())
}
