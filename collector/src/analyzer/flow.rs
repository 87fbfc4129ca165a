//! The per-flow state.
//!
//! A **flow** is the RTP between two endpoints (address, RTP port), both directions, plus
//! its RTCP on port+1 or multiplexed on the RTP port (RFC 5761). It has two sides, one per
//! endpoint; everything measured is filed under the side that sent it, symmetrically. A
//! **stream** is one SSRC of one side. Which side is *local* (the bot) only matters when
//! results are read ([`crate::channel`]), so a call registered after its media began still
//! gets every packet, and `vtcq analyze` can infer the local address after one pass.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::report_loss::LossBaselines;
use crate::rtt::Histories;
use crate::stats::{ActivityTracker, DurationSamples, LossSamples};
use crate::stream::RtpStream;
use crate::time::duration_nanos;
use crate::Timestamp;

/// One of a flow's two endpoints. The endpoints are ordered (`Low` is the smaller
/// address), so both directions of a flow find the same state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The smaller endpoint address.
    Low,
    /// The larger endpoint address.
    High,
}

impl Side {
    /// Both sides, `Low` first.
    pub const BOTH: [Side; 2] = [Side::Low, Side::High];

    /// The other endpoint.
    #[inline]
    pub fn peer(self) -> Side {
        match self {
            Side::Low => Side::High,
            Side::High => Side::Low,
        }
    }

    #[inline]
    fn index(self) -> usize {
        match self {
            Side::Low => 0,
            Side::High => 1,
        }
    }
}

/// What one endpoint of a flow sent, and what was measured from it.
///
/// `repr(C)`, aligned to a cache line: what every RTP packet of the side touches (the
/// stream list and the activity) is the first line; the RTCP state follows.
#[derive(Clone, Debug, Default)]
#[repr(C, align(64))]
pub(crate) struct FlowSide {
    /// This endpoint's RTP streams (one per SSRC).
    pub(crate) streams: Vec<RtpStream>,
    pub(crate) activity: ActivityTracker,
    /// This side's SRs, with the chain links their blocks made.
    pub(crate) sender_reports: Histories,
    /// This side's XR RRTRs.
    pub(crate) reference_times: Histories,
    /// Where the next loss interval of each of this side's report blocks starts.
    pub(crate) loss_baselines: LossBaselines,
    /// Samples from this side's blocks about the peer's streams (peer -> this side).
    pub(crate) reported_loss: LossSamples,
    pub(crate) reported_jitter: DurationSamples,
    /// This side's blocks about a valid stream of the peer.
    pub(crate) blocks_accepted: u64,
    /// This side's SRs answered by the peer: the capture-time RTT.
    pub(crate) rtt_capture: DurationSamples,
    /// NTP chains with this side's SR in the middle, and this side's RRTRs answered.
    pub(crate) rtt_peer_view: DurationSamples,
    pub(crate) rtcp_packets: u64,
    pub(crate) srtcp_packets: u64,
}

impl FlowSide {
    /// Position of the stream of `ssrc` in [`FlowSide::streams`].
    #[inline]
    pub(crate) fn stream_index(&self, ssrc: u32) -> Option<usize> {
        self.streams.iter().position(|s| s.ssrc() == ssrc)
    }

    /// The stream of `ssrc`, if it passed probation.
    pub(crate) fn valid_stream(&self, ssrc: u32) -> Option<&RtpStream> {
        self.streams
            .iter()
            .find(|s| s.ssrc() == ssrc && s.is_valid())
    }

    /// The streams that passed probation (the only ones taken for RTP).
    pub(crate) fn valid_streams(&self) -> impl Iterator<Item = &RtpStream> {
        self.streams.iter().filter(|s| s.is_valid())
    }

    fn has_valid_stream(&self) -> bool {
        self.streams.iter().any(RtpStream::is_valid)
    }
}

/// One flow: RTP between two endpoints, both directions, with its RTCP.
///
/// `repr(C)`, aligned to a cache line: an RTP packet touches the first line (last
/// packet, activity) and the first line of its sender's side, nothing else of the flow
/// (its side comes from the index key, not from comparing `endpoints`).
#[derive(Clone, Debug)]
#[repr(C, align(64))]
pub struct Flow {
    pub(super) last_packet: Timestamp,
    pub(super) activity: ActivityTracker,
    first_packet: Timestamp,
    pub(super) rtcp_mux: bool,
    finished: bool,
    sides: [FlowSide; 2],
    /// The two endpoints, ordered ([`Side::Low`] is the smaller address).
    endpoints: [SocketAddr; 2],
}

