//! The kernel-side filter: a classic-BPF program that keeps UDP datagrams on the configured
//! ports and rejects everything else before it reaches the ring.
//!
//! What the program accepts:
//!
//! - **Framing.** [`build_udp_filter`] is for Ethernet frames ([`crate::LINKTYPE_ETHERNET`]),
//!   with zero, one or two in-band 802.1Q / 802.1ad (or the old `0x9100`) VLAN tags.
//!   [`build_udp_filter_raw_ip`] is for frames that start with the IP header
//!   ([`crate::LINKTYPE_RAW`]). On receive, Linux usually strips the outer VLAN tag before
//!   the filter runs; the filter then sees the frame untagged, which it handles too.
//! - **IPv4.** Protocol 17 (UDP). The header length comes from the IHL field (the BPF
//!   `ldx 4*([off]&0xf)` idiom), so options are handled; an IHL below 5 is rejected.
//!   Fragments with a non-zero fragment offset carry no UDP header and are **rejected**; the
//!   first fragment is judged by its ports like any datagram.
//! - **IPv6.** UDP directly after the fixed header, or after up to
//!   [`IPV6_MAX_EXTENSION_HEADERS`] extension headers that the program walks: hop-by-hop,
//!   routing, destination options, mobility, HIP and Shim6 (length in 8-octet units),
//!   authentication (AH, 4-octet units) and fragment headers. Non-first IPv6 fragments are
//!   rejected. A packet with more extension headers than that is **accepted without a port
//!   check**, so that nothing the agent might want is lost in the kernel; the decoder in
//!   user space sorts it out. ESP, "no next header" and every other protocol are rejected.
//! - **Ports.** The source or the destination port lies in one of the ranges; every UDP
//!   datagram when there are no ranges. Ranges are normalised first (empty ones dropped,
//!   overlapping and adjacent ones merged). Should more than [`MAX_FILTER_RANGES`] disjoint
//!   ranges remain, the program checks their hull (smallest to largest port) instead, which
//!   accepts a superset, to stay within the kernel's 4096-instruction limit.
//!
//! An accepted packet is kept up to [`SNAPLEN`] bytes.

use std::ops::RangeInclusive;

use crate::sock_filter;

/// How many bytes of an accepted packet the filter keeps (the value it returns).
pub const SNAPLEN: u32 = 262_144;

/// The most disjoint port ranges the filter checks exactly; see the module documentation.
pub const MAX_FILTER_RANGES: usize = 600;

/// How many IPv6 extension headers the filter walks before it gives up and accepts.
pub const IPV6_MAX_EXTENSION_HEADERS: usize = 4;

/// The kernel's limit on a classic-BPF program (`BPF_MAXINSNS`).
pub(crate) const BPF_MAXINSNS: usize = 4096;

// Classic-BPF opcodes (linux/filter.h, linux/bpf_common.h), spelled out as the sums of their
// class, size and mode bits.
pub(crate) mod op {
    /// `ldh [k]` (`BPF_LD | BPF_H | BPF_ABS`).
    pub const LD_H_ABS: u16 = 0x28;
    /// `ldb [k]` (`BPF_LD | BPF_B | BPF_ABS`).
    pub const LD_B_ABS: u16 = 0x30;
    /// `ldh [x + k]` (`BPF_LD | BPF_H | BPF_IND`).
    pub const LD_H_IND: u16 = 0x48;
    /// `ldb [x + k]` (`BPF_LD | BPF_B | BPF_IND`).
    pub const LD_B_IND: u16 = 0x50;
    /// `ld M[k]` (`BPF_LD | BPF_W | BPF_MEM`).
    pub const LD_MEM: u16 = 0x60;
    /// `ldx #k` (`BPF_LDX | BPF_W | BPF_IMM`).
    pub const LDX_IMM: u16 = 0x01;
    /// `ldx 4*([k]&0xf)` (`BPF_LDX | BPF_B | BPF_MSH`).
    pub const LDX_MSH: u16 = 0xb1;
    /// `st M[k]` (`BPF_ST`).
    pub const ST: u16 = 0x02;
    /// `add #k` (`BPF_ALU | BPF_ADD | BPF_K`).
    pub const ADD_K: u16 = 0x04;
    /// `add x` (`BPF_ALU | BPF_ADD | BPF_X`).
    pub const ADD_X: u16 = 0x0c;
    /// `and #k` (`BPF_ALU | BPF_AND | BPF_K`).
    pub const AND_K: u16 = 0x54;
    /// `lsh #k` (`BPF_ALU | BPF_LSH | BPF_K`).
    pub const LSH_K: u16 = 0x64;
    /// `ja k` (`BPF_JMP | BPF_JA`).
    pub const JA: u16 = 0x05;
    /// `jeq #k, jt, jf` (`BPF_JMP | BPF_JEQ | BPF_K`).
    pub const JEQ_K: u16 = 0x15;
    /// `jgt #k, jt, jf` (`BPF_JMP | BPF_JGT | BPF_K`).
    pub const JGT_K: u16 = 0x25;
    /// `jge #k, jt, jf` (`BPF_JMP | BPF_JGE | BPF_K`).
    pub const JGE_K: u16 = 0x35;
    /// `jset #k, jt, jf` (`BPF_JMP | BPF_JSET | BPF_K`).
    pub const JSET_K: u16 = 0x45;
    /// `ret #k` (`BPF_RET | BPF_K`).
    pub const RET_K: u16 = 0x06;
    /// `tax` (`BPF_MISC | BPF_TAX`).
    pub const TAX: u16 = 0x07;
    /// `txa` (`BPF_MISC | BPF_TXA`).
    pub const TXA: u16 = 0x87;
}

