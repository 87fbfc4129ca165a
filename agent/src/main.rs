//! `vtcq`: the media-quality agent for Teams Cloud Video Interop.
//!
//! This binary is a thin shell: argument parsing, files, terminal output. The measurement
//! lives in `vtcq-collector`, the Graph body in `vtcq-reporter`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use vtcq::logging::{Logging, Style};
use vtcq::{analyze, cli, config, daemon, generate, post};

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // Logging first, before any configuration is read: whatever warns from here on
    // reaches stderr. The daemon re-configures it from its `[log]` section.
    let logging = match cli.command {
        cli::Command::Run(_) => {
            Logging::init(cli.verbose, config::DEFAULT_LOG_FILTER, Style::Daemon)
        }
        _ => Logging::init(cli.verbose, "warn", Style::Terse),
    };
    let result = match cli.command {
        cli::Command::Analyze(args) => analyze::run(&args),
        cli::Command::Generate(args) => generate::run(&args),
        cli::Command::Post(args) => post::run(&args),
        cli::Command::Spool(args) => post::spool(&args),
        cli::Command::Run(args) => daemon::run(&args.config, &logging),
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
