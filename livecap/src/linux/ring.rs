//! The `TPACKET_V3` receive ring: a memory mapping shared with the kernel, cut into
//! `block_count` blocks of `block_size` bytes. The kernel fills a block with packets, then
//! "retires" it by setting `TP_STATUS_USER` in the block's status word; from then on the
//! block belongs to user space, which reads it and hands it back by storing
//! `TP_STATUS_KERNEL`. Blocks are filled and must be returned in ring order.
//!
//! The unsafe part is [`Ring`]: the status word is accessed atomically, and a block is only
//! viewed as a `&[u8]` while it belongs to user space (the borrow checker then keeps that
//! view from outliving the hand-back, which needs `&mut Ring`). [`walk_block`] parses a block
//! in safe code, checking every offset the kernel wrote.

use std::sync::atomic::{AtomicU32, Ordering};

use super::sys::Mapping;

/// Block status: owned by the kernel.
const TP_STATUS_KERNEL: u32 = 0;
/// Block status bit: retired, owned by user space.
const TP_STATUS_USER: u32 = 1;
/// Packet status bit: `tp_vlan_tci` holds a VLAN tag that was removed from the frame.
pub(crate) const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
/// Packet status bit: `tp_vlan_tpid` holds that tag's TPID.
pub(crate) const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;

// `struct tpacket_block_desc` (version, offset_to_priv, then `struct tpacket_hdr_v1`, which
// is 8-byte aligned).
const BLOCK_STATUS_AT: usize = 8;
const BLOCK_NUM_PKTS_AT: usize = 12;
const BLOCK_FIRST_PKT_AT: usize = 16;
/// Bytes a block descriptor takes (what the kernel reserves before the first packet).
pub(crate) const BLOCK_HEADER_LEN: usize = 48;

// `struct tpacket3_hdr`, followed (at TPACKET_ALIGN(sizeof) = 48) by a `struct sockaddr_ll`.
const PKT_NEXT_OFFSET_AT: usize = 0;
const PKT_SEC_AT: usize = 4;
const PKT_NSEC_AT: usize = 8;
const PKT_SNAPLEN_AT: usize = 12;
const PKT_LEN_AT: usize = 16;
const PKT_STATUS_AT: usize = 20;
const PKT_MAC_AT: usize = 24;
const PKT_VLAN_TCI_AT: usize = 32;
const PKT_VLAN_TPID_AT: usize = 36;
/// `sll_pkttype` of the `sockaddr_ll` after the header: 48 + 10.
const PKT_PKTTYPE_AT: usize = 58;
/// Size of `struct tpacket3_hdr`.
pub(crate) const PKT_HEADER_LEN: usize = 48;

/// The receive ring: the mapping and where user space is in it.
#[derive(Debug)]
pub(crate) struct Ring {
    map: Mapping,
    block_size: usize,
    block_count: usize,
    /// The next block to read (the kernel fills blocks in this same order).
    current: usize,
    /// Set while the current block is being read; if a callback panicked, the next call
    /// finds it still set and returns the block before doing anything else.
    in_progress: bool,
}

impl Ring {
    /// Wraps the mapping of `block_count` blocks of `block_size` bytes. `None` when the
    /// geometry does not match the mapping or could not hold a block header.
    pub(crate) fn new(map: Mapping, block_size: usize, block_count: usize) -> Option<Ring> {
        let valid = block_count > 0
            && block_size >= BLOCK_HEADER_LEN
            && block_size.is_multiple_of(8)
            && block_size.checked_mul(block_count) == Some(map.len())
            && (map.as_ptr() as usize).is_multiple_of(8);
        valid.then_some(Ring {
            map,
            block_size,
            block_count,
            current: 0,
            in_progress: false,
        })
    }

    /// The start of block `index` (`index < block_count`).
    fn block_ptr(&self, index: usize) -> *mut u8 {
        debug_assert!(index < self.block_count);
        // wrapping_add keeps this function safe; `Ring::new` checked that
        // `index * block_size` stays inside the mapping for every `index < block_count`.
        self.map.as_ptr().wrapping_add(index * self.block_size)
    }

    /// The status word of block `index`.
    fn status(&self, index: usize) -> &AtomicU32 {
        let word = self
            .block_ptr(index)
            .wrapping_add(BLOCK_STATUS_AT)
            .cast::<u32>();
        // SAFETY: `word` lies inside the mapping (blocks are at least BLOCK_HEADER_LEN bytes)
        // and is 4-byte aligned (the mapping is page aligned, block sizes are multiples of 8,
        // the offset is 8). The mapping lives as long as `self`, which the returned
        // reference borrows. The word is shared with the kernel; on this side it is only
        // ever accessed through this atomic (the kernel pairs it with its own barriers). The
        // `&[u8]` view of `take_current` spans these bytes too, but only while the block is
        // user space's, when nobody writes the word: the kernel waits for TP_STATUS_KERNEL,
        // and the store in `release_current` needs `&mut self`, so the view is gone by then.
        unsafe { AtomicU32::from_ptr(word) }
    }