const ETHERTYPE_IPV4: u32 = 0x0800;
const ETHERTYPE_IPV6: u32 = 0x86dd;
/// 802.1Q, 802.1ad and the pre-standard QinQ tag.
const ETHERTYPE_VLAN: [u32; 3] = [0x8100, 0x88a8, 0x9100];
const IPPROTO_UDP: u32 = 17;
/// IPv6 extension headers whose length byte counts 8-octet units beyond the first 8:
/// hop-by-hop, routing, destination options, mobility, HIP, Shim6.
const IPV6_EXT_GENERIC: [u32; 6] = [0, 43, 60, 135, 139, 140];
const IPV6_EXT_FRAGMENT: u32 = 44;
const IPV6_EXT_AUTH: u32 = 51;

/// Builds the filter for Ethernet frames ([`crate::LINKTYPE_ETHERNET`]): IPv4 and IPv6 UDP,
/// untagged or behind one or two VLAN tags, whose source or destination port is in any of
/// `port_ranges` (any UDP when `port_ranges` is empty). See the [module](self) documentation
/// for the details.
pub fn build_udp_filter(port_ranges: &[RangeInclusive<u16>]) -> Vec<sock_filter> {
    build(Framing::Ethernet, port_ranges)
}

/// Builds the same filter as [`build_udp_filter`] for frames without a link-layer header
/// ([`crate::LINKTYPE_RAW`]): the IP version comes from the first nibble.
pub fn build_udp_filter_raw_ip(port_ranges: &[RangeInclusive<u16>]) -> Vec<sock_filter> {
    build(Framing::RawIp, port_ranges)
}

/// How the frames the filter sees start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// An Ethernet header, possibly with in-band VLAN tags.
    Ethernet,
    /// The IP header.
    RawIp,
}

/// Builds the filter for `framing`. Falls back to a program that accepts everything should
/// the assembler ever fail (it cannot with the layouts below; the tests check it).
pub(crate) fn build(framing: Framing, port_ranges: &[RangeInclusive<u16>]) -> Vec<sock_filter> {
    assemble(framing, &normalize(port_ranges)).unwrap_or_else(|| vec![insn(op::RET_K, SNAPLEN)])
}

/// Drops empty ranges, sorts, merges overlapping and adjacent ones, and replaces more than
/// [`MAX_FILTER_RANGES`] ranges by their hull.
pub(crate) fn normalize(port_ranges: &[RangeInclusive<u16>]) -> Vec<(u16, u16)> {
    let mut ranges: Vec<(u16, u16)> = port_ranges
        .iter()
        .filter(|r| r.start() <= r.end())
        .map(|r| (*r.start(), *r.end()))
        .collect();
    ranges.sort_unstable();
    let mut merged: Vec<(u16, u16)> = Vec::with_capacity(ranges.len());
    for (lo, hi) in ranges {
        match merged.last_mut() {
            Some(last) if u32::from(lo) <= u32::from(last.1) + 1 => last.1 = last.1.max(hi),
            _ => merged.push((lo, hi)),
        }
    }
    if merged.len() > MAX_FILTER_RANGES {
        let lo = merged.first().map_or(0, |r| r.0);
        let hi = merged.last().map_or(u16::MAX, |r| r.1);
        merged = vec![(lo, hi)];
    }
    merged
}

