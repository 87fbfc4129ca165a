//! Writes the large load capture: `make-capture --out FILE [--calls 200] [--seconds 60]
//! [--seed N]`. Memory stays bounded by one call per thread (see
//! [`vtcq_benches::write_load_capture`]).
#![deny(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use vtcq_benches::{write_load_capture, LoadSpec, BOT_IP};

fn usage() -> ExitCode {
    eprintln!("usage: make-capture --out FILE [--calls N] [--seconds S] [--seed N]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut out: Option<PathBuf> = None;
    let mut spec = LoadSpec::large();
    let mut seed = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next();
        let Some(value) = value else {
            return usage();
        };
        match arg.as_str() {
            "--out" => out = Some(PathBuf::from(value)),
            "--calls" => match value.parse() {
                Ok(n) => spec.calls = n,
                Err(_) => return usage(),
            },
            "--seconds" => match value.parse() {
                Ok(n) => spec.seconds = n,
                Err(_) => return usage(),
            },
            "--seed" => match value.parse() {
                Ok(n) => seed = Some(n),
                Err(_) => return usage(),
            },
            _ => return usage(),
        }
    }
    let Some(out) = out else {
        return usage();
    };
    let mut spec = LoadSpec::new(spec.calls, spec.seconds);
    if let Some(seed) = seed {
        spec.seed = seed;
    }
    let started = Instant::now();
    match write_load_capture(&spec, &out) {
        Ok(t) => {
            println!(
                "{}: {} calls x {} s, {} channels, {} frames ({} RTP), {} MB of frames, bot {BOT_IP}, in {:.1} s",
                out.display(),
                spec.calls,
                spec.seconds,
                t.channels,
                t.frames,
                t.rtp_packets,
                t.bytes >> 20,
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", out.display());
            ExitCode::FAILURE
        }
    }
}
