//! RTP header view (RFC 3550 §5.1) with RFC 8285 header-extension elements.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P|X|  CC   |M|     PT      |       sequence number         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                           timestamp                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           synchronization source (SSRC) identifier            |
//! +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//! |            contributing source (CSRC) identifiers             |
//! |                             ....                              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |      defined by profile       |           length              |  if X = 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                        header extension                       |
//! |                             ....                              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                            payload                            |
//! |                             ....              +-+-+-+-+-+-+-+-+
//! |                                               : padding count |  if P = 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The extension `length` counts 32-bit words after its own 4-byte header. The last byte
//! of a padded packet counts the padding bytes, itself included.

use std::iter::FusedIterator;
use std::slice::ChunksExact;

use super::bytes::{be16, be32};

/// Length of the fixed RTP header (no CSRCs, no extension).
pub const FIXED_HEADER_LEN: usize = 12;

/// `defined by profile` value of an RFC 8285 one-byte-header extension block.
pub const ONE_BYTE_EXTENSION_PROFILE: u16 = 0xBEDE;

/// Why a buffer is not a well-formed RTP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    /// Fewer than [`FIXED_HEADER_LEN`] bytes.
    #[error("rtp packet shorter than the 12-byte fixed header")]
    TooShort,
    /// The version field is not 2.
    #[error("rtp version {0}, expected 2")]
    BadVersion(u8),
    /// The CSRC count announces more identifiers than the packet holds.
    #[error("csrc list runs past the end of the packet")]
    CsrcOverflow,
    /// The X bit is set but the extension header or its announced words do not fit.
    #[error("header extension runs past the end of the packet")]
    ExtensionOverflow,
    /// The P bit is set but the padding count is zero (it counts itself, so ≥ 1).
    #[error("padding count is zero")]
    ZeroPadding,
    /// The padding count is larger than the bytes after the header.
    #[error("padding count {count} exceeds the {available} bytes after the header")]
    PaddingOverflow {
        /// The padding count (last byte of the packet).
        count: u8,
        /// Bytes between the end of the header and the end of the packet.
        available: usize,
    },
    /// An RFC 8285 extension element runs past the end of the extension block.
    #[error("header extension element runs past the end of the extension block")]
    ExtensionElementOverflow,
}

/// A validated, zero-copy view of one RTP packet.
///
/// [`RtpPacket::new_checked`] checks every length once; afterwards no accessor panics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    buf: &'a [u8],
    // Both are derived from the bytes during validation and kept so that `payload` does
    // not have to walk the CSRC list and extension again on every call.
    header_len: usize,
    padding_len: usize,
}

impl<'a> RtpPacket<'a> {
    /// Validates `buf` as an RTP packet: version 2, at least `12 + 4·CC` bytes, an
    /// extension block (if X) that fits, and a padding count (if P) in
    /// `1..=bytes after the header`.
    ///
    /// The whole of `buf` is the packet (a UDP payload has no other length field).
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, RtpError> {
        let first = match buf.first() {
            Some(&b) if buf.len() >= FIXED_HEADER_LEN => b,
            _ => return Err(RtpError::TooShort),
        };
        let version = first >> 6;
        if version != 2 {
            return Err(RtpError::BadVersion(version));
        }
        let csrc_count = usize::from(first & 0x0F);
        let mut header_len = FIXED_HEADER_LEN + 4 * csrc_count;
        if buf.len() < header_len {
            return Err(RtpError::CsrcOverflow);
        }
        if first & 0x10 != 0 {
            if buf.len() < header_len + 4 {
                return Err(RtpError::ExtensionOverflow);
            }
            let words = usize::from(be16(buf, header_len + 2));
            header_len += 4 + 4 * words;
            if buf.len() < header_len {
                return Err(RtpError::ExtensionOverflow);
            }
        }
        let available = buf.len().saturating_sub(header_len);
        let padding_len = if first & 0x20 != 0 {
            // With nothing after the header the "count" would be a header byte, so a
            // padded packet needs at least one byte of its own.
            let count = match buf.last() {
                Some(&c) if available > 0 => c,
                _ => {
                    return Err(RtpError::PaddingOverflow {
                        count: 0,
                        available,
                    })
                }
            };
            if count == 0 {
                return Err(RtpError::ZeroPadding);
            }
            if usize::from(count) > available {
                return Err(RtpError::PaddingOverflow { count, available });
            }
            usize::from(count)
        } else {
            0
        };
        Ok(RtpPacket {
            buf,
            header_len,
            padding_len,
        })
    }

