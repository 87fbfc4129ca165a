//! The floor of `vtcq analyze`: read every record of a capture with the same
//! [`CaptureReader`] and only count frames and bytes, no decoding. `read-floor CAPTURE`.
//!
//! The reader gets the file itself, exactly as in `vtcq analyze`: [`CaptureReader`]
//! buffers in chunks of at least 64 KiB, and an extra `BufReader` would only add a copy
//! (and evict the analyzer's state from the cache).
#![deny(unsafe_code)]

use std::fs::File;
use std::hint::black_box;
use std::process::ExitCode;

use vtcq_collector::capture::CaptureReader;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: read-floor CAPTURE");
        return ExitCode::from(2);
    };
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: cannot open {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut reader = match CaptureReader::new(file) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot read {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (mut frames, mut bytes) = (0u64, 0u64);
    loop {
        match reader.next_frame() {
            Ok(Some(frame)) => {
                frames += 1;
                bytes += black_box(frame.data).len() as u64;
            }
            Ok(None) => break,
            Err(e) => {
                eprintln!("warning: {path}: {e}");
                break;
            }
        }
    }
    println!("{frames} frames, {bytes} bytes");
    ExitCode::SUCCESS
}
