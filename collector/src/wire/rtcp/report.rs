//! Sender and receiver reports (RFC 3550 §6.4).
//!
//! ```text
//!         0                   1                   2                   3
//!         0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//!        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! header |V=2|P|    RC   |   PT=SR=200   |             length            |
//!        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!        |                         SSRC of sender                        |
//!        +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//! sender |              NTP timestamp, most significant word             |
//! info   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!        |             NTP timestamp, least significant word             |
//!        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!        |                         RTP timestamp                         |
//!        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!        |                     sender's packet count                     |
//!        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!        |                      sender's octet count                     |
//!        +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//! report |                 SSRC_1 (SSRC of first source)                 |
//! block  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!   1    | fraction lost |       cumulative number of packets lost       |
//!        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!        |           extended highest sequence number received           |
//!        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!        |                      interarrival jitter                      |
//!        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!        |                         last SR (LSR)                         |
//!        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!        |                   delay since last SR (DLSR)                  |
//!        +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//! report |                 SSRC_2 (SSRC of second source)                |
//! block  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!   2    :                               ...                             :
//!        +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//!        |                  profile-specific extensions                  |
//!        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! A receiver report (PT=201) is the same without the sender info.

use std::iter::FusedIterator;
use std::slice::ChunksExact;

use super::packet_type::{RECEIVER_REPORT, SENDER_REPORT};
use crate::wire::bytes::{be32, be64};

use super::{begin_packet, count_field, finish_packet, RtcpError, SubPacket};

/// Offset of the first report block in a sender report.
const SR_BLOCKS_OFFSET: usize = 28;

/// Offset of the first report block in a receiver report.
const RR_BLOCKS_OFFSET: usize = 8;

/// Most report blocks one report can carry (RC is 5 bits).
const MAX_BLOCKS: usize = 31;

/// Smallest and largest values of the signed 24-bit cumulative-lost field.
const CUMULATIVE_LOST_MIN: i32 = -(1 << 23);
const CUMULATIVE_LOST_MAX: i32 = (1 << 23) - 1;

/// One reception report block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: u32,
    /// Fraction of packets lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Packets expected minus packets received, a signed 24-bit value (negative with
    /// duplicates), sign-extended.
    pub cumulative_lost: i32,
    /// Cycle count (high 16 bits) and highest sequence number received (low 16 bits).
    pub extended_highest_sequence: u32,
    /// Interarrival jitter in RTP timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR from this source (0 if none).
    pub last_sr: u32,
    /// Delay between receiving that SR and sending this block, in 1/65536 s.
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    /// Size of one report block on the wire.
    pub const LEN: usize = 24;

    /// Reads a block from its 24 bytes (missing bytes read as zero; the iterator only
    /// hands in whole blocks).
    #[inline]
    fn read(b: &[u8]) -> ReportBlock {
        let lost_word = be32(b, 4);
        ReportBlock {
            ssrc: be32(b, 0),
            fraction_lost: (lost_word >> 24) as u8,
            // Shift the 24-bit field to the top and back: the arithmetic shift
            // sign-extends it.
            cumulative_lost: ((lost_word << 8) as i32) >> 8,
            extended_highest_sequence: be32(b, 8),
            jitter: be32(b, 12),
            last_sr: be32(b, 16),
            delay_since_last_sr: be32(b, 20),
        }
    }

    /// Appends the 24-byte block. `cumulative_lost` is clamped to the signed 24-bit range
    /// and written as two's complement.
    pub fn write(&self, out: &mut Vec<u8>) {
        let lost = self
            .cumulative_lost
            .clamp(CUMULATIVE_LOST_MIN, CUMULATIVE_LOST_MAX) as u32
            & 0x00FF_FFFF;
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(&(u32::from(self.fraction_lost) << 24 | lost).to_be_bytes());
        out.extend_from_slice(&self.extended_highest_sequence.to_be_bytes());
        out.extend_from_slice(&self.jitter.to_be_bytes());
        out.extend_from_slice(&self.last_sr.to_be_bytes());
        out.extend_from_slice(&self.delay_since_last_sr.to_be_bytes());
    }
}

/// Iterator over the report blocks of a sender or receiver report.
#[derive(Clone, Debug)]
pub struct ReportBlocks<'a> {
    inner: ChunksExact<'a, u8>,
}

impl<'a> ReportBlocks<'a> {
    /// The report blocks of `buf` (a validated SR or RR) starting at `offset`.
    fn new(buf: &'a [u8], offset: usize) -> Self {
        let end = offset + ReportBlock::LEN * usize::from(count_field(buf));
        ReportBlocks {
            inner: buf
                .get(offset..end)
                .unwrap_or(&[])
                .chunks_exact(ReportBlock::LEN),
        }
    }
}

impl Iterator for ReportBlocks<'_> {
    type Item = ReportBlock;

    #[inline]
    fn next(&mut self) -> Option<ReportBlock> {
        self.inner.next().map(ReportBlock::read)
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl ExactSizeIterator for ReportBlocks<'_> {}
impl FusedIterator for ReportBlocks<'_> {}

/// Checks that the fixed part and the RC report blocks fit in `buf`.
fn check_blocks(buf: &[u8], blocks_offset: usize, packet_type: u8) -> Result<(), RtcpError> {
    if buf.len() < blocks_offset {
        return Err(RtcpError::TooShort { packet_type });
    }
    let count = count_field(buf);
    if buf.len() < blocks_offset + ReportBlock::LEN * usize::from(count) {
        return Err(RtcpError::ReportBlocksOverflow { count });
    }
    Ok(())
}

/// A validated sender report (PT=200), padding removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SenderReport<'a> {
    buf: &'a [u8],
}

