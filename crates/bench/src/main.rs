//! The `tessera-bench` command: `make bench`, `scripts/stress.sh`, `scripts/soak.sh` and
//! `scripts/measure-cpu.sh` run it.

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(version, about = "Tessera's load generator, benchmark, stress and soak")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load a running server with pre-encoded publishers and viewers; prints a JSON report.
    Loadgen(tessera_bench::loadgen::LoadOptions),
    /// Benchmark against the bare GStreamer floor and Janus; writes results and docs.
    Bench(tessera_bench::bench::BenchOptions),
    /// Abrupt departures, repeated against one server; fails if it crashed or kept anything.
    Stress(tessera_bench::loadgen::stress::StressOptions),
    /// Thousands of join/leave cycles against one server; fails if its memory, fds or threads
    /// grew.
    Soak(tessera_bench::loadgen::soak::SoakOptions),
    /// The join latency a fleet's redirect adds (two nodes, a Redis); prints a JSON report.
    Redirect {
        /// Joins of each kind, direct and redirected.
        #[arg(long, default_value_t = 20)]
        joins: usize,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match Cli::parse().command {
        Command::Loadgen(opts) => {
            let report = rt.block_on(tessera_bench::loadgen::run(&opts))?;
            println!("{}", serde_json::to_string(&report)?);
        }
        Command::Bench(opts) => {
            rt.block_on(tessera_bench::bench::run(&opts))?;
        }
        Command::Stress(opts) => {
            let report = rt.block_on(tessera_bench::loadgen::stress::run(&opts))?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            report.verdict()?;
        }
        Command::Redirect { joins } => {
            let run = rt.block_on(tessera_bench::bench::redirect::measure(joins))?;
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({ "run": run, "addedP50Ms": run.added_p50_ms() }))?
            );
        }
        Command::Soak(opts) => {
            let report = rt.block_on(tessera_bench::loadgen::soak::run(&opts))?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            if !opts.dry_run {
                tessera_bench::loadgen::soak::write(&report, &opts)?;
            }
            report.verdict(opts.rss_growth_mib)?;
        }
    }
    Ok(())
}