    /// True when the kernel has retired the current block to user space.
    pub(crate) fn current_ready(&self) -> bool {
        self.status(self.current).load(Ordering::Acquire) & TP_STATUS_USER != 0
    }

    /// The current block, if the kernel has retired it; it stays user space's (and the view
    /// valid) until [`Ring::release_current`], which the borrow checker orders after the
    /// last use of the view.
    pub(crate) fn take_current(&mut self) -> Option<&[u8]> {
        if !self.current_ready() {
            return None;
        }
        self.in_progress = true;
        let start = self.block_ptr(self.current);
        // SAFETY: `start .. start + block_size` lies inside the mapping, which outlives the
        // returned view (it borrows `self`). The Acquire load above saw TP_STATUS_USER, so
        // the kernel has finished writing this block and will not write to it again until
        // `release_current` stores TP_STATUS_KERNEL, which needs `&mut self` and therefore
        // cannot happen while the view is alive: the bytes are immutable for its lifetime.
        Some(unsafe { std::slice::from_raw_parts(start.cast_const(), self.block_size) })
    }

    /// Hands the current block back to the kernel and moves on to the next one.
    pub(crate) fn release_current(&mut self) {
        self.status(self.current)
            .store(TP_STATUS_KERNEL, Ordering::Release);
        self.current = (self.current + 1) % self.block_count;
        self.in_progress = false;
    }

    /// Returns a block left in progress by a callback that panicked.
    pub(crate) fn recover(&mut self) {
        if self.in_progress {
            self.release_current();
        }
    }
}

/// One packet of a block, as the kernel described it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawFrame<'a> {
    pub sec: u32,
    pub nsec: u32,
    /// Length on the wire (`tp_len`).
    pub len: u32,
    /// `tp_status` of the packet.
    pub status: u32,
    pub vlan_tci: u16,
    pub vlan_tpid: u16,
    /// `sll_pkttype` (PACKET_HOST, PACKET_OUTGOING, ...).
    pub pkttype: u8,
    /// `tp_snaplen` bytes from `tp_mac`.
    pub data: &'a [u8],
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    b.try_into().ok().map(u32::from_ne_bytes)
}

fn read_u16(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at.checked_add(2)?)?;
    b.try_into().ok().map(u16::from_ne_bytes)
}

/// Calls `f` for each packet of a retired block, in order. Returns how many packets were
/// walked and whether the walk stopped early on an offset or length outside the block
/// (which a correct kernel never writes).
pub(crate) fn walk_block<'a>(block: &'a [u8], mut f: impl FnMut(RawFrame<'a>)) -> (usize, bool) {
    let (Some(count), Some(first)) = (
        read_u32(block, BLOCK_NUM_PKTS_AT),
        read_u32(block, BLOCK_FIRST_PKT_AT),
    ) else {
        return (0, true);
    };
    let mut at = first as usize;
    let mut walked = 0;
    for i in 0..count {
        let Some(frame) = parse_frame(block, at) else {
            return (walked, true);
        };
        f(frame);
        walked += 1;
        if i + 1 < count {
            match read_u32(block, at + PKT_NEXT_OFFSET_AT) {
                Some(next) if next as usize >= PKT_HEADER_LEN => at += next as usize,
                _ => return (walked, true),
            }
        }
    }
    (walked, false)
}

