//! Source description (RFC 3550 §6.5).
//!
//! ```text
//!         0                   1                   2                   3
//!         0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//!        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! header |V=2|P|    SC   |  PT=SDES=202  |             length            |
//!        +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//! chunk  |                          SSRC/CSRC_1                          |
//!   1    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!        |                           SDES items                          |
//!        |                              ...                              |
//!        +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//! chunk  |                          SSRC/CSRC_2                          |
//!   2    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!        :                              ...                              :
//!        +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//!
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |    CNAME=1    |     length    | user and domain name        ...
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Each chunk's item list ends with a null octet (item type 0, no length), followed by
//! more null octets up to the next 32-bit boundary, where the next chunk starts.
//!
//! SDES is where third-party stacks are sloppiest, so the view validates nothing beyond
//! the header and the iterators report breakage as they meet it: the items that parse
//! are still handed out.

use std::iter::FusedIterator;

use super::packet_type::SOURCE_DESCRIPTION;
use crate::wire::bytes::be32;

use super::{begin_packet, count_field, finish_packet, RtcpError, SubPacket};

/// SDES item type of the canonical name.
pub const SDES_CNAME: u8 = 1;

/// A source description sub-packet (PT=202), padding removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceDescription<'a> {
    buf: &'a [u8],
}

impl<'a> SourceDescription<'a> {
    /// Validates the header of the SDES at the start of `buf` (bytes after the
    /// sub-packet are ignored). Chunks and items are checked while iterating.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, RtcpError> {
        SubPacket::split_expecting(buf, &[SOURCE_DESCRIPTION]).map(Self::from_sub)
    }

    pub(super) fn from_sub(sub: SubPacket<'a>) -> Self {
        SourceDescription { buf: sub.bytes }
    }

    /// The SC chunks, each as `(ssrc, items)`.
    ///
    /// A chunk whose SSRC does not fit yields `Err` and ends the iteration. A chunk whose
    /// items are broken still yields its SSRC; its items iterator reports the breakage,
    /// and the chunks after it are not read (their start cannot be found).
    #[inline]
    pub fn chunks(&self) -> SdesChunks<'a> {
        SdesChunks {
            buf: self.buf,
            offset: 4,
            remaining: count_field(self.buf),
        }
    }
}

/// Iterator over the chunks of a [`SourceDescription`].
#[derive(Clone, Debug)]
pub struct SdesChunks<'a> {
    /// The whole sub-packet: chunk boundaries are 32-bit aligned relative to its start.
    buf: &'a [u8],
    offset: usize,
    /// Chunks still announced by SC; 0 once done or after a break.
    remaining: u8,
}

impl<'a> Iterator for SdesChunks<'a> {
    type Item = Result<(u32, SdesItems<'a>), RtcpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let items_start = self.offset + 4;
        if self.buf.len() < items_start {
            self.remaining = 0;
            return Some(Err(RtcpError::SdesChunkOverflow));
        }
        let ssrc = be32(self.buf, self.offset);

        // Find the null item that ends the list by stepping over whole items, so that a
        // zero byte inside an item's text is not mistaken for it.
        let mut pos = items_start;
        let terminator = loop {
            match self.buf.get(pos) {
                Some(0) => break Some(pos),
                Some(_) => match self.buf.get(pos + 1) {
                    Some(&len) if pos + 2 + usize::from(len) <= self.buf.len() => {
                        pos += 2 + usize::from(len);
                    }
                    _ => break None,
                },
                None => break None,
            }
        };
        let (items_end, terminated) = match terminator {
            Some(null) => {
                // The next chunk starts at the 32-bit boundary after the null octet. A
                // missing tail of null octets is tolerated: the next chunk then simply
                // does not fit.
                self.offset = (null + 1).next_multiple_of(4);
                (null, true)
            }
            None => {
                self.remaining = 0;
                (self.buf.len(), false)
            }
        };
        Some(Ok((
            ssrc,
            SdesItems {
                rest: self.buf.get(items_start..items_end).unwrap_or(&[]),
                terminated,
            },
        )))
    }
}

impl FusedIterator for SdesChunks<'_> {}

/// Iterator over the items of one SDES chunk, as `(item_type, value)`.
///
/// Yields `Err` once and ends if an item runs past the end of the sub-packet or the
/// chunk lacks its terminating null item.
#[derive(Clone, Debug)]
pub struct SdesItems<'a> {
    /// Items up to (not including) the null terminator, or to the end of the sub-packet.
    rest: &'a [u8],
    /// Whether a null terminator ends `rest`; cleared once an error has been reported.
    terminated: bool,
}

impl<'a> Iterator for SdesItems<'a> {
    type Item = Result<(u8, &'a [u8]), RtcpError>;

    fn next(&mut self) -> Option<Self::Item> {
        let Some((&item_type, after)) = self.rest.split_first() else {
            if self.terminated {
                return None;
            }
            self.terminated = true;
            return Some(Err(RtcpError::SdesUnterminated));
        };
        let value = after
            .split_first()
            .and_then(|(&len, text)| text.get(..usize::from(len)));
        match value {
            Some(value) => {
                self.rest = after.get(1 + value.len()..).unwrap_or(&[]);
                Some(Ok((item_type, value)))
            }
            None => {
                // Report the overflow instead of a missing terminator, and only once.
                self.rest = &[];
                self.terminated = true;
                Some(Err(RtcpError::SdesItemOverflow))
            }
        }
    }
}

impl FusedIterator for SdesItems<'_> {}

/// Appends an SDES with one chunk holding one CNAME item, terminated and padded to
/// 32 bits. A CNAME longer than 255 bytes (the item length limit) is cut at the last
/// character boundary that fits.
pub fn write_sdes_cname(out: &mut Vec<u8>, ssrc: u32, cname: &str) {
    let mut len = cname.len().min(255);
    while !cname.is_char_boundary(len) {
        len -= 1;
    }
    let text = cname.as_bytes().get(..len).unwrap_or(&[]);
    let start = begin_packet(out, 1, SOURCE_DESCRIPTION);
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.push(SDES_CNAME);
    out.push(text.len() as u8);
    out.extend_from_slice(text);
    // The null item that ends the list; `finish_packet` adds the null octets up to the
    // 32-bit boundary.
    out.push(0);
    finish_packet(out, start);
}
