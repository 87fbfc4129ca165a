//! Shared inputs for the vtcq benchmarks: captures made by the project's own generator,
//! held in memory so the benchmarks measure the packet path, not the disk.
#![forbid(unsafe_code)]

use vtcq_collector::synth::{generate, CallSpec};
use vtcq_collector::Timestamp;

/// The frames of the shipped sample call (about 4 500 Ethernet frames, 20 s, 3 channels).
pub fn sample_frames() -> Vec<(Timestamp, Vec<u8>)> {
    generate(&CallSpec::sample()).frames
}
