//! A real TURN server for tests: Debian's coturn (`turnserver`), started on a free loopback
//! port with a random shared secret in the TURN REST scheme (`use-auth-secret`), as a production
//! coturn in front of Tessera would run, minus TLS. It never touches the system's coturn
//! service or its port 3478, and dies with the test (killed on drop, and by the kernel if the
//! test process dies first).

use std::hash::{BuildHasher, Hasher};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A running `turnserver` listening for TURN over UDP on 127.0.0.1.
pub struct Coturn {
    child: Child,
    /// Its log file, pid file and user database.
    dir: PathBuf,
    /// Where clients reach it.
    pub addr: SocketAddr,
    /// The `static-auth-secret` Tessera mints credentials with.
    pub secret: String,
}

impl Coturn {
    /// Starts coturn on a free loopback port and waits until it answers a STUN binding request.
    pub async fn start() -> anyhow::Result<Self> {
        let port = UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = std::env::temp_dir().join(format!("tessera-coturn-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let secret = random_hex(32);
        let log = std::fs::File::create(dir.join("turn.log"))?;
        let arg = |name: &str, value: &dyn std::fmt::Display| format!("--{name}={value}");
        let child = tessera_bench::loadgen::child::die_with_parent(&mut Command::new("turnserver"))
            // No /etc/turnserver.conf: everything it does is on this line.
            .arg("-n")
            .args([arg("listening-ip", &"127.0.0.1"), arg("listening-port", &port), arg("relay-ip", &"127.0.0.1")])
            .args(["--use-auth-secret", &arg("static-auth-secret", &secret), "--realm=tessera"])
            // Tessera is on loopback here, and coturn refuses to relay to loopback peers unless told.
            .arg("--allow-loopback-peers")
            // UDP only: no TLS/DTLS listeners (no certificate), no TCP, no telnet CLI on 5766
            // (which two coturns on one machine would both want).
            .args(["--no-tls", "--no-dtls", "--no-tcp", "--no-cli"])
            // Allocations and permissions are logged with -v: the test reads them.
            .args(["-v", "--log-file=stdout", "--simple-log"])
            .arg(arg("pidfile", &dir.join("turn.pid").display()))
            .arg(arg("userdb", &dir.join("turndb").display()))
            .stdout(log.try_clone()?)
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .context("starting turnserver (scripts/install-deps.sh installs coturn)")?;
        let coturn = Self { child, dir, addr: SocketAddr::from(([127, 0, 0, 1], port)), secret };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !coturn.answers_stun().await {
            if Instant::now() > deadline {
                bail!("turnserver did not answer STUN within 10 s; its log:\n{}", coturn.log());
            }
        }
        Ok(coturn)
    }

    /// The URL Tessera hands to clients.
    pub fn url(&self) -> String {
        format!("turn:{}?transport=udp", self.addr)
    }

    /// What coturn has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("turn.log")).unwrap_or_default()
    }

    /// Sends a STUN binding request (RFC 5389) and waits up to 200 ms for its success response.
    async fn answers_stun(&self) -> bool {
        let Ok(socket) = tokio::net::UdpSocket::bind("127.0.0.1:0").await else { return false };
        let tid: [u8; 12] = random_hex(12).as_bytes()[..12].try_into().unwrap();
        let mut request = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
        request.extend_from_slice(&tid);
        if socket.send_to(&request, self.addr).await.is_err() {
            tokio::time::sleep(Duration::from_millis(200)).await;
            return false;
        }
        let mut reply = [0u8; 1500];
        match tokio::time::timeout(Duration::from_millis(200), socket.recv(&mut reply)).await {
            Ok(Ok(n)) => n >= 20 && reply[..2] == [0x01, 0x01] && reply[8..20] == tid,
            _ => false,
        }
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        if std::thread::panicking() {
            println!("coturn's log:\n{}", self.log());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `len` random hex digits (std's per-process random hasher keys; enough for a test secret).
fn random_hex(len: usize) -> String {
    let mut out = String::new();
    while out.len() < len {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(out.len());
        out += &format!("{:016x}", h.finish());
    }
    out.truncate(len);
    out
}