fn insn(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

/// A label in the program being assembled.
#[derive(Debug, Clone, Copy)]
struct Label(usize);

/// A tiny assembler. Conditional jumps only ever skip a few instructions right after them
/// (their offsets are constants of the layout, far below the 8-bit limit); every jump to a
/// label is an unconditional `ja`, whose offset is 32 bits wide. That keeps the program
/// valid however many port ranges it checks.
#[derive(Debug, Default)]
struct Asm {
    code: Vec<sock_filter>,
    labels: Vec<Option<usize>>,
    fixups: Vec<(usize, Label)>,
}

impl Asm {
    fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }

    fn bind(&mut self, label: Label) {
        if let Some(slot) = self.labels.get_mut(label.0) {
            *slot = Some(self.code.len());
        }
    }

    fn op(&mut self, code: u16, k: u32) {
        self.code.push(insn(code, k));
    }

    /// A conditional jump with constant (short) offsets.
    fn jump(&mut self, code: u16, k: u32, jt: u8, jf: u8) {
        self.code.push(sock_filter { code, jt, jf, k });
    }

    fn goto(&mut self, label: Label) {
        self.fixups.push((self.code.len(), label));
        self.op(op::JA, 0);
    }

    /// `if A == value goto label`.
    fn if_eq_goto(&mut self, value: u32, label: Label) {
        self.jump(op::JEQ_K, value, 0, 1);
        self.goto(label);
    }

    /// `if A != value return 0`.
    fn reject_unless_eq(&mut self, value: u32) {
        self.jump(op::JEQ_K, value, 1, 0);
        self.op(op::RET_K, 0);
    }

    fn accept(&mut self) {
        self.op(op::RET_K, SNAPLEN);
    }

    fn reject(&mut self) {
        self.op(op::RET_K, 0);
    }

    /// Resolves the `ja` offsets. `None` for a label that was never bound or lies behind its
    /// jump (classic BPF only jumps forward), or a program over the kernel's size limit.
    fn finish(mut self) -> Option<Vec<sock_filter>> {
        for (at, label) in std::mem::take(&mut self.fixups) {
            let target = (*self.labels.get(label.0)?)?;
            let offset = target.checked_sub(at + 1)?;
            self.code.get_mut(at)?.k = u32::try_from(offset).ok()?;
        }
        (self.code.len() <= BPF_MAXINSNS).then_some(self.code)
    }
}

/// The whole program: the link layer finds the IP header, the IP blocks find the UDP
/// header (X = its offset), then the port ranges decide.
fn assemble(framing: Framing, ranges: &[(u16, u16)]) -> Option<Vec<sock_filter>> {
    let mut a = Asm::default();
    let udp = a.label();
    let v6_chain = a.label();
    let (v4_blocks, v6_blocks) = emit_link_layer(&mut a, framing);
    for (label, ip) in v4_blocks {
        a.bind(label);
        emit_ipv4(&mut a, ip, udp);
    }
    for (label, ip) in v6_blocks {
        a.bind(label);
        // A = next header, X = where that header starts.
        a.op(op::LD_B_ABS, ip + 6);
        a.op(op::LDX_IMM, ip + 40);
        a.goto(v6_chain);
    }
    a.bind(v6_chain);
    emit_ipv6_chain(&mut a, udp);
    a.bind(udp);
    emit_port_ranges(&mut a, ranges);
    a.finish()
}

/// An IP block to emit: its label and the offset of its IP header.
type IpBlock = (Label, u32);

/// Dispatches on the link layer to the IPv4 and IPv6 blocks it needs (returned, to be
/// emitted and bound by the caller); everything else is rejected.
fn emit_link_layer(a: &mut Asm, framing: Framing) -> (Vec<IpBlock>, Vec<IpBlock>) {
    let mut v4_blocks = Vec::new();
    let mut v6_blocks = Vec::new();
    match framing {
        Framing::Ethernet => {
            // Ethertype at 12, 16 and 20 for 0, 1 and 2 VLAN tags; IP header 4 bytes later.
            for tags in 0..=2u32 {
                let type_at = 12 + 4 * tags;
                let v4 = a.label();
                let v6 = a.label();
                v4_blocks.push((v4, type_at + 2));
                v6_blocks.push((v6, type_at + 2));
                a.op(op::LD_H_ABS, type_at);
                a.if_eq_goto(ETHERTYPE_IPV4, v4);
                a.if_eq_goto(ETHERTYPE_IPV6, v6);
                if tags < 2 {
                    let next_tag = a.label();
                    for tpid in ETHERTYPE_VLAN {
                        a.if_eq_goto(tpid, next_tag);
                    }
                    a.reject();
                    a.bind(next_tag);
                } else {
                    a.reject();
                }
            }
        }
        Framing::RawIp => {
            let v4 = a.label();
            let v6 = a.label();
            v4_blocks.push((v4, 0));
            v6_blocks.push((v6, 0));
            a.op(op::LD_B_ABS, 0);
            a.op(op::AND_K, 0xf0);
            a.if_eq_goto(0x40, v4);
            a.if_eq_goto(0x60, v6);
            a.reject();
        }
    }
    (v4_blocks, v6_blocks)
}

