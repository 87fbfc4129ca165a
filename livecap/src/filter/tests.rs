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
