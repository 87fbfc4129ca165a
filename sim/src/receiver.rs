//! RFC 3550 receiver state of one endpoint about its peer's stream: what the generator's
//! simulated endpoints and the live test peer (`vtcq-testbench peer`) put in their report
//! blocks.
//!
//! It is deliberately simpler than [`vtcq_collector::stream`] (no probation, no reordering window,
//! no restart detection) and written independently of it, so that tests comparing the
//! analyzer's numbers with these compare two implementations. The caller extends
//! sequence numbers and RTP timestamps; this type only does the arithmetic of RFC 3550
//! §6.4.1 and A.3 (loss), A.8 (jitter) and the LSR/DLSR bookkeeping.

use vtcq_collector::wire::rtcp::ReportBlock;
use vtcq_collector::Timestamp;

/// What one endpoint knows about the stream it receives from its peer.
#[derive(Clone, Debug, Default)]
pub struct ReceiverState {
    started: bool,
    base_ext: i64,
    max_ext: i64,
    received: i64,
    expected_prior: i64,
    received_prior: i64,
    jitter: f64,
    last_transit: Option<f64>,
    /// (NTP middle 32 bits, arrival) of the peer's last SR.
    last_sr: Option<(u32, Timestamp)>,
    /// (NTP middle 32 bits, arrival) of the peer's last XR RRTR.
    last_rrtr: Option<(u32, Timestamp)>,
}

impl ReceiverState {
    /// Counts one RTP packet: `ext_seq` is its extended sequence number and `rtp_ts_ext`
    /// its extended RTP timestamp (both on any origin the caller keeps fixed), `arrival`
    /// when it arrived and `rate` the stream's clock rate.
    pub fn on_rtp(&mut self, ext_seq: i64, rtp_ts_ext: i64, arrival: Timestamp, rate: u32) {
        if !self.started {
            self.started = true;
            self.base_ext = ext_seq;
            self.max_ext = ext_seq;
        }
        self.max_ext = self.max_ext.max(ext_seq);
        self.received += 1;
        let arrival_units = arrival.as_nanos() as f64 * f64::from(rate) / 1e9;
        let transit = arrival_units - rtp_ts_ext as f64;
        if let Some(last) = self.last_transit {
            self.jitter += ((transit - last).abs() - self.jitter) / 16.0;
        }
        self.last_transit = Some(transit);
    }

    /// Remembers the peer's SR (the middle 32 bits of its NTP timestamp) and when it
    /// arrived, for LSR/DLSR.
    pub fn on_sr(&mut self, ntp_middle: u32, arrival: Timestamp) {
        self.last_sr = Some((ntp_middle, arrival));
    }

    /// Remembers the peer's XR RRTR and when it arrived, for a DLRR answer.
    pub fn on_rrtr(&mut self, ntp_middle: u32, arrival: Timestamp) {
        self.last_rrtr = Some((ntp_middle, arrival));
    }

    /// The peer's last RRTR (NTP middle 32 bits, arrival), if any.
    pub fn last_rrtr(&self) -> Option<(u32, Timestamp)> {
        self.last_rrtr
    }

    /// Whether any RTP packet was counted.
    pub fn started(&self) -> bool {
        self.started
    }

    /// Packets received.
    pub fn received(&self) -> i64 {
        self.received
    }

    /// Packets expected: highest minus first extended sequence number, plus one.
    pub fn expected(&self) -> i64 {
        if self.started {
            self.max_ext - self.base_ext + 1
        } else {
            0
        }
    }

    /// Cumulative packets lost (expected minus received; negative with duplicates).
    pub fn cumulative_lost(&self) -> i64 {
        self.expected() - self.received
    }

    /// The A.8 interarrival jitter estimate in RTP timestamp units.
    pub fn jitter(&self) -> f64 {
        self.jitter
    }

    /// The report block about `about_ssrc` sent at `now`, or `None` before the first RTP
    /// packet. Starts a new interval for the fraction lost. The extended highest sequence
    /// number on the wire is the caller's extended number plus `first_seq`.
    pub fn report_block(
        &mut self,
        about_ssrc: u32,
        now: Timestamp,
        first_seq: u16,
    ) -> Option<ReportBlock> {
        if !self.started {
            return None;
        }
        let expected = self.max_ext - self.base_ext + 1;
        let lost = expected - self.received;
        let expected_interval = expected - self.expected_prior;
        let received_interval = self.received - self.received_prior;
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval - received_interval;
        let fraction = if expected_interval <= 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval).min(255) as u8
        };
        let (last_sr, delay) = match self.last_sr {
            Some((mid, at)) => (mid, dlsr_units(now.nanos_since(at))),
            None => (0, 0),
        };
        Some(ReportBlock {
            ssrc: about_ssrc,
            fraction_lost: fraction,
            cumulative_lost: lost.clamp(-(1 << 23), (1 << 23) - 1) as i32,
            extended_highest_sequence: (self.max_ext + i64::from(first_seq)) as u32,
            jitter: self.jitter.round() as u32,
            last_sr,
            delay_since_last_sr: delay,
        })
    }
}

/// A delay in nanoseconds as a DLSR/DLRR value (1/65536 s), negative delays as zero.
pub fn dlsr_units(nanos: i64) -> u32 {
    ((nanos.max(0) as u128 * 65_536) / 1_000_000_000) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_loss_per_interval_and_cumulatively() {
        let mut r = ReceiverState::default();
        let t = |ms: i64| Timestamp::from_nanos(ms * 1_000_000);
        assert!(r.report_block(7, t(0), 0).is_none());
        // 10 packets expected, 8 received (3 and 6 missing).
        for seq in (0..10).filter(|s| *s != 3 && *s != 6) {
            r.on_rtp(seq, seq * 160, t(seq * 20), 8_000);
        }
        r.on_sr(0xABCD_0000, t(200));
        let block = r
            .report_block(7, t(300), 100)
            .unwrap_or_else(|| panic!("block"));
        assert_eq!(block.ssrc, 7);
        assert_eq!(block.cumulative_lost, 2);
        // 2 of 10 in 1/256: 51.
        assert_eq!(block.fraction_lost, 51);
        assert_eq!(block.extended_highest_sequence, 109);
        // Arrivals exactly on the media clock: no jitter.
        assert_eq!(block.jitter, 0);
        assert_eq!(block.last_sr, 0xABCD_0000);
        assert_eq!(block.delay_since_last_sr, 65_536 / 10);
        // Nothing new: the next interval loses nothing.
        let block = r
            .report_block(7, t(400), 100)
            .unwrap_or_else(|| panic!("block"));
        assert_eq!(block.fraction_lost, 0);
        assert_eq!(
            (r.expected(), r.received(), r.cumulative_lost()),
            (10, 8, 2)
        );
    }

    #[test]
    fn dlsr_units_are_65536ths_of_a_second() {
        assert_eq!(dlsr_units(1_000_000_000), 65_536);
        assert_eq!(dlsr_units(-5), 0);
    }
}
