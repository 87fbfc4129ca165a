//! The protocol state of one peer ([`PeerState`]), free of sockets and clocks: datagrams
//! and timestamps in, datagrams to send and the final [`PeerReport`] out, so that two
//! peers can be run against each other in simulated time.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;
use vtcq_collector::rtt::{dlsr_nanos, ntp_middle};
use vtcq_collector::wire::demux::{classify, PayloadClass};
use vtcq_collector::wire::rtcp::{self, Compound, Packet, ReportBlock};
use vtcq_collector::wire::rtp::{RtpHeader, RtpPacket};
use vtcq_collector::Timestamp;
use vtcq_sim::{self as synth, ReceiverState, Rng};

use super::PeerConfig;

/// RTCP intervals are spread uniformly by this fraction either way (RFC 3550 §6.3.1
/// randomises them so that endpoints do not synchronise).
const RTCP_SPREAD: f64 = 0.1;

/// A Unix timestamp as a 64-bit NTP timestamp (32.32 fixed point since 1900).
fn ntp_of(t: Timestamp) -> u64 {
    synth::ntp_of(t, 0)
}

/// Items held back by a fixed delay: an item pushed at `t` comes out at `t + delay`,
/// stamped with that time, in order.
#[derive(Debug)]
struct DelayLine<T> {
    delay: Duration,
    items: VecDeque<(Timestamp, T)>,
}

impl<T> DelayLine<T> {
    fn new(delay: Duration) -> Self {
        DelayLine {
            delay,
            items: VecDeque::new(),
        }
    }

    /// Holds `item`, which arrived (or was made) at `at`.
    fn push(&mut self, at: Timestamp, item: T) {
        let due = at.after(self.delay);
        // Arrivals come in clock order, so this is the back in practice; a stable insert
        // keeps equal due times in arrival order all the same.
        let index = self.items.partition_point(|(d, _)| *d <= due);
        self.items.insert(index, (due, item));
    }

    /// When the next item is due.
    fn next_due(&self) -> Option<Timestamp> {
        self.items.front().map(|(due, _)| *due)
    }

    /// The next item due at or before `now`, with its due time (the delayed arrival).
    fn pop_due(&mut self, now: Timestamp) -> Option<(Timestamp, T)> {
        if self.next_due()? <= now {
            self.items.pop_front()
        } else {
            None
        }
    }

    fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Extends 16-bit sequence numbers and 32-bit RTP timestamps by their distance to the
/// highest seen, which handles wraps and mild reordering alike.
#[derive(Clone, Copy, Debug)]
struct Extender {
    highest: Option<(u16, i64, u32, i64)>,
}

impl Extender {
    /// The extended (sequence number, RTP timestamp) of a packet.
    fn extend(&mut self, seq: u16, ts: u32) -> (i64, i64) {
        let Some((max_seq, max_ext, last_ts, last_ts_ext)) = self.highest else {
            self.highest = Some((seq, i64::from(seq), ts, i64::from(ts)));
            return (i64::from(seq), i64::from(ts));
        };
        let ext = max_ext + i64::from(seq.wrapping_sub(max_seq) as i16);
        let ts_ext = last_ts_ext + i64::from(ts.wrapping_sub(last_ts) as i32);
        if ext > max_ext {
            self.highest = Some((seq, ext, ts, ts_ext));
        }
        (ext, ts_ext)
    }
}

/// A datagram to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Outgoing {
    /// From the RTCP socket (without RTCP-mux).
    pub(super) rtcp: bool,
    pub(super) to: SocketAddr,
    pub(super) bytes: Vec<u8>,
}

/// One report block, as the JSON report shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockReport {
    /// The SSRC the block is about.
    pub ssrc: u32,
    /// Fraction lost in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost.
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub extended_highest_sequence: u32,
    /// Interarrival jitter in RTP timestamp units.
    pub jitter: u32,
    /// LSR (middle 32 bits of the NTP time of the last SR, 0 if none).
    pub last_sr: u32,
    /// DLSR in 1/65536 s.
    pub delay_since_last_sr: u32,
}

