//! A Tessera server started for one measurement: `tessera serve` (the binary built beside this
//! one, or `TESSERA_SERVER_BIN`) on a free port, in its own process so that `/proc` measures it
//! alone.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The admin key of the servers started here (loopback only, for kicks, closes, layouts and
/// recordings the load asks for).
pub const ADMIN_KEY: &str = "tessera-bench-admin-key";

/// A running server; dropping it stops it (SIGTERM, then SIGKILL).
pub struct Server {
    child: Child,
    dir: PathBuf,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Server {
    /// Starts `tessera serve` with `extra` flags on top of a loopback-only configuration.
    pub async fn start(extra: &[&str]) -> anyhow::Result<Self> {
        let exe = server_binary()?;
        let dir = std::env::temp_dir().join(format!("tessera-bench-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(&dir)?;
        let log_path = dir.join("server.log");
        let log = std::fs::File::create(&log_path)?;
        let child = crate::loadgen::child::die_with_parent(&mut Command::new(exe))
            .args(["serve", "--listen", "127.0.0.1:0", "--ice-addresses", "127.0.0.1"])
            // Every load peer comes from 127.0.0.1: the per-address limits would stop the load.
            .args(["--connections-per-address", "100000", "--joins-per-minute", "1000000"])
            .args(["--admin-key", ADMIN_KEY])
            .arg("--record-dir")
            .arg(dir.join("recordings"))
            .args(extra)
            .env("RUST_LOG", "warn,tessera=info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting tessera serve")?;
        let mut server = Self { child, dir, addr: SocketAddr::from(([127, 0, 0, 1], 0)) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            if let Some(addr) = log.lines().find_map(|l| l.split("listening on http://").nth(1)) {
                server.addr = addr.trim().parse().context("parsing the listen address")?;
                return Ok(server);
            }
            if Instant::now() > deadline || server.child.try_wait()?.is_some() {
                bail!("tessera serve did not start:\n{log}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// How the server ended, if it has (it should not before it is dropped).
    pub fn exited(&mut self) -> anyhow::Result<Option<std::process::ExitStatus>> {
        Ok(self.child.try_wait()?)
    }

    /// The server's log (stderr). Kept after the drop when the server had died on its own.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            tracing::error!("tessera serve had exited by itself ({status}); its log: {}", self.log_path().display());
            return;
        }
        // SIGTERM lets it close recordings; give it a moment, then make sure.
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The `tessera` binary: `TESSERA_SERVER_BIN`, or the one Cargo built next to this binary.
pub fn server_binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("TESSERA_SERVER_BIN") {
        return Ok(PathBuf::from(path));
    }
    let me = std::env::current_exe().context("locating this binary")?;
    let sibling = me.with_file_name("tessera");
    anyhow::ensure!(
        sibling.exists(),
        "no tessera binary beside {} (build it with `cargo build --release --workspace`, or set TESSERA_SERVER_BIN)",
        me.display()
    );
    Ok(sibling)
}

/// A number unique within this process.
pub fn unique() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
