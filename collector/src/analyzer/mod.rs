//! The sans-IO analyzer: frames and capture timestamps in, flows with their statistics
//! out.
//!
//! A datagram's way through it, one file per stage:
//! - here, [`Analyzer::process_frame`] / [`Analyzer::process_udp`]: decode down to UDP
//!   ([`crate::wire::link`]), classify the payload ([`crate::wire::demux`]) and dispatch;
//! - `flow_table.rs`: find the flow of the two endpoints, or admit a new one within the
//!   bound (eviction of unvalidated flows, refusal, both counted);
//! - `rtp.rs`: an RTP packet to its side's stream ([`crate::stream::RtpStream`]);
//! - `rtcp.rs`: an RTCP compound to its side, its report blocks to loss, jitter and
//!   round-trip delay (`report_loss.rs`: the intervals between blocks);
//! - `flow.rs`: the state all of that fills ([`Flow`], its two sides);
//! - `counters.rs`: whatever is not a statistic of a flow ([`Counters`]).
//!
//! Results are read from the flows afterwards: channels by [`crate::channel`], the stream
//! table and the local-address guess by `readout.rs`.

mod config;
mod counters;
mod flow;
mod flow_table;
mod readout;
mod report_loss;
mod rtcp;
mod rtp;

#[cfg(test)]
mod tests;

use std::net::{IpAddr, SocketAddr};

use crate::capture::LinkType;
use crate::channel;
use crate::summary::{ChannelQuality, MediaKind};
use crate::time::duration_nanos;
use crate::wire::demux::{classify, PayloadClass};
use crate::wire::link::{decode_udp, LinkError};
use crate::Timestamp;
use flow_table::FlowTable;

pub use config::{AnalyzerConfig, DEFAULT_IDLE_GAP, DEFAULT_MAX_FLOWS, DEFAULT_SAMPLE_INTERVAL};
pub use counters::{Counters, RttMethod, RttObservation};
pub(crate) use flow::FlowSide;
pub use flow::{Flow, Side};
pub use readout::{LocalInference, StreamRow};
pub use rtp::MAX_STREAMS_PER_SIDE;

/// The analyzer. Feed it frames in capture order; read channels at the end.
#[derive(Debug)]
pub struct Analyzer {
    config: AnalyzerConfig,
    sample_every: i64,
    idle_gap: i64,
    table: FlowTable,
    counters: Counters,
    observations: Vec<RttObservation>,
    first_frame: Option<Timestamp>,
    last_frame: Option<Timestamp>,
}

impl Analyzer {
    /// A new analyzer.
    pub fn new(config: AnalyzerConfig) -> Self {
        Analyzer {
            sample_every: duration_nanos(config.sample_interval).max(1),
            idle_gap: duration_nanos(config.idle_gap),
            table: FlowTable::new(config.max_flows),
            config,
            counters: Counters::default(),
            observations: Vec::new(),
            first_frame: None,
            last_frame: None,
        }
    }

    /// Feeds one captured frame.
    pub fn process_frame(&mut self, now: Timestamp, link_type: LinkType, frame: &[u8]) {
        self.counters.frames += 1;
        if self.first_frame.is_none() {
            self.first_frame = Some(now);
        }
        if self.last_frame.is_none_or(|last| now > last) {
            self.last_frame = Some(now);
        }
        match decode_udp(link_type, frame) {
            Ok(udp) => self.process_udp(now, udp.src, udp.dst, udp.payload, udp.payload_len),
            Err(LinkError::Fragment) => self.counters.fragments += 1,
            Err(LinkError::UnsupportedLinkType) => self.counters.unsupported_link += 1,
            Err(e) if e.is_malformed() => self.counters.malformed_frames += 1,
            Err(_) => self.counters.not_udp += 1,
        }
    }

    /// Feeds one UDP datagram (the live capture path enters here too). `payload_len` is
    /// the datagram's payload length on the wire (the capture may hold fewer bytes).
    pub fn process_udp(
        &mut self,
        now: Timestamp,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
        payload_len: usize,
    ) {
        self.counters.udp += 1;
        match classify(payload) {
            PayloadClass::Rtp => self.on_rtp(now, src, dst, payload, payload_len),
            PayloadClass::Rtcp => self.on_rtcp(now, src, dst, payload),
            PayloadClass::Stun => self.counters.stun += 1,
            PayloadClass::Dtls => self.counters.dtls += 1,
            PayloadClass::TurnChannel => self.counters.turn_channel += 1,
            PayloadClass::Zrtp => self.counters.zrtp += 1,
            PayloadClass::Other => self.counters.other_udp += 1,
        }
    }

    /// Counters of everything seen.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// RTT computations, when recording was asked for.
    pub fn rtt_observations(&self) -> &[RttObservation] {
        &self.observations
    }

    /// Capture time of the first and last frame.
    pub fn time_span(&self) -> Option<(Timestamp, Timestamp)> {
        self.first_frame.zip(self.last_frame)
    }

    /// All flows, including those that never carried valid RTP.
    pub fn flows(&self) -> &[Flow] {
        self.table.flows()
    }

    /// Sets the registered calls' local ports, whose flows are evicted last (see
    /// [`AnalyzerConfig::max_flows`]).
    pub fn set_protected_ports(&mut self, ports: impl IntoIterator<Item = u16>) {
        self.table.set_protected_ports(ports);
    }

    /// Adds a clock rate (a late registration's payload types): packets from now on use it.
    pub fn set_clock_rate(&mut self, port: Option<u16>, payload_type: u8, hz: u32) {
        self.config.clock_rates.insert(port, payload_type, hz);
    }

    /// Closes every stream's last sampling interval at `end` (call end, end of capture).
    pub fn finish(&mut self, end: Timestamp) {
        let interval = self.config.sample_interval;
        for flow in self.table.flows_mut() {
            flow.finish(end, interval);
        }
    }

    /// Removes and returns the flows `keep_out` selects (a call that ended, a flow that
    /// went idle), so a later call on the same ports starts from nothing.
    pub fn take_flows(&mut self, keep_out: impl FnMut(&Flow) -> bool) -> Vec<Flow> {
        self.table.take(keep_out)
    }

    /// The call's channels seen from `local` (see [`channel::channels_seen_from`]).
    pub fn channel_qualities(
        &self,
        local: &[IpAddr],
        declared: &[(u16, MediaKind)],
        link_speed_bytes_per_sec: Option<u64>,
    ) -> Vec<ChannelQuality> {
        channel::channels_seen_from(self.flows(), local, declared, link_speed_bytes_per_sec)
    }
}
