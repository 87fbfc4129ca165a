//! Goodbye (RFC 3550 §6.6).
//!
//! ```text
//!        0                   1                   2                   3
//!        0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//!       +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!       |V=2|P|    SC   |   PT=BYE=203  |             length            |
//!       +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!       |                           SSRC/CSRC                           |
//!       +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!       :                              ...                              :
//!       +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//! (opt) |     length    |               reason for leaving            ...
//!       +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The reason is followed by null octets up to the next 32-bit boundary.

use std::iter::FusedIterator;
use std::slice::ChunksExact;

use super::packet_type::GOODBYE;
use crate::wire::bytes::be32;

use super::{begin_packet, count_field, finish_packet, RtcpError, SubPacket};

/// Most sources one BYE can list (SC is 5 bits).
const MAX_SOURCES: usize = 31;

/// A validated goodbye sub-packet (PT=203), padding removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Goodbye<'a> {
    buf: &'a [u8],
}

impl<'a> Goodbye<'a> {
    /// Validates the BYE at the start of `buf`: the SC sources and, if present, the
    /// reason must fit within its length (bytes after the sub-packet are ignored).
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, RtcpError> {
        Self::from_sub(SubPacket::split_expecting(buf, &[GOODBYE])?)
    }

    pub(super) fn from_sub(sub: SubPacket<'a>) -> Result<Self, RtcpError> {
        let buf = sub.bytes;
        let count = count_field(buf);
        let reason_at = 4 + 4 * usize::from(count);
        if buf.len() < reason_at {
            return Err(RtcpError::SourcesOverflow { count });
        }
        if let Some(&len) = buf.get(reason_at) {
            if buf.len() < reason_at + 1 + usize::from(len) {
                return Err(RtcpError::ReasonOverflow);
            }
        }
        Ok(Goodbye { buf })
    }

    #[inline]
    fn reason_offset(&self) -> usize {
        4 + 4 * usize::from(count_field(self.buf))
    }

    /// The SSRCs/CSRCs that are leaving.
    #[inline]
    pub fn sources(&self) -> Sources<'a> {
        Sources {
            inner: self
                .buf
                .get(4..self.reason_offset())
                .unwrap_or(&[])
                .chunks_exact(4),
        }
    }

    /// The reason for leaving (usually UTF-8 text), `None` when absent or empty.
    #[inline]
    pub fn reason(&self) -> Option<&'a [u8]> {
        let (&len, text) = self.buf.get(self.reason_offset()..)?.split_first()?;
        text.get(..usize::from(len)).filter(|r| !r.is_empty())
    }
}

/// Iterator over the sources of a [`Goodbye`].
#[derive(Clone, Debug)]
pub struct Sources<'a> {
    inner: ChunksExact<'a, u8>,
}

impl Iterator for Sources<'_> {
    type Item = u32;

    #[inline]
    fn next(&mut self) -> Option<u32> {
        self.inner.next().map(|c| be32(c, 0))
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl ExactSizeIterator for Sources<'_> {}
impl FusedIterator for Sources<'_> {}

/// Appends a BYE for `ssrcs` with an optional reason, padded to 32 bits.
///
/// At most 31 sources fit the SC field and 255 bytes the reason's length byte; the rest
/// is dropped (the reason is cut at a character boundary). An empty reason is omitted.
pub fn write_bye(out: &mut Vec<u8>, ssrcs: &[u32], reason: Option<&str>) {
    let ssrcs = ssrcs.get(..MAX_SOURCES).unwrap_or(ssrcs);
    let start = begin_packet(out, ssrcs.len() as u8, GOODBYE);
    for ssrc in ssrcs {
        out.extend_from_slice(&ssrc.to_be_bytes());
    }
    if let Some(reason) = reason.filter(|r| !r.is_empty()) {
        let mut len = reason.len().min(255);
        while !reason.is_char_boundary(len) {
            len -= 1;
        }
        let text = reason.as_bytes().get(..len).unwrap_or(&[]);
        out.push(text.len() as u8);
        out.extend_from_slice(text);
    }
    finish_packet(out, start);
}
