//! IPv4 reassembly of fragmented UDP datagrams, for SIP.
//!
//! An INVITE of a video call often exceeds the path MTU (a Cisco or Poly SDP with H.264,
//! BFCP and SDES lines is 2-3 KB), and many devices still send it over UDP, so it leaves
//! as IP fragments. The media path never reassembles (RTP is sent below the MTU, and
//! reassembly would need state in a pure function); the signalling path must, or it
//! loses exactly the messages that carry the media plan.
//!
//! Fragments are kept per (source, destination, identification, protocol) until the
//! datagram is whole (RFC 791), then handed back as one UDP datagram. Bounds:
//! [`FragmentConfig::max_datagrams`] datagrams in progress (the oldest is dropped for a
//! new one), [`MAX_FRAGMENTS`] fragments and 64 KiB each, [`FragmentConfig::timeout`]
//! (RFC 791's 15 s would do; 30 s is generous). Overlapping fragments (RFC 5722's
//! attack) drop the datagram. IPv6 fragments are not reassembled (counted): SIP over IPv6
//! is still rare on VTC legs, and TCP is the cure RFC 3261 §18.1.1 prescribes anyway.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use pnet_packet::ipv4::{Ipv4Flags, Ipv4Packet};

use crate::capture::LinkType;
use crate::wire::link::{locate_ip, Ip, IPPROTO_UDP};
use crate::Timestamp;

/// Most fragments of one datagram (64 KiB in 1 KiB pieces).
pub const MAX_FRAGMENTS: usize = 64;

/// Largest IP payload of a reassembled datagram.
const MAX_PAYLOAD: usize = 65_535 - 20;

/// Bounds of the reassembler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragmentConfig {
    /// Datagrams in progress at once.
    pub max_datagrams: usize,
    /// A datagram not complete after this long is dropped.
    pub timeout: Duration,
}

impl Default for FragmentConfig {
    fn default() -> Self {
        FragmentConfig {
            max_datagrams: 64,
            timeout: Duration::from_secs(30),
        }
    }
}

/// What the fragment reassembler did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FragmentCounters {
    /// IPv4 fragments of UDP datagrams taken in.
    pub fragments: u64,
    /// Datagrams made whole.
    pub reassembled: u64,
    /// Datagrams dropped incomplete: timed out, evicted by a newer one, too many pieces.
    pub dropped_incomplete: u64,
    /// Datagrams dropped for overlapping or oversized fragments.
    pub dropped_malformed: u64,
    /// IPv6 fragments and fragments of other protocols, not reassembled.
    pub ignored: u64,
}

type Key = (Ipv4Addr, Ipv4Addr, u16);

struct Pending {
    key: Key,
    first_seen: Timestamp,
    /// The IP payload so far (UDP header first), zero-filled where pieces are missing.
    data: Vec<u8>,
    /// Byte ranges received.
    pieces: Vec<(usize, usize)>,
    /// The payload length, known once the last fragment (MF clear) arrived.
    total: Option<usize>,
}

// Fragments hold SIP bodies (maybe SDES keys): Debug shows lengths only.
impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("key", &self.key)
            .field("first_seen", &self.first_seen)
            .field("bytes", &self.data.len())
            .field("pieces", &self.pieces)
            .field("total", &self.total)
            .finish()
    }
}

/// Reassembles fragmented IPv4 UDP datagrams.
#[derive(Default)]
pub struct FragmentReassembler {
    config: FragmentConfig,
    pending: Vec<Pending>,
    /// The last datagram made whole (reused buffer).
    whole: Vec<u8>,
}

impl std::fmt::Debug for FragmentReassembler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FragmentReassembler")
            .field("config", &self.config)
            .field("pending", &self.pending)
            .finish()
    }
}

/// A reassembled datagram: addresses and the UDP payload (`Debug` shows its length).
pub struct Reassembled<'a> {
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// The UDP payload.
    pub payload: &'a [u8],
}

impl std::fmt::Debug for Reassembled<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reassembled")
            .field("src", &self.src)
            .field("dst", &self.dst)
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

impl FragmentReassembler {
    /// A reassembler with the given bounds.
    pub fn new(config: FragmentConfig) -> Self {
        FragmentReassembler {
            config,
            ..Self::default()
        }
    }

