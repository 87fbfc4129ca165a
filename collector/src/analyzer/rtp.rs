//! RTP: each packet is filed under its flow, its sender's side and its SSRC's stream,
//! where [`RtpStream`] does the RFC 3550 work (probation, sequence, jitter, samples).

use std::net::SocketAddr;

use super::counters::Counters;
use super::flow::FlowSide;
use super::Analyzer;
use crate::clock::ClockRateSource;
use crate::stream::{RtpStream, SeqVerdict};
use crate::wire::rtp::{RtpHeader, RtpPacket};
use crate::Timestamp;

/// Most RTP streams (SSRCs) one endpoint of a flow may have at once. A real endpoint
/// sends a handful (a few SSRC changes, FEC, RTX); past this the oldest are evicted.
pub const MAX_STREAMS_PER_SIDE: usize = 32;

impl Analyzer {
    /// One datagram that the demultiplexer took for RTP.
    pub(super) fn on_rtp(
        &mut self,
        now: Timestamp,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
        payload_len: usize,
    ) {
        let Ok(packet) = RtpPacket::new_checked(payload) else {
            self.counters.rtp_malformed += 1;
            return;
        };
        let header = packet.header();
        let rate = self.configured_rate(src, dst, header.payload_type);
        let Some((index, side)) = self.table.find_or_admit(src, dst, now, &mut self.counters)
        else {
            return; // refused by the flow bound, counted there
        };
        let flow = self.table.flow_mut(index);
        debug_assert_eq!(side, flow.side_of(src));
        flow.last_packet = flow.last_packet.max(now);
        let sender = flow.side_mut(side);
        let slot = stream_slot(sender, now, &header, &mut self.counters);
        let stream = &mut sender.streams[slot];
        let was_valid = stream.is_valid();
        let verdict = stream.on_packet(now, &header, payload_len, rate, self.sample_every);
        if verdict == SeqVerdict::Probation {
            self.counters.rtp_probation += 1;
            return;
        }
        if !was_valid {
            // The packets held in probation are RTP after all.
            self.counters.rtp_probation = self
                .counters
                .rtp_probation
                .saturating_sub(stream.packets().saturating_sub(1));
            self.counters.rtp_packets += stream.packets().saturating_sub(1);
        }
        self.counters.rtp_packets += 1;
        sender.activity.observe(now, self.idle_gap);
        flow.activity.observe(now, self.idle_gap);
    }

    /// The clock rate configured for a payload type on this flow: scoped to the local
    /// port when the bot's addresses are known, else to either port.
    fn configured_rate(
        &self,
        src: SocketAddr,
        dst: SocketAddr,
        payload_type: u8,
    ) -> Option<(u32, ClockRateSource)> {
        let local = &self.config.local_addrs;
        let rates = &self.config.clock_rates;
        if local.contains(&src.ip()) {
            rates.lookup(&[src.port()], payload_type)
        } else if local.contains(&dst.ip()) {
            rates.lookup(&[dst.port()], payload_type)
        } else {
            rates.lookup(&[src.port(), dst.port()], payload_type)
        }
    }
}

/// The position of `header.ssrc`'s stream among the sender's streams, created if new.
#[inline]
fn stream_slot(
    sender: &mut FlowSide,
    now: Timestamp,
    header: &RtpHeader,
    counters: &mut Counters,
) -> usize {
    if let Some(slot) = sender.stream_index(header.ssrc) {
        return slot;
    }
    if sender.streams.len() >= MAX_STREAMS_PER_SIDE {
        // A flood of random SSRCs must not grow the state without bound: drop the stream
        // that never validated, else the one silent the longest.
        let victim = sender
            .streams
            .iter()
            .enumerate()
            .min_by_key(|(_, s)| (s.is_valid(), s.span().1))
            .map(|(i, _)| i)
            .unwrap_or(0);
        sender.streams.swap_remove(victim);
        counters.streams_evicted += 1;
    }
    if sender.streams.capacity() == 0 {
        // Most sides have one stream, and a flood's flows never get a second: the
        // default first capacity (4) would triple their size.
        sender.streams.reserve_exact(1);
    }
    sender.streams.push(RtpStream::new(now, header));
    sender.streams.len() - 1
}
