//! Classic libpcap format.
//!
//! File header (24 bytes): magic, version major/minor (u16 each), thiszone (i32),
//! sigfigs (u32), snaplen (u32), link type (u32). Record header (16 bytes): seconds,
//! fraction (µs or ns depending on the magic), captured length, original length.

use std::io::Read;

use super::source::Source;
use super::{ByteOrder, CaptureError, InterfaceInfo, LinkType, Record, MAX_RECORD_LEN};
use crate::time::Timestamp;

const FILE_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;

/// What the file header fixed for every record.
#[derive(Debug)]
pub(crate) struct PcapState {
    order: ByteOrder,
    /// Nanosecond fractions (magic 0xa1b23c4d) instead of microseconds.
    nanos: bool,
    link_type: LinkType,
}

/// Recognises the four pcap magics: `(byte order, nanosecond resolution)`.
pub(crate) fn detect(magic: &[u8]) -> Option<(ByteOrder, bool)> {
    match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => Some((ByteOrder::Little, false)),
        [0xa1, 0xb2, 0xc3, 0xd4] => Some((ByteOrder::Big, false)),
        [0x4d, 0x3c, 0xb2, 0xa1] => Some((ByteOrder::Little, true)),
        [0xa1, 0xb2, 0x3c, 0x4d] => Some((ByteOrder::Big, true)),
        _ => None,
    }
}

/// Reads the 24-byte file header (its magic already recognised by [`detect`]).
pub(crate) fn read_header<R: Read>(
    src: &mut Source<R>,
    order: ByteOrder,
    nanos: bool,
) -> Result<(PcapState, InterfaceInfo), CaptureError> {
    if src.fill(FILE_HEADER_LEN)? < FILE_HEADER_LEN {
        return Err(CaptureError::Truncated {
            offset: 0,
            frames_read: 0,
        });
    }
    let h = src.data();
    let bad = || CaptureError::Malformed {
        offset: 0,
        reason: "unreadable pcap file header",
    };
    let snaplen = order.u32(h, 16).ok_or_else(bad)?;
    // Only the low 16 bits are the link type; the upper bits may carry FCS information
    // (draft-ietf-opsawg-pcap), which the IP length fields make irrelevant to us.
    let raw_link = order.u32(h, 20).ok_or_else(bad)? & 0xffff;
    let link_type = LinkType::from_linktype(raw_link);
    src.consume(FILE_HEADER_LEN);
    Ok((
        PcapState {
            order,
            nanos,
            link_type,
        },
        InterfaceInfo {
            link_type,
            name: None,
            speed_bits_per_sec: None,
            snaplen,
        },
    ))
}

/// Reads the next record, `None` at a clean end of file.
pub(crate) fn next_record<R: Read>(
    src: &mut Source<R>,
    st: &PcapState,
    frames_read: u64,
) -> Result<Option<Record>, CaptureError> {
    let offset = src.offset();
    let truncated = CaptureError::Truncated {
        offset,
        frames_read,
    };
    match src.fill(RECORD_HEADER_LEN)? {
        0 => return Ok(None),
        n if n < RECORD_HEADER_LEN => return Err(truncated),
        _ => {}
    }
    let h = src.data();
    let field = |at| {
        st.order.u32(h, at).ok_or(CaptureError::Malformed {
            offset,
            reason: "unreadable pcap record header",
        })
    };
    let secs = field(0)?;
    let frac = field(4)?;
    let caplen = field(8)?;
    let original_len = field(12)?;
    if caplen > MAX_RECORD_LEN {
        return Err(CaptureError::Malformed {
            offset,
            reason: "record length exceeds sanity bound",
        });
    }
    // Lossless: MAX_RECORD_LEN fits in usize on every supported platform (>= 32 bit).
    let caplen = caplen as usize;
    let total = RECORD_HEADER_LEN + caplen;
    if src.fill(total)? < total {
        return Err(truncated);
    }
    let range = src
        .range(RECORD_HEADER_LEN, caplen)
        .ok_or(CaptureError::Malformed {
            offset,
            reason: "internal buffer range error",
        })?;
    src.consume(total);
    // u32 seconds (pcap has no negative times) times 1e9 plus < 2^32 * 1000 stays well
    // inside i64.
    let frac_nanos = if st.nanos {
        i64::from(frac)
    } else {
        i64::from(frac) * 1000
    };
    let nanos = i64::from(secs)
        .saturating_mul(1_000_000_000)
        .saturating_add(frac_nanos);
    Ok(Some(Record {
        range,
        timestamp: Timestamp::from_nanos(nanos),
        link_type: st.link_type,
        interface: 0,
        original_len,
    }))
}
