//! pcap-ng.
//!
//! Every block is `type (u32) | total length (u32) | body | total length (u32)`, in the
//! byte order of its section. The Section Header Block's type is a palindrome so it reads
//! the same in both orders, and its body starts with the byte-order magic that fixes the
//! order for the rest of the section.

use std::io::Read;

use super::source::Source;
use super::{
    ByteOrder, CaptureError, InterfaceInfo, LinkType, Record, MAX_INTERFACES, MAX_RECORD_LEN,
};
use crate::time::Timestamp;

/// Section Header Block type, identical in both byte orders.
const SHB_TYPE: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;

const IDB_TYPE: u32 = 1;
/// Obsolete Packet Block.
const PB_TYPE: u32 = 2;
const SPB_TYPE: u32 = 3;
const EPB_TYPE: u32 = 6;

/// Smallest legal total length of each block type (header, fixed fields, trailer).
const MIN_BLOCK: u32 = 12;
const MIN_SHB: u32 = 28;
const MIN_IDB: u32 = 20;
const MIN_EPB: u32 = 32;
const MIN_PB: u32 = 32;
const MIN_SPB: u32 = 16;

const OPT_END: u16 = 0;
const IF_NAME: u16 = 2;
const IF_SPEED: u16 = 8;
const IF_TSRESOL: u16 = 9;
const IF_TSOFFSET: u16 = 14;

/// Timestamp parameters of one interface.
#[derive(Debug, Clone, Copy)]
struct IfaceTs {
    /// Timestamp units per second; `None` when finer than `u128` can hold (10^-39 and
    /// below), where every timestamp rounds to 0 ns anyway.
    units_per_sec: Option<u128>,
    /// `if_tsoffset`, seconds added to every timestamp.
    offset_secs: i64,
    link_type: LinkType,
    snaplen: u32,
}

/// State of the current section.
#[derive(Debug)]
pub(crate) struct NgState {
    order: ByteOrder,
    ifaces: Vec<IfaceTs>,
}

/// Whether the first four bytes are a Section Header Block type.
pub(crate) fn detect(magic: &[u8]) -> bool {
    magic == SHB_TYPE
}

/// Reads the first Section Header Block. A bad byte-order magic here means the file is
/// not pcapng at all (the SHB type is just "\n\r\r\n", which text can start with).
pub(crate) fn read_first_section<R: Read>(src: &mut Source<R>) -> Result<NgState, CaptureError> {
    if src.fill(12)? < 12 {
        return Err(CaptureError::NotACapture);
    }
    let Some(order) = section_order(src.data()) else {
        return Err(CaptureError::NotACapture);
    };
    let mut st = NgState {
        order,
        ifaces: Vec::new(),
    };
    read_shb(src, &mut st, &mut Vec::new(), 0)?;
    Ok(st)
}

/// The byte order announced by the SHB at the start of `head` (needs 12 bytes).
fn section_order(head: &[u8]) -> Option<ByteOrder> {
    if ByteOrder::Little.u32(head, 8)? == BYTE_ORDER_MAGIC {
        Some(ByteOrder::Little)
    } else if ByteOrder::Big.u32(head, 8)? == BYTE_ORDER_MAGIC {
        Some(ByteOrder::Big)
    } else {
        None
    }
}

/// Validates a block's total length against the bounds that hold for every block, and
/// against `min` for its type.
fn check_len(len: u32, min: u32) -> Result<usize, &'static str> {
    if len < min {
        Err("block length below the minimum for its type")
    } else if len & 3 != 0 {
        // Not a multiple of 4.
        Err("block length not a multiple of 4")
    } else if len > MAX_RECORD_LEN {
        Err("block length exceeds sanity bound")
    } else {
        // MAX_RECORD_LEN fits in usize on every supported (>= 32-bit) platform.
        Ok(len as usize)
    }
}

/// Reads the whole block of `len` bytes into the buffer and checks its trailing length.
fn load_block<R: Read>(
    src: &mut Source<R>,
    order: ByteOrder,
    len: usize,
    offset: u64,
    frames_read: u64,
) -> Result<(), CaptureError> {
    if src.fill(len)? < len {
        return Err(CaptureError::Truncated {
            offset,
            frames_read,
        });
    }
    let trailer = order.u32(src.data(), len - 4);
    if trailer.map(|t| t as usize) != Some(len) {
        return Err(CaptureError::Malformed {
            offset,
            reason: "block trailing length differs from leading length",
        });
    }
    Ok(())
}

