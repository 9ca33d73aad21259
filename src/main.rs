//! The `tessera` command.

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(version, about = "Tessera: a WebRTC MCU")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(tessera::config::ServeArgs),
    /// Print the configuration `serve` would use with these settings (flags over `TESSERA_*`
    /// environment over the `--config` file over defaults) as TOML, and exit.
    Config(tessera::config::ServeArgs),
    /// Mint an access token with the server's first secret and print it.
    Token(tessera::TokenArgs),
}

/// A recording that hits the file-size limit must fail alone, not kill the server: SIGXFSZ's
/// default action terminates the process, so take it over and let the write fail with EFBIG.
fn survive_file_size_limit() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    const SIGXFSZ: i32 = 25; // Linux
    let mut sig = signal(SignalKind::from_raw(SIGXFSZ))?;
    tokio::spawn(async move {
        while sig.recv().await.is_some() {
            tracing::warn!("file size limit reached (SIGXFSZ); the recording writing will fail");
        }
    });
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let args = match Cli::parse().command {
        Command::Serve(args) => args,
        Command::Config(args) => {
            print!("{}", args.resolve()?.to_toml());
            return Ok(());
        }
        Command::Token(args) => {
            println!("{}", args.mint()?);
            return Ok(());
        }
    };
    let config = args.resolve()?;
    rt.block_on(async {
        survive_file_size_limit()?;
        let listener = tokio::net::TcpListener::bind(config.server.listen).await?;
        let scheme = if config.server.tls_cert.is_some() { "https" } else { "http" };
        tracing::info!("listening on {scheme}://{}", listener.local_addr()?);
        tessera::run(listener, config, shutdown_signal()).await
    })
}