impl From<ReportBlock> for BlockReport {
    fn from(b: ReportBlock) -> Self {
        BlockReport {
            ssrc: b.ssrc,
            fraction_lost: b.fraction_lost,
            cumulative_lost: b.cumulative_lost,
            extended_highest_sequence: b.extended_highest_sequence,
            jitter: b.jitter,
            last_sr: b.last_sr,
            delay_since_last_sr: b.delay_since_last_sr,
        }
    }
}

/// What one peer did and saw: its truth, printed as one JSON line at the end.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerReport {
    /// This peer's SSRC.
    pub ssrc: u32,
    /// The SSRC of the peer's RTP stream (the first one heard), if any arrived.
    pub peer_ssrc: Option<u32>,
    /// Sequence number of this peer's first RTP packet.
    pub rtp_first_seq: u16,
    /// RTP packets put on the wire.
    pub rtp_sent: u64,
    /// RTP packets skipped: the injected loss.
    pub rtp_skipped: u64,
    /// Of those, the ones after the last packet sent: no receiver can count them lost.
    pub rtp_skipped_trailing: u64,
    /// RTP packets received from the peer.
    pub rtp_received: u64,
    /// RTP packets expected from the peer (RFC 3550 A.3).
    pub rtp_expected: i64,
    /// RTP packets of the peer counted lost (expected minus received).
    pub rtp_lost: i64,
    /// Final A.8 jitter of the peer's stream, in RTP timestamp units.
    pub jitter: f64,
    /// RTCP compound packets sent (the final one included).
    pub rtcp_sent: u64,
    /// RTCP compound packets received from the peer.
    pub rtcp_received: u64,
    /// SRs received from the peer.
    pub sr_received: u64,
    /// The peer said BYE.
    pub bye_received: bool,
    /// Report blocks this peer sent about the peer's stream.
    pub report_blocks_sent: u64,
    /// The last of them (what the final RR/SR reported).
    pub last_block_sent: Option<BlockReport>,
    /// Report blocks received from the peer about this peer's stream.
    pub report_blocks_received: u64,
    /// The last of them.
    pub last_block_received: Option<BlockReport>,
    /// Round-trip samples from received blocks with an LSR (RFC 3550 §6.4.1: arrival −
    /// LSR − DLSR, on this peer's delayed arrival time).
    pub rtt_samples: u64,
    /// Smallest sample, in milliseconds.
    pub rtt_min_ms: Option<f64>,
    /// Largest sample, in milliseconds.
    pub rtt_max_ms: Option<f64>,
    /// Last sample, in milliseconds.
    pub rtt_last_ms: Option<f64>,
    /// Datagrams ignored: from another address, or RTP of another SSRC.
    pub ignored_datagrams: u64,
    /// Datagrams (or RTCP sub-packets) that did not parse.
    pub malformed: u64,
    /// Sends that failed.
    pub send_errors: u64,
    /// Receives that failed.
    pub recv_errors: u64,
    /// The configured loss, in percent.
    pub send_loss_percent: f64,
    /// The configured inbound delay.
    pub added_delay_ms: u64,
    /// The configured outbound delay.
    pub added_send_delay_ms: u64,
}

/// The protocol state of one peer, driven by explicit timestamps.
#[derive(Debug)]
pub(super) struct PeerState {
    config: PeerConfig,
    media_start: Timestamp,
    media_end: Timestamp,
    final_report_at: Timestamp,
    exit_at: Timestamp,
    loss_rng: Rng,
    timing_rng: Rng,
    ts_base: u32,
    /// Index (from 0) of the next RTP packet of this peer's stream.
    next_index: u64,
    /// The next regular RTCP report; `None` once the media is over.
    next_rtcp: Option<Timestamp>,
    final_sent: bool,
    extender: Extender,
    receiver: ReceiverState,
    inbound: DelayLine<Vec<u8>>,
    outbound: DelayLine<Outgoing>,
    pub(super) report: PeerReport,
}

