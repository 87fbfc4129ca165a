//! RTCP: a compound is filed under its flow and the side that sent it; its report blocks
//! give loss and jitter of the peer's streams and, answering the peer's SRs, round-trip
//! delay (SEMANTICS.md "Loss", "Jitter", "Round-trip delay"; the arithmetic is in
//! [`crate::rtt`]).
//!
//! Every readable compound takes one path, [`Analyzer::on_compound`]: encrypted ones
//! (SRTCP) are only counted today, and once decrypted they enter there too.

use std::net::SocketAddr;
use std::time::Duration;

use super::counters::{RttMethod, Tally};
use super::flow::{FlowSide, Side};
use super::Analyzer;
use crate::rtt::{self, ChainLink};
use crate::wire::rtcp::{Compound, CompoundKind, DlrrSubBlock, Packet, ReportBlock, XrBlock};
use crate::Timestamp;

impl Analyzer {
    /// One datagram that the demultiplexer took for RTCP.
    pub(super) fn on_rtcp(
        &mut self,
        now: Timestamp,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
    ) {
        let compound = Compound::parse(payload);
        let Some((index, side, sender)) = self.rtcp_flow(src, dst, now) else {
            return; // refused by the flow bound, counted there
        };
        let flow = self.table.flow_mut(index);
        flow.last_packet = flow.last_packet.max(now);
        match compound.kind() {
            CompoundKind::Srtcp => {
                self.counters.srtcp += 1;
                flow.side_mut(side).srtcp_packets += 1;
                return;
            }
            CompoundKind::Malformed => self.counters.rtcp_malformed += 1,
            CompoundKind::Plain => {}
        }
        self.on_compound(now, index, side, sender, &compound);
    }

    /// The flow an RTCP datagram belongs to, the side that sent it and that side's RTP
    /// address: the flow on the same ports (RFC 5761 mux), else the one on port-1 (RFC
    /// 3550's default). Without either, a new flow: on port-1 when both ports are odd,
    /// else on the same ports.
    fn rtcp_flow(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        now: Timestamp,
    ) -> Option<(usize, Side, SocketAddr)> {
        if let Some((index, side)) = self.table.find(src, dst) {
            self.table.flow_mut(index).rtcp_mux = true;
            return Some((index, side, src));
        }
        let minus_one = |a: SocketAddr| a.port().checked_sub(1).map(|p| SocketAddr::new(a.ip(), p));
        if let (Some(s), Some(d)) = (minus_one(src), minus_one(dst)) {
            if let Some((index, side)) = self.table.find(s, d) {
                return Some((index, side, s));
            }
            if src.port() % 2 == 1 && dst.port() % 2 == 1 {
                return self
                    .table
                    .find_or_admit(s, d, now, &mut self.counters)
                    .map(|(index, side)| (index, side, s));
            }
        }
        let (index, side) = self
            .table
            .find_or_admit(src, dst, now, &mut self.counters)?;
        self.table.flow_mut(index).rtcp_mux = true;
        Some((index, side, src))
    }

    /// Reads a readable compound that `side` (whose RTP address is `sender`) of flow
    /// `index` sent. One bad sub-packet is counted and skipped; the others are read.
    pub(super) fn on_compound(
        &mut self,
        now: Timestamp,
        index: usize,
        side: Side,
        sender: SocketAddr,
        compound: &Compound<'_>,
    ) {
        self.counters.rtcp_compounds += 1;
        let record = self.config.record_rtt_observations;
        let (reporter, peer) = self.table.flow_mut(index).reporter_and_peer(side);
        let mut reporting = Reporting {
            now,
            addr: sender,
            reporter,
            peer,
            tally: Tally::new(&mut self.counters, &mut self.observations, record),
        };
        for packet in compound.packets() {
            match packet {
                Ok(packet) => reporting.packet(packet),
                Err(_) => reporting.tally.counters.rtcp_bad_subpackets += 1,
            }
        }
    }
}

/// The SR whose report blocks are being read: its slot in the sender's SR history (where
/// the blocks' chain links are noted) and its NTP time (N2 of a chain).
#[derive(Clone, Copy, Debug)]
struct ThisSr {
    slot: usize,
    ntp: u64,
}

/// An RTCP compound's sender and its peer within one flow, borrowed apart, with the
/// analyzer's tallies. What a packet reports is filed under the side that sent it
/// (its blocks' loss and jitter: peer -> reporter) or under the peer whose SRs it answers
/// (round-trip delay).
struct Reporting<'a> {
    now: Timestamp,
    /// The sender's RTP address (what RTT observations name).
    addr: SocketAddr,
    reporter: &'a mut FlowSide,
    peer: &'a mut FlowSide,
    tally: Tally<'a>,
}