/// Reads a Section Header Block at the current position and starts a new section: new
/// byte order, empty interface list.
fn read_shb<R: Read>(
    src: &mut Source<R>,
    st: &mut NgState,
    interfaces: &mut Vec<InterfaceInfo>,
    frames_read: u64,
) -> Result<(), CaptureError> {
    let offset = src.offset();
    let malformed = |reason| CaptureError::Malformed { offset, reason };
    if src.fill(12)? < 12 {
        return Err(CaptureError::Truncated {
            offset,
            frames_read,
        });
    }
    let head = src.data();
    let order = section_order(head).ok_or(malformed("bad section byte-order magic"))?;
    let len = order
        .u32(head, 4)
        .ok_or(malformed("unreadable block header"))?;
    let len = check_len(len, MIN_SHB).map_err(malformed)?;
    load_block(src, order, len, offset, frames_read)?;
    // Version 1.x is the only one defined; a different major version changes the layout.
    let major = order.u16(src.data(), 12);
    if major != Some(1) {
        return Err(malformed("unsupported pcapng major version"));
    }
    // Section length and options are of no use to a streaming reader.
    st.order = order;
    st.ifaces.clear();
    interfaces.clear();
    src.consume(len);
    Ok(())
}

/// Reads blocks until one carries a packet; `None` at a clean end of file.
pub(crate) fn next_record<R: Read>(
    src: &mut Source<R>,
    st: &mut NgState,
    interfaces: &mut Vec<InterfaceInfo>,
    frames_read: u64,
    last_timestamp: Timestamp,
) -> Result<Option<Record>, CaptureError> {
    loop {
        let offset = src.offset();
        let malformed = |reason| CaptureError::Malformed { offset, reason };
        let truncated = CaptureError::Truncated {
            offset,
            frames_read,
        };
        match src.fill(8)? {
            0 => return Ok(None),
            n if n < 8 => return Err(truncated),
            _ => {}
        }
        let head = src.data();
        if head.get(..4) == Some(&SHB_TYPE[..]) {
            read_shb(src, st, interfaces, frames_read)?;
            continue;
        }
        let order = st.order;
        let (Some(block_type), Some(len)) = (order.u32(head, 0), order.u32(head, 4)) else {
            return Err(malformed("unreadable block header"));
        };
        let min = match block_type {
            IDB_TYPE => MIN_IDB,
            EPB_TYPE => MIN_EPB,
            PB_TYPE => MIN_PB,
            SPB_TYPE => MIN_SPB,
            _ => MIN_BLOCK,
        };
        let len = check_len(len, min).map_err(malformed)?;
        match block_type {
            IDB_TYPE => {
                if st.ifaces.len() >= MAX_INTERFACES {
                    return Err(malformed("too many interfaces in one section"));
                }
                load_block(src, order, len, offset, frames_read)?;
                let (info, ts) = parse_idb(order, src.data().get(..len).unwrap_or(&[]))
                    .ok_or(malformed("unreadable interface description"))?;
                st.ifaces.push(ts);
                interfaces.push(info);
                src.consume(len);
            }
            EPB_TYPE | PB_TYPE | SPB_TYPE => {
                load_block(src, order, len, offset, frames_read)?;
                let block = src.data().get(..len).unwrap_or(&[]);
                let pkt = if block_type == SPB_TYPE {
                    parse_spb(order, block, &st.ifaces, last_timestamp)
                } else {
                    parse_epb_or_pb(order, block, block_type, &st.ifaces)
                }
                .map_err(malformed)?;
                let range = src
                    .range(pkt.data_offset, pkt.caplen)
                    .ok_or(malformed("internal buffer range error"))?;
                src.consume(len);
                return Ok(Some(Record {
                    range,
                    timestamp: pkt.timestamp,
                    link_type: pkt.link_type,
                    interface: pkt.interface,
                    original_len: pkt.original_len,
                }));
            }
            // Name resolution, interface statistics, decryption secrets, custom and
            // unknown blocks: nothing we use. Skipped without buffering them whole.
            _ => {
                if !src.skip(len as u64)? {
                    return Err(truncated);
                }
            }
        }
    }
}

