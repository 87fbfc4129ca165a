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
mod tests {
    use super::*;

    /// A plain 12-byte header followed by a 4-byte payload.
    const BASIC: [u8; 16] = [
        0x80, // V=2 P=0 X=0 CC=0
        0xE0, // M=1 PT=96
        0xFF, 0xFF, // sequence number 65535 (about to wrap)
        0xFF, 0xFF, 0xFF, 0xFF, // timestamp u32::MAX (about to wrap)
        0x89, 0xAB, 0xCD, 0xEF, // SSRC
        0xDE, 0xAD, 0xBE, 0xEF, // payload
    ];

    #[test]
    fn basic_fields_and_wraparound_values() {
        let p = RtpPacket::new_checked(&BASIC).unwrap();
        assert_eq!(p.version(), 2);
        assert!(!p.padding());
        assert!(!p.extension());
        assert_eq!(p.csrc_count(), 0);
        assert!(p.marker());
        assert_eq!(p.payload_type(), 96);
        assert_eq!(p.sequence_number(), u16::MAX);
        assert_eq!(p.timestamp(), u32::MAX);
        assert_eq!(p.ssrc(), 0x89AB_CDEF);
        assert_eq!(p.csrcs().count(), 0);
        assert_eq!(p.extension_profile(), None);
        assert_eq!(p.extension_data(), None);
        assert_eq!(p.extension_elements().count(), 0);
        assert_eq!(p.header_len(), 12);
        assert_eq!(p.padding_len(), 0);
        assert_eq!(p.payload(), &[0xDE, 0xAD, 0xBE, 0xEF]);
        assert_eq!(p.as_bytes(), &BASIC);
    }

    #[test]
    fn header_only_packet_has_empty_payload() {
        let p = RtpPacket::new_checked(&BASIC[..12]).unwrap();
        assert_eq!(p.payload(), &[] as &[u8]);
    }

    #[test]
    fn zero_values() {
        let buf = [
            0x80, 0x00, // V=2, M=0 PT=0
            0x00, 0x00, // seq 0 (just wrapped)
            0x00, 0x00, 0x00, 0x00, // timestamp 0
            0x00, 0x00, 0x00, 0x00, // SSRC 0
        ];
        let p = RtpPacket::new_checked(&buf).unwrap();
        assert!(!p.marker());
        assert_eq!(p.payload_type(), 0);
        assert_eq!(p.sequence_number(), 0);
        assert_eq!(p.timestamp(), 0);
        assert_eq!(p.ssrc(), 0);
    }