impl PeerState {
    pub(super) fn new(config: PeerConfig, now: Timestamp) -> Self {
        let mut setup = Rng(config.seed);
        let first_seq = setup.next_u64() as u16;
        let ts_base = setup.next_u64() as u32;
        // Independent streams, so that the loss pattern does not depend on RTCP timing.
        let loss_rng = Rng(setup.next_u64());
        let mut timing_rng = Rng(setup.next_u64());
        let media_start = now.after(config.start_delay);
        let media_end = media_start.after(config.duration);
        let final_report_at = media_end.after(config.settle());
        let exit_at = final_report_at.after(config.settle());
        let first_rtcp = media_start.after(scaled(
            config.rtcp_interval,
            0.5 * spread(timing_rng.unit()),
        ));
        let report = PeerReport {
            ssrc: config.ssrc,
            rtp_first_seq: first_seq,
            send_loss_percent: config.send_loss * 100.0,
            added_delay_ms: config.added_delay.as_millis() as u64,
            added_send_delay_ms: config.added_send_delay.as_millis() as u64,
            ..PeerReport::default()
        };
        PeerState {
            inbound: DelayLine::new(config.added_delay),
            outbound: DelayLine::new(config.added_send_delay),
            config,
            media_start,
            media_end,
            final_report_at,
            exit_at,
            loss_rng,
            timing_rng,
            ts_base,
            next_index: 0,
            next_rtcp: Some(first_rtcp),
            final_sent: false,
            extender: Extender { highest: None },
            receiver: ReceiverState::default(),
            report,
        }
    }

    /// A datagram arrived at `arrival`: held for the added inbound delay.
    pub(super) fn receive(&mut self, arrival: Timestamp, from: SocketAddr, bytes: &[u8]) {
        if from.ip() != self.config.peer.ip() {
            self.report.ignored_datagrams += 1;
            return;
        }
        self.inbound.push(arrival, bytes.to_vec());
    }

    /// Does everything due at `now`: processes delayed arrivals, makes RTP and RTCP, and
    /// appends the datagrams due for sending to `out`.
    pub(super) fn advance(&mut self, now: Timestamp, out: &mut Vec<Outgoing>) {
        while let Some((arrival, bytes)) = self.inbound.pop_due(now) {
            self.process(arrival, &bytes);
        }
        if self.config.sends_media {
            while let Some(at) = self.next_rtp_at().filter(|at| *at <= now) {
                self.make_rtp(at);
            }
        }
        if let Some(at) = self.next_rtcp.filter(|at| *at <= now) {
            self.make_rtcp(now, false);
            let next = at.max(now).after(scaled(
                self.config.rtcp_interval,
                spread(self.timing_rng.unit()),
            ));
            self.next_rtcp = (next < self.media_end).then_some(next);
        }
        if !self.final_sent && now >= self.final_report_at {
            self.make_rtcp(now, true);
            self.final_sent = true;
        }
        while let Some((_, datagram)) = self.outbound.pop_due(now) {
            out.push(datagram);
        }
    }

    /// When [`PeerState::advance`] next has something to do.
    pub(super) fn next_wake(&self) -> Timestamp {
        let final_report = (!self.final_sent).then_some(self.final_report_at);
        let rtp = self
            .config
            .sends_media
            .then(|| self.next_rtp_at())
            .flatten();
        [
            self.inbound.next_due(),
            self.outbound.next_due(),
            rtp,
            self.next_rtcp,
            final_report,
        ]
        .into_iter()
        .flatten()
        .fold(self.exit_at, Timestamp::min)
    }

    /// Whether the event at `wake` is a send held back by an added outbound delay.
    pub(super) fn outbound_due_first(&self, wake: Timestamp) -> bool {
        !self.config.added_send_delay.is_zero() && self.outbound.next_due() == Some(wake)
    }