/// A packet block's fields, with `data_offset` relative to the block start.
struct Packet {
    data_offset: usize,
    caplen: usize,
    timestamp: Timestamp,
    link_type: LinkType,
    interface: u32,
    original_len: u32,
}

/// Enhanced Packet Block (type 6) or obsolete Packet Block (type 2). They share the
/// layout except that the PB has a 16-bit interface id followed by a drop counter.
fn parse_epb_or_pb(
    order: ByteOrder,
    block: &[u8],
    block_type: u32,
    ifaces: &[IfaceTs],
) -> Result<Packet, &'static str> {
    const BAD: &str = "unreadable packet block";
    let interface = if block_type == PB_TYPE {
        u32::from(order.u16(block, 8).ok_or(BAD)?)
    } else {
        order.u32(block, 8).ok_or(BAD)?
    };
    let ts_high = order.u32(block, 12).ok_or(BAD)?;
    let ts_low = order.u32(block, 16).ok_or(BAD)?;
    let caplen = order.u32(block, 20).ok_or(BAD)? as usize;
    let original_len = order.u32(block, 24).ok_or(BAD)?;
    // 28 bytes of header and fixed fields, 4 of trailer.
    if caplen > block.len().saturating_sub(32) {
        return Err("captured length exceeds its block");
    }
    let iface = usize::try_from(interface)
        .ok()
        .and_then(|i| ifaces.get(i))
        .ok_or("packet names an interface that was not described")?;
    let ts = (u64::from(ts_high) << 32) | u64::from(ts_low);
    Ok(Packet {
        data_offset: 28,
        caplen,
        timestamp: to_timestamp(ts, iface.units_per_sec, iface.offset_secs),
        link_type: iface.link_type,
        interface,
        original_len,
    })
}

/// Simple Packet Block (type 3): interface 0, no timestamp (we use the previous
/// frame's), captured length implied by the original length and the snap length.
fn parse_spb(
    order: ByteOrder,
    block: &[u8],
    ifaces: &[IfaceTs],
    last_timestamp: Timestamp,
) -> Result<Packet, &'static str> {
    let original_len = order.u32(block, 8).ok_or("unreadable packet block")?;
    let iface = ifaces
        .first()
        .ok_or("simple packet block before any interface description")?;
    let room = block.len().saturating_sub(MIN_SPB as usize);
    let mut caplen = (original_len as usize).min(room);
    if iface.snaplen != 0 {
        caplen = caplen.min(iface.snaplen as usize);
    }
    Ok(Packet {
        data_offset: 12,
        caplen,
        timestamp: last_timestamp,
        link_type: iface.link_type,
        interface: 0,
        original_len,
    })
}

/// Interface Description Block: link type (u16), reserved (u16), snaplen (u32), options.
fn parse_idb(order: ByteOrder, block: &[u8]) -> Option<(InterfaceInfo, IfaceTs)> {
    let link_type = LinkType::from_linktype(u32::from(order.u16(block, 8)?));
    let snaplen = order.u32(block, 12)?;
    let mut info = InterfaceInfo {
        link_type,
        name: None,
        speed_bits_per_sec: None,
        snaplen,
    };
    let mut ts = IfaceTs {
        units_per_sec: units_per_sec(6),
        offset_secs: 0,
        link_type,
        snaplen,
    };
    let opts = block.get(16..block.len().checked_sub(4)?)?;
    for (code, value) in Options::new(order, opts) {
        match code {
            IF_NAME => {
                // UTF-8 by the spec; some writers add a NUL terminator.
                let name = String::from_utf8_lossy(value);
                info.name = Some(name.trim_end_matches('\0').to_owned());
            }
            IF_SPEED => info.speed_bits_per_sec = order.u64(value, 0),
            IF_TSRESOL => {
                if let Some(&r) = value.first() {
                    ts.units_per_sec = units_per_sec(r);
                }
            }
            IF_TSOFFSET => {
                if let Some(v) = order.u64(value, 0) {
                    // A signed 64-bit number of seconds, transported as raw bits.
                    ts.offset_secs = i64::from_ne_bytes(v.to_ne_bytes());
                }
            }
            _ => {}
        }
    }
    Some((info, ts))
}