impl Flow {
    /// A flow between `a` and `b` whose first packet was captured at `now`.
    pub(super) fn new(a: SocketAddr, b: SocketAddr, now: Timestamp) -> Self {
        let endpoints = if a <= b { [a, b] } else { [b, a] };
        Flow {
            endpoints,
            sides: [FlowSide::default(), FlowSide::default()],
            activity: ActivityTracker::default(),
            first_packet: now,
            last_packet: now,
            rtcp_mux: false,
            finished: false,
        }
    }

    /// The two RTP endpoints, [`Side::Low`] first.
    pub fn endpoints(&self) -> [SocketAddr; 2] {
        self.endpoints
    }

    /// The RTP address of one side.
    #[inline]
    pub fn endpoint(&self, side: Side) -> SocketAddr {
        self.endpoints[side.index()]
    }

    /// What one side sent and what was measured from it.
    #[inline]
    pub(crate) fn side(&self, side: Side) -> &FlowSide {
        &self.sides[side.index()]
    }

    /// What one side sent, for the packet path.
    #[inline]
    pub(super) fn side_mut(&mut self, side: Side) -> &mut FlowSide {
        &mut self.sides[side.index()]
    }

    /// The side that sent an RTCP compound and its peer, borrowed apart.
    #[inline]
    pub(super) fn reporter_and_peer(&mut self, reporter: Side) -> (&mut FlowSide, &mut FlowSide) {
        let [low, high] = &mut self.sides;
        match reporter {
            Side::Low => (low, high),
            Side::High => (high, low),
        }
    }

    /// True when at least one stream of the flow passed probation.
    pub fn has_rtp(&self) -> bool {
        self.sides.iter().any(FlowSide::has_valid_stream)
    }

    /// Time of the last RTP packet.
    pub fn last_rtp(&self) -> Option<Timestamp> {
        self.activity.last_seen()
    }

    /// Time of the first packet (RTP or RTCP) of the flow.
    pub fn first_packet(&self) -> Timestamp {
        self.first_packet
    }

    /// Time of the last packet, RTP or RTCP.
    pub fn last_packet(&self) -> Timestamp {
        self.last_packet
    }

    /// Active time of the flow, RTP in either direction (the idle-gap rule).
    pub fn active(&self) -> Duration {
        self.activity.active()
    }

    /// True when RTCP shared the RTP port (RFC 5761).
    pub fn rtcp_mux(&self) -> bool {
        self.rtcp_mux
    }

    /// RTP packets one side sent so far (valid streams only).
    pub fn rtp_packets(&self, side: Side) -> u64 {
        self.side(side)
            .valid_streams()
            .map(RtpStream::packets)
            .sum()
    }

    /// RTP packets sent by each endpoint so far (valid streams only).
    pub fn packets_by_endpoint(&self) -> [(SocketAddr, u64); 2] {
        Side::BOTH.map(|side| (self.endpoint(side), self.rtp_packets(side)))
    }

    /// True when every valid stream of the flow said RTCP BYE.
    pub fn all_streams_said_bye(&self) -> bool {
        let mut any = false;
        for stream in self.sides.iter().flat_map(FlowSide::valid_streams) {
            if !stream.said_bye() {
                return false;
            }
            any = true;
        }
        any
    }

    /// Closes the streams' last sampling intervals (call end). Idempotent.
    pub fn finish(&mut self, end: Timestamp, sample_interval: Duration) {
        if self.finished {
            return;
        }
        self.finished = true;
        let every = duration_nanos(sample_interval);
        for side in &mut self.sides {
            for stream in &mut side.streams {
                stream.finish(end, every);
            }
        }
    }

    /// Which side is the bot's, given its addresses.
    pub fn local_side(&self, local: &[IpAddr]) -> Option<Side> {
        let low = local.contains(&self.endpoints[0].ip());
        let high = local.contains(&self.endpoints[1].ip());
        match (low, high) {
            (true, false) => Some(Side::Low),
            (false, true) => Some(Side::High),
            // Both local (a loopback test call): the first is as good as the second.
            (true, true) => Some(Side::Low),
            (false, false) => None,
        }
    }

    /// The side `addr` is on (`High` for any address but the low endpoint's).
    pub(super) fn side_of(&self, addr: SocketAddr) -> Side {
        if self.endpoints[0] == addr {
            Side::Low
        } else {
            Side::High
        }
    }
}
