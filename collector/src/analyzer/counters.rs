//! What the analyzer counts besides the statistics of a channel, and the RTT computations
//! it can keep for inspection.

use std::net::SocketAddr;

use crate::rtt;

/// Everything counted that is not a statistic of a channel. Nothing is dropped silently:
/// each datagram or block the analyzer does not use lands in one of these.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Frames handed in.
    pub frames: u64,
    /// Frames that were not IP/UDP (ARP, TCP, ICMP ...).
    pub not_udp: u64,
    /// IP fragments (not reassembled).
    pub fragments: u64,
    /// Frames of a link type the decoder does not know.
    pub unsupported_link: u64,
    /// Frames whose headers were broken or cut short.
    pub malformed_frames: u64,
    /// UDP datagrams.
    pub udp: u64,
    /// RTP packets of valid streams.
    pub rtp_packets: u64,
    /// Datagrams that looked like RTP but whose header did not check out.
    pub rtp_malformed: u64,
    /// RTP-looking packets still in RFC 3550 probation (or never validated).
    pub rtp_probation: u64,
    /// RTCP compound datagrams read.
    pub rtcp_compounds: u64,
    /// RTCP sub-packets parsed.
    pub rtcp_packets: u64,
    /// Compounds that did not walk cleanly (their good sub-packets were still used).
    pub rtcp_malformed: u64,
    /// Sub-packets rejected inside compounds.
    pub rtcp_bad_subpackets: u64,
    /// SRTCP (encrypted) datagrams: counted, never read as report blocks.
    pub srtcp: u64,
    /// RTCP types other than SR/RR/SDES/BYE/APP/XR/FB.
    pub rtcp_unknown_type: u64,
    /// Report blocks about SSRC 0.
    pub blocks_ssrc_zero: u64,
    /// Report blocks about SSRCs that are not an RTP stream of the flow.
    pub blocks_unknown_ssrc: u64,
    /// Report blocks whose jitter could not be converted (no clock rate).
    pub jitter_without_rate: u64,
    /// RTT results ≤ 0 or > 10 s, rejected.
    pub rtt_rejected: u64,
    /// BYE SSRCs seen.
    pub bye_sources: u64,
    /// STUN datagrams.
    pub stun: u64,
    /// DTLS records.
    pub dtls: u64,
    /// TURN channel data.
    pub turn_channel: u64,
    /// ZRTP.
    pub zrtp: u64,
    /// Other UDP.
    pub other_udp: u64,
    /// Streams evicted because an endpoint had more than
    /// [`MAX_STREAMS_PER_SIDE`](super::MAX_STREAMS_PER_SIDE).
    pub streams_evicted: u64,
    /// Flows without valid RTP evicted to admit a new one past
    /// [`AnalyzerConfig::max_flows`](super::AnalyzerConfig::max_flows).
    pub flows_evicted: u64,
    /// Datagrams of new flows refused because every held flow carries valid RTP.
    pub flows_refused: u64,
}

/// How an RTT sample was computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RttMethod {
    /// Capture time of an SR and of the block answering it.
    CaptureTime,
    /// The SR NTP chain (the block's sender view).
    NtpChain,
    /// XR RRTR answered by DLRR.
    XrDlrr,
}

/// One RTT computation, kept when
/// [`AnalyzerConfig::record_rtt_observations`](super::AnalyzerConfig::record_rtt_observations)
/// is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RttObservation {
    /// 1-based number of the frame that completed it (Wireshark's `frame.number`).
    pub frame: u64,
    /// Sender of the answering report.
    pub reporter: SocketAddr,
    /// The SSRC the answering block is about.
    pub about_ssrc: u32,
    /// Method.
    pub method: RttMethod,
    /// Result before the sanity bounds, in nanoseconds.
    pub rtt_nanos: i64,
    /// Whether it passed the sanity bounds.
    pub accepted: bool,
}

/// The analyzer-wide tallies the RTCP path writes to while it holds one flow: the
/// counters and, when asked for, the list of RTT computations.
#[derive(Debug)]
pub(super) struct Tally<'a> {
    pub(super) counters: &'a mut Counters,
    observations: Option<&'a mut Vec<RttObservation>>,
}

impl<'a> Tally<'a> {
    /// Tallies into `counters`, and into `observations` when `record` is set.
    pub(super) fn new(
        counters: &'a mut Counters,
        observations: &'a mut Vec<RttObservation>,
        record: bool,
    ) -> Self {
        Tally {
            counters,
            observations: record.then_some(observations),
        }
    }

    /// Applies the sanity bounds to an RTT result (counting a rejection, recording the
    /// computation when asked): the accepted value in nanoseconds, or `None`.
    pub(super) fn rtt(
        &mut self,
        reporter: SocketAddr,
        about_ssrc: u32,
        method: RttMethod,
        rtt_nanos: i64,
    ) -> Option<i64> {
        let accepted = rtt::within_bounds(rtt_nanos);
        if accepted.is_none() {
            self.counters.rtt_rejected += 1;
        }
        if let Some(observations) = self.observations.as_deref_mut() {
            observations.push(RttObservation {
                frame: self.counters.frames,
                reporter,
                about_ssrc,
                method,
                rtt_nanos,
                accepted: accepted.is_some(),
            });
        }
        accepted
    }
}
