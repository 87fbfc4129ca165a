//! `vtcq`: the media-quality agent for Teams Cloud Video Interop.
//!
//! This binary is a thin shell: argument parsing, files, terminal output. The measurement
//! lives in `vtcq-collector`, the Graph body in `vtcq-reporter`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use vtcq::{analyze, cli, daemon, generate, post};

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    if !matches!(cli.command, cli::Command::Run(_)) {
        init_logging(cli.verbose);
    }
    let result = match cli.command {
        cli::Command::Analyze(args) => analyze::run(&args),
        cli::Command::Generate(args) => generate::run(&args),
        cli::Command::Post(args) => post::run(&args),
        cli::Command::Spool(args) => post::spool(&args),
        // The daemon sets up its own logging from its configuration.
        cli::Command::Run(args) => daemon::run(&args.config),
        cli::Command::Validate(args) => Ok(daemon::validate(&args.config)),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            // One line, every cause chained: "error: cannot open x.pcap: No such file".
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
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
}
