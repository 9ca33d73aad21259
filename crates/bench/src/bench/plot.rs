//! The CPU-against-publishers plot of `docs/benchmarks.md`, as a self-contained SVG.

use std::fmt::Write;

use super::Results;
use super::report::REFERENCE;

const W: f64 = 720.0;
const H: f64 = 420.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 190.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 50.0;

struct Series {
    name: &'static str,
    colour: &'static str,
    dash: &'static str,
    points: Vec<(f64, f64)>,
}

/// Server CPU (cores) against publishers: Tessera, the floor, and the reference numbers.
pub fn cpu_svg(r: &Results) -> String {
    let series = [
        Series {
            name: "Tessera",
            colour: "#1f6feb",
            dash: "",
            points: r
                .tessera
                .iter()
                .filter_map(|t| Some((t.publishers as f64, t.server.as_ref()?.cpu_cores)))
                .collect(),
        },
        Series {
            name: "Floor (same run)",
            colour: "#2da44e",
            dash: "6 4",
            points: r.floor.iter().map(|f| (f.publishers as f64, f.cpu_cores)).collect(),
        },
        Series {
            name: "1.25 × floor",
            colour: "#9a6700",
            dash: "2 4",
            points: r.floor.iter().map(|f| (f.publishers as f64, 1.25 * f.cpu_cores)).collect(),
        },
        Series {
            name: "Reference: bare",
            colour: "#8c959f",
            dash: "1 3",
            points: REFERENCE.iter().map(|(n, bare, _)| (*n as f64, *bare)).collect(),
        },
        Series {
            name: "Reference: prototype",
            colour: "#cf222e",
            dash: "1 3",
            points: REFERENCE.iter().map(|(n, _, proto)| (*n as f64, *proto)).collect(),
        },
    ];
    let all = series.iter().flat_map(|s| s.points.iter());
    let x_max = all.clone().map(|p| p.0).fold(1.0, f64::max).max(4.0);
    let y_max = (all.map(|p| p.1).fold(0.25, f64::max) * 4.0).ceil() / 4.0;
    let sx = |x: f64| LEFT + x / x_max * (W - LEFT - RIGHT);
    let sy = |y: f64| H - BOTTOM - y / y_max * (H - TOP - BOTTOM);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r##"<rect width="{W}" height="{H}" fill="#ffffff"/>"##);
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="18" font-size="14">Server CPU (cores) against publishers, 640x360@30 each, 720p composite</text>"#
    );
    let mut y = 0.0;
    while y <= y_max + 1e-9 {
        let py = sy(y);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#d0d7de"/><text x="{:.1}" y="{:.1}" text-anchor="end">{y:.2}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            py + 4.0
        );
        y += 0.25;
    }
    let ticks: Vec<f64> = {
        let mut t: Vec<f64> = series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).collect();
        t.sort_by(f64::total_cmp);
        t.dedup();
        t
    };
    for x in ticks {
        let _ = writeln!(s, r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{x}</text>"#, sx(x), H - BOTTOM + 18.0);
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">publishers</text>"#,
        (LEFT + W - RIGHT) / 2.0,
        H - 12.0
    );
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" y1="{b:.1}" x2="{:.1}" y2="{b:.1}" stroke="#57606a"/><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{b:.1}" stroke="#57606a"/>"##,
        W - RIGHT,
        b = H - BOTTOM
    );
    for (i, series) in series.iter().enumerate() {
        if series.points.is_empty() {
            continue;
        }
        let path: Vec<String> = series.points.iter().map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y))).collect();
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2" stroke-dasharray="{}"/>"#,
            path.join(" "),
            series.colour,
            series.dash
        );
        for (x, y) in &series.points {
            let _ = writeln!(s, r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"/>"#, sx(*x), sy(*y), series.colour);
        }
        let ly = TOP + 20.0 + i as f64 * 20.0;
        let lx = W - RIGHT + 15.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" y1="{ly}" x2="{:.1}" y2="{ly}" stroke="{}" stroke-width="2" stroke-dasharray="{}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            lx + 24.0,
            series.colour,
            series.dash,
            lx + 30.0,
            ly + 4.0,
            series.name
        );
    }
    s.push_str("</svg>\n");
    s
}
