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
//! - [`analyzer`]: flows (the RTP and RTCP between two endpoints) and their two sides,
//!   one file per stage of a datagram's way.
//! - [`channel`]: flows seen from the bot, kinded and indexed: the channels of a record;
//!   [`summary`]: those results in domain terms.
//! - [`calls`]: the daemon's call lifecycle over one analyzer; [`offline`]: a capture
//!   file through one analyzer (`vtcq analyze`).
//! - [`srtp`]: SRTP/SRTCP keys, key derivation, protect and unprotect (RFC 3711, 6188,
//!   7714), and the per-sender key ring that reads encrypted RTCP across re-keying.
//!
//! Vocabulary, used the same way everywhere: a **flow** is the RTP between two endpoints
//! (address and port), both directions, with its RTCP; a **stream** is one SSRC of one
//! side of a flow; a **media session** is what the bot registers (or SDP negotiates); a
//! **channel** is one oriented, kinded, indexed media session of a call as its record
//! lists it, made of one or more flows.
//!
//! The call simulator that makes captures with known truth is the `vtcq-sim` crate, built
//! on this one's public wire writers.
#![forbid(unsafe_code)]

pub mod analyzer;
pub mod calls;
pub mod capture;
pub mod channel;
pub mod clock;
pub mod offline;
pub mod rtt;
pub mod signalling;
pub mod srtp;
pub mod stats;
pub mod stream;
pub mod summary;
pub mod time;
pub mod wire;

#[cfg(test)]
mod test_rng;

pub use analyzer::{Analyzer, AnalyzerConfig, Counters, Flow, LocalInference, Side};
pub use summary::{ChannelQuality, DirectionQuality, MediaKind, Metric, Source};
pub use time::Timestamp;
