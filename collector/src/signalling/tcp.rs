//! SIP over TCP: per-connection reassembly into messages (RFC 3261 §18.3).
//!
//! One [`TcpReassembler`] follows every connection direction (source and destination
//! socket addresses) that carries SIP. In-order bytes are appended to the direction's
//! buffer and cut into messages by their Content-Length; a message is handed to the
//! caller as a view into that buffer (no copy beyond the one into the buffer).
//!
//! What it does not do, on purpose: buffer out-of-order segments. A passive observer
//! cannot ask for a retransmission, and buffering every hole a hostile peer opens would
//! be memory without bound. A gap (a lost segment, a reordering, a segment cut by the
//! snap length, joining a connection mid-stream) drops the partial message and
//! *resynchronises*: bytes are skipped up to the next line that is a SIP start line.
//! Signalling is retransmitted by the endpoints anyway (a lost INVITE is sent again).
//!
//! Bounds: [`TcpConfig::max_connections`] directions (the oldest is evicted when a new
//! one arrives), one buffer of at most [`TcpConfig::max_buffer`] bytes each (a buffer
//! that would grow past it is dropped and resynchronised), and connections idle for
//! [`TcpConfig::idle_timeout`] are forgotten by [`TcpReassembler::expire`]. Every drop
//! is counted in [`TcpCounters`].

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use rustc_hash::FxHashMap;

use super::counters::{SipErrorCounts, TcpCounters};
use super::sip::{Framing, SipError, SipMessage, MAX_MESSAGE_LEN};
use crate::wire::tcp::{TcpFlags, TcpSegment};
use crate::Timestamp;

/// Bounds of the reassembler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpConfig {
    /// Connection directions followed at once.
    pub max_connections: usize,
    /// Bytes buffered per direction (at least one maximum-size message).
    pub max_buffer: usize,
    /// A direction without a segment for this long is forgotten.
    pub idle_timeout: Duration,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            // A bot's host talks SIP with a few proxies and devices; 256 directions at
            // 64 KiB is a 16 MiB worst case.
            max_connections: 256,
            max_buffer: MAX_MESSAGE_LEN,
            // Longer than the 2-hour default TCP keepalive of SIP stacks would be
            // pointless; connections usually carry a message every few minutes.
            idle_timeout: Duration::from_secs(15 * 60),
        }
    }
}

type Key = (SocketAddr, SocketAddr);

struct Direction {
    /// Sequence number of the next byte expected.
    next_seq: u32,
    buf: Vec<u8>,
    /// True when `buf` starts at a message boundary.
    synced: bool,
    last_seen: Timestamp,
    /// Creation order, to tell a live entry of `order` from a stale one.
    generation: u64,
}

// The buffer holds SIP bodies (maybe SDES keys): Debug shows its length only.
impl std::fmt::Debug for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Direction")
            .field("next_seq", &self.next_seq)
            .field("buffered", &self.buf.len())
            .field("synced", &self.synced)
            .field("last_seen", &self.last_seen)
            .finish()
    }
}

/// Per-connection reassembly of SIP messages from TCP segments.
#[derive(Debug, Default)]
pub struct TcpReassembler {
    config: TcpConfig,
    directions: FxHashMap<Key, Direction>,
    /// Keys in creation order; entries of removed directions are skipped lazily.
    order: VecDeque<(Key, u64)>,
    next_generation: u64,
}

impl TcpReassembler {
    /// A reassembler with the given bounds.
    pub fn new(config: TcpConfig) -> Self {
        TcpReassembler {
            config,
            ..Self::default()
        }
    }

    /// Directions followed now.
    pub fn len(&self) -> usize {
        self.directions.len()
    }

    /// True when no direction is followed.
    pub fn is_empty(&self) -> bool {
        self.directions.is_empty()
    }

