//! vtcq-collector: the sans-IO measurement core of vtcq.
//!
//! Packets and their capture timestamps go in, per-channel statistics come out. Nothing in
//! this crate reads the clock, opens a socket or talks to Graph: the capture-file reader in
//! [`capture`] works on any `std::io::Read`, and every statistic is driven by the
//! timestamps the caller passes in. That is what lets the offline `vtcq analyze` and the
//! live daemon share the exact same code path, and what lets every number be tested with
//! byte arrays.
//!
//! Layers, bottom up:
//! - [`capture`]: pcap / pcapng record reader and writer (pure Rust, streaming, tolerant of
//!   a cut tail).
//! - [`wire`]: zero-copy views of link/IP/UDP ([`wire::link`]), RTP ([`wire::rtp`]) and
//!   RTCP compound packets ([`wire::rtcp`]), plus the RFC 7983 / RFC 5761 demultiplexer.
//! - [`stream`], [`rtt`], [`clock`], [`stats`]: RFC 3550 statistics, round-trip delay,
//!   clock rates, sample histograms.
//! - [`analyzer`]: sessions (channels) and their two sides; [`summary`]: the call-end
//!   results in domain terms.
//! - [`synth`]: a traffic generator with known truth, for the sample capture, tests and
//!   benchmarks.
#![forbid(unsafe_code)]

pub mod analyzer;
pub mod calls;
pub mod capture;
pub mod clock;
pub mod offline;
pub mod rtt;
pub mod signalling;
pub mod stats;
pub mod stream;
pub mod summary;
pub mod synth;
pub mod time;
pub mod wire;

pub use analyzer::{Analyzer, AnalyzerConfig, Counters, LocalInference};
pub use summary::{ChannelQuality, DirectionQuality, MediaKind, Metric, Source};
pub use time::Timestamp;
