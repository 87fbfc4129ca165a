//! Round-trip delay from RTCP (SEMANTICS.md "Round-trip delay").
//!
//! Three methods, all fed capture timestamps:
//! - **capture time** (outbound, Wireshark's method): `t_capture(block with LSR = X) -
//!   t_capture(SR whose NTP middle 32 bits = X) - DLSR`. Blocks are matched against the last
//!   [`SR_HISTORY`] SRs of the reported SSRC, not only the latest one, because reports
//!   routinely cross the next SR on the wire.
//! - **NTP chain** (inbound, as the device sees it): remote SR at N0; local SR at T_l with a
//!   block about the remote (LSR = mid(N0), DLSR_l); remote SR at N2 with a block about the
//!   local (LSR = mid(T_l), DLSR_r): `RTT = N2 - N0 - DLSR_l - DLSR_r`. Only NTP times of the
//!   same SSRC are subtracted from each other: a device's clock may wander against ours.
//! - **XR DLRR** (inbound): the capture-time formula on a local RRTR answered by a DLRR.
//!
//! Results ≤ 0 or above [`MAX_RTT_NANOS`] are rejected (and counted by the caller).

use crate::Timestamp;

/// SRs remembered per SSRC (SEMANTICS.md asks for at least 8).
pub const SR_HISTORY: usize = 16;
/// Upper sanity bound of an RTT sample: 10 s.
pub const MAX_RTT_NANOS: i64 = 10_000_000_000;
/// Links from one SR to the remote SRs its blocks acknowledge.
const LINKS_PER_SR: usize = 2;

/// The middle 32 bits of a 64-bit NTP timestamp (what LSR and LRR carry).
#[inline]
pub fn ntp_middle(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// Converts a DLSR/DLRR value (1/65536 s) to nanoseconds.
#[inline]
pub fn dlsr_nanos(dlsr: u32) -> i64 {
    (i64::from(dlsr) * 1_000_000_000) >> 16
}

/// Converts a difference of two 64-bit NTP timestamps (32.32 fixed point) to nanoseconds.
#[inline]
pub fn ntp_diff_nanos(later: u64, earlier: u64) -> i64 {
    let diff = later.wrapping_sub(earlier) as i64;
    ((i128::from(diff) * 1_000_000_000) >> 32) as i64
}

/// An RTT result before the sanity bounds.
#[inline]
pub fn within_bounds(rtt_nanos: i64) -> Option<i64> {
    (rtt_nanos > 0 && rtt_nanos <= MAX_RTT_NANOS).then_some(rtt_nanos)
}

/// A remote SR acknowledged by a block in one of ours: the first link of an NTP chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainLink {
    /// SSRC of the remote SR (N0's sender).
    pub remote_ssrc: u32,
    /// N0: the remote SR's full NTP timestamp.
    pub remote_ntp: u64,
    /// DLSR our block reported, in 1/65536 s.
    pub dlsr: u32,
}

/// One remembered SR (or XR RRTR).
#[derive(Clone, Copy, Debug)]
pub struct SentReport {
    /// Full 64-bit NTP timestamp of the report.
    pub ntp: u64,
    /// When it was captured.
    pub captured: Timestamp,
    links: [Option<ChainLink>; LINKS_PER_SR],
}

impl SentReport {
    /// Chain links recorded on this report.
    pub fn links(&self) -> impl Iterator<Item = &ChainLink> {
        self.links.iter().flatten()
    }
}

/// The last [`SR_HISTORY`] reports of one SSRC, oldest overwritten first.
#[derive(Clone, Debug)]
pub struct ReportHistory {
    ssrc: u32,
    entries: [Option<SentReport>; SR_HISTORY],
    next: usize,
}

impl ReportHistory {
    /// An empty history for `ssrc`.
    pub fn new(ssrc: u32) -> Self {
        ReportHistory {
            ssrc,
            entries: [None; SR_HISTORY],
            next: 0,
        }
    }

    /// The SSRC whose reports these are.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Remembers a report; returns its slot for [`add_link`](Self::add_link).
    pub fn push(&mut self, ntp: u64, captured: Timestamp) -> usize {
        let slot = self.next;
        self.entries[slot] = Some(SentReport {
            ntp,
            captured,
            links: [None; LINKS_PER_SR],
        });
        self.next = (self.next + 1) % SR_HISTORY;
        slot
    }