    /// Feeds one segment; each complete message is passed to `deliver`. Refused
    /// messages are counted in `errors`, stream events in `counters`.
    pub fn on_segment(
        &mut self,
        now: Timestamp,
        segment: &TcpSegment<'_>,
        counters: &mut TcpCounters,
        errors: &mut SipErrorCounts,
        mut deliver: impl FnMut(&SipMessage<'_>),
    ) {
        counters.segments += 1;
        let key = (segment.src, segment.dst);
        if segment.flags.has(TcpFlags::RST) {
            self.directions.remove(&key);
            return;
        }
        let max_buffer = self.config.max_buffer;
        let Some(direction) = self.direction(now, key, segment, counters) else {
            return;
        };
        direction.last_seen = now;
        append(direction, segment, counters, max_buffer);
        extract(direction, counters, errors, &mut deliver);
        if segment.flags.has(TcpFlags::FIN) {
            counters.bytes_skipped += self
                .directions
                .remove(&key)
                .map_or(0, |d| d.buf.len() as u64);
        }
    }

    /// Forgets directions idle for longer than the idle timeout.
    pub fn expire(&mut self, now: Timestamp, counters: &mut TcpCounters) {
        let timeout = self.config.idle_timeout;
        let before = self.directions.len();
        self.directions
            .retain(|_, d| now.saturating_duration_since(d.last_seen) <= timeout);
        counters.connections_expired += (before - self.directions.len()) as u64;
        self.compact_order();
    }

    /// The direction of `key`, created (SYN, or joined mid-stream) when needed.
    fn direction(
        &mut self,
        now: Timestamp,
        key: Key,
        segment: &TcpSegment<'_>,
        counters: &mut TcpCounters,
    ) -> Option<&mut Direction> {
        let syn = segment.flags.has(TcpFlags::SYN);
        if syn || !self.directions.contains_key(&key) {
            if !syn && segment.payload_len == 0 {
                // A bare ACK or FIN of an unknown connection: nothing to follow.
                return None;
            }
            if !self.directions.contains_key(&key) {
                self.make_room(counters);
                counters.connections += 1;
            }
            let generation = self.next_generation;
            self.next_generation += 1;
            self.order.push_back((key, generation));
            self.directions.insert(
                key,
                Direction {
                    // The SYN takes one sequence number; its payload (if any) is ignored.
                    next_seq: if syn {
                        segment.seq.wrapping_add(1)
                    } else {
                        segment.seq
                    },
                    buf: Vec::new(),
                    synced: syn,
                    last_seen: now,
                    generation,
                },
            );
            if syn {
                return None;
            }
        }
        self.directions.get_mut(&key)
    }

    /// Evicts the oldest direction when the table is full.
    fn make_room(&mut self, counters: &mut TcpCounters) {
        while self.directions.len() >= self.config.max_connections.max(1) {
            let Some((key, generation)) = self.order.pop_front() else {
                return;
            };
            if self
                .directions
                .get(&key)
                .is_some_and(|d| d.generation == generation)
            {
                self.directions.remove(&key);
                counters.connections_evicted += 1;
            }
        }
        if self.order.len() > 4 * self.config.max_connections.max(16) {
            self.compact_order();
        }
    }

    /// Drops the entries of `order` that no longer name a live direction.
    fn compact_order(&mut self) {
        let directions = &self.directions;
        self.order.retain(|(key, generation)| {
            directions
                .get(key)
                .is_some_and(|d| d.generation == *generation)
        });
    }
}

/// Appends the segment's new bytes, or starts over after a gap or an overflow.
fn append(
    direction: &mut Direction,
    segment: &TcpSegment<'_>,
    counters: &mut TcpCounters,
    max: usize,
) {
    let payload = segment.payload;
    let claimed = u32::try_from(segment.payload_len).unwrap_or(u32::MAX);
    let offset = segment.seq.wrapping_sub(direction.next_seq) as i32;
    let fresh = if offset < 0 {
        // Starts before what we have: a retransmission, maybe with new bytes at its end.
        let overlap = offset.unsigned_abs() as usize;
        if overlap >= payload.len() {
            if !payload.is_empty() {
                counters.retransmissions += 1;
            }
            return;
        }
        payload.get(overlap..).unwrap_or(&[])
    } else {
        if offset > 0 {
            counters.gaps += 1;
            restart(direction, counters);
        }
        payload
    };
    direction.next_seq = direction
        .next_seq
        .wrapping_add(offset.max(0) as u32)
        .wrapping_add(fresh.len() as u32);
    if payload.len() < segment.payload_len {
        // Cut by the snap length: what follows is missing.
        counters.truncated_segments += 1;
        restart(direction, counters);
        direction.next_seq = segment.seq.wrapping_add(claimed);
        return;
    }
    if direction.buf.len() + fresh.len() > max {
        counters.buffer_overflows += 1;
        restart(direction, counters);
        if fresh.len() > max {
            counters.bytes_skipped += fresh.len() as u64;
            return;
        }
    }
    direction.buf.extend_from_slice(fresh);
}

/// Drops the buffer; the next message must be found by resynchronising.
fn restart(direction: &mut Direction, counters: &mut TcpCounters) {
    counters.bytes_skipped += direction.buf.len() as u64;
    direction.buf.clear();
    direction.synced = false;
}

/// Cuts complete messages off the front of the buffer.
fn extract(
    direction: &mut Direction,
    counters: &mut TcpCounters,
    errors: &mut SipErrorCounts,
    deliver: &mut impl FnMut(&SipMessage<'_>),
) {
    loop {
        if !direction.synced && !resync(direction, counters) {
            return;
        }
        // CRLF keep-alives (RFC 5626 §3.5.1) between messages.
        let blank = direction
            .buf
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .unwrap_or(direction.buf.len());
        direction.buf.drain(..blank);
        if direction.buf.is_empty() {
            return;
        }
        match SipMessage::parse(&direction.buf, Framing::Stream) {
            Ok((message, consumed)) => {
                deliver(&message);
                direction.buf.drain(..consumed.min(direction.buf.len()));
            }
            Err(SipError::Incomplete) => return,
            Err(error) => {
                errors.add(error);
                // Skip this start line (all of it: its tail may look like another);
                // resync finds the next message.
                let line = direction
                    .buf
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(direction.buf.len(), |i| i + 1);
                direction.buf.drain(..line);
                counters.bytes_skipped += line as u64;
                direction.synced = false;
            }
        }
    }
}

/// Drops bytes up to the first line that is a SIP start line. False when none is in the
/// buffer yet (a partial last line is kept: it may be the start of one).
fn resync(direction: &mut Direction, counters: &mut TcpCounters) -> bool {
    let buf = &direction.buf;
    let mut line_start = 0;
    let found = loop {
        let Some(eol) = buf
            .get(line_start..)
            .and_then(|r| r.iter().position(|&b| b == b'\n'))
        else {
            break None;
        };
        let line = buf.get(line_start..line_start + eol).unwrap_or(&[]);
        if looks_like_start_line(line) {
            break Some(line_start);
        }
        line_start += eol + 1;
    };
    let skip = found.unwrap_or(line_start);
    counters.bytes_skipped += skip as u64;
    direction.buf.drain(..skip);
    direction.synced = found.is_some();
    direction.synced
}

/// A request line or a status line (checked by the message parser's own rules).
fn looks_like_start_line(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    // The cheapest discriminator first: every start line contains "SIP/2.0".
    line.len() >= 12
        && super::text::find(line, b"SIP/2.0").is_some()
        && SipMessage::parse_start_line_only(line)
}

#[cfg(test)]
mod tests;
