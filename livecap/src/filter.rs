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

fn assemble(framing: Framing, ranges: &[(u16, u16)]) -> Option<Vec<sock_filter>> {
    let mut a = Asm::default();
    let udp = a.label();
    let v6_chain = a.label();
    // (label, offset of the IP header) for the IPv4 and IPv6 blocks to emit.
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

    for (label, ip) in v4_blocks {
        a.bind(label);
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

    for (label, ip) in v6_blocks {
        a.bind(label);
        // A = next header, X = where that header starts.
        a.op(op::LD_B_ABS, ip + 6);
        a.op(op::LDX_IMM, ip + 40);
        a.goto(v6_chain);
    }

    // The IPv6 header chain, unrolled. Entry: A = a next-header value, X = the offset of
    // the header it announces. Each level either reaches UDP, skips one extension header
    // (saving its next-header byte in M[0] while X moves past it) or rejects.
    a.bind(v6_chain);
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

    // X = offset of the UDP header: source port at X, destination port at X + 2.
    a.bind(udp);
    if ranges.is_empty() {
        a.accept();
    } else {
        for port_at in [0, 2] {
            a.op(op::LD_H_IND, port_at);
            for &(lo, hi) in ranges {
                emit_range_check(&mut a, lo, hi);
            }
        }
        a.reject();
    }
    a.finish()
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
mod tests {
    use super::*;

    // ---------------------------------------------------------------------------------
    // A classic-BPF interpreter with the kernel's semantics for the opcodes above: a load
    // outside the packet ends the program with 0 (reject), jumps are relative to the next
    // instruction, and the program's value is what `ret` returns.
    // ---------------------------------------------------------------------------------

    /// Runs `prog` on `packet` and returns the filter's verdict (0 = drop, else snap length).
    /// Panics (test failure) on an opcode the interpreter does not know.
    pub(crate) fn run_filter(prog: &[sock_filter], packet: &[u8]) -> u32 {
        fn load(packet: &[u8], at: u64, size: usize) -> Option<u32> {
            let at = usize::try_from(at).ok()?;
            let bytes = packet.get(at..at.checked_add(size)?)?;
            Some(bytes.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
        }
        let (mut a, mut x) = (0u32, 0u32);
        let mut mem = [0u32; 16];
        let mut pc = 0usize;
        loop {
            let ins = *prog.get(pc).expect("program ran off its end");
            pc += 1;
            let k = ins.k;
            let indexed = u64::from(x) + u64::from(k);
            match ins.code {
                op::LD_H_ABS => match load(packet, k.into(), 2) {
                    Some(v) => a = v,
                    None => return 0,
                },
                op::LD_B_ABS => match load(packet, k.into(), 1) {
                    Some(v) => a = v,
                    None => return 0,
                },
                op::LD_H_IND => match load(packet, indexed, 2) {
                    Some(v) => a = v,
                    None => return 0,
                },
                op::LD_B_IND => match load(packet, indexed, 1) {
                    Some(v) => a = v,
                    None => return 0,
                },
                op::LD_MEM => a = mem[k as usize],
                op::LDX_IMM => x = k,
                op::LDX_MSH => match load(packet, k.into(), 1) {
                    Some(v) => x = 4 * (v & 0xf),
                    None => return 0,
                },
                op::ST => mem[k as usize] = a,
                op::ADD_K => a = a.wrapping_add(k),
                op::ADD_X => a = a.wrapping_add(x),
                op::AND_K => a &= k,
                op::LSH_K => a = a.checked_shl(k).unwrap_or(0),
                op::TAX => x = a,
                op::TXA => a = x,
                op::JA => pc += k as usize,
                op::JEQ_K | op::JGT_K | op::JGE_K | op::JSET_K => {
                    let taken = match ins.code {
                        op::JEQ_K => a == k,
                        op::JGT_K => a > k,
                        op::JGE_K => a >= k,
                        _ => a & k != 0,
                    };
                    pc += usize::from(if taken { ins.jt } else { ins.jf });
                }
                op::RET_K => return k,
                other => panic!("opcode {other:#x} not implemented by the test interpreter"),
            }
        }
    }

    /// The structural checks the kernel's `bpf_check_classic` makes, plus "every load from
    /// scratch memory follows a store on every path" checked by walking all paths.
    fn check_like_kernel(prog: &[sock_filter]) {
        assert!(
            !prog.is_empty() && prog.len() <= BPF_MAXINSNS,
            "length {}",
            prog.len()
        );
        for (pc, ins) in prog.iter().enumerate() {
            let rest = prog.len() - pc - 1;
            match ins.code {
                op::JA => assert!((ins.k as usize) < rest, "ja out of range at {pc}"),
                op::JEQ_K | op::JGT_K | op::JGE_K | op::JSET_K => {
                    assert!(
                        usize::from(ins.jt) < rest && usize::from(ins.jf) < rest,
                        "{pc}"
                    )
                }
                op::LD_MEM | op::ST => assert!(ins.k < 16),
                _ => {}
            }
        }
        let last = prog.last().expect("non-empty");
        assert_eq!(last.code, op::RET_K, "last instruction must return");
        // Memory initialisation: propagate "M[0] written" along all paths (forward only).
        let mut written: Vec<Option<bool>> = vec![None; prog.len()];
        written[0] = Some(false);
        for pc in 0..prog.len() {
            let Some(w) = written[pc] else { continue };
            let ins = prog[pc];
            if ins.code == op::LD_MEM {
                assert!(w, "M[{}] read before written at {pc}", ins.k);
            }
            let w = w || ins.code == op::ST;
            let mut succ = Vec::new();
            match ins.code {
                op::RET_K => {}
                op::JA => succ.push(pc + 1 + ins.k as usize),
                op::JEQ_K | op::JGT_K | op::JGE_K | op::JSET_K => {
                    succ.push(pc + 1 + usize::from(ins.jt));
                    succ.push(pc + 1 + usize::from(ins.jf));
                }
                _ => succ.push(pc + 1),
            }
            for s in succ {
                written[s] = Some(written[s].map_or(w, |old| old && w));
            }
        }
    }

    // ---------------------------------------------------------------------------------
    // Frame builders.
    // ---------------------------------------------------------------------------------

    fn udp(src: u16, dst: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&src.to_be_bytes());
        v.extend_from_slice(&dst.to_be_bytes());
        v.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(payload);
        v
    }

    /// IPv4 header with `option_words` 4-byte words of options and the given flags/offset.
    fn ipv4(proto: u8, option_words: u8, flags_frag: u16, l4: &[u8]) -> Vec<u8> {
        let ihl = 5 + option_words;
        let total = 4 * u16::from(ihl) + l4.len() as u16;
        let mut v = vec![0x40 | ihl, 0];
        v.extend_from_slice(&total.to_be_bytes());
        v.extend_from_slice(&[0x12, 0x34]);
        v.extend_from_slice(&flags_frag.to_be_bytes());
        v.extend_from_slice(&[64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        // Options: NOP bytes.
        v.extend(std::iter::repeat_n(1u8, 4 * usize::from(option_words)));
        v.extend_from_slice(l4);
        v
    }

    /// IPv6 header; `chain` is a list of (header type, encoded extension header) pairs that
    /// precede `l4`, whose protocol is `l4_proto`.
    fn ipv6(chain: &[(u8, Vec<u8>)], l4_proto: u8, l4: &[u8]) -> Vec<u8> {
        let first = chain.first().map_or(l4_proto, |c| c.0);
        let mut body = Vec::new();
        for (i, (_, ext)) in chain.iter().enumerate() {
            let next = chain.get(i + 1).map_or(l4_proto, |c| c.0);
            let mut ext = ext.clone();
            ext[0] = next;
            body.extend_from_slice(&ext);
        }
        body.extend_from_slice(l4);
        let mut v = vec![0x60, 0, 0, 0];
        v.extend_from_slice(&(body.len() as u16).to_be_bytes());
        v.extend_from_slice(&[first, 64]);
        v.extend_from_slice(&[0xfe, 0x80]);
        v.extend_from_slice(&[0; 14]);
        v.extend_from_slice(&[0xfe, 0x80]);
        v.extend_from_slice(&[0; 13]);
        v.push(2);
        v.extend_from_slice(&body);
        v
    }

    /// A hop-by-hop/destination-options style header of `units` extra 8-octet units.
    fn ext_generic(units: u8) -> Vec<u8> {
        let mut v = vec![0, units];
        v.extend(std::iter::repeat_n(0u8, 6 + 8 * usize::from(units)));
        v
    }

    fn ext_fragment(offset_units: u16, more: bool) -> Vec<u8> {
        let word = (offset_units << 3) | u16::from(more);
        let mut v = vec![0, 0];
        v.extend_from_slice(&word.to_be_bytes());
        v.extend_from_slice(&[0, 0, 0, 7]);
        v
    }

    fn ext_auth(payload_len: u8) -> Vec<u8> {
        let mut v = vec![0, payload_len];
        v.extend(std::iter::repeat_n(
            0u8,
            (usize::from(payload_len) + 2) * 4 - 2,
        ));
        v
    }

    fn eth(tags: &[u16], ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
        for &tpid in tags {
            v.extend_from_slice(&tpid.to_be_bytes());
            v.extend_from_slice(&[0x00, 0x64]);
        }
        v.extend_from_slice(&ethertype.to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    fn eth4(l3: &[u8]) -> Vec<u8> {
        eth(&[], 0x0800, l3)
    }

    fn eth6(l3: &[u8]) -> Vec<u8> {
        eth(&[], 0x86dd, l3)
    }

    const RTP: std::ops::RangeInclusive<u16> = 16384..=32767;

    fn accepts(prog: &[sock_filter], packet: &[u8]) -> bool {
        run_filter(prog, packet) != 0
    }

    fn rtp_filter() -> Vec<sock_filter> {
        let prog = build_udp_filter(&[RTP, 5004..=5005]);
        check_like_kernel(&prog);
        prog
    }

    // ---------------------------------------------------------------------------------
    // Fixtures.
    // ---------------------------------------------------------------------------------

    #[test]
    fn ipv4_udp_in_range_by_destination_or_source() {
        let f = rtp_filter();
        assert_eq!(
            run_filter(&f, &eth4(&ipv4(17, 0, 0, &udp(40000, 20000, b"rtp")))),
            SNAPLEN
        );
        assert!(accepts(
            &f,
            &eth4(&ipv4(17, 0, 0, &udp(20000, 40000, b"rtp")))
        ));
        assert!(accepts(&f, &eth4(&ipv4(17, 0, 0, &udp(1, 5005, b"")))));
        assert!(accepts(&f, &eth4(&ipv4(17, 0, 0, &udp(16384, 1, b"")))));
        assert!(accepts(&f, &eth4(&ipv4(17, 0, 0, &udp(1, 32767, b"")))));
    }

    #[test]
    fn ipv4_udp_out_of_range_is_rejected() {
        let f = rtp_filter();
        assert_eq!(
            run_filter(&f, &eth4(&ipv4(17, 0, 0, &udp(53, 40000, b"")))),
            0
        );
        assert!(!accepts(
            &f,
            &eth4(&ipv4(17, 0, 0, &udp(16383, 32768, b"")))
        ));
        assert!(!accepts(&f, &eth4(&ipv4(17, 0, 0, &udp(5003, 5006, b"")))));
    }

    #[test]
    fn tcp_arp_icmp_and_other_ethertypes_are_rejected() {
        let f = rtp_filter();
        // TCP with ports that would be in range.
        assert!(!accepts(&f, &eth4(&ipv4(6, 0, 0, &udp(20000, 20000, b"")))));
        // ICMP.
        assert!(!accepts(
            &f,
            &eth4(&ipv4(1, 0, 0, &[8, 0, 0, 0, 0x4e, 0x20, 0, 1]))
        ));
        // ARP request.
        let arp = [
            0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2,
        ];
        assert!(!accepts(&f, &eth(&[], 0x0806, &arp)));
        // LLDP, PPPoE session.
        assert!(!accepts(&f, &eth(&[], 0x88cc, &[0; 64])));
        assert!(!accepts(&f, &eth(&[], 0x8864, &[0; 64])));
        // IPv6 TCP and ICMPv6.
        assert!(!accepts(&f, &eth6(&ipv6(&[], 6, &udp(20000, 20000, b"")))));
        assert!(!accepts(
            &f,
            &eth6(&ipv6(&[], 58, &[128, 0, 0, 0, 0, 0, 0, 0]))
        ));
    }

    #[test]
    fn ipv6_udp() {
        let f = rtp_filter();
        assert_eq!(
            run_filter(&f, &eth6(&ipv6(&[], 17, &udp(50000, 20000, b"x")))),
            SNAPLEN
        );
        assert!(accepts(&f, &eth6(&ipv6(&[], 17, &udp(5004, 50000, b"x")))));
        assert!(!accepts(
            &f,
            &eth6(&ipv6(&[], 17, &udp(50000, 50001, b"x")))
        ));
    }

    #[test]
    fn ipv6_extension_headers_are_walked() {
        let f = rtp_filter();
        let in_range = udp(50000, 20000, b"x");
        let out = udp(50000, 50001, b"x");
        for chain in [
            vec![(0u8, ext_generic(0))],
            vec![(0, ext_generic(1)), (60, ext_generic(2))],
            vec![(43, ext_generic(3)), (51, ext_auth(4))],
            vec![(44, ext_fragment(0, true))],
            vec![
                (0, ext_generic(0)),
                (60, ext_generic(0)),
                (51, ext_auth(1)),
                (44, ext_fragment(0, false)),
            ],
        ] {
            assert!(
                accepts(&f, &eth6(&ipv6(&chain, 17, &in_range))),
                "{chain:?}"
            );
            assert!(!accepts(&f, &eth6(&ipv6(&chain, 17, &out))), "{chain:?}");
            assert!(
                !accepts(&f, &eth6(&ipv6(&chain, 6, &in_range))),
                "{chain:?}"
            );
        }
    }

    #[test]
    fn ipv6_non_first_fragments_esp_and_no_next_header_are_rejected() {
        let f = rtp_filter();
        let in_range = udp(50000, 20000, b"x");
        assert!(!accepts(
            &f,
            &eth6(&ipv6(&[(44, ext_fragment(1, false))], 17, &in_range))
        ));
        assert!(!accepts(
            &f,
            &eth6(&ipv6(
                &[(0, ext_generic(0)), (44, ext_fragment(100, true))],
                17,
                &in_range
            ))
        ));
        assert!(!accepts(&f, &eth6(&ipv6(&[], 50, &in_range))));
        assert!(!accepts(&f, &eth6(&ipv6(&[], 59, &[]))));
    }

    #[test]
    fn ipv6_too_many_extension_headers_are_accepted_unchecked() {
        let f = rtp_filter();
        let chain: Vec<(u8, Vec<u8>)> = (0..=IPV6_MAX_EXTENSION_HEADERS)
            .map(|_| (60u8, ext_generic(0)))
            .collect();
        // Out of range, but the walk gives up first: accepted.
        assert!(accepts(&f, &eth6(&ipv6(&chain, 17, &udp(1, 2, b"")))));
        // Exactly the maximum is still walked.
        let chain = &chain[..IPV6_MAX_EXTENSION_HEADERS];
        assert!(!accepts(&f, &eth6(&ipv6(chain, 17, &udp(1, 2, b"")))));
        assert!(accepts(&f, &eth6(&ipv6(chain, 17, &udp(1, 20000, b"")))));
    }

    #[test]
    fn vlan_tagged_udp() {
        let f = rtp_filter();
        let v4_in = ipv4(17, 0, 0, &udp(40000, 20000, b"x"));
        let v4_out = ipv4(17, 0, 0, &udp(40000, 40001, b"x"));
        let v6_in = ipv6(&[], 17, &udp(40000, 20000, b"x"));
        for tags in [
            &[0x8100u16][..],
            &[0x88a8],
            &[0x9100],
            &[0x88a8, 0x8100],
            &[0x8100, 0x8100],
        ] {
            assert!(accepts(&f, &eth(tags, 0x0800, &v4_in)), "{tags:x?}");
            assert!(accepts(&f, &eth(tags, 0x86dd, &v6_in)), "{tags:x?}");
            assert!(!accepts(&f, &eth(tags, 0x0800, &v4_out)), "{tags:x?}");
            assert!(!accepts(&f, &eth(tags, 0x0806, &[0; 28])), "{tags:x?}");
        }
        // Three tags are more than the filter looks through.
        assert!(!accepts(
            &f,
            &eth(&[0x88a8, 0x8100, 0x8100], 0x0800, &v4_in)
        ));
    }

    #[test]
    fn ipv4_options_move_the_udp_header() {
        let f = rtp_filter();
        for words in 1..=10 {
            assert!(
                accepts(&f, &eth4(&ipv4(17, words, 0, &udp(40000, 20000, b"x")))),
                "{words}"
            );
            assert!(
                !accepts(&f, &eth4(&ipv4(17, words, 0, &udp(40000, 40001, b"x")))),
                "{words}"
            );
        }
        // The bytes where the ports would sit without options are in range (0x4e20 = 20000)
        // but the real ports are not: rejected.
        let mut l3 = ipv4(17, 1, 0, &udp(40000, 40001, b"x"));
        l3[20..24].copy_from_slice(&[0x4e, 0x20, 0x4e, 0x20]);
        assert!(!accepts(&f, &eth4(&l3)));
        // An IHL below 5 is malformed.
        let mut bad = ipv4(17, 0, 0, &udp(40000, 20000, b"x"));
        bad[0] = 0x44;
        assert!(!accepts(&f, &eth4(&bad)));
    }

    #[test]
    fn ipv4_fragments() {
        let f = rtp_filter();
        // First fragment (MF set, offset 0): has the UDP header, judged by ports.
        assert!(accepts(
            &f,
            &eth4(&ipv4(17, 0, 0x2000, &udp(40000, 20000, b"x")))
        ));
        assert!(!accepts(
            &f,
            &eth4(&ipv4(17, 0, 0x2000, &udp(40000, 40001, b"x")))
        ));
        // DF set is not a fragment.
        assert!(accepts(
            &f,
            &eth4(&ipv4(17, 0, 0x4000, &udp(40000, 20000, b"x")))
        ));
        // Later fragments carry no UDP header: rejected whatever their bytes look like.
        assert!(!accepts(
            &f,
            &eth4(&ipv4(17, 0, 0x2000 | 185, &udp(20000, 20000, b"x")))
        ));
        assert!(!accepts(
            &f,
            &eth4(&ipv4(17, 0, 1, &udp(20000, 20000, b"x")))
        ));
        assert!(!accepts(
            &f,
            &eth4(&ipv4(17, 0, 0x1fff, &udp(20000, 20000, b"x")))
        ));
    }

    #[test]
    fn empty_ranges_mean_all_udp() {
        let f = build_udp_filter(&[]);
        check_like_kernel(&f);
        assert!(accepts(&f, &eth4(&ipv4(17, 0, 0, &udp(1, 2, b"")))));
        assert!(accepts(&f, &eth6(&ipv6(&[], 17, &udp(1, 2, b"")))));
        assert!(accepts(
            &f,
            &eth(&[0x8100], 0x0800, &ipv4(17, 0, 0, &udp(1, 2, b"")))
        ));
        assert!(!accepts(&f, &eth4(&ipv4(6, 0, 0, &udp(1, 2, b"")))));
        assert!(!accepts(&f, &eth4(&ipv4(17, 0, 5, &udp(1, 2, b"")))));
        // Only empty ranges: the same as none.
        #[allow(clippy::reversed_empty_ranges)]
        let only_empty = build_udp_filter(&[5..=3]);
        let tuples = |p: &[sock_filter]| {
            p.iter()
                .map(|i| (i.code, i.jt, i.jf, i.k))
                .collect::<Vec<_>>()
        };
        assert_eq!(tuples(&only_empty), tuples(&f));
        // The full range: the same.
        assert!(accepts(
            &build_udp_filter(&[0..=65535]),
            &eth4(&ipv4(17, 0, 0, &udp(1, 2, b"")))
        ));
    }

    #[test]
    fn range_edges() {
        let f = build_udp_filter(&[0..=10, 100..=100, 65000..=65535]);
        check_like_kernel(&f);
        let p = |s: u16, d: u16| eth4(&ipv4(17, 0, 0, &udp(s, d, b"")));
        for port in [0, 10, 100, 65000, 65535] {
            assert!(accepts(&f, &p(port, 50000)), "{port}");
            assert!(accepts(&f, &p(50000, port)), "{port}");
        }
        for port in [11, 99, 101, 64999] {
            assert!(!accepts(&f, &p(port, 50000)), "{port}");
        }
    }

    #[test]
    fn raw_ip_framing() {
        let f = build_udp_filter_raw_ip(&[RTP]);
        check_like_kernel(&f);
        assert!(accepts(&f, &ipv4(17, 0, 0, &udp(1, 20000, b""))));
        assert!(accepts(&f, &ipv4(17, 2, 0, &udp(20000, 1, b""))));
        assert!(!accepts(&f, &ipv4(17, 0, 0, &udp(1, 2, b""))));
        assert!(!accepts(&f, &ipv4(17, 0, 9, &udp(1, 20000, b""))));
        assert!(accepts(
            &f,
            &ipv6(&[(0, ext_generic(0))], 17, &udp(1, 20000, b""))
        ));
        assert!(!accepts(&f, &ipv6(&[], 6, &udp(1, 20000, b""))));
        assert!(!accepts(&f, &[0x50; 40]));
        // An Ethernet frame is not raw IP.
        assert!(!accepts(&f, &eth4(&ipv4(17, 0, 0, &udp(1, 20000, b"")))));
    }

    #[test]
    fn truncated_packets_are_rejected_without_panicking() {
        let f = rtp_filter();
        // (frame, bytes up to the end of the destination port, the last thing read).
        let frames = [
            (
                eth4(&ipv4(17, 3, 0, &udp(40000, 20000, b"payload"))),
                14 + 32 + 4,
            ),
            (
                eth(
                    &[0x88a8, 0x8100],
                    0x86dd,
                    &ipv6(
                        &[(0, ext_generic(1)), (44, ext_fragment(0, true))],
                        17,
                        &udp(40000, 20000, b"x"),
                    ),
                ),
                22 + 40 + 16 + 8 + 4,
            ),
        ];
        for (frame, needed) in frames {
            assert!(accepts(&f, &frame));
            for len in 0..frame.len() {
                let verdict = run_filter(&f, &frame[..len]);
                assert_eq!(verdict != 0, len >= needed, "prefix of {len} bytes");
            }
        }
    }

    #[test]
    fn normalize_merges_sorts_and_drops_empty() {
        #[allow(clippy::reversed_empty_ranges)]
        let input = [
            30..=40,
            1..=5,
            6..=10,
            35..=50,
            9..=3,
            65535..=65535,
            60000..=65534,
        ];
        assert_eq!(normalize(&input), vec![(1, 10), (30, 50), (60000, 65535)]);
        assert_eq!(normalize(&[]), Vec::<(u16, u16)>::new());
        assert_eq!(normalize(&[0..=65535, 7..=9]), vec![(0, 65535)]);
    }

    #[test]
    fn many_ranges_fit_and_too_many_fall_back_to_the_hull() {
        // The most disjoint ranges checked exactly: even ports 1000, 1002, ...
        let exact: Vec<_> = (0..MAX_FILTER_RANGES as u16)
            .map(|i| 1000 + 2 * i..=1000 + 2 * i)
            .collect();
        let f = build_udp_filter(&exact);
        check_like_kernel(&f);
        assert_ne!(f.len(), 1, "fell back to accept-all");
        let p = |d: u16| eth4(&ipv4(17, 0, 0, &udp(50000, d, b"")));
        assert!(accepts(&f, &p(1000)));
        assert!(accepts(&f, &p(1000 + 2 * (MAX_FILTER_RANGES as u16 - 1))));
        assert!(!accepts(&f, &p(1001)));
        // One more: the hull [1000, 1000 + 2 * MAX], which accepts the odd ports too.
        let too_many: Vec<_> = (0..=MAX_FILTER_RANGES as u16)
            .map(|i| 1000 + 2 * i..=1000 + 2 * i)
            .collect();
        let f = build_udp_filter(&too_many);
        check_like_kernel(&f);
        assert!(accepts(&f, &p(1001)));
        assert!(!accepts(&f, &p(999)));
        assert!(!accepts(&f, &p(1001 + 2 * MAX_FILTER_RANGES as u16)));
    }

    /// A small deterministic PRNG (xorshift64*), so the differential test needs no crate.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[test]
    fn differential_against_a_plain_rust_predicate() {
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        for _ in 0..300 {
            let ranges: Vec<RangeInclusive<u16>> = (0..rng.below(5))
                .map(|_| {
                    let lo = rng.below(65536) as u16;
                    let hi = lo.saturating_add(rng.below(3000) as u16);
                    lo..=hi
                })
                .collect();
            let f = build_udp_filter(&ranges);
            check_like_kernel(&f);
            let in_ranges = |p: u16| ranges.is_empty() || ranges.iter().any(|r| r.contains(&p));
            for _ in 0..50 {
                // Bias ports towards the ranges' edges.
                let mut port = || match (rng.below(3), ranges.first()) {
                    (0, Some(r)) => r.start().wrapping_add(rng.below(3) as u16).wrapping_sub(1),
                    (1, Some(r)) => r.end().wrapping_add(rng.below(3) as u16).wrapping_sub(1),
                    _ => rng.below(65536) as u16,
                };
                let (s, d) = (port(), port());
                let proto = [17u8, 17, 17, 6][rng.below(4) as usize];
                let frag: u16 = [0u16, 0, 0x2000, 0x4000, 5][rng.below(5) as usize];
                let tags: &[u16] = [&[][..], &[0x8100], &[0x88a8, 0x8100]][rng.below(3) as usize];
                let v6 = rng.below(2) == 0;
                let options = rng.below(11) as u8;
                let frame = if v6 {
                    eth(tags, 0x86dd, &ipv6(&[], proto, &udp(s, d, b"x")))
                } else {
                    eth(tags, 0x0800, &ipv4(proto, options, frag, &udp(s, d, b"x")))
                };
                let frag_offset = if v6 { 0 } else { frag & 0x1fff };
                let expected = proto == 17 && frag_offset == 0 && (in_ranges(s) || in_ranges(d));
                assert_eq!(
                    accepts(&f, &frame),
                    expected,
                    "{ranges:?} v6={v6} {s}->{d} proto={proto} frag={frag:#x}"
                );
            }
        }
    }
}
