//! pcap / pcapng reading and writing.
//!
//! [`CaptureReader`] streams records out of any [`std::io::Read`]: it never loads the
//! whole file, and it keeps one internal buffer that is reused for every record, so the
//! steady state allocates nothing per packet. Each [`Frame`] borrows that buffer until the
//! next call.
//!
//! Captures are usually stopped by killing the capturing process, so the last record is
//! often cut short. That case is reported as [`CaptureError::Truncated`] *after* every
//! complete record was handed out, so the caller can warn and keep its results. Lengths
//! that cannot be right are [`CaptureError::Malformed`]; every length field is checked
//! against a sanity bound before it is used to size anything.
//!
//! [`PcapWriter`] writes classic little-endian nanosecond pcap, for the traffic generator
//! and the tests.

mod pcap;
mod pcapng;
mod source;
mod writer;

#[cfg(test)]
mod tests;

use std::fmt;
use std::io::Read;
use std::ops::Range;

use crate::time::Timestamp;
use source::Source;

pub use writer::PcapWriter;

/// Largest record or block we accept, in bytes. Real frames are at most a few hundred
/// KiB (loopback with large MTU); anything above this is a corrupt length field, and
/// trusting it would make us read or allocate arbitrarily much.
pub const MAX_RECORD_LEN: u32 = 256 * 1024 * 1024;

/// Most interfaces one pcapng section may describe. Each description costs memory that
/// outlives its block, so an unbounded count would let a file grow our memory without
/// bound.
pub const MAX_INTERFACES: usize = 65_536;

/// The link-layer header type of captured frames (a `LINKTYPE_` value).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// `LINKTYPE_ETHERNET` (1): Ethernet II / 802.3.
    Ethernet,
    /// `LINKTYPE_LINUX_SLL` (113): Linux "cooked" capture v1 (`any` device).
    LinuxSll,
    /// `LINKTYPE_LINUX_SLL2` (276): Linux "cooked" capture v2.
    LinuxSll2,
    /// `LINKTYPE_RAW` (101; also 12 and 14 on some systems): raw IPv4 or IPv6.
    RawIp,
    /// `LINKTYPE_IPV4` (228): raw IPv4 only.
    Ipv4,
    /// `LINKTYPE_IPV6` (229): raw IPv6 only.
    Ipv6,
    /// `LINKTYPE_NULL` (0): BSD loopback, 4-byte address family in the capturing host's
    /// byte order.
    Null,
    /// `LINKTYPE_LOOP` (108): OpenBSD loopback, address family in network byte order.
    Loop,
    /// Any other `LINKTYPE_` value.
    Other(u32),
}

impl LinkType {
    /// Maps a `LINKTYPE_` number to a [`LinkType`]. Known numbers never become
    /// [`LinkType::Other`].
    pub fn from_linktype(v: u32) -> LinkType {
        match v {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            // 12 and 14 are the DLT_RAW values of some BSDs that older files carry as-is.
            12 | 14 | 101 => LinkType::RawIp,
            108 => LinkType::Loop,
            113 => LinkType::LinuxSll,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            276 => LinkType::LinuxSll2,
            other => LinkType::Other(other),
        }
    }

    /// The `LINKTYPE_` number to write in a file header ([`LinkType::RawIp`] is 101).
    pub fn to_linktype(self) -> u32 {
        match self {
            LinkType::Null => 0,
            LinkType::Ethernet => 1,
            LinkType::RawIp => 101,
            LinkType::Loop => 108,
            LinkType::LinuxSll => 113,
            LinkType::Ipv4 => 228,
            LinkType::Ipv6 => 229,
            LinkType::LinuxSll2 => 276,
            LinkType::Other(v) => v,
        }
    }
}

/// The container format of a capture file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CaptureFormat {
    /// Classic libpcap format (one link type, one interface).
    Pcap,
    /// pcap-ng (sections, several interfaces).
    Pcapng,
}