    /// The whole packet, header and padding included.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    #[inline]
    fn first(&self) -> u8 {
        self.buf.first().copied().unwrap_or(0)
    }

    #[inline]
    fn second(&self) -> u8 {
        self.buf.get(1).copied().unwrap_or(0)
    }

    /// Version field (always 2 for a validated packet).
    #[inline]
    pub fn version(&self) -> u8 {
        self.first() >> 6
    }

    /// P bit: the packet ends with padding.
    #[inline]
    pub fn padding(&self) -> bool {
        self.first() & 0x20 != 0
    }

    /// X bit: a header extension follows the CSRC list.
    #[inline]
    pub fn extension(&self) -> bool {
        self.first() & 0x10 != 0
    }

    /// CC field: number of CSRC identifiers.
    #[inline]
    pub fn csrc_count(&self) -> u8 {
        self.first() & 0x0F
    }

    /// M bit (profile-defined; frame boundary for video).
    #[inline]
    pub fn marker(&self) -> bool {
        self.second() & 0x80 != 0
    }

    /// 7-bit payload type.
    #[inline]
    pub fn payload_type(&self) -> u8 {
        self.second() & 0x7F
    }

    /// Sequence number.
    #[inline]
    pub fn sequence_number(&self) -> u16 {
        be16(self.buf, 2)
    }

    /// Media timestamp.
    #[inline]
    pub fn timestamp(&self) -> u32 {
        be32(self.buf, 4)
    }

    /// Synchronisation source.
    #[inline]
    pub fn ssrc(&self) -> u32 {
        be32(self.buf, 8)
    }

    /// The fixed-header fields the statistics read of every packet.
    #[inline]
    pub fn header(&self) -> RtpHeader {
        RtpHeader {
            marker: self.marker(),
            payload_type: self.payload_type(),
            sequence_number: self.sequence_number(),
            timestamp: self.timestamp(),
            ssrc: self.ssrc(),
        }
    }

    /// The contributing sources, in order.
    #[inline]
    pub fn csrcs(&self) -> Csrcs<'a> {
        let end = FIXED_HEADER_LEN + 4 * usize::from(self.csrc_count());
        Csrcs {
            inner: self
                .buf
                .get(FIXED_HEADER_LEN..end)
                .unwrap_or(&[])
                .chunks_exact(4),
        }
    }

    /// Offset of the extension header (right after the CSRC list).
    #[inline]
    fn extension_offset(&self) -> usize {
        FIXED_HEADER_LEN + 4 * usize::from(self.csrc_count())
    }

    /// The extension's "defined by profile" field, if X is set.
    #[inline]
    pub fn extension_profile(&self) -> Option<u16> {
        self.extension()
            .then(|| be16(self.buf, self.extension_offset()))
    }

    /// The extension data (after its 4-byte header), if X is set.
    #[inline]
    pub fn extension_data(&self) -> Option<&'a [u8]> {
        if !self.extension() {
            return None;
        }
        self.buf.get(self.extension_offset() + 4..self.header_len)
    }

    /// The RFC 8285 elements of the header extension.
    ///
    /// Yields nothing when there is no extension or its profile is neither the one-byte
    /// form (`0xBEDE`) nor the two-byte form (`0x100X`). Stops after the first `Err`.
    #[inline]
    pub fn extension_elements(&self) -> ExtensionElements<'a> {
        let form = match self.extension_profile() {
            Some(ONE_BYTE_EXTENSION_PROFILE) => ElementForm::OneByte,
            Some(p) if p & 0xFFF0 == 0x1000 => ElementForm::TwoByte,
            _ => ElementForm::None,
        };
        ExtensionElements {
            rest: self.extension_data().unwrap_or(&[]),
            form,
        }
    }

    /// Bytes of fixed header, CSRC list and extension.
    #[inline]
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// Bytes of padding at the end (0 when P is clear).
    #[inline]
    pub fn padding_len(&self) -> usize {
        self.padding_len
    }

    /// The payload: between the header and the padding.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        let end = self.buf.len().saturating_sub(self.padding_len);
        self.buf.get(self.header_len..end).unwrap_or(&[])
    }
}