    #[test]
    fn csrcs() {
        let buf = [
            0x82, // V=2 CC=2
            0x6F, // M=0 PT=111
            0x12, 0x34, // seq
            0x00, 0x00, 0x10, 0x00, // timestamp
            0x00, 0x00, 0x00, 0x01, // SSRC
            0x00, 0x00, 0x00, 0x02, // CSRC 1
            0xFF, 0xFF, 0xFF, 0xFE, // CSRC 2
            0xAA, // payload
        ];
        let p = RtpPacket::new_checked(&buf).unwrap();
        assert_eq!(p.csrc_count(), 2);
        let csrcs = p.csrcs();
        assert_eq!(csrcs.len(), 2);
        assert_eq!(csrcs.collect::<Vec<_>>(), vec![2, 0xFFFF_FFFE]);
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.payload(), &[0xAA]);
        // One CSRC byte short.
        assert_eq!(
            RtpPacket::new_checked(&buf[..19]),
            Err(RtpError::CsrcOverflow)
        );
    }

    #[test]
    fn csrc_count_fifteen_needs_72_bytes() {
        let mut buf = vec![0x8F, 0x00];
        buf.resize(72, 0);
        assert_eq!(RtpPacket::new_checked(&buf).unwrap().csrcs().len(), 15);
        assert_eq!(
            RtpPacket::new_checked(&buf[..71]),
            Err(RtpError::CsrcOverflow)
        );
    }

    /// One-byte-header extension with CSRC: abs-send-time (id 3) and audio level (id 1).
    const WITH_EXTENSION: [u8; 32] = [
        0x91, // V=2 P=0 X=1 CC=1
        0x6F, // PT=111
        0x00, 0x07, // seq 7
        0x00, 0x00, 0x03, 0xC0, // timestamp 960
        0x00, 0x00, 0x00, 0x0A, // SSRC
        0x00, 0x00, 0x00, 0x0B, // CSRC
        0xBE, 0xDE, 0x00, 0x02, // profile 0xBEDE, 2 words
        0x32, 0x01, 0x02, 0x03, // id 3, L=2 (3 bytes): 01 02 03
        0x10, 0x7F, 0x00, 0x00, // id 1, L=0 (1 byte): 7F, then 2 padding bytes
        0xCA, 0xFE, 0xBA, 0xBE, // payload
    ];

    #[test]
    fn one_byte_extension() {
        let p = RtpPacket::new_checked(&WITH_EXTENSION).unwrap();
        assert!(p.extension());
        assert_eq!(p.csrcs().collect::<Vec<_>>(), vec![0x0B]);
        assert_eq!(p.extension_profile(), Some(0xBEDE));
        assert_eq!(
            p.extension_data(),
            Some(&[0x32, 0x01, 0x02, 0x03, 0x10, 0x7F, 0x00, 0x00][..])
        );
        assert_eq!(p.header_len(), 28);
        assert_eq!(p.payload(), &[0xCA, 0xFE, 0xBA, 0xBE]);
        let elems: Vec<_> = p.extension_elements().collect();
        assert_eq!(
            elems,
            vec![
                Ok(ExtensionElement {
                    id: 3,
                    data: &[1, 2, 3]
                }),
                Ok(ExtensionElement {
                    id: 1,
                    data: &[0x7F]
                }),
            ]
        );
    }

    #[test]
    fn extension_overflow() {
        // Header says 2 words but only 1 follows.
        assert_eq!(
            RtpPacket::new_checked(&WITH_EXTENSION[..24]),
            Err(RtpError::ExtensionOverflow)
        );
        // Not even the 4-byte extension header fits.
        assert_eq!(
            RtpPacket::new_checked(&WITH_EXTENSION[..18]),
            Err(RtpError::ExtensionOverflow)
        );
        // Exactly the extension, empty payload.
        let p = RtpPacket::new_checked(&WITH_EXTENSION[..28]).unwrap();
        assert!(p.payload().is_empty());
    }

    #[test]
    fn empty_extension_block() {
        let buf = [
            0x90, 0x00, 0x00, 0x01, // V=2 X=1, PT 0, seq 1
            0x00, 0x00, 0x00, 0x00, // timestamp
            0x00, 0x00, 0x00, 0x01, // SSRC
            0x12, 0x34, 0x00, 0x00, // profile 0x1234, 0 words
        ];
        let p = RtpPacket::new_checked(&buf).unwrap();
        assert_eq!(p.extension_profile(), Some(0x1234));
        assert_eq!(p.extension_data(), Some(&[][..]));
        assert_eq!(p.header_len(), 16);
        // Unknown profile: no RFC 8285 elements.
        assert_eq!(p.extension_elements().count(), 0);
    }

    #[test]
    fn two_byte_extension_elements() {
        let buf = [
            0x90, 0x00, 0x00, 0x01, // V=2 X=1, PT 0, seq 1
            0x00, 0x00, 0x00, 0x00, // timestamp
            0x00, 0x00, 0x00, 0x01, // SSRC
            0x10, 0x00, 0x00, 0x02, // profile 0x1000 (two-byte form), 2 words
            0x05, 0x00, // id 5, empty element (allowed in the two-byte form)
            0x00, // padding byte
            0x10, 0x03, 0xAA, 0xBB, 0xCC, // id 16, 3 bytes
        ];
        let p = RtpPacket::new_checked(&buf).unwrap();
        let elems: Vec<_> = p.extension_elements().collect();
        assert_eq!(
            elems,
            vec![
                Ok(ExtensionElement { id: 5, data: &[] }),
                Ok(ExtensionElement {
                    id: 16,
                    data: &[0xAA, 0xBB, 0xCC]
                }),
            ]
        );
    }

    #[test]
    fn broken_extension_elements_are_reported() {
        let buf = [
            0x90, 0x00, 0x00, 0x01, // V=2 X=1
            0x00, 0x00, 0x00, 0x00, // timestamp
            0x00, 0x00, 0x00, 0x01, // SSRC
            0xBE, 0xDE, 0x00, 0x01, // one-byte form, 1 word
            0x10, 0x01, // id 1, 1 byte: 01
            0x23, 0x00, // id 2, L=3 (4 bytes) but only 1 byte left
        ];
        let p = RtpPacket::new_checked(&buf).unwrap();
        let elems: Vec<_> = p.extension_elements().collect();
        assert_eq!(
            elems,
            vec![
                Ok(ExtensionElement { id: 1, data: &[1] }),
                Err(RtpError::ExtensionElementOverflow),
            ]
        );
        // ID 15 stops processing without an error.
        let mut reserved = buf;
        reserved[18] = 0xF3;
        let p = RtpPacket::new_checked(&reserved).unwrap();
        assert_eq!(p.extension_elements().count(), 1);
    }

    #[test]
    fn padding() {
        let buf = [
            0xA0, 0x60, 0x00, 0x01, // V=2 P=1, PT 96, seq 1
            0x00, 0x00, 0x00, 0x00, // timestamp
            0x00, 0x00, 0x00, 0x01, // SSRC
            0x11, 0x22, // payload
            0x00, 0x00, 0x03, // 3 bytes of padding, count included
        ];
        let p = RtpPacket::new_checked(&buf).unwrap();
        assert!(p.padding());
        assert_eq!(p.padding_len(), 3);
        assert_eq!(p.payload(), &[0x11, 0x22]);
    }

    #[test]
    fn padding_edge_cases() {
        let header = [
            0xA0, 0x60, 0x00, 0x01, // V=2 P=1
            0x00, 0x00, 0x00, 0x00, // timestamp
            0x00, 0x00, 0x00, 0x01, // SSRC
        ];
        let with = |tail: &[u8]| {
            let mut v = header.to_vec();
            v.extend_from_slice(tail);
            v
        };
        // The whole body is padding: empty payload.
        let all = with(&[0, 0, 0, 4]);
        let p = RtpPacket::new_checked(&all).unwrap();
        assert_eq!(p.padding_len(), 4);
        assert!(p.payload().is_empty());
        // A single padding byte counting itself.
        let one = with(&[9, 1]);
        assert_eq!(RtpPacket::new_checked(&one).unwrap().payload(), &[9]);
        // Count 0 is invalid: the count byte is itself padding.
        assert_eq!(
            RtpPacket::new_checked(&with(&[9, 0])),
            Err(RtpError::ZeroPadding)
        );
        // Count larger than the bytes after the header.
        assert_eq!(
            RtpPacket::new_checked(&with(&[9, 3])),
            Err(RtpError::PaddingOverflow {
                count: 3,
                available: 2
            })
        );
        // P set but nothing after the header: no count byte of its own.
        assert_eq!(
            RtpPacket::new_checked(&header),
            Err(RtpError::PaddingOverflow {
                count: 0,
                available: 0
            })
        );
        // Padding may not eat into the extension.
        let mut ext = with(&[]);
        ext[0] |= 0x10; // X=1
        ext.extend_from_slice(&[0xBE, 0xDE, 0x00, 0x00, 0x05]);
        assert_eq!(
            RtpPacket::new_checked(&ext),
            Err(RtpError::PaddingOverflow {
                count: 5,
                available: 1
            })
        );
    }

    #[test]
    fn bad_version() {
        for v in [0u8, 1, 3] {
            let mut buf = BASIC;
            buf[0] = v << 6;
            assert_eq!(RtpPacket::new_checked(&buf), Err(RtpError::BadVersion(v)));
        }
    }

    #[test]
    fn too_short() {
        for len in 0..12 {
            assert_eq!(
                RtpPacket::new_checked(&BASIC[..len]),
                Err(RtpError::TooShort)
            );
        }
    }

    #[test]
    fn no_input_panics() {
        // Every prefix and every first-byte value of a packet with all features.
        let mut buf = WITH_EXTENSION.to_vec();
        buf[0] |= 0x20;
        buf.extend_from_slice(&[0, 2]);
        for first in 0..=255u8 {
            buf[0] = first;
            for len in 0..=buf.len() {
                if let Ok(p) = RtpPacket::new_checked(&buf[..len]) {
                    let _ = (p.csrcs().count(), p.extension_data(), p.payload());
                    let _ = p.extension_elements().count();
                    assert!(p.header_len() + p.padding_len() <= len);
                }
            }
        }
    }

    #[test]
    fn writer_round_trip() {
        for hdr in [
            RtpHeader {
                marker: true,
                payload_type: 111,
                sequence_number: 65535,
                timestamp: u32::MAX,
                ssrc: 0xDEAD_BEEF,
            },
            RtpHeader::default(),
        ] {
            let mut out = vec![0xEE]; // appends, not overwrites
            hdr.write(&mut out);
            assert_eq!(out.len(), 13);
            let p = RtpPacket::new_checked(&out[1..]).unwrap();
            assert_eq!(p.version(), 2);
            assert!(!p.padding() && !p.extension());
            assert_eq!(p.csrc_count(), 0);
            assert_eq!(p.marker(), hdr.marker);
            assert_eq!(p.payload_type(), hdr.payload_type);
            assert_eq!(p.sequence_number(), hdr.sequence_number);
            assert_eq!(p.timestamp(), hdr.timestamp);
            assert_eq!(p.ssrc(), hdr.ssrc);
        }
        // An out-of-range payload type cannot set the marker bit.
        let mut out = Vec::new();
        RtpHeader {
            payload_type: 0xFF,
            ..RtpHeader::default()
        }
        .write(&mut out);
        let p = RtpPacket::new_checked(&out).unwrap();
        assert!(!p.marker());
        assert_eq!(p.payload_type(), 0x7F);
    }
}
