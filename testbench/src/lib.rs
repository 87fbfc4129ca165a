//! vtcq-testbench: the tools the end-to-end tests and benchmarks drive, kept out of the
//! binary operators install (`vtcq`).
//!
//! - [`peer`]: a live RTP/RTCP endpoint with injected loss and delay and a JSON report of
//!   its truth; two of them make a test call the daemon captures.
//! - [`flood`]: hostile random UDP written straight onto an interface.
//!
//! The binary (`src/main.rs`) is `vtcq-testbench peer ...` and `vtcq-testbench flood ...`.
#![forbid(unsafe_code)]

pub mod flood;
pub mod peer;
