//! Extended reports (RFC 3611).
//!
//! ```text
//!     0                   1                   2                   3
//!     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |V=2|P|reserved |   PT=XR=207   |             length            |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                              SSRC                             |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    :                         report blocks                         :
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!
//! Every report block:
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |      BT       | type-specific |         block length          |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    :             type-specific block contents                      :
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!
//! Receiver Reference Time (BT=4, block length 2):
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |              NTP timestamp, most significant word             |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |             NTP timestamp, least significant word             |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!
//! DLRR (BT=5, block length 3 per sub-block):
//!    +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//!    |                 SSRC_1 (SSRC of first receiver)               | sub-
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ block
//!    |                         last RR (LRR)                         |   1
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                   delay since last RR (DLRR)                  |
//!    +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//!    :                               ...                             :   2
//! ```
//!
//! `block length` counts the 32-bit words after the block's own 4-byte header.

use std::iter::FusedIterator;
use std::slice::ChunksExact;

use super::packet_type::EXTENDED_REPORT;
use crate::wire::bytes::{be16, be32, be64};

use super::{begin_packet, finish_packet, RtcpError, SubPacket};

/// Block type of a Receiver Reference Time block.
const BT_RRTR: u8 = 4;

/// Block type of a DLRR block.
const BT_DLRR: u8 = 5;

/// Size of one DLRR sub-block.
const DLRR_SUB_BLOCK_LEN: usize = 12;

/// Most DLRR sub-blocks whose XR still fits the 16-bit length field
/// (`length = 2 + 3·n ≤ 65535`).
const MAX_DLRR_SUB_BLOCKS: usize = 21_844;

/// A validated extended report (PT=207), padding removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtendedReport<'a> {
    buf: &'a [u8],
}

impl<'a> ExtendedReport<'a> {
    /// Validates the header and SSRC of the XR at the start of `buf` (bytes after the
    /// sub-packet are ignored). Report blocks are checked while iterating.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, RtcpError> {
        Self::from_sub(SubPacket::split_expecting(buf, &[EXTENDED_REPORT])?)
    }

    pub(super) fn from_sub(sub: SubPacket<'a>) -> Result<Self, RtcpError> {
        if sub.bytes.len() < 8 {
            return Err(RtcpError::TooShort {
                packet_type: EXTENDED_REPORT,
            });
        }
        Ok(ExtendedReport { buf: sub.bytes })
    }

    /// SSRC of the XR's originator.
    #[inline]
    pub fn ssrc(&self) -> u32 {
        be32(self.buf, 4)
    }

    /// The report blocks.
    ///
    /// A known block with a length its type does not allow yields `Err` and iteration
    /// continues with the next block; a block running past the end yields `Err` and ends
    /// the iteration.
    #[inline]
    pub fn blocks(&self) -> XrBlocks<'a> {
        XrBlocks {
            rest: self.buf.get(8..).unwrap_or(&[]),
        }
    }
}

/// One XR report block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XrBlock<'a> {
    /// BT=4: the receiver's wallclock time, for the sender to answer with a DLRR.
    ReceiverReferenceTime {
        /// 64-bit NTP timestamp (32.32 fixed point).
        ntp_timestamp: u64,
    },
    /// BT=5: the answers to receiver reference times.
    Dlrr(Dlrr<'a>),
    /// Any other block type.
    Other {
        /// The BT field.
        block_type: u8,
        /// The contents after the 4-byte block header.
        body: &'a [u8],
    },
}

/// Iterator over the blocks of an [`ExtendedReport`].
#[derive(Clone, Debug)]
pub struct XrBlocks<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for XrBlocks<'a> {
    type Item = Result<XrBlock<'a>, RtcpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let block_type = self.rest.first().copied().unwrap_or(0);
        let size = 4 + 4 * usize::from(be16(self.rest, 2));
        let (block, next) = match self.rest.split_at_checked(size) {
            Some(split) => split,
            // The block (or its header) runs past the end: no later block can be found.
            _ => {
                self.rest = &[];
                return Some(Err(RtcpError::XrBlockOverflow));
            }
        };
        self.rest = next;
        let body = block.get(4..).unwrap_or(&[]);
        Some(match block_type {
            BT_RRTR if body.len() == 8 => Ok(XrBlock::ReceiverReferenceTime {
                ntp_timestamp: be64(body, 0),
            }),
            BT_DLRR if body.len() % DLRR_SUB_BLOCK_LEN == 0 => {
                Ok(XrBlock::Dlrr(Dlrr { buf: body }))
            }
            BT_RRTR | BT_DLRR => Err(RtcpError::XrBlockLength { block_type }),
            _ => Ok(XrBlock::Other { block_type, body }),
        })
    }
}

impl FusedIterator for XrBlocks<'_> {}

/// The contents of a DLRR block (a whole number of sub-blocks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dlrr<'a> {
    buf: &'a [u8],
}

impl<'a> Dlrr<'a> {
    /// The sub-blocks, one per receiver.
    #[inline]
    pub fn sub_blocks(&self) -> DlrrSubBlocks<'a> {
        DlrrSubBlocks {
            inner: self.buf.chunks_exact(DLRR_SUB_BLOCK_LEN),
        }
    }
}

/// One DLRR sub-block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DlrrSubBlock {
    /// The receiver this sub-block answers.
    pub ssrc: u32,
    /// Middle 32 bits of the NTP timestamp of that receiver's last RRTR (0 if none).
    pub last_rr: u32,
    /// Delay between receiving that RRTR and sending this block, in 1/65536 s.
    pub delay_since_last_rr: u32,
}

/// Iterator over the sub-blocks of a [`Dlrr`].
#[derive(Clone, Debug)]
pub struct DlrrSubBlocks<'a> {
    inner: ChunksExact<'a, u8>,
}

impl Iterator for DlrrSubBlocks<'_> {
    type Item = DlrrSubBlock;

    #[inline]
    fn next(&mut self) -> Option<DlrrSubBlock> {
        self.inner.next().map(|b| DlrrSubBlock {
            ssrc: be32(b, 0),
            last_rr: be32(b, 4),
            delay_since_last_rr: be32(b, 8),
        })
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl ExactSizeIterator for DlrrSubBlocks<'_> {}
impl FusedIterator for DlrrSubBlocks<'_> {}

/// Appends an XR holding one Receiver Reference Time block.
pub fn write_xr_rrtr(out: &mut Vec<u8>, ssrc: u32, ntp: u64) {
    let start = begin_packet(out, 0, EXTENDED_REPORT);
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(&[BT_RRTR, 0, 0, 2]);
    out.extend_from_slice(&ntp.to_be_bytes());
    finish_packet(out, start);
}

/// Appends an XR holding one DLRR block. Sub-blocks beyond what the 16-bit length field
/// can describe (21 844) are dropped.
pub fn write_xr_dlrr(out: &mut Vec<u8>, ssrc: u32, subs: &[DlrrSubBlock]) {
    let subs = subs.get(..MAX_DLRR_SUB_BLOCKS).unwrap_or(subs);
    let start = begin_packet(out, 0, EXTENDED_REPORT);
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(&[BT_DLRR, 0]);
    // 3 words per sub-block; MAX_DLRR_SUB_BLOCKS keeps this within u16.
    out.extend_from_slice(&((3 * subs.len()) as u16).to_be_bytes());
    for sub in subs {
        out.extend_from_slice(&sub.ssrc.to_be_bytes());
        out.extend_from_slice(&sub.last_rr.to_be_bytes());
        out.extend_from_slice(&sub.delay_since_last_rr.to_be_bytes());
    }
    finish_packet(out, start);
}
