//! RTCP compound packets (RFC 3550 §6) with XR (RFC 3611), feedback (RFC 4585),
//! reduced-size RTCP (RFC 5506) and SRTCP detection (RFC 3711).
//!
//! Every RTCP sub-packet starts with the same 4-byte header:
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P|  count  |      PT       |             length            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! `length` is the sub-packet's size in 32-bit words minus one, header and padding
//! included; `count` is a report/source count, a feedback FMT or an APP subtype. With P
//! set, the sub-packet's last byte counts its padding bytes (itself included).
//!
//! A UDP datagram carries a *compound* packet: sub-packets back to back.
//! [`Compound::parse`] walks the headers once and classifies the datagram:
//!
//! - [`CompoundKind::Plain`]: the headers tile the datagram exactly. Each sub-packet is
//!   then validated on its own, so one bad sub-packet yields one `Err` and the others
//!   are still read.
//! - [`CompoundKind::Srtcp`]: the headers do not tile the datagram and the tail looks like
//!   the SRTCP trailer (RFC 3711 §3.4): an `E‖index` word with E set, followed by an
//!   authentication tag. Everything past the first 8 bytes is ciphertext, so nothing is
//!   read from it.
//! - [`CompoundKind::Malformed`]: the headers break off and the tail is no SRTCP trailer.
//!   The sub-packets before the break are read, then the break is reported.
//!
//! The parser is deliberately more lenient than RFC 3550 §6.1: any sub-packet may carry
//! padding, the first sub-packet may be of any type (RFC 5506 reduced-size RTCP), unknown
//! packet types are skipped by their length, and bytes after the report blocks are
//! exposed as profile extensions.
//!
//! The `write_*` functions build sub-packets for the traffic generator and the tests;
//! each appends one sub-packet with a correct length field.

mod app;
mod bye;
mod feedback;
mod report;
mod sdes;
mod xr;

#[cfg(test)]
mod tests;

use std::iter::FusedIterator;

pub use app::App;
pub use bye::{write_bye, Goodbye, Sources};
pub use feedback::Feedback;
pub use report::{
    write_receiver_report, write_sender_report, ReceiverReport, ReportBlock, ReportBlocks,
    SenderReport,
};
pub use sdes::{write_sdes_cname, SdesChunks, SdesItems, SourceDescription, SDES_CNAME};
pub use xr::{
    write_xr_dlrr, write_xr_rrtr, Dlrr, DlrrSubBlock, DlrrSubBlocks, ExtendedReport, XrBlock,
    XrBlocks,
};

/// RTCP packet type numbers (the PT field).
pub mod packet_type {
    /// Sender report (RFC 3550 §6.4.1).
    pub const SENDER_REPORT: u8 = 200;
    /// Receiver report (RFC 3550 §6.4.2).
    pub const RECEIVER_REPORT: u8 = 201;
    /// Source description (RFC 3550 §6.5).
    pub const SOURCE_DESCRIPTION: u8 = 202;
    /// Goodbye (RFC 3550 §6.6).
    pub const GOODBYE: u8 = 203;
    /// Application-defined (RFC 3550 §6.7).
    pub const APP: u8 = 204;
    /// Transport-layer feedback, RTPFB (RFC 4585 §6.2).
    pub const TRANSPORT_FEEDBACK: u8 = 205;
    /// Payload-specific feedback, PSFB (RFC 4585 §6.3).
    pub const PAYLOAD_FEEDBACK: u8 = 206;
    /// Extended report (RFC 3611).
    pub const EXTENDED_REPORT: u8 = 207;
}