    /// Whether the run is over: the final report is out and the peer had its time to
    /// answer.
    pub(super) fn is_finished(&self, now: Timestamp) -> bool {
        self.final_sent && now >= self.exit_at && self.outbound.is_empty()
    }

    /// Send time of the next RTP packet, `None` once the media is over.
    fn next_rtp_at(&self) -> Option<Timestamp> {
        let offset = self.config.packet_interval.as_nanos() * u128::from(self.next_index);
        let at = self
            .media_start
            .after(Duration::from_nanos(u64::try_from(offset).ok()?));
        (at < self.media_end).then_some(at)
    }

    /// RTP timestamp units in `nanos` (negative before the media start).
    fn rtp_units(&self, nanos: i64) -> i64 {
        (i128::from(nanos) * i128::from(self.config.clock_rate) / 1_000_000_000) as i64
    }

    fn make_rtp(&mut self, at: Timestamp) {
        let index = self.next_index;
        self.next_index += 1;
        let lost = if self.config.periodic_loss {
            // Packet i is lost when the running total of expected losses crosses an integer.
            let p = self.config.send_loss;
            ((index + 1) as f64 * p).floor() > (index as f64 * p).floor()
        } else {
            self.loss_rng.unit() < self.config.send_loss
        };
        if lost {
            self.report.rtp_skipped += 1;
            self.report.rtp_skipped_trailing += 1;
            return;
        }
        let units = self.rtp_units(at.nanos_since(self.media_start));
        let header = RtpHeader {
            marker: index == 0,
            payload_type: self.config.payload_type,
            sequence_number: self.report.rtp_first_seq.wrapping_add(index as u16),
            timestamp: self.ts_base.wrapping_add(units as u32),
            ssrc: self.config.ssrc,
        };
        let mut bytes = Vec::with_capacity(12 + self.config.payload_bytes);
        header.write(&mut bytes);
        bytes.extend((0..self.config.payload_bytes).map(|i| (i as u8) ^ (index as u8)));
        self.report.rtp_sent += 1;
        self.report.rtp_skipped_trailing = 0;
        self.outbound.push(
            at,
            Outgoing {
                rtcp: false,
                to: self.config.peer,
                bytes,
            },
        );
    }

    /// Processes a datagram at its (delayed) arrival time.
    fn process(&mut self, arrival: Timestamp, bytes: &[u8]) {
        match classify(bytes) {
            PayloadClass::Rtp => match RtpPacket::new_checked(bytes) {
                Ok(rtp) => self.on_rtp(arrival, &rtp),
                Err(_) => self.report.malformed += 1,
            },
            PayloadClass::Rtcp => self.on_rtcp(arrival, bytes),
            _ => self.report.malformed += 1,
        }
    }

    fn on_rtp(&mut self, arrival: Timestamp, rtp: &RtpPacket<'_>) {
        let peer_ssrc = *self.report.peer_ssrc.get_or_insert(rtp.ssrc());
        if rtp.ssrc() != peer_ssrc {
            self.report.ignored_datagrams += 1;
            return;
        }
        let (seq, ts) = self.extender.extend(rtp.sequence_number(), rtp.timestamp());
        self.receiver
            .on_rtp(seq, ts, arrival, self.config.clock_rate);
        self.report.rtp_received += 1;
    }

    fn on_rtcp(&mut self, arrival: Timestamp, bytes: &[u8]) {
        self.report.rtcp_received += 1;
        for packet in Compound::parse(bytes).packets() {
            match packet {
                Ok(Packet::SenderReport(sr)) => {
                    if self.is_peer(sr.ssrc()) {
                        self.report.sr_received += 1;
                        self.receiver.on_sr(ntp_middle(sr.ntp_timestamp()), arrival);
                    }
                    for block in sr.report_blocks() {
                        self.on_block(arrival, block);
                    }
                }
                Ok(Packet::ReceiverReport(rr)) => {
                    for block in rr.report_blocks() {
                        self.on_block(arrival, block);
                    }
                }
                Ok(Packet::Goodbye(_)) => self.report.bye_received = true,
                Ok(_) => {}
                Err(_) => self.report.malformed += 1,
            }
        }
    }