/// What the file says about one capture interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceInfo {
    /// Link-layer type of the interface's frames.
    pub link_type: LinkType,
    /// pcapng `if_name`, if given.
    pub name: Option<String>,
    /// pcapng `if_speed` in bits per second, if given.
    pub speed_bits_per_sec: Option<u64>,
    /// Maximum captured bytes per frame; 0 means no limit.
    pub snaplen: u32,
}

/// One captured frame, borrowed from the reader's buffer until the next call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Capture time (interface `if_tsoffset` and `if_tsresol` applied).
    pub timestamp: Timestamp,
    /// Link-layer type of `data`.
    pub link_type: LinkType,
    /// Interface index within the current pcapng section; always 0 for pcap.
    pub interface: u32,
    /// The captured bytes (possibly fewer than were on the wire).
    pub data: &'a [u8],
    /// Length of the frame on the wire.
    pub original_len: u32,
}

/// Why a capture could not be read (further).
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The underlying reader failed (the I/O error is the source, printed once by whoever
    /// prints the chain).
    #[error("i/o error reading the capture")]
    Io(#[from] std::io::Error),
    /// The data does not start like a pcap or pcapng file (also: an empty file).
    #[error("not a pcap or pcapng file")]
    NotACapture,
    /// The file ends in the middle of a record, usually because the capture was stopped.
    /// Every complete record before it was returned.
    #[error("capture cut short at byte {offset} after {frames_read} frames")]
    Truncated {
        /// File offset where the incomplete record starts.
        offset: u64,
        /// Frames successfully returned before it.
        frames_read: u64,
    },
    /// A header or length field that cannot be right; reading cannot go on.
    #[error("malformed capture at byte {offset}: {reason}")]
    Malformed {
        /// File offset of the offending record or block.
        offset: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Byte order of a pcap file or pcapng section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ByteOrder {
    Little,
    Big,
}

impl ByteOrder {
    fn array<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
        b.get(at..at.checked_add(N)?)?.try_into().ok()
    }

    pub(crate) fn u16(self, b: &[u8], at: usize) -> Option<u16> {
        let a = Self::array(b, at)?;
        Some(match self {
            ByteOrder::Little => u16::from_le_bytes(a),
            ByteOrder::Big => u16::from_be_bytes(a),
        })
    }

    pub(crate) fn u32(self, b: &[u8], at: usize) -> Option<u32> {
        let a = Self::array(b, at)?;
        Some(match self {
            ByteOrder::Little => u32::from_le_bytes(a),
            ByteOrder::Big => u32::from_be_bytes(a),
        })
    }

    pub(crate) fn u64(self, b: &[u8], at: usize) -> Option<u64> {
        let a = Self::array(b, at)?;
        Some(match self {
            ByteOrder::Little => u64::from_le_bytes(a),
            ByteOrder::Big => u64::from_be_bytes(a),
        })
    }
}

/// A record located in the source buffer (already consumed), ready to be handed out.
pub(crate) struct Record {
    pub(crate) range: Range<usize>,
    pub(crate) timestamp: Timestamp,
    pub(crate) link_type: LinkType,
    pub(crate) interface: u32,
    pub(crate) original_len: u32,
}

/// Per-format parsing state.
enum State {
    Pcap(pcap::PcapState),
    Pcapng(pcapng::NgState),
}

/// Streaming pcap / pcapng reader over any [`Read`].
///
/// Wrap files in a [`std::io::BufReader`] or not: the reader buffers by itself, in
/// chunks of at least 64 KiB.
///
/// After any error the reader is finished and further calls return `Ok(None)`: the
/// position inside the file is no longer known to be on a record boundary.
pub struct CaptureReader<R: Read> {
    src: Source<R>,
    state: State,
    /// Interfaces of the current pcapng section (one synthetic entry for pcap).
    interfaces: Vec<InterfaceInfo>,
    frames_read: u64,
    /// Timestamp of the previous frame, for pcapng Simple Packet Blocks.
    last_timestamp: Timestamp,
    finished: bool,
}

impl<R: Read> fmt::Debug for CaptureReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaptureReader")
            .field("format", &self.format())
            .field("interfaces", &self.interfaces)
            .field("bytes_consumed", &self.bytes_consumed())
            .field("frames_read", &self.frames_read)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl<R: Read> CaptureReader<R> {
    /// Reads the file header (pcap) or first Section Header Block (pcapng).
    ///
    /// Fewer than 4 bytes, or a start that is neither pcap magic nor a pcapng section
    /// header with a valid byte-order magic, is [`CaptureError::NotACapture`]. A
    /// recognised magic followed by a cut header is [`CaptureError::Truncated`].
    pub fn new(reader: R) -> Result<Self, CaptureError> {
        let mut src = Source::new(reader);
        if src.fill(4)? < 4 {
            return Err(CaptureError::NotACapture);
        }
        let magic = src.data().get(..4).unwrap_or(&[]);
        let (state, interfaces) = if let Some((order, nanos)) = pcap::detect(magic) {
            let (st, info) = pcap::read_header(&mut src, order, nanos)?;
            (State::Pcap(st), vec![info])
        } else if pcapng::detect(magic) {
            (
                State::Pcapng(pcapng::read_first_section(&mut src)?),
                Vec::new(),
            )
        } else {
            return Err(CaptureError::NotACapture);
        };
        Ok(CaptureReader {
            src,
            state,
            interfaces,
            frames_read: 0,
            last_timestamp: Timestamp::default(),
            finished: false,
        })
    }

    /// The next frame, `Ok(None)` at a clean end of file.
    ///
    /// pcapng blocks that carry no packet (statistics, name resolution, decryption
    /// secrets, custom blocks, ...) are skipped. A pcapng Simple Packet Block has no
    /// timestamp; its frame gets the previous frame's timestamp (epoch 0 if it is the
    /// first), which keeps timestamps monotonic for the statistics downstream.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        if self.finished {
            return Ok(None);
        }
        let result = match &mut self.state {
            State::Pcap(st) => pcap::next_record(&mut self.src, st, self.frames_read),
            State::Pcapng(st) => pcapng::next_record(
                &mut self.src,
                st,
                &mut self.interfaces,
                self.frames_read,
                self.last_timestamp,
            ),
        };
        let rec = match result {
            Ok(Some(rec)) => rec,
            Ok(None) => {
                self.finished = true;
                return Ok(None);
            }
            Err(e) => {
                self.finished = true;
                return Err(e);
            }
        };
        let Some(data) = self.src.slice(rec.range) else {
            // Unreachable by construction (the range was checked when the record was
            // parsed), but an error beats a panic.
            self.finished = true;
            return Err(CaptureError::Malformed {
                offset: self.src.offset(),
                reason: "internal buffer range error",
            });
        };
        self.frames_read += 1;
        self.last_timestamp = rec.timestamp;
        Ok(Some(Frame {
            timestamp: rec.timestamp,
            link_type: rec.link_type,
            interface: rec.interface,
            data,
            original_len: rec.original_len,
        }))
    }

    /// Interfaces described so far in the current section (pcapng; a new section starts
    /// a new list), or the single interface of a pcap file.
    pub fn interfaces(&self) -> &[InterfaceInfo] {
        &self.interfaces
    }

    /// Whether the file is pcap or pcapng.
    pub fn format(&self) -> CaptureFormat {
        match self.state {
            State::Pcap(_) => CaptureFormat::Pcap,
            State::Pcapng(_) => CaptureFormat::Pcapng,
        }
    }

    /// Bytes of the file processed so far (complete records and headers), for progress
    /// display.
    pub fn bytes_consumed(&self) -> u64 {
        self.src.offset()
    }

    /// Frames returned so far.
    pub fn frames_read(&self) -> u64 {
        self.frames_read
    }
}