/// Why some bytes are not (part of) a well-formed RTCP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RtcpError {
    /// The datagram holds no bytes at all.
    #[error("empty rtcp datagram")]
    Empty,
    /// Fewer than 4 bytes are left where a sub-packet header should start.
    #[error("truncated rtcp header: {remaining} bytes left")]
    TruncatedHeader {
        /// Bytes left in the datagram.
        remaining: usize,
    },
    /// The version field is not 2.
    #[error("rtcp version {0}, expected 2")]
    BadVersion(u8),
    /// The packet type is outside 192..=223, the range RFC 5761 reserves for RTCP.
    #[error("packet type {0} is not an rtcp type")]
    NotRtcp(u8),
    /// The length field announces more bytes than are left.
    #[error("length field says {declared} bytes but only {available} are left")]
    LengthOverflow {
        /// Sub-packet size according to its length field.
        declared: usize,
        /// Bytes left in the datagram from the sub-packet's start.
        available: usize,
    },
    /// The P bit is set but the padding count is zero (it counts itself, so ≥ 1).
    #[error("padding count is zero")]
    ZeroPadding,
    /// The padding count is larger than the sub-packet's body.
    #[error("padding count {count} exceeds the {body} bytes after the header")]
    PaddingOverflow {
        /// The padding count (last byte of the sub-packet).
        count: u8,
        /// Bytes after the 4-byte header.
        body: usize,
    },
    /// A typed view was asked to read a sub-packet of another type.
    #[error("unexpected packet type {0} for this view")]
    WrongPacketType(u8),
    /// The sub-packet is too short for the fixed fields of its type.
    #[error("packet type {packet_type} too short for its fixed fields")]
    TooShort {
        /// The sub-packet's PT.
        packet_type: u8,
    },
    /// The report count announces more report blocks than the sub-packet holds.
    #[error("{count} report blocks do not fit in the packet")]
    ReportBlocksOverflow {
        /// The RC field.
        count: u8,
    },
    /// The source count of a BYE announces more SSRCs than the sub-packet holds.
    #[error("{count} bye sources do not fit in the packet")]
    SourcesOverflow {
        /// The SC field.
        count: u8,
    },
    /// The BYE reason's length byte points past the end of the sub-packet.
    #[error("bye reason runs past the end of the packet")]
    ReasonOverflow,
    /// The source count of an SDES announces a chunk whose SSRC does not fit.
    #[error("sdes chunk runs past the end of the packet")]
    SdesChunkOverflow,
    /// An SDES item's length points past the end of the sub-packet.
    #[error("sdes item runs past the end of the packet")]
    SdesItemOverflow,
    /// An SDES chunk ends without its terminating null item.
    #[error("sdes chunk has no terminating null item")]
    SdesUnterminated,
    /// An XR block's length points past the end of the sub-packet.
    #[error("xr block runs past the end of the packet")]
    XrBlockOverflow,
    /// A known XR block type has a length its definition does not allow.
    #[error("xr block type {block_type} has an invalid length")]
    XrBlockLength {
        /// The BT field.
        block_type: u8,
    },
}

/// The 5-bit count/FMT/subtype field of a sub-packet.
#[inline]
fn count_field(buf: &[u8]) -> u8 {
    buf.first().map_or(0, |b| b & 0x1F)
}

/// Checks the header of the sub-packet at the start of `rest` the way the compound walk
/// does (version, RTCP type range, length within `rest`) and returns its size in bytes.
fn header_size(rest: &[u8]) -> Result<usize, RtcpError> {
    let Some(&[first, packet_type, len_hi, len_lo]) = rest.first_chunk::<4>() else {
        return Err(RtcpError::TruncatedHeader {
            remaining: rest.len(),
        });
    };
    let version = first >> 6;
    if version != 2 {
        return Err(RtcpError::BadVersion(version));
    }
    if !(192..=223).contains(&packet_type) {
        return Err(RtcpError::NotRtcp(packet_type));
    }
    let declared = (usize::from(u16::from_be_bytes([len_hi, len_lo])) + 1) * 4;
    if declared > rest.len() {
        return Err(RtcpError::LengthOverflow {
            declared,
            available: rest.len(),
        });
    }
    Ok(declared)
}

/// One sub-packet cut out of its datagram, padding removed.
#[derive(Clone, Copy, Debug)]
struct SubPacket<'a> {
    packet_type: u8,
    /// Header included, padding removed.
    bytes: &'a [u8],
}

impl<'a> SubPacket<'a> {
    /// Cuts the sub-packet at the start of `buf` (later bytes are ignored) and strips its
    /// padding.
    fn split(buf: &'a [u8]) -> Result<Self, RtcpError> {
        let size = header_size(buf)?;
        let packet = buf.get(..size).unwrap_or(&[]);
        let packet_type = packet.get(1).copied().unwrap_or(0);
        let padded = packet.first().is_some_and(|b| b & 0x20 != 0);
        let bytes = if padded {
            // `size` ≥ 4, so the last byte exists; the body is what follows the header.
            let count = packet.last().copied().unwrap_or(0);
            let body = size.saturating_sub(4);
            if count == 0 {
                return Err(RtcpError::ZeroPadding);
            }
            if usize::from(count) > body {
                return Err(RtcpError::PaddingOverflow { count, body });
            }
            packet.get(..size - usize::from(count)).unwrap_or(packet)
        } else {
            packet
        };
        Ok(SubPacket { packet_type, bytes })
    }

    /// [`SubPacket::split`] plus a check of the packet type, for the typed views.
    fn split_expecting(buf: &'a [u8], expected: &[u8]) -> Result<Self, RtcpError> {
        let sub = Self::split(buf)?;
        if expected.contains(&sub.packet_type) {
            Ok(sub)
        } else {
            Err(RtcpError::WrongPacketType(sub.packet_type))
        }
    }
}

