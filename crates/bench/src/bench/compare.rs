//! Before and after: this run's headline figures beside the previous run's, read from its
//! results file in `bench/results/` (as JSON values, so an older file with fewer fields still
//! reads; a figure it lacks shows as "–"). Both columns come from the same code.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::viewers::{COMPOSITOR, FANOUT, PerViewer, Run};

/// The newest full run's results in `dir` other than `this` (quick runs and soaks left out).
pub fn previous(dir: &Path, this: &Path) -> Option<(PathBuf, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".json") && !name.contains("quick") && !name.starts_with("soak") && p != this
        })
        .collect();
    files.sort();
    let path = files.pop()?;
    let value = serde_json::from_str(&std::fs::read_to_string(&path).ok()?).ok()?;
    Some((path, value))
}

fn f(v: &Value, pointer: &str) -> Option<f64> {
    v.pointer(pointer)?.as_f64()
}

fn find<'a>(list: &'a Value, key: &str, n: u64) -> Option<&'a Value> {
    list.as_array()?.iter().find(|x| x[key].as_u64() == Some(n))
}

fn run(r: &Value, publishers: u64) -> Option<&Value> {
    r["tessera"].as_array()?.iter().find(|t| t["publishers"].as_u64() == Some(publishers) && t["viewers"] == 0)
}

/// The viewer row of a results file: its sweep's figure when the sweep has its own run at 0
/// viewers; from an older file, the server's slope with the publisher sweep's run as the
/// baseline, labelled so, as that file's own page computed it.
fn per_viewer(r: &Value, viewer_room: u64) -> Option<String> {
    let thread = |t: &Value, group: &str| {
        t.pointer("/server/threads")?.as_array()?.iter().find(|g| g["name"] == group)?["cores"].as_f64()
    };
    let sweep: Vec<&Value> = r["viewers"].as_array()?.iter().collect();
    if sweep.iter().any(|t| t["viewers"] == 0) {
        let runs: Vec<Run> = sweep
            .iter()
            .filter_map(|t| {
                Some(Run {
                    viewers: t["viewers"].as_f64()?,
                    server: f(t, "/server/cpu_cores")?,
                    fanout: thread(t, FANOUT)?,
                    compositor: thread(t, COMPOSITOR)?,
                })
            })
            .collect();
        let per_round = r.pointer("/plan/viewers").and_then(Value::as_array).map_or(1, Vec::len);
        return PerViewer::of(&runs, per_round).map(|v| format!("{:.4} core", v.judged));
    }
    let base = run(r, viewer_room)?;
    let points: Vec<(f64, f64)> = std::iter::once(base)
        .chain(sweep)
        .filter_map(|t| Some((t["viewers"].as_f64()?, f(t, "/server/cpu_cores")?)))
        .collect();
    Some(format!("{:.4} core (publisher-sweep baseline)", super::derived::slope(&points)?))
}

/// Tessera ÷ floor over the adjacent rounds (`paired`), with the probe's lowest mean fps.
fn paired_ratio(r: &Value) -> Option<String> {
    let rounds = r.pointer("/paired/rounds")?.as_array()?;
    let sum = |key: &str| rounds.iter().map(|x| f(x, key)).sum::<Option<f64>>();
    // `probe_fps` was a (mean, worst second) pair in the first files that had rounds.
    let mean_fps = |x: &Value| f(x, "/probe_fps_mean").or_else(|| f(x, "/probe_fps/0"));
    let fps = rounds.iter().filter_map(mean_fps).reduce(f64::min)?;
    Some(format!("{:.2}× ({fps:.1} fps; adjacent windows)", sum("/tessera_cores")? / sum("/floor_cores")?))
}

/// The rows of the table: what issue 16 set out to move, as text for one results file.
fn figures(r: &Value) -> Vec<(&'static str, Option<String>)> {
    let ratio16 = paired_ratio(r).or_else(|| {
        let t = run(r, 16)?;
        let floor = f(find(&r["floor"], "publishers", 16)?, "/cpu_cores")?;
        let fps = f(t, "/probe_fps_mean")?;
        Some(format!("{:.2}× ({:.1} fps; sweeps minutes apart)", f(t, "/server/cpu_cores")? / floor, fps))
    });
    let at25 = run(r, 25)
        .and_then(|t| Some(format!("{:.1} fps, p50 {:.0} ms", f(t, "/probe_fps_mean")?, f(t, "/latency/p50_ms")?)));
    let audio = |n: u64, few: bool| {
        let a = r["audio"].as_array()?.iter().find(|a| {
            a["participants"].as_u64() == Some(n) && (a["talkers"].is_null() || a.get("talkers").is_none()) != few
        })?;
        Some(format!("{:.2}×", f(a, "/tessera_cpu_cores")? / f(a, "/janus_cpu_cores")?))
    };
    let viewer_room = r.pointer("/plan/viewer_room").and_then(Value::as_u64).unwrap_or(4);
    let per_viewer = per_viewer(r, viewer_room);
    let latency = run(r, viewer_room).and_then(|t| {
        let client = f(r, "/client_latency/p50_ms")?;
        Some(format!("{:.0} / {:.0} ms", f(t, "/latency/p50_ms")? - client, f(t, "/latency/p95_ms")? - client))
    });
    let worst = |key: &str| {
        let client = f(r, "/client_latency/p50_ms")?;
        let runs =
            r["tessera"].as_array()?.iter().filter(|t| t["viewers"] == 0 && t["publishers"].as_u64() <= Some(16));
        runs.filter_map(|t| f(t, key)).map(|ms| ms - client).reduce(f64::max)
    };
    let worst_latency = worst("/latency/p50_ms").zip(worst("/latency/p95_ms"));
    vec![
        ("CPU at 16 publishers ÷ floor (probe fps)", ratio16),
        ("25 publishers: probe fps, glass-to-glass p50", at25),
        ("audio-only, Tessera ÷ Janus at N=4, all talking", audio(4, false)),
        ("audio-only, Tessera ÷ Janus at N=16, all talking", audio(16, false)),
        ("audio-only, Tessera ÷ Janus at N=16, 2 talking", audio(16, true)),
        ("each extra viewer", per_viewer),
        ("latency added by the server at the viewer room, p50 / p95", latency),
        (
            "latency added by the server, worst of N ≤ 16, p50 / p95",
            worst_latency.map(|(a, b)| format!("{a:.0} / {b:.0} ms")),
        ),
    ]
}

