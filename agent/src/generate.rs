//! `vtcq generate`: the project's traffic generator, as a command.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use vtcq_sim::{generate, CallSpec};

use crate::cli::GenerateArgs;

/// Runs `vtcq generate`.
pub fn run(args: &GenerateArgs) -> Result<ExitCode> {
    for (name, value) in [
        ("--outbound-loss", args.outbound_loss),
        ("--inbound-loss", args.inbound_loss),
    ] {
        ensure!(
            (0.0..=100.0).contains(&value),
            "{name} must be a percentage between 0 and 100, not {value}"
        );
    }
    ensure!(
        args.seconds > 0 && args.seconds <= 24 * 3600,
        "--seconds must be between 1 and 86400"
    );
    let spec = CallSpec {
        duration: Duration::from_secs(args.seconds),
        outbound_loss: args.outbound_loss / 100.0,
        inbound_loss: args.inbound_loss / 100.0,
        outbound_delay: Duration::from_millis(args.outbound_delay_ms),
        inbound_delay: Duration::from_millis(args.inbound_delay_ms),
        seed: args.seed,
        ..CallSpec::sample()
    };
    let call = generate(&spec);
    let file =
        File::create(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut out = call
        .write_pcap(BufWriter::new(file))
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    out.flush()
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    if args.truth {
        let mut stdout = std::io::stdout().lock();
        for t in &call.truth {
            writeln!(
                stdout,
                "{{\"kind\":\"{}\",\"local\":\"{}\",\"remote\":\"{}\",\"outboundSent\":{},\"outboundDelivered\":{},\"inboundSent\":{},\"inboundDelivered\":{},\"outboundLossPercent\":{:.3},\"inboundLossPercent\":{:.3},\"roundTripMs\":{}}}",
                t.kind,
                t.local,
                t.remote,
                t.outbound_sent,
                t.outbound_delivered,
                t.inbound_sent,
                t.inbound_delivered,
                t.outbound_loss_percent(),
                t.inbound_loss_percent(),
                t.round_trip.as_millis()
            )?;
        }
    }
    eprintln!(
        "wrote {} frames to {}",
        call.frames.len(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
