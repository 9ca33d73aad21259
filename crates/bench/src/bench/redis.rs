//! A real `redis-server` (Debian's) for a fleet of Tessera nodes under measurement or test: on a
//! free loopback port, without persistence, killed on drop and with its parent.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A running `redis-server` on 127.0.0.1.
pub struct Redis {
    /// Its port (kept across a restart with [`Redis::start_on`]).
    pub port: u16,
    child: tokio::process::Child,
}

impl Redis {
    /// Starts a Redis on a free loopback port.
    pub async fn start() -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        Self::start_on(port).await
    }

    /// Starts a Redis on `port` and waits until it answers `PING`.
    pub async fn start_on(port: u16) -> anyhow::Result<Self> {
        let mut command = tokio::process::Command::new("redis-server");
        crate::loadgen::child::die_with_parent(command.as_std_mut());
        let child = command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting redis-server (scripts/install-deps.sh installs it)")?;
        let redis = Self { port, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !redis.answers().await {
            if Instant::now() > deadline {
                bail!("redis-server did not answer PING on port {port} within 10 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(redis)
    }

    /// `redis://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn answers(&self) -> bool {
        let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await else { return false };
        let mut reply = [0u8; 7];
        s.write_all(b"PING\r\n").await.is_ok() && s.read_exact(&mut reply).await.is_ok() && &reply == b"+PONG\r\n"
    }

    /// Sends one command (inline form: words separated by spaces, none containing one) and
    /// returns the first line of the reply (`+OK`, `:1`, `-ERR …`), or a bulk string's value
    /// (`GET`, `HGET`; `$-1` when there is none).
    pub async fn command(&self, words: &[&str]) -> anyhow::Result<String> {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
        s.write_all(format!("{}\r\n", words.join(" ")).as_bytes()).await?;
        let mut reply = Vec::new();
        let mut byte = [0u8; 1];
        while !reply.ends_with(b"\r\n") {
            s.read_exact(&mut byte).await?;
            reply.push(byte[0]);
        }
        let line = String::from_utf8_lossy(&reply).trim_end().to_owned();
        if let Some(len) = line.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()) {
            let mut value = vec![0u8; len + 2];
            s.read_exact(&mut value).await?;
            value.truncate(len);
            return Ok(String::from_utf8_lossy(&value).into_owned());
        }
        Ok(line)
    }

    /// `kill -9`, waits until it is gone, and returns its port (to start it again there).
    pub async fn kill(mut self) -> anyhow::Result<u16> {
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(self.port)
    }
}