fn parse_frame(block: &[u8], at: usize) -> Option<RawFrame<'_>> {
    let header = block.get(at..at.checked_add(PKT_HEADER_LEN)?)?;
    let snaplen = read_u32(header, PKT_SNAPLEN_AT)? as usize;
    let mac = usize::from(read_u16(header, PKT_MAC_AT)?);
    let data_at = at.checked_add(mac)?;
    let data = block.get(data_at..data_at.checked_add(snaplen)?)?;
    Some(RawFrame {
        sec: read_u32(header, PKT_SEC_AT)?,
        nsec: read_u32(header, PKT_NSEC_AT)?,
        len: read_u32(header, PKT_LEN_AT)?,
        status: read_u32(header, PKT_STATUS_AT)?,
        // tp_vlan_tci is a u32 in tpacket_hdr_variant1; the tag is its low 16 bits.
        vlan_tci: read_u32(header, PKT_VLAN_TCI_AT)? as u16,
        vlan_tpid: read_u16(header, PKT_VLAN_TPID_AT)?,
        pkttype: block.get(at + PKT_PKTTYPE_AT).copied().unwrap_or(0),
        data,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a block the way the kernel lays one out: descriptor, then packets at 16-byte
    /// aligned offsets, each a `tpacket3_hdr` + `sockaddr_ll` + the frame at `tp_mac`.
    pub(crate) fn block(packets: &[(u32, u32, u32, u8, &[u8])], size: usize) -> Vec<u8> {
        let mut b = vec![0u8; size];
        let put32 =
            |b: &mut Vec<u8>, at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_ne_bytes());
        let put16 =
            |b: &mut Vec<u8>, at: usize, v: u16| b[at..at + 2].copy_from_slice(&v.to_ne_bytes());
        put32(&mut b, 0, 3); // version
        put32(&mut b, BLOCK_STATUS_AT, TP_STATUS_USER);
        put32(&mut b, BLOCK_NUM_PKTS_AT, packets.len() as u32);
        put32(&mut b, BLOCK_FIRST_PKT_AT, BLOCK_HEADER_LEN as u32);
        let mut at = BLOCK_HEADER_LEN;
        for (i, &(sec, nsec, status, pkttype, data)) in packets.iter().enumerate() {
            let mac = 80usize; // 48 + 20 (sockaddr_ll) aligned up, as the kernel does.
            let total = (mac + data.len()).next_multiple_of(16);
            let next = if i + 1 < packets.len() {
                total as u32
            } else {
                0
            };
            put32(&mut b, at, next);
            put32(&mut b, at + PKT_SEC_AT, sec);
            put32(&mut b, at + PKT_NSEC_AT, nsec);
            put32(&mut b, at + PKT_SNAPLEN_AT, data.len() as u32);
            put32(&mut b, at + PKT_LEN_AT, data.len() as u32 + 100);
            put32(&mut b, at + PKT_STATUS_AT, status);
            put16(&mut b, at + PKT_MAC_AT, mac as u16);
            put16(&mut b, at + 26, mac as u16 + 14);
            put32(&mut b, at + PKT_VLAN_TCI_AT, 0x2064);
            put16(&mut b, at + PKT_VLAN_TPID_AT, 0x88a8);
            b[at + PKT_PKTTYPE_AT] = pkttype;
            b[at + mac..at + mac + data.len()].copy_from_slice(data);
            at += total;
        }
        b
    }

    #[test]
    fn walks_every_packet_in_order() {
        let b = block(
            &[
                (1, 2, 0, 0, b"first"),
                (3, 4, TP_STATUS_VLAN_VALID, 4, b"second!"),
            ],
            4096,
        );
        let mut seen = Vec::new();
        let (n, malformed) = walk_block(&b, |f| seen.push(f));
        assert_eq!((n, malformed), (2, false));
        assert_eq!(seen[0].data, b"first");
        assert_eq!(
            (seen[0].sec, seen[0].nsec, seen[0].len, seen[0].pkttype),
            (1, 2, 105, 0)
        );
        assert_eq!(seen[1].data, b"second!");
        assert_eq!(
            (
                seen[1].status,
                seen[1].vlan_tci,
                seen[1].vlan_tpid,
                seen[1].pkttype
            ),
            (TP_STATUS_VLAN_VALID, 0x2064, 0x88a8, 4)
        );
    }

    #[test]
    fn empty_block() {
        let b = block(&[], 4096);
        assert_eq!(walk_block(&b, |_| panic!("no packets")), (0, false));
    }

    #[test]
    fn garbage_never_panics_and_is_reported() {
        let good = block(
            &[(1, 2, 0, 0, &[7u8; 300]), (3, 4, 0, 0, &[8u8; 300])],
            1024,
        );
        // Every truncation of the block.
        for len in 0..good.len() {
            let _ = walk_block(&good[..len], |_| {});
        }
        // Every byte of the headers set to extreme values.
        for at in 0..200 {
            for v in [0u8, 0x7f, 0xff] {
                let mut b = good.clone();
                b[at] = v;
                let _ = walk_block(&b, |f| assert!(f.data.len() <= 1024));
            }
        }
        // A packet count larger than what is there.
        let mut b = good.clone();
        b[BLOCK_NUM_PKTS_AT..BLOCK_NUM_PKTS_AT + 4].copy_from_slice(&u32::MAX.to_ne_bytes());
        let (n, malformed) = walk_block(&b, |_| {});
        assert_eq!((n, malformed), (2, true));
        // A snap length past the end of the block.
        let mut b = good.clone();
        let snap_at = BLOCK_HEADER_LEN + PKT_SNAPLEN_AT;
        b[snap_at..snap_at + 4].copy_from_slice(&5000u32.to_ne_bytes());
        assert_eq!(walk_block(&b, |_| {}), (0, true));
    }
}