/// An IPv4 header at `ip`: UDP, not a later fragment, a sane IHL; then on to `udp` with
/// X = the UDP header's offset.
fn emit_ipv4(a: &mut Asm, ip: u32, udp: Label) {
    // Protocol must be UDP.
    a.op(op::LD_B_ABS, ip + 9);
    a.reject_unless_eq(IPPROTO_UDP);
    // A non-zero fragment offset means no UDP header in this packet.
    a.op(op::LD_H_ABS, ip + 6);
    a.jump(op::JSET_K, 0x1fff, 0, 1);
    a.reject();
    // X = 4 * IHL; at least 20 bytes.
    a.op(op::LDX_MSH, ip);
    a.op(op::TXA, 0);
    a.jump(op::JGE_K, 20, 1, 0);
    a.reject();
    // X = offset of the UDP header.
    a.op(op::ADD_K, ip);
    a.op(op::TAX, 0);
    a.goto(udp);
}

/// The IPv6 header chain, unrolled. Entry: A = a next-header value, X = the offset of the
/// header it announces. Each level either reaches UDP, skips one extension header (saving
/// its next-header byte in M[0] while X moves past it) or rejects.
fn emit_ipv6_chain(a: &mut Asm, udp: Label) {
    for _ in 0..IPV6_MAX_EXTENSION_HEADERS {
        let generic = a.label();
        let auth = a.label();
        let fragment = a.label();
        let next_level = a.label();
        a.if_eq_goto(IPPROTO_UDP, udp);
        for ext in IPV6_EXT_GENERIC {
            a.if_eq_goto(ext, generic);
        }
        a.if_eq_goto(IPV6_EXT_AUTH, auth);
        a.if_eq_goto(IPV6_EXT_FRAGMENT, fragment);
        a.reject();

        // Generic: length = (hdr_ext_len + 1) * 8.
        a.bind(generic);
        a.op(op::LD_B_IND, 0);
        a.op(op::ST, 0);
        a.op(op::LD_B_IND, 1);
        a.op(op::ADD_K, 1);
        a.op(op::LSH_K, 3);
        a.op(op::ADD_X, 0);
        a.op(op::TAX, 0);
        a.op(op::LD_MEM, 0);
        a.goto(next_level);

        // AH: length = (payload_len + 2) * 4.
        a.bind(auth);
        a.op(op::LD_B_IND, 0);
        a.op(op::ST, 0);
        a.op(op::LD_B_IND, 1);
        a.op(op::ADD_K, 2);
        a.op(op::LSH_K, 2);
        a.op(op::ADD_X, 0);
        a.op(op::TAX, 0);
        a.op(op::LD_MEM, 0);
        a.goto(next_level);

        // Fragment: 8 bytes; a non-zero offset (top 13 bits of bytes 2-3) means no UDP
        // header here.
        a.bind(fragment);
        a.op(op::LD_H_IND, 2);
        a.jump(op::JSET_K, 0xfff8, 0, 1);
        a.reject();
        a.op(op::LD_B_IND, 0);
        a.op(op::ST, 0);
        a.op(op::TXA, 0);
        a.op(op::ADD_K, 8);
        a.op(op::TAX, 0);
        a.op(op::LD_MEM, 0);
        a.goto(next_level);

        a.bind(next_level);
    }
    // Too many extension headers to walk: accept unchecked if it is still one.
    a.if_eq_goto(IPPROTO_UDP, udp);
    for ext in IPV6_EXT_GENERIC
        .into_iter()
        .chain([IPV6_EXT_AUTH, IPV6_EXT_FRAGMENT])
    {
        a.jump(op::JEQ_K, ext, 0, 1);
        a.accept();
    }
    a.reject();
}

/// X = offset of the UDP header: source port at X, destination port at X + 2. Accepts
/// when either lies in one of `ranges` (every datagram when there are none).
fn emit_port_ranges(a: &mut Asm, ranges: &[(u16, u16)]) {
    if ranges.is_empty() {
        a.accept();
        return;
    }
    for port_at in [0, 2] {
        a.op(op::LD_H_IND, port_at);
        for &(lo, hi) in ranges {
            emit_range_check(a, lo, hi);
        }
    }
    a.reject();
}

/// `if lo <= A <= hi return SNAPLEN`, with short constant jumps only.
fn emit_range_check(a: &mut Asm, lo: u16, hi: u16) {
    let (lo32, hi32) = (u32::from(lo), u32::from(hi));
    match (lo, hi) {
        (0, u16::MAX) => {}
        _ if lo == hi => a.jump(op::JEQ_K, lo32, 0, 1),
        (0, _) => a.jump(op::JGT_K, hi32, 1, 0),
        (_, u16::MAX) => a.jump(op::JGE_K, lo32, 0, 1),
        _ => {
            a.jump(op::JGE_K, lo32, 0, 2);
            a.jump(op::JGT_K, hi32, 1, 0);
        }
    }
    a.accept();
}

#[cfg(test)]
mod tests;