/// The section: this run against `previous`.
pub fn section(s: &mut String, now: &Value, previous: Option<&(PathBuf, Value)>) {
    let Some((path, before)) = previous else { return };
    let _ = writeln!(
        s,
        "## Before and after\n\n\
         This run beside the previous one on record ([`{}`](../{}), started {}), computed the same way \
         from both results files, except where a figure's method changed since: the older file's \
         figure is then labelled with its own method.\n\n| | before | now |\n|---|---|---|",
        path.display(),
        path.display(),
        before["started"].as_str().unwrap_or("?")
    );
    for ((label, then), (_, now)) in figures(before).into_iter().zip(figures(now)) {
        let dash = || "–".to_owned();
        let _ = writeln!(s, "| {label} | {} | {} |", then.unwrap_or_else(dash), now.unwrap_or_else(dash));
    }
    let _ = writeln!(s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_figures_read_an_older_results_file() {
        let old = serde_json::json!({
            "plan": {"viewer_room": 4},
            "client_latency": {"p50_ms": 30.0},
            "tessera": [
                {"publishers": 4, "viewers": 0, "server": {"cpu_cores": 0.4}, "probe_fps_mean": 30.0, "latency": {"p50_ms": 130.0, "p95_ms": 140.0}},
                {"publishers": 16, "viewers": 0, "server": {"cpu_cores": 1.2}, "probe_fps_mean": 29.5}
            ],
            "viewers": [{"publishers": 4, "viewers": 30, "server": {"cpu_cores": 0.7}}],
            "floor": [{"publishers": 16, "cpu_cores": 0.8}],
            "audio": [{"participants": 16, "tessera_cpu_cores": 0.36, "janus_cpu_cores": 0.2}]
        });
        let rows: Vec<Option<String>> = figures(&old).into_iter().map(|(_, v)| v).collect();
        assert_eq!(rows[0].as_deref(), Some("1.50× (29.5 fps; sweeps minutes apart)"));
        assert_eq!(rows[1], None, "no 25-publisher run");
        assert_eq!(rows[3].as_deref(), Some("1.80×"));
        assert_eq!(rows[4], None, "no few-talkers run then");
        assert_eq!(rows[5].as_deref(), Some("0.0100 core (publisher-sweep baseline)"));
        assert_eq!(rows[6].as_deref(), Some("100 / 110 ms"));
        assert_eq!(rows[7].as_deref(), Some("100 / 110 ms"), "the 16-publisher run has no latency");
    }

    #[test]
    fn a_sweep_with_its_own_baseline_is_judged_as_the_page_judges_it() {
        let threads = |fanout: f64| serde_json::json!([{"name": "fanout:src", "cores": fanout}, {"name": "compositor:src", "cores": 0.25}]);
        let run = |viewers: u64, cpu: f64, fanout: f64| serde_json::json!({"viewers": viewers, "server": {"cpu_cores": cpu, "threads": threads(fanout)}});
        let new = serde_json::json!({
            "plan": {"viewer_room": 4, "viewers": [0, 30]},
            "tessera": [{"publishers": 4, "viewers": 0, "server": {"cpu_cores": 9.0}}],
            // The server's slope 0.001, the fan-out's 0.003: the larger is the figure.
            "viewers": [run(0, 0.50, 0.02), run(30, 0.53, 0.11), run(30, 0.53, 0.11), run(0, 0.50, 0.02)],
        });
        assert_eq!(per_viewer(&new, 4).as_deref(), Some("0.0030 core"), "its own baseline, not the sweep's");
    }

    #[test]
    fn the_floor_ratio_comes_from_adjacent_windows_when_a_file_has_them() {
        let round =
            |t: f64, f: f64, fps: f64| serde_json::json!({"tessera_cores": t, "floor_cores": f, "probe_fps_mean": fps});
        let new = serde_json::json!({
            "tessera": [{"publishers": 16, "viewers": 0, "server": {"cpu_cores": 0.3}, "probe_fps_mean": 30.0}],
            "floor": [{"publishers": 16, "cpu_cores": 0.9}],
            "paired": {"publishers": 16, "rounds": [round(0.6, 0.8, 30.0), round(1.0, 0.8, 29.8)]},
        });
        let rows: Vec<Option<String>> = figures(&new).into_iter().map(|(_, v)| v).collect();
        assert_eq!(rows[0].as_deref(), Some("1.00× (29.8 fps; adjacent windows)"), "not the sweeps' 0.33");
    }
}