    /// Records that the report in `slot` acknowledged a remote SR.
    pub fn add_link(&mut self, slot: usize, link: ChainLink) {
        if let Some(Some(entry)) = self.entries.get_mut(slot) {
            if let Some(free) = entry.links.iter_mut().find(|l| l.is_none()) {
                *free = Some(link);
            }
        }
    }

    /// The most recent report whose NTP middle 32 bits are `lsr` (LSR 0 means "no SR yet").
    pub fn find(&self, lsr: u32) -> Option<&SentReport> {
        if lsr == 0 {
            return None;
        }
        // Newest first: if a middle value repeats (a frozen NTP clock), the latest SR is the
        // one the peer most likely answered.
        (0..SR_HISTORY)
            .map(|back| (self.next + SR_HISTORY - 1 - back) % SR_HISTORY)
            .filter_map(|i| self.entries[i].as_ref())
            .find(|e| ntp_middle(e.ntp) == lsr)
    }
}

/// Histories of all SSRCs of one side of a flow (few: a linear scan beats hashing).
#[derive(Clone, Debug, Default)]
pub struct Histories {
    by_ssrc: Vec<ReportHistory>,
}

/// Most SSRCs whose history one side keeps: beyond that the oldest is dropped.
const MAX_SSRCS_PER_SIDE: usize = 16;

impl Histories {
    /// The history of `ssrc`, created on first use.
    pub fn get_or_insert(&mut self, ssrc: u32) -> &mut ReportHistory {
        let index = match self.by_ssrc.iter().position(|h| h.ssrc == ssrc) {
            Some(i) => i,
            None => {
                if self.by_ssrc.len() >= MAX_SSRCS_PER_SIDE {
                    self.by_ssrc.remove(0);
                }
                self.by_ssrc.push(ReportHistory::new(ssrc));
                self.by_ssrc.len() - 1
            }
        };
        &mut self.by_ssrc[index]
    }

    /// The history of `ssrc`, if any.
    pub fn get(&self, ssrc: u32) -> Option<&ReportHistory> {
        self.by_ssrc.iter().find(|h| h.ssrc == ssrc)
    }

    /// Number of SSRCs with a history.
    pub fn len(&self) -> usize {
        self.by_ssrc.len()
    }

    /// True when no SSRC has a history.
    pub fn is_empty(&self) -> bool {
        self.by_ssrc.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntp_conversions() {
        let ntp = (3_900_000_000u64 << 32) | 0x8000_0000; // .5 s
        assert_eq!(
            ntp_middle(ntp),
            ((3_900_000_000u64 & 0xFFFF) << 16) as u32 | 0x8000
        );
        assert_eq!(ntp_diff_nanos(ntp + (1u64 << 32), ntp), 1_000_000_000);
        assert_eq!(ntp_diff_nanos(ntp, ntp + (1u64 << 31)), -500_000_000);
        assert_eq!(dlsr_nanos(65_536), 1_000_000_000);
        assert_eq!(dlsr_nanos(6_554), 100_006_103);
    }

    #[test]
    fn bounds_reject_nonpositive_and_huge() {
        assert_eq!(within_bounds(0), None);
        assert_eq!(within_bounds(-5), None);
        assert_eq!(within_bounds(MAX_RTT_NANOS + 1), None);
        assert_eq!(within_bounds(30_000_000), Some(30_000_000));
    }

    #[test]
    fn history_finds_older_reports_and_forgets_the_oldest() {
        let mut h = ReportHistory::new(7);
        for i in 0..(SR_HISTORY as u64 + 2) {
            h.push((1_000 + i) << 32, Timestamp::from_nanos(i as i64));
        }
        // The two oldest were overwritten.
        assert!(h.find(ntp_middle(1_000 << 32)).is_none());
        assert!(h.find(ntp_middle(1_001 << 32)).is_none());
        let found = h.find(ntp_middle(1_002 << 32)).map(|e| e.captured);
        assert_eq!(found, Some(Timestamp::from_nanos(2)));
        assert!(h.find(0).is_none());
    }

    #[test]
    fn links_attach_to_their_report() {
        let mut h = ReportHistory::new(1);
        let slot = h.push(5 << 32, Timestamp::default());
        let link = ChainLink {
            remote_ssrc: 9,
            remote_ntp: 77 << 32,
            dlsr: 100,
        };
        h.add_link(slot, link);
        let links: Vec<_> = h
            .find(ntp_middle(5 << 32))
            .map(|e| e.links().copied().collect())
            .unwrap_or_default();
        assert_eq!(links, vec![link]);
    }
}
