//! A process's resource use, read from `/proc/<pid>`.

use anyhow::Context;
use serde::Serialize;

/// Linux reports `/proc/<pid>/stat` times in USER_HZ, 100 on every mainstream architecture.
const TICKS_PER_SEC: f64 = 100.0;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_proc_stats() {
        let s = ProcSample::read(None).unwrap();
        assert!(s.threads >= 1 && s.rss_mib > 1.0 && s.cpu_secs >= 0.0 && s.fds >= 3, "{s:?}");
    }

    #[test]
    fn a_missing_process_is_an_error() {
        assert!(ProcSample::read(Some(u32::MAX)).is_err());
    }
}