/// Timestamp units per second for an `if_tsresol` byte: high bit clear means 10^-n
/// seconds, set means 2^-n. `None` when the count exceeds `u128` (only 10^-39 and finer).
fn units_per_sec(tsresol: u8) -> Option<u128> {
    let n = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 != 0 {
        1u128.checked_shl(n)
    } else {
        10u128.checked_pow(n)
    }
}

/// Converts a raw pcapng timestamp to nanoseconds since the epoch, saturating.
///
/// `ts * 1e9` is below 2^64 * 2^30 < 2^94, so it cannot overflow `u128`; the quotient
/// and the offset fit `i128` easily; only the final narrowing needs saturation.
fn to_timestamp(ts: u64, units_per_sec: Option<u128>, offset_secs: i64) -> Timestamp {
    let nanos: u128 = match units_per_sec {
        // The two resolutions virtually every file uses, without a 128-bit division.
        Some(1_000_000_000) => u128::from(ts),
        Some(1_000_000) => u128::from(ts) * 1000,
        Some(units) if units > 0 => u128::from(ts) * 1_000_000_000 / units,
        _ => 0,
    };
    let total = i128::try_from(nanos)
        .unwrap_or(i128::MAX)
        .saturating_add(i128::from(offset_secs) * 1_000_000_000);
    let clamped = i64::try_from(total).unwrap_or(if total < 0 { i64::MIN } else { i64::MAX });
    Timestamp::from_nanos(clamped)
}

/// Iterator over `(code, value)` of a pcapng option list. It ends at `opt_endofopt` or
/// at an option whose length overruns the block: options only add detail, so a broken
/// list is cut there rather than failing the whole file.
struct Options<'a> {
    order: ByteOrder,
    rest: &'a [u8],
}

impl<'a> Options<'a> {
    fn new(order: ByteOrder, area: &'a [u8]) -> Self {
        Options { order, rest: area }
    }
}

impl<'a> Iterator for Options<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let code = self.order.u16(self.rest, 0)?;
        let len = usize::from(self.order.u16(self.rest, 2)?);
        if code == OPT_END {
            self.rest = &[];
            return None;
        }
        let Some(value) = self.rest.get(4..4 + len) else {
            self.rest = &[];
            return None;
        };
        // Values are padded to 32 bits; the last option's padding may be missing.
        let padded = 4 + len.div_ceil(4) * 4;
        self.rest = self.rest.get(padded..).unwrap_or(&[]);
        Some((code, value))
    }
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn tsresol_units() {
        assert_eq!(units_per_sec(6), Some(1_000_000));
        assert_eq!(units_per_sec(9), Some(1_000_000_000));
        assert_eq!(units_per_sec(0x80 | 10), Some(1024));
        assert_eq!(units_per_sec(0x80 | 127), Some(1u128 << 127));
        assert_eq!(units_per_sec(38), Some(10u128.pow(38)));
        assert_eq!(units_per_sec(39), None);
    }

    #[test]
    fn timestamp_conversion_never_overflows() {
        for r in 0..=u8::MAX {
            for ts in [0, 1, u64::from(u32::MAX), u64::MAX] {
                for off in [i64::MIN, -1, 0, 1, i64::MAX] {
                    let _ = to_timestamp(ts, units_per_sec(r), off);
                }
            }
        }
        // Seconds resolution with a huge count saturates instead of wrapping.
        assert_eq!(to_timestamp(u64::MAX, Some(1), 0), Timestamp(i64::MAX));
        assert_eq!(to_timestamp(0, Some(1), i64::MIN), Timestamp(i64::MIN));
        // 2^-20 s: 3 * 2^20 ticks = 3 s.
        assert_eq!(
            to_timestamp(3 << 20, units_per_sec(0x80 | 20), 0),
            Timestamp(3_000_000_000)
        );
        // 10^-12 s: 1.5e12 ticks = 1.5 s, plus an offset of 10 s.
        assert_eq!(
            to_timestamp(1_500_000_000_000, units_per_sec(12), 10),
            Timestamp(11_500_000_000)
        );
        // 10^-3 s.
        assert_eq!(to_timestamp(7, units_per_sec(3), 0), Timestamp(7_000_000));
    }
}