impl<'a> SenderReport<'a> {
    /// Validates the SR at the start of `buf`: header, sender info and the RC report
    /// blocks must fit within its length (bytes after the sub-packet are ignored).
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, RtcpError> {
        Self::from_sub(SubPacket::split_expecting(buf, &[SENDER_REPORT])?)
    }

    pub(super) fn from_sub(sub: SubPacket<'a>) -> Result<Self, RtcpError> {
        check_blocks(sub.bytes, SR_BLOCKS_OFFSET, SENDER_REPORT)?;
        Ok(SenderReport { buf: sub.bytes })
    }

    /// SSRC of the sender.
    #[inline]
    pub fn ssrc(&self) -> u32 {
        be32(self.buf, 4)
    }

    /// 64-bit NTP wallclock time (32.32 fixed point, seconds since 1900).
    #[inline]
    pub fn ntp_timestamp(&self) -> u64 {
        be64(self.buf, 8)
    }

    /// RTP timestamp corresponding to [`SenderReport::ntp_timestamp`].
    #[inline]
    pub fn rtp_timestamp(&self) -> u32 {
        be32(self.buf, 16)
    }

    /// Packets sent since the start of transmission.
    #[inline]
    pub fn packet_count(&self) -> u32 {
        be32(self.buf, 20)
    }

    /// Payload octets sent since the start of transmission.
    #[inline]
    pub fn octet_count(&self) -> u32 {
        be32(self.buf, 24)
    }

    /// The RC report blocks.
    #[inline]
    pub fn report_blocks(&self) -> ReportBlocks<'a> {
        ReportBlocks::new(self.buf, SR_BLOCKS_OFFSET)
    }

    /// Bytes after the report blocks (profile-specific extensions; usually empty).
    #[inline]
    pub fn profile_extension(&self) -> &'a [u8] {
        let start = SR_BLOCKS_OFFSET + ReportBlock::LEN * usize::from(count_field(self.buf));
        self.buf.get(start..).unwrap_or(&[])
    }
}

/// A validated receiver report (PT=201), padding removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceiverReport<'a> {
    buf: &'a [u8],
}

impl<'a> ReceiverReport<'a> {
    /// Validates the RR at the start of `buf`: header, reporter SSRC and the RC report
    /// blocks must fit within its length (bytes after the sub-packet are ignored).
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, RtcpError> {
        Self::from_sub(SubPacket::split_expecting(buf, &[RECEIVER_REPORT])?)
    }

    pub(super) fn from_sub(sub: SubPacket<'a>) -> Result<Self, RtcpError> {
        check_blocks(sub.bytes, RR_BLOCKS_OFFSET, RECEIVER_REPORT)?;
        Ok(ReceiverReport { buf: sub.bytes })
    }

    /// SSRC of the reporter.
    #[inline]
    pub fn ssrc(&self) -> u32 {
        be32(self.buf, 4)
    }

    /// The RC report blocks.
    #[inline]
    pub fn report_blocks(&self) -> ReportBlocks<'a> {
        ReportBlocks::new(self.buf, RR_BLOCKS_OFFSET)
    }

    /// Bytes after the report blocks (profile-specific extensions; usually empty).
    #[inline]
    pub fn profile_extension(&self) -> &'a [u8] {
        let start = RR_BLOCKS_OFFSET + ReportBlock::LEN * usize::from(count_field(self.buf));
        self.buf.get(start..).unwrap_or(&[])
    }
}

/// Appends a sender report. At most 31 blocks fit the RC field; later ones are dropped.
pub fn write_sender_report(
    out: &mut Vec<u8>,
    ssrc: u32,
    ntp: u64,
    rtp_ts: u32,
    packets: u32,
    octets: u32,
    blocks: &[ReportBlock],
) {
    let blocks = blocks.get(..MAX_BLOCKS).unwrap_or(blocks);
    let start = begin_packet(out, blocks.len() as u8, SENDER_REPORT);
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(&ntp.to_be_bytes());
    out.extend_from_slice(&rtp_ts.to_be_bytes());
    out.extend_from_slice(&packets.to_be_bytes());
    out.extend_from_slice(&octets.to_be_bytes());
    for block in blocks {
        block.write(out);
    }
    finish_packet(out, start);
}

/// Appends a receiver report. At most 31 blocks fit the RC field; later ones are dropped.
pub fn write_receiver_report(out: &mut Vec<u8>, ssrc: u32, blocks: &[ReportBlock]) {
    let blocks = blocks.get(..MAX_BLOCKS).unwrap_or(blocks);
    let start = begin_packet(out, blocks.len() as u8, RECEIVER_REPORT);
    out.extend_from_slice(&ssrc.to_be_bytes());
    for block in blocks {
        block.write(out);
    }
    finish_packet(out, start);
}