/// Iterator over the CSRC identifiers of an [`RtpPacket`].
#[derive(Clone, Debug)]
pub struct Csrcs<'a> {
    inner: ChunksExact<'a, u8>,
}

impl Iterator for Csrcs<'_> {
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

impl ExactSizeIterator for Csrcs<'_> {}
impl FusedIterator for Csrcs<'_> {}

/// One RFC 8285 header-extension element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtensionElement<'a> {
    /// Local identifier (1..=14 in the one-byte form, 1..=255 in the two-byte form).
    pub id: u8,
    /// Element data.
    pub data: &'a [u8],
}

/// Which RFC 8285 element layout the extension block uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ElementForm {
    /// Not an RFC 8285 block: no elements.
    None,
    /// `ID(4) | L(4)`, data of `L + 1` bytes.
    OneByte,
    /// `ID(8) | length(8)`, data of `length` bytes.
    TwoByte,
}

/// Iterator over the RFC 8285 elements of an [`RtpPacket`]'s header extension.
#[derive(Clone, Debug)]
pub struct ExtensionElements<'a> {
    rest: &'a [u8],
    form: ElementForm,
}

impl<'a> Iterator for ExtensionElements<'a> {
    type Item = Result<ExtensionElement<'a>, RtpError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (&first, after) = self.rest.split_first()?;
            // A zero byte is padding between or after elements in both forms (RFC 8285
            // §4.2, §4.3); it has no length byte.
            if first == 0 {
                self.rest = after;
                continue;
            }
            let (id, len, data_start) = match self.form {
                ElementForm::None => return None,
                ElementForm::OneByte => {
                    // ID 15 is reserved and RFC 8285 says to stop processing there; ID 0
                    // with a non-zero length is not padding either, so nothing after it
                    // can be trusted.
                    if first >> 4 == 15 || first >> 4 == 0 {
                        self.rest = &[];
                        return None;
                    }
                    (first >> 4, usize::from(first & 0x0F) + 1, 1)
                }
                ElementForm::TwoByte => match after.first() {
                    Some(&len) => (first, usize::from(len), 2),
                    None => {
                        self.rest = &[];
                        return Some(Err(RtpError::ExtensionElementOverflow));
                    }
                },
            };
            let end = data_start + len;
            let Some(data) = self.rest.get(data_start..end) else {
                self.rest = &[];
                return Some(Err(RtpError::ExtensionElementOverflow));
            };
            self.rest = self.rest.get(end..).unwrap_or(&[]);
            return Some(Ok(ExtensionElement { id, data }));
        }
    }
}

impl FusedIterator for ExtensionElements<'_> {}

/// The fixed RTP header fields: what the statistics read of every packet
/// ([`RtpPacket::header`]) and what the traffic generator writes ([`RtpHeader::write`]:
/// no CSRCs, no extension, no padding).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RtpHeader {
    /// M bit.
    pub marker: bool,
    /// Payload type; only the low 7 bits are written.
    pub payload_type: u8,
    /// Sequence number.
    pub sequence_number: u16,
    /// Media timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
}

impl RtpHeader {
    /// Appends the 12-byte fixed header (V=2, P=0, X=0, CC=0) to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.push(0x80);
        out.push(u8::from(self.marker) << 7 | (self.payload_type & 0x7F));
        out.extend_from_slice(&self.sequence_number.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