    /// Datagrams in progress.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// True when no datagram is in progress.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Takes one fragment (a frame the link decoder reported as a fragment). Returns the
    /// whole datagram when this fragment completed it.
    pub fn on_fragment(
        &mut self,
        now: Timestamp,
        link_type: LinkType,
        frame: &[u8],
        counters: &mut FragmentCounters,
    ) -> Option<Reassembled<'_>> {
        self.expire(now, counters);
        let Ok(Ip::V4(bytes)) = locate_ip(link_type, frame) else {
            counters.ignored += 1;
            return None;
        };
        let ip = Ipv4Packet::new(bytes)?;
        let header_len = usize::from(ip.get_header_length()) * 4;
        let total_len = usize::from(ip.get_total_length());
        if ip.get_next_level_protocol().0 != IPPROTO_UDP
            || header_len < 20
            || total_len < header_len
        {
            counters.ignored += 1;
            return None;
        }
        counters.fragments += 1;
        let piece = bytes.get(header_len..total_len.min(bytes.len()))?;
        if piece.len() < total_len - header_len {
            // Cut by the snap length: this datagram cannot be made whole.
            counters.dropped_incomplete += 1;
            return None;
        }
        let key = (
            ip.get_source(),
            ip.get_destination(),
            ip.get_identification(),
        );
        let offset = usize::from(ip.get_fragment_offset()) * 8;
        let last = ip.get_flags() & Ipv4Flags::MoreFragments == 0;
        let index = self.slot(now, key, counters);
        let complete = match self.pending.get_mut(index) {
            Some(pending) => add_piece(pending, offset, piece, last),
            None => return None,
        };
        match complete {
            Piece::Incomplete => None,
            Piece::Refused => {
                self.pending.swap_remove(index);
                counters.dropped_malformed += 1;
                None
            }
            Piece::Complete => {
                let pending = self.pending.swap_remove(index);
                counters.reassembled += 1;
                self.whole = pending.data;
                udp_of(pending.key, &self.whole)
            }
        }
    }

    /// The index of the datagram `key`, created (evicting the oldest) when new.
    fn slot(&mut self, now: Timestamp, key: Key, counters: &mut FragmentCounters) -> usize {
        if let Some(i) = self.pending.iter().position(|p| p.key == key) {
            return i;
        }
        if self.pending.len() >= self.config.max_datagrams.max(1) {
            let oldest = self
                .pending
                .iter()
                .enumerate()
                .min_by_key(|(_, p)| p.first_seen)
                .map(|(i, _)| i);
            if let Some(oldest) = oldest {
                self.pending.swap_remove(oldest);
                counters.dropped_incomplete += 1;
            }
        }
        self.pending.push(Pending {
            key,
            first_seen: now,
            data: Vec::new(),
            pieces: Vec::new(),
            total: None,
        });
        self.pending.len() - 1
    }

    fn expire(&mut self, now: Timestamp, counters: &mut FragmentCounters) {
        let timeout = self.config.timeout;
        let before = self.pending.len();
        self.pending
            .retain(|p| now.saturating_duration_since(p.first_seen) <= timeout);
        counters.dropped_incomplete += (before - self.pending.len()) as u64;
    }
}

enum Piece {
    Incomplete,
    Complete,
    Refused,
}

fn add_piece(pending: &mut Pending, offset: usize, piece: &[u8], last: bool) -> Piece {
    let end = offset + piece.len();
    let overlaps = pending.pieces.iter().any(|&(s, e)| offset < e && s < end);
    let beyond_total = pending.total.is_some_and(|t| end > t);
    if end > MAX_PAYLOAD || overlaps || beyond_total || pending.pieces.len() >= MAX_FRAGMENTS {
        return Piece::Refused;
    }
    if last {
        if pending.pieces.iter().any(|&(_, e)| e > end) {
            return Piece::Refused;
        }
        pending.total = Some(end);
    }
    if pending.data.len() < end {
        pending.data.resize(end, 0);
    }
    if let Some(slot) = pending.data.get_mut(offset..end) {
        slot.copy_from_slice(piece);
    }
    pending.pieces.push((offset, end));
    match pending.total {
        Some(total) if pending.pieces.iter().map(|(s, e)| e - s).sum::<usize>() == total => {
            Piece::Complete
        }
        _ => Piece::Incomplete,
    }
}

/// The UDP datagram in a reassembled IP payload.
fn udp_of(key: Key, data: &[u8]) -> Option<Reassembled<'_>> {
    let header: [u8; 8] = data.get(..8)?.try_into().ok()?;
    let port = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]);
    let udp_len = usize::from(port(4));
    let payload = data.get(8..udp_len.min(data.len()).max(8))?;
    Some(Reassembled {
        src: SocketAddr::new(IpAddr::V4(key.0), port(0)),
        dst: SocketAddr::new(IpAddr::V4(key.1), port(2)),
        payload,
    })
}

#[cfg(test)]
pub(crate) mod tests;