    /// Whether `ssrc` is the peer's (any SSRC but ours before its RTP was heard).
    fn is_peer(&self, ssrc: u32) -> bool {
        match self.report.peer_ssrc {
            Some(peer) => ssrc == peer,
            None => ssrc != self.config.ssrc,
        }
    }

    fn on_block(&mut self, arrival: Timestamp, block: ReportBlock) {
        if block.ssrc != self.config.ssrc {
            return;
        }
        self.report.report_blocks_received += 1;
        self.report.last_block_received = Some(block.into());
        if block.last_sr == 0 {
            return;
        }
        // RFC 3550 §6.4.1: A - LSR - DLSR, all in 1/65536 s, modulo 2^32.
        let units = ntp_middle(ntp_of(arrival))
            .wrapping_sub(block.last_sr)
            .wrapping_sub(block.delay_since_last_sr);
        if (units as i32) < 0 {
            return;
        }
        let ms = dlsr_nanos(units) as f64 / 1e6;
        let r = &mut self.report;
        r.rtt_samples += 1;
        r.rtt_min_ms = Some(r.rtt_min_ms.map_or(ms, |m| m.min(ms)));
        r.rtt_max_ms = Some(r.rtt_max_ms.map_or(ms, |m| m.max(ms)));
        r.rtt_last_ms = Some(ms);
    }

    /// Builds an SR (or RR) + SDES (+ BYE when final and asked for) made at `now`.
    fn make_rtcp(&mut self, now: Timestamp, last: bool) {
        let block = self
            .report
            .peer_ssrc
            .and_then(|peer| self.receiver.report_block(peer, now, 0));
        let blocks: Vec<ReportBlock> = block.into_iter().collect();
        let mut bytes = Vec::new();
        if self.config.sends_media {
            // Skipped packets count: to the sender they were sent and lost in the network.
            let packets = self.next_index;
            let octets = packets * self.config.payload_bytes as u64;
            let units = self.rtp_units(now.nanos_since(self.media_start));
            rtcp::write_sender_report(
                &mut bytes,
                self.config.ssrc,
                ntp_of(now),
                self.ts_base.wrapping_add(units as u32),
                packets as u32,
                octets as u32,
                &blocks,
            );
        } else {
            rtcp::write_receiver_report(&mut bytes, self.config.ssrc, &blocks);
        }
        rtcp::write_sdes_cname(
            &mut bytes,
            self.config.ssrc,
            &format!("peer-{:08x}@vtcq.invalid", self.config.ssrc),
        );
        if last && self.config.bye {
            rtcp::write_bye(&mut bytes, &[self.config.ssrc], Some("test call over"));
        }
        self.report.rtcp_sent += 1;
        if let Some(block) = block {
            self.report.report_blocks_sent += 1;
            self.report.last_block_sent = Some(block.into());
        }
        self.outbound.push(
            now,
            Outgoing {
                rtcp: !self.config.rtcp_mux,
                to: self.config.rtcp_peer(),
                bytes,
            },
        );
    }

    /// The report, with the receiver's final numbers.
    pub(super) fn finish(mut self) -> PeerReport {
        self.report.rtp_expected = self.receiver.expected();
        self.report.rtp_lost = self.receiver.cumulative_lost();
        self.report.jitter = self.receiver.jitter();
        self.report
    }
}

/// `d` times `factor`; `d` itself should the product not be a duration (it always is for
/// the bounded intervals and factors used here).
fn scaled(d: Duration, factor: f64) -> Duration {
    Duration::try_from_secs_f64(d.as_secs_f64() * factor).unwrap_or(d)
}

