//! `vtcq-testbench`: the test bench's command line (`peer`, `flood`). Test equipment, not
//! part of the agent: see the library's documentation.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vtcq_testbench::{flood, peer};

/// vtcq's test bench: live test endpoints and hostile traffic for the end-to-end tests.
#[derive(Debug, Parser)]
#[command(name = "vtcq-testbench", version, about)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug). VTCQ_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// A live RTP/RTCP test endpoint with injected loss and delay.
    Peer(peer::PeerArgs),
    /// Hostile random UDP written onto an interface (for the flood test).
    Flood(flood::FloodArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("VTCQ_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
    let result = match &cli.command {
        Command::Peer(args) => peer::run(args),
        Command::Flood(args) => flood::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