impl Reporting<'_> {
    /// One sub-packet of the compound.
    fn packet(&mut self, packet: Packet<'_>) {
        self.tally.counters.rtcp_packets += 1;
        self.reporter.rtcp_packets += 1;
        match packet {
            Packet::SenderReport(sr) => {
                let reporter_ssrc = sr.ssrc();
                let ntp = sr.ntp_timestamp();
                let slot = self
                    .reporter
                    .sender_reports
                    .get_or_insert(reporter_ssrc)
                    .push(ntp, self.now);
                for block in sr.report_blocks() {
                    self.report_block(reporter_ssrc, Some(ThisSr { slot, ntp }), &block);
                }
            }
            Packet::ReceiverReport(rr) => {
                for block in rr.report_blocks() {
                    self.report_block(rr.ssrc(), None, &block);
                }
            }
            Packet::Goodbye(bye) => {
                for ssrc in bye.sources() {
                    self.tally.counters.bye_sources += 1;
                    if let Some(i) = self.reporter.stream_index(ssrc) {
                        self.reporter.streams[i].mark_bye();
                    }
                }
            }
            Packet::ExtendedReport(xr) => {
                for block in xr.blocks() {
                    match block {
                        Ok(XrBlock::ReceiverReferenceTime { ntp_timestamp }) => {
                            self.reporter
                                .reference_times
                                .get_or_insert(xr.ssrc())
                                .push(ntp_timestamp, self.now);
                        }
                        Ok(XrBlock::Dlrr(dlrr)) => {
                            for sub in dlrr.sub_blocks() {
                                self.dlrr(&sub);
                            }
                        }
                        Ok(_) => {}
                        Err(_) => self.tally.counters.rtcp_bad_subpackets += 1,
                    }
                }
            }
            Packet::Unknown { .. } => self.tally.counters.rtcp_unknown_type += 1,
            Packet::SourceDescription(_)
            | Packet::App(_)
            | Packet::TransportFeedback(_)
            | Packet::PayloadFeedback(_) => {}
        }
    }

    /// One report block of an SR (`this_sr`) or RR of `reporter_ssrc`.
    fn report_block(&mut self, reporter_ssrc: u32, this_sr: Option<ThisSr>, block: &ReportBlock) {
        self.round_trip(reporter_ssrc, this_sr, block);
        self.loss_and_jitter(reporter_ssrc, block);
    }

    /// Round-trip delay from a block that answers one of the peer's SRs: the capture-time
    /// sample and, when the block rides in an SR, the chain it completes and starts.
    fn round_trip(&mut self, reporter_ssrc: u32, this_sr: Option<ThisSr>, block: &ReportBlock) {
        let answered = self
            .peer
            .sender_reports
            .get(block.ssrc)
            .and_then(|h| h.find(block.last_sr))
            .copied();
        let Some(answered) = answered else {
            return;
        };
        let dlsr = rtt::dlsr_nanos(block.delay_since_last_sr);
        let capture_rtt = self.now.nanos_since(answered.captured) - dlsr;
        if let Some(rtt) =
            self.tally
                .rtt(self.addr, block.ssrc, RttMethod::CaptureTime, capture_rtt)
        {
            self.peer.rtt_capture.record(nanos(rtt));
        }
        let Some(this_sr) = this_sr else {
            return;
        };
        // Third link of a chain: this SR (N2) answers the peer's SR, which answered our
        // earlier SR (N0) of the same SSRC.
        for link in answered.links().filter(|l| l.remote_ssrc == reporter_ssrc) {
            let chain = rtt::ntp_diff_nanos(this_sr.ntp, link.remote_ntp)
                - rtt::dlsr_nanos(link.dlsr)
                - dlsr;
            if let Some(rtt) = self
                .tally
                .rtt(self.addr, block.ssrc, RttMethod::NtpChain, chain)
            {
                self.peer.rtt_peer_view.record(nanos(rtt));
            }
        }
        // Second link: this SR acknowledges the peer's SR.
        self.reporter
            .sender_reports
            .get_or_insert(reporter_ssrc)
            .add_link(
                this_sr.slot,
                ChainLink {
                    remote_ssrc: block.ssrc,
                    remote_ntp: answered.ntp,
                    dlsr: block.delay_since_last_sr,
                },
            );
    }

    /// Loss and jitter of the peer's stream a block is about: only about RTP streams of
    /// this flow in that direction.
    fn loss_and_jitter(&mut self, reporter_ssrc: u32, block: &ReportBlock) {
        if block.ssrc == 0 {
            self.tally.counters.blocks_ssrc_zero += 1;
            return;
        }
        let Some(stream) = self.peer.valid_stream(block.ssrc) else {
            self.tally.counters.blocks_unknown_ssrc += 1;
            return;
        };
        let rate = stream.clock_rate();
        let reporter = &mut *self.reporter;
        reporter.blocks_accepted += 1;
        reporter
            .loss_baselines
            .record(reporter_ssrc, block, &mut reporter.reported_loss);
        match rate {
            Some((hz, _)) => reporter
                .reported_jitter
                .record_micros(f64::from(block.jitter) / f64::from(hz) * 1e6),
            None => self.tally.counters.jitter_without_rate += 1,
        }
    }

    /// A DLRR sub-block of the sender's XR: the peer's RRTR it answers gives one
    /// capture-time sample of the peer's view.
    fn dlrr(&mut self, sub: &DlrrSubBlock) {
        let answered = self
            .peer
            .reference_times
            .get(sub.ssrc)
            .and_then(|h| h.find(sub.last_rr))
            .copied();
        let Some(answered) = answered else {
            return;
        };
        let rtt =
            self.now.nanos_since(answered.captured) - rtt::dlsr_nanos(sub.delay_since_last_rr);
        if let Some(rtt) = self.tally.rtt(self.addr, sub.ssrc, RttMethod::XrDlrr, rtt) {
            self.peer.rtt_peer_view.record(nanos(rtt));
        }
    }
}

fn nanos(n: i64) -> Duration {
    Duration::from_nanos(n.max(0) as u64)
}
