//! A process's resource use, read from `/proc/<pid>`.

use serde::Serialize;

// The server reports the same reading on `/metrics`; one reader for both.
pub use tessera::metrics::process::{ProcSample, TICKS_PER_SEC};

/// CPU seconds of each live thread of `pid`, by thread id, with its name (GStreamer names
/// streaming threads after their element and pad, e.g. `compositor:src`).
pub fn thread_times(pid: u32) -> anyhow::Result<std::collections::BTreeMap<u32, (String, f64)>> {
    let mut out = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let Ok(entry) = entry else { continue };
        let Some(tid) = entry.file_name().to_str().and_then(|t| t.parse::<u32>().ok()) else { continue };
        // A thread may exit between listing and reading: skip it.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let Some((head, rest)) = stat.rsplit_once(')') else { continue };
        let name = head.split_once('(').map_or("?", |(_, n)| n).to_owned();
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks = f.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0)
            + f.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
        out.insert(tid, (name, ticks / TICKS_PER_SEC));
    }
    Ok(out)
}

/// CPU of a group of like-named threads over a window.
#[derive(Debug, Clone, Serialize)]
pub struct ThreadGroup {
    /// Thread name with numbers replaced by `#` (`egress-video-p#`, `nicesrc#:src`).
    pub name: String,
    /// Threads in the group that ran during the window.
    pub threads: usize,
    /// Cores (1.0 = one core busy).
    pub cores: f64,
}

/// Groups the CPU each thread used between two [`thread_times`] readings `secs` apart, busiest
/// group first.
pub fn thread_groups(
    before: &std::collections::BTreeMap<u32, (String, f64)>,
    after: &std::collections::BTreeMap<u32, (String, f64)>,
    secs: f64,
) -> Vec<ThreadGroup> {
    let mut groups: std::collections::BTreeMap<String, (usize, f64)> = std::collections::BTreeMap::new();
    for (tid, (name, t1)) in after {
        let t0 = before.get(tid).map_or(0.0, |(_, t)| *t);
        let mut key = String::new();
        for c in name.chars() {
            if !c.is_ascii_digit() {
                key.push(c);
            } else if !key.ends_with('#') {
                key.push('#');
            }
        }
        let g = groups.entry(key).or_default();
        g.0 += usize::from(t1 > &t0);
        g.1 += (t1 - t0) / secs;
    }
    let mut out: Vec<ThreadGroup> =
        groups.into_iter().map(|(name, (threads, cores))| ThreadGroup { name, threads, cores }).collect();
    out.sort_by(|a, b| b.cores.total_cmp(&a.cores));
    out
}

/// The cores of the group named `name` in `groups` (names are unique there), if it ran.
pub fn group_cores(groups: &[ThreadGroup], name: &str) -> Option<f64> {
    groups.iter().find(|g| g.name == name).map(|g| g.cores)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_group_by_name_without_numbers() {
        let t = |v: &[(u32, &str, f64)]| v.iter().map(|(id, n, s)| (*id, (n.to_string(), *s))).collect();
        let before = t(&[(1, "egress-video-p1", 1.0), (2, "egress-video-p12", 2.0), (3, "compositor:src", 5.0)]);
        let after = t(&[
            (1, "egress-video-p1", 1.5),
            (2, "egress-video-p12", 2.5),
            (3, "compositor:src", 7.0),
            (4, "nicesrc3:src", 0.5),
        ]);
        let g = thread_groups(&before, &after, 2.0);
        let names: Vec<(&str, usize)> = g.iter().map(|g| (g.name.as_str(), g.threads)).collect();
        assert_eq!(names, [("compositor:src", 1), ("egress-video-p#", 2), ("nicesrc#:src", 1)]);
        assert!((g[0].cores - 1.0).abs() < 1e-9 && (g[1].cores - 0.5).abs() < 1e-9);
    }

    #[test]
    fn reads_own_threads() {
        let own = thread_times(std::process::id()).unwrap();
        assert!(!own.is_empty());
    }

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