/// Quick check that `buf` starts with a plausible RTCP header: at least 4 bytes, version
/// 2, packet type in 192..=223 (RFC 5761) and a length field that fits in `buf`.
pub fn is_rtcp_header(buf: &[u8]) -> bool {
    header_size(buf).is_ok()
}

/// One validated RTCP sub-packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packet<'a> {
    /// PT 200.
    SenderReport(SenderReport<'a>),
    /// PT 201.
    ReceiverReport(ReceiverReport<'a>),
    /// PT 202.
    SourceDescription(SourceDescription<'a>),
    /// PT 203.
    Goodbye(Goodbye<'a>),
    /// PT 204.
    App(App<'a>),
    /// PT 207.
    ExtendedReport(ExtendedReport<'a>),
    /// PT 205 (RTPFB: NACK, TMMBR, transport-wide CC, ...).
    TransportFeedback(Feedback<'a>),
    /// PT 206 (PSFB: PLI, FIR, REMB, ...).
    PayloadFeedback(Feedback<'a>),
    /// Any other type in 192..=223, skipped by its length.
    Unknown {
        /// The PT field.
        packet_type: u8,
        /// The bytes after the 4-byte header, padding removed.
        body: &'a [u8],
    },
}

impl<'a> Packet<'a> {
    /// Validates the sub-packet at the start of `buf` (bytes after its length are
    /// ignored) and wraps it in the view for its type.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, RtcpError> {
        use packet_type as pt;
        let sub = SubPacket::split(buf)?;
        Ok(match sub.packet_type {
            pt::SENDER_REPORT => Packet::SenderReport(SenderReport::from_sub(sub)?),
            pt::RECEIVER_REPORT => Packet::ReceiverReport(ReceiverReport::from_sub(sub)?),
            pt::SOURCE_DESCRIPTION => Packet::SourceDescription(SourceDescription::from_sub(sub)),
            pt::GOODBYE => Packet::Goodbye(Goodbye::from_sub(sub)?),
            pt::APP => Packet::App(App::from_sub(sub)?),
            pt::EXTENDED_REPORT => Packet::ExtendedReport(ExtendedReport::from_sub(sub)?),
            pt::TRANSPORT_FEEDBACK => Packet::TransportFeedback(Feedback::from_sub(sub)?),
            pt::PAYLOAD_FEEDBACK => Packet::PayloadFeedback(Feedback::from_sub(sub)?),
            packet_type => Packet::Unknown {
                packet_type,
                body: sub.bytes.get(4..).unwrap_or(&[]),
            },
        })
    }

    /// The sub-packet's PT field.
    pub fn packet_type(&self) -> u8 {
        use packet_type as pt;
        match self {
            Packet::SenderReport(_) => pt::SENDER_REPORT,
            Packet::ReceiverReport(_) => pt::RECEIVER_REPORT,
            Packet::SourceDescription(_) => pt::SOURCE_DESCRIPTION,
            Packet::Goodbye(_) => pt::GOODBYE,
            Packet::App(_) => pt::APP,
            Packet::ExtendedReport(_) => pt::EXTENDED_REPORT,
            Packet::TransportFeedback(_) => pt::TRANSPORT_FEEDBACK,
            Packet::PayloadFeedback(_) => pt::PAYLOAD_FEEDBACK,
            Packet::Unknown { packet_type, .. } => *packet_type,
        }
    }
}

/// How a datagram's sub-packet headers fit the datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompoundKind {
    /// The headers tile the datagram exactly.
    Plain,
    /// The headers break off (or the datagram is empty) and the tail is no SRTCP trailer.
    Malformed,
    /// The headers break off and the tail looks like an SRTCP `E‖index` word plus
    /// authentication tag: the body is ciphertext.
    Srtcp,
}

/// Authentication tag lengths tried when looking for an SRTCP trailer. 10 bytes
/// (HMAC-SHA1-80) is by far the most common; 4 is HMAC-SHA1-32, 8, 12 and 16 are AEAD
/// tag sizes (RFC 7714), 0 an unauthenticated session.
const SRTCP_TAG_LENGTHS: [usize; 6] = [0, 4, 8, 10, 12, 16];

/// RFC 3711 §3.4: after the compound come `E‖SRTCP index` (E = encrypted, top bit) and
/// the authentication tag. If, for some tag length, that word sits word-aligned after
/// the first 8 plaintext bytes with E set, the datagram is taken as encrypted SRTCP.
fn has_srtcp_trailer(buf: &[u8]) -> bool {
    SRTCP_TAG_LENGTHS.iter().any(|&tag| {
        buf.len()
            .checked_sub(tag + 4)
            .filter(|&off| off >= 8 && off % 4 == 0)
            .and_then(|off| buf.get(off..off + 2))
            // E flag set, and not the header of a further RTCP sub-packet (V=2 with a
            // packet type of 192..=223): an SRTCP index only looks like that after some
            // 12 million packets, while a cut plain compound often ends right there.
            .is_some_and(|w| w[0] & 0x80 != 0 && !(w[0] >> 6 == 2 && (192..=223).contains(&w[1])))
    })
}

/// A classified RTCP datagram.
///
/// Parsing walks only the 4-byte sub-packet headers; the sub-packets themselves are
/// validated lazily by [`Compound::packets`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compound<'a> {
    /// The sub-packets the walk accepted (a prefix of the datagram).
    walked: &'a [u8],
    kind: CompoundKind,
    /// Why the walk stopped before the end of the datagram, if it did.
    break_error: Option<RtcpError>,
}

impl<'a> Compound<'a> {
    /// Walks the sub-packet headers once and classifies the datagram.
    pub fn parse(buf: &'a [u8]) -> Compound<'a> {
        let mut offset = 0;
        let mut break_error = buf.is_empty().then_some(RtcpError::Empty);
        while let Some(rest) = buf.get(offset..).filter(|r| !r.is_empty()) {
            match header_size(rest) {
                Ok(size) => offset += size,
                Err(e) => {
                    break_error = Some(e);
                    break;
                }
            }
        }
        let kind = match break_error {
            None => CompoundKind::Plain,
            Some(_) if has_srtcp_trailer(buf) => CompoundKind::Srtcp,
            Some(_) => CompoundKind::Malformed,
        };
        Compound {
            walked: buf.get(..offset).unwrap_or(&[]),
            kind,
            break_error,
        }
    }

    /// How the headers fit the datagram.
    #[inline]
    pub fn kind(&self) -> CompoundKind {
        self.kind
    }

    /// Why the header walk stopped before the end of the datagram (`None` for
    /// [`CompoundKind::Plain`]).
    #[inline]
    pub fn break_error(&self) -> Option<RtcpError> {
        self.break_error
    }

    /// The sub-packets. For Srtcp this yields nothing. For Malformed it yields the
    /// sub-packets before the break, then one Err, then ends.
    ///
    /// A sub-packet whose header is sound but whose body is not yields an `Err` of its
    /// own, and iteration carries on with the next sub-packet.
    pub fn packets(&self) -> Packets<'a> {
        match self.kind {
            CompoundKind::Srtcp => Packets {
                rest: &[],
                trailing_error: None,
            },
            CompoundKind::Plain | CompoundKind::Malformed => Packets {
                rest: self.walked,
                trailing_error: self.break_error,
            },
        }
    }
}

/// Iterator over the sub-packets of a [`Compound`].
#[derive(Clone, Debug)]
pub struct Packets<'a> {
    /// Sub-packets whose headers the walk already accepted.
    rest: &'a [u8],
    /// Reported once after `rest` is used up.
    trailing_error: Option<RtcpError>,
}

impl<'a> Iterator for Packets<'a> {
    type Item = Result<Packet<'a>, RtcpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return self.trailing_error.take().map(Err);
        }
        match header_size(self.rest) {
            Ok(size) => {
                let (this, next) = self.rest.split_at_checked(size).unwrap_or((self.rest, &[]));
                self.rest = next;
                Some(Packet::new_checked(this))
            }
            // Unreachable after the walk, but if it happened, nothing after it could be
            // delimited.
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

impl FusedIterator for Packets<'_> {}

/// Appends a sub-packet header with a zero length field and returns where it starts, for
/// [`finish_packet`] to fill in.
fn begin_packet(out: &mut Vec<u8>, count: u8, packet_type: u8) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0x80 | (count & 0x1F), packet_type, 0, 0]);
    start
}

/// Pads the sub-packet started at `start` with zeros to a 32-bit boundary (the padding is
/// part of the last field, not RTCP padding: P stays clear) and writes its length field.
fn finish_packet(out: &mut Vec<u8>, start: usize) {
    while !(out.len() - start).is_multiple_of(4) {
        out.push(0);
    }
    let words = (out.len() - start) / 4 - 1;
    // Writers bound their input so this always fits; saturate rather than wrap if not.
    let field = u16::try_from(words).unwrap_or(u16::MAX);
    if let Some(slot) = out.get_mut(start + 2..start + 4) {
        slot.copy_from_slice(&field.to_be_bytes());
    }
}
