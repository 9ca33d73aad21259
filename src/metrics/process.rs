//! The process's own resource use, read from `/proc`: what `/metrics` reports as
//! `process_*` and what the load generator samples of a server under test.

use anyhow::Context;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use serde::Serialize;

/// Linux reports `/proc/<pid>/stat` times in USER_HZ, 100 on every mainstream architecture.
pub const TICKS_PER_SEC: f64 = 100.0;

/// One process's resource use at one instant.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ProcSample {
    /// User + system CPU time, seconds.
    pub cpu_secs: f64,
    /// Resident memory, MiB.
    pub rss_mib: f64,
    /// Threads.
    pub threads: u64,
    /// Open file descriptors.
    pub fds: u64,
}

impl ProcSample {
    /// Reads `/proc/<pid>` (`self` when `pid` is `None`).
    pub fn read(pid: Option<u32>) -> anyhow::Result<Self> {
        let dir = pid.map_or("/proc/self".to_owned(), |p| format!("/proc/{p}"));
        let stat = std::fs::read_to_string(format!("{dir}/stat")).with_context(|| format!("reading {dir}/stat"))?;
        // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
        let rest = stat.rsplit_once(')').context("malformed stat")?.1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks: f64 = f[11].parse::<f64>()? + f[12].parse::<f64>()?;
        let status = std::fs::read_to_string(format!("{dir}/status"))?;
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        };
        let fds = std::fs::read_dir(format!("{dir}/fd")).map_or(0, |d| d.count() as u64);
        Ok(Self {
            cpu_secs: ticks / TICKS_PER_SEC,
            rss_mib: field("VmRSS:") as f64 / 1024.0,
            threads: field("Threads:"),
            fds,
        })
    }

    /// Cores busy on average between `self` and `later`, `secs` apart (1.0 = one core).
    pub fn cores_until(&self, later: &Self, secs: f64) -> f64 {
        (later.cpu_secs - self.cpu_secs) / secs
    }
}

/// Reads `/proc/self` on every scrape (about 50 µs: three small files and the fd directory).
#[derive(Debug)]
pub(super) struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Ok(s) = ProcSample::read(None) else { return Ok(()) };
        let cpu = ConstCounter::new(s.cpu_secs);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "User and system CPU time of the server process, seconds",
            None,
            cpu.metric_type(),
        )?)?;
        let gauges = [
            ("process_resident_memory_bytes", "Resident memory of the server process, bytes", s.rss_mib * 1048576.0),
            ("process_threads", "Threads of the server process", s.threads as f64),
            ("process_open_fds", "Open file descriptors of the server process", s.fds as f64),
        ];
        for (name, help, value) in gauges {
            let gauge = ConstGauge::new(value);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        Ok(())
    }
}