/// A factor in `1 ± RTCP_SPREAD` from a uniform `u` in [0, 1).
fn spread(u: f64) -> f64 {
    1.0 - RTCP_SPREAD + 2.0 * RTCP_SPREAD * u
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ms(n: i64) -> Timestamp {
        Timestamp::from_nanos(1_800_000_000_000_000_000 + n * 1_000_000)
    }

    #[test]
    fn delay_line_releases_each_item_at_arrival_plus_delay_in_order() {
        let mut line = DelayLine::new(Duration::from_millis(20));
        assert_eq!(line.next_due(), None);
        line.push(ms(0), "a");
        line.push(ms(5), "b");
        line.push(ms(5), "c");
        assert_eq!(line.next_due(), Some(ms(20)));
        assert_eq!(line.pop_due(ms(19)), None);
        assert_eq!(line.pop_due(ms(20)), Some((ms(20), "a")));
        // Late processing still stamps the delayed arrival, not the processing time.
        assert_eq!(line.pop_due(ms(40)), Some((ms(25), "b")));
        assert_eq!(line.pop_due(ms(40)), Some((ms(25), "c")));
        assert_eq!(line.pop_due(ms(40)), None);
        assert!(line.is_empty());
        // An out-of-order push lands in due order.
        line.push(ms(50), "late");
        line.push(ms(45), "early");
        assert_eq!(line.pop_due(ms(100)), Some((ms(65), "early")));
        assert_eq!(line.pop_due(ms(100)), Some((ms(70), "late")));
        let mut zero = DelayLine::new(Duration::ZERO);
        zero.push(ms(3), 1);
        assert_eq!(zero.pop_due(ms(3)), Some((ms(3), 1)));
    }

    #[test]
    fn extender_crosses_wraps_and_tolerates_reordering() {
        let mut e = Extender { highest: None };
        assert_eq!(
            e.extend(65_534, u32::MAX - 159),
            (65_534, i64::from(u32::MAX) - 159)
        );
        assert_eq!(e.extend(65_535, u32::MAX).0, 65_535);
        assert_eq!(e.extend(1, 159 + 160), (65_537, i64::from(u32::MAX) + 320));
        assert_eq!(e.extend(0, 159).0, 65_536);
        assert_eq!(e.extend(2, 479).0, 65_538);
    }

    #[test]
    fn ntp_counts_from_1900() {
        let ntp = ntp_of(Timestamp::from_nanos(1_500_000_000));
        assert_eq!(ntp >> 32, 2_208_988_800 + 1);
        assert_eq!(ntp & 0xFFFF_FFFF, 1 << 31);
    }

    fn config(bind: &str, peer: &str, ssrc: &str, extra: &[&str]) -> PeerConfig {
        let base = [
            "peer",
            "--bind",
            bind,
            "--peer",
            peer,
            "--ssrc",
            ssrc,
            "--duration-secs",
            "3",
            "--bye",
        ];
        super::super::config_from_args(base.iter().chain(extra)).unwrap()
    }

    /// Runs two peers against each other in simulated time over a lossless network with
    /// a fixed transit time, in 1 ms steps.
    fn simulate(a: PeerConfig, b: PeerConfig, transit: Duration) -> (PeerReport, PeerReport) {
        let (a_addr, b_addr) = (a.bind, b.bind);
        let mut peers = [PeerState::new(a, ms(0)), PeerState::new(b, ms(0))];
        // (arrival, to peer index, from, bytes)
        let mut wire: Vec<(Timestamp, usize, SocketAddr, Vec<u8>)> = Vec::new();
        let mut out = Vec::new();
        let mut now = ms(0);
        while !peers.iter().all(|p| p.is_finished(now)) {
            for (i, peer) in peers.iter_mut().enumerate() {
                wire.retain(|(at, to, from, bytes)| {
                    let deliver = *to == i && *at <= now;
                    if deliver {
                        peer.receive(*at, *from, bytes);
                    }
                    !deliver
                });
                peer.advance(now, &mut out);
                let from = if i == 0 { a_addr } else { b_addr };
                for d in out.drain(..) {
                    wire.push((now.after(transit), 1 - i, from, d.bytes));
                }
            }
            now = now.after(Duration::from_millis(1));
            assert!(now < ms(60_000), "the simulated call does not end");
        }
        let [a, b] = peers;
        (a.finish(), b.finish())
    }

    #[test]
    fn simulated_call_counts_loss_and_measures_the_added_delays() {
        let a = config(
            "10.0.0.1:5000",
            "10.0.0.2:6000",
            "0xA",
            &["--send-loss", "10", "--seed", "7"],
        );
        let b = config(
            "10.0.0.2:6000",
            "10.0.0.1:5000",
            "0xB",
            &["--added-delay-ms", "20", "--added-send-delay-ms", "5"],
        );
        let (a, b) = simulate(a, b, Duration::from_millis(1));
        assert_eq!(a.rtp_sent + a.rtp_skipped, 150);
        assert!(a.rtp_skipped > 0);
        assert_eq!(b.rtp_received, a.rtp_sent);
        assert_eq!(b.rtp_lost as u64, a.rtp_skipped - a.rtp_skipped_trailing);
        assert_eq!(a.rtp_received, b.rtp_sent);
        assert_eq!((b.rtp_skipped, a.rtp_lost), (0, 0));
        assert_eq!(b.peer_ssrc, Some(0xA));
        assert!(a.bye_received && b.bye_received);
        // The final block reports everything.
        let last = b.last_block_sent.unwrap();
        assert_eq!(i64::from(last.cumulative_lost), b.rtp_lost);
        assert_eq!(a.last_block_received, Some(last));
        assert!(b.report_blocks_sent >= 3 && a.report_blocks_received == b.report_blocks_sent);
        // Round trip: 2 x 1 ms transit + B's 20 ms inbound + 5 ms outbound delay, within the
        // 1 ms simulation step and the 1/65536 s NTP resolution; both ends see it.
        for report in [&a, &b] {
            assert!(report.rtt_samples >= 2, "{report:?}");
            let (min, max) = (report.rtt_min_ms.unwrap(), report.rtt_max_ms.unwrap());
            assert!(min >= 26.9 && max <= 28.1, "{report:?}");
        }
    }

    #[test]
    fn a_receive_only_peer_sends_receiver_reports() {
        let a = config("10.0.0.1:5000", "10.0.0.2:6000", "1", &["--rtcp-mux"]);
        let b = config(
            "10.0.0.2:6000",
            "10.0.0.1:5000",
            "2",
            &["--rtcp-mux", "--recv-only"],
        );
        let (a, b) = simulate(a, b, Duration::from_millis(3));
        assert_eq!((b.rtp_sent, a.rtp_received, a.peer_ssrc), (0, 0, None));
        assert_eq!(b.rtp_received, 150);
        // A sees RR blocks about its stream and measures 2 x 3 ms; B has no SR to answer.
        assert!(a.report_blocks_received >= 3);
        let rtt = a.rtt_last_ms.unwrap();
        assert!((5.9..=7.1).contains(&rtt), "{a:?}");
        assert_eq!((b.rtt_samples, b.report_blocks_received), (0, 0));
        assert_eq!(a.sr_received, 0);
        assert_eq!(b.sr_received, a.rtcp_sent);
    }

    #[test]
    fn datagrams_from_elsewhere_are_ignored() {
        let mut p = PeerState::new(config("10.0.0.1:5000", "10.0.0.2:6000", "1", &[]), ms(0));
        p.receive(ms(1), "10.9.9.9:6000".parse().unwrap(), &[0x80, 0, 0, 1]);
        p.receive(ms(1), "10.0.0.2:6000".parse().unwrap(), &[1, 2, 3]);
        p.advance(ms(2), &mut Vec::new());
        let r = p.finish();
        assert_eq!(
            (r.ignored_datagrams, r.malformed, r.rtp_received),
            (1, 1, 0)
        );
    }
}
