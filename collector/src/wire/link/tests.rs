use super::*;
use std::net::Ipv6Addr;

/// The Ethernet/IPv4/UDP fast path accepts a frame only when the general path would
/// return the same datagram: every cut of a frame, every value of each header byte.
#[test]
fn ethernet_ipv4_fast_path_agrees_with_the_general_path() {
    fn general(frame: &[u8]) -> Result<UdpDatagram<'_>, LinkError> {
        decode_ip::<Udp>(LinkType::Ethernet, frame)
    }
    let mut base = Vec::new();
    let src: SocketAddr = "192.0.2.10:20000".parse().expect("address");
    let dst: SocketAddr = "198.18.0.7:40002".parse().expect("address");
    write_udp_frame(&mut base, LinkType::Ethernet, src, dst, &[0x80; 24]).expect("frame");
    base.extend_from_slice(&[0; 6]); // Ethernet padding after the IP packet
    let mut accepted = 0;
    let mut check = |frame: &[u8]| {
        if let Some(fast) = ethernet_ipv4_udp(frame) {
            accepted += 1;
            assert_eq!(general(frame), Ok(fast), "frame {frame:02x?}");
        }
        assert_eq!(decode_udp(LinkType::Ethernet, frame), general(frame));
    };
    for len in 0..=base.len() {
        check(&base[..len]);
    }
    for at in 12..ETHERNET_HEADER_LEN + IPV4_MIN_HEADER_LEN + UDP_HEADER_LEN {
        for value in 0..=255u8 {
            let mut frame = base.clone();
            frame[at] = value;
            check(&frame);
        }
    }
    assert!(accepted > 1000);
}

/// Ethernet II / IPv4 / UDP, 4 payload bytes, spelled out field by field.
const ETH_IPV4_UDP: &[u8] = &[
    // --- Ethernet
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // destination MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // source MAC
    0x08, 0x00, // EtherType IPv4
    // --- IPv4
    0x45, // version 4, IHL 5 (20 bytes)
    0x00, // DSCP / ECN
    0x00, 0x20, // total length 32 = 20 + 8 + 4
    0x00, 0x00, // identification
    0x40, 0x00, // flags DF, fragment offset 0
    0x40, // TTL 64
    0x11, // protocol 17 (UDP)
    0x00, 0x00, // header checksum (not verified)
    10, 0, 0, 1, // source
    10, 0, 0, 2, // destination
    // --- UDP
    0x13, 0x88, // source port 5000
    0x13, 0x89, // destination port 5001
    0x00, 0x0c, // length 12 = 8 + 4
    0x00, 0x00, // checksum (none)
    // --- payload
    0xde, 0xad, 0xbe, 0xef,
];
const PAYLOAD: &[u8] = &[0xde, 0xad, 0xbe, 0xef];

fn v4(a: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(a)), port)
}

fn v6(last: u16, port: u16) -> SocketAddr {
    SocketAddr::new(
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last)),
        port,
    )
}

/// The IPv4 packet inside [`ETH_IPV4_UDP`].
fn ipv4_packet() -> Vec<u8> {
    ETH_IPV4_UDP[14..].to_vec()
}

/// UDP header (checksum 0) + payload.
fn udp_bytes(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend(sport.to_be_bytes());
    v.extend(dport.to_be_bytes());
    v.extend(((8 + payload.len()) as u16).to_be_bytes());
    v.extend([0, 0]);
    v.extend(payload);
    v
}

/// IPv6 header with the given first next-header value, extension bytes and UDP.
fn ipv6_packet(next: u8, exts: &[u8], l4: &[u8]) -> Vec<u8> {
    let mut v = vec![0x60, 0, 0, 0]; // version 6, traffic class 0, flow label 0
    v.extend(((exts.len() + l4.len()) as u16).to_be_bytes()); // payload length
    v.push(next);
    v.push(64); // hop limit
    v.extend(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).octets());
    v.extend(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2).octets());
    v.extend(exts);
    v.extend(l4);
    v
}

fn eth(ethertype: u16, rest: &[u8]) -> Vec<u8> {
    let mut v = ETH_IPV4_UDP[..12].to_vec();
    v.extend(ethertype.to_be_bytes());
    v.extend(rest);
    v
}

fn expect_fixture_payload(link: LinkType, frame: &[u8]) {
    let d = decode_udp(link, frame).unwrap();
    assert_eq!(d.src, v4([10, 0, 0, 1], 5000));
    assert_eq!(d.dst, v4([10, 0, 0, 2], 5001));
    assert_eq!(d.payload, PAYLOAD);
    assert_eq!(d.payload_len, 4);
}

/// Every prefix of `frame` must decode to an error or to a prefix of the payload
/// with the full `payload_len`, never panic.
fn check_prefixes(link: LinkType, frame: &[u8]) {
    let full = decode_udp(link, frame).unwrap();
    for cut in 0..frame.len() {
        match decode_udp(link, &frame[..cut]) {
            Ok(d) => {
                assert!(d.payload.len() < full.payload.len(), "cut {cut}");
                assert_eq!(d.payload, &full.payload[..d.payload.len()]);
                assert_eq!(d.payload_len, full.payload_len);
                assert_eq!((d.src, d.dst), (full.src, full.dst));
            }
            Err(e) => assert!(
                matches!(e, LinkError::Truncated { .. }),
                "{link:?} cut {cut}: {e:?}"
            ),
        }
    }
}

#[test]
fn ethernet_ipv4() {
    expect_fixture_payload(LinkType::Ethernet, ETH_IPV4_UDP);
    check_prefixes(LinkType::Ethernet, ETH_IPV4_UDP);
}

#[test]
fn ethernet_trailer_padding_is_ignored() {
    let mut f = ETH_IPV4_UDP.to_vec();
    f.resize(60, 0xaa); // minimum Ethernet frame, padded with junk
    f.extend([1, 2, 3, 4]); // and an FCS
    expect_fixture_payload(LinkType::Ethernet, &f);
}

#[test]
fn snaplen_cut_payload() {
    let f = &ETH_IPV4_UDP[..ETH_IPV4_UDP.len() - 2];
    let d = decode_udp(LinkType::Ethernet, f).unwrap();
    assert_eq!(d.payload, &PAYLOAD[..2]);
    assert_eq!(d.payload_len, 4);
    // Only 6 of the 8 UDP header bytes: that is not enough.
    let f = &ETH_IPV4_UDP[..14 + 20 + 6];
    assert_eq!(
        decode_udp(LinkType::Ethernet, f),
        Err(LinkError::Truncated { layer: Layer::Udp })
    );
}

#[test]
fn vlan_tags() {
    // One 802.1Q tag: TCI (priority 0, VLAN 100), inner EtherType IPv4.
    let mut rest = vec![0x00, 0x64, 0x08, 0x00];
    rest.extend(ipv4_packet());
    let f = eth(0x8100, &rest);
    expect_fixture_payload(LinkType::Ethernet, &f);
    check_prefixes(LinkType::Ethernet, &f);
    // QinQ: 802.1ad outer (VLAN 10), 802.1Q inner (VLAN 100).
    let mut rest = vec![0x00, 0x0a, 0x81, 0x00, 0x00, 0x64, 0x08, 0x00];
    rest.extend(ipv4_packet());
    let f = eth(0x88a8, &rest);
    expect_fixture_payload(LinkType::Ethernet, &f);
    check_prefixes(LinkType::Ethernet, &f);
    // Legacy 0x9100 outer tag.
    let f = eth(0x9100, &rest);
    expect_fixture_payload(LinkType::Ethernet, &f);
}

fn stacked_tags(n: usize) -> Vec<u8> {
    let mut rest = Vec::new();
    for i in 1..n {
        rest.extend([0x00, i as u8, 0x81, 0x00]); // TCI, next tag
    }
    rest.extend([0x00, 0x01, 0x08, 0x00]); // last tag, then IPv4
    rest.extend(ipv4_packet());
    eth(0x8100, &rest)
}

#[test]
fn vlan_stack_depth_is_bounded() {
    expect_fixture_payload(LinkType::Ethernet, &stacked_tags(MAX_VLAN_TAGS));
    assert_eq!(
        decode_udp(LinkType::Ethernet, &stacked_tags(MAX_VLAN_TAGS + 1)),
        Err(LinkError::BadHeader { layer: Layer::Vlan })
    );
    assert_eq!(
        decode_udp(LinkType::Ethernet, &stacked_tags(3)[..14 + 4 + 3]),
        Err(LinkError::Truncated { layer: Layer::Vlan })
    );
}

fn pppoe_frame(ppp_proto: u16, ip: &[u8]) -> Vec<u8> {
    let mut rest = vec![
        0x11, // version 1, type 1
        0x00, // code: session data
        0x12, 0x34, // session id
    ];
    rest.extend(((ip.len() + 2) as u16).to_be_bytes()); // length: PPP protocol + IP
    rest.extend(ppp_proto.to_be_bytes());
    rest.extend(ip);
    eth(0x8864, &rest)
}

#[test]
fn pppoe_session() {
    let f = pppoe_frame(0x0021, &ipv4_packet());
    expect_fixture_payload(LinkType::Ethernet, &f);
    check_prefixes(LinkType::Ethernet, &f);
    // Padded to the Ethernet minimum: the PPPoE and IP lengths both bound it.
    let mut padded = f.clone();
    padded.resize(f.len() + 20, 0);
    expect_fixture_payload(LinkType::Ethernet, &padded);

    let ip6 = ipv6_packet(17, &[], &udp_bytes(1, 2, b"six"));
    let f = pppoe_frame(0x0057, &ip6);
    let d = decode_udp(LinkType::Ethernet, &f).unwrap();
    assert_eq!((d.src, d.dst, d.payload), (v6(1, 1), v6(2, 2), &b"six"[..]));
    check_prefixes(LinkType::Ethernet, &f);

    // LCP is not IP.
    let f = pppoe_frame(0xc021, &[1, 2, 3, 4]);
    assert_eq!(decode_udp(LinkType::Ethernet, &f), Err(LinkError::NotIp));
    // Wrong version/type.
    let mut f = pppoe_frame(0x0021, &ipv4_packet());
    f[14] = 0x12;
    assert_eq!(
        decode_udp(LinkType::Ethernet, &f),
        Err(LinkError::BadHeader {
            layer: Layer::Pppoe
        })
    );
}

#[test]
fn linux_cooked() {
    // SLL: packet type 0, ARPHRD 1, address length 6, address (8), protocol.
    let mut f = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00];
    f.extend(ipv4_packet());
    expect_fixture_payload(LinkType::LinuxSll, &f);
    check_prefixes(LinkType::LinuxSll, &f);
    // SLL2: protocol, reserved, ifindex, ARPHRD, packet type, address length, address.
    let mut f = vec![
        0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 4, 6, 2, 0, 0, 0, 0, 1, 0, 0,
    ];
    f.extend(ipv4_packet());
    expect_fixture_payload(LinkType::LinuxSll2, &f);
    check_prefixes(LinkType::LinuxSll2, &f);
    // SLL carrying a VLAN tag that was not stripped.
    let mut f = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x81, 0x00];
    f.extend([0x00, 0x05, 0x08, 0x00]);
    f.extend(ipv4_packet());
    expect_fixture_payload(LinkType::LinuxSll, &f);
    // SLL with an ARP frame.
    let f = [0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x06, 0, 1];
    assert_eq!(decode_udp(LinkType::LinuxSll, &f), Err(LinkError::NotIp));
}

#[test]
fn raw_ip_link_types() {
    let p4 = ipv4_packet();
    let p6 = ipv6_packet(17, &[], &udp_bytes(7, 8, b"x"));
    expect_fixture_payload(LinkType::RawIp, &p4);
    expect_fixture_payload(LinkType::Ipv4, &p4);
    check_prefixes(LinkType::RawIp, &p4);
    assert_eq!(decode_udp(LinkType::RawIp, &p6).unwrap().payload, b"x");
    assert_eq!(decode_udp(LinkType::Ipv6, &p6).unwrap().payload, b"x");
    check_prefixes(LinkType::RawIp, &p6);
    check_prefixes(LinkType::Ipv6, &p6);
    assert_eq!(
        decode_udp(LinkType::Ipv4, &p6),
        Err(LinkError::BadHeader { layer: Layer::Ipv4 })
    );
    assert_eq!(
        decode_udp(LinkType::Ipv6, &p4),
        Err(LinkError::BadHeader { layer: Layer::Ipv6 })
    );
    assert_eq!(
        decode_udp(LinkType::RawIp, &[0x50; 40]),
        Err(LinkError::NotIp)
    );
}

#[test]
fn bsd_loopback() {
    for header in [
        [2, 0, 0, 0], // AF_INET, little-endian host
        [0, 0, 0, 2], // AF_INET, big-endian host
    ] {
        let mut f = header.to_vec();
        f.extend(ipv4_packet());
        expect_fixture_payload(LinkType::Null, &f);
        check_prefixes(LinkType::Null, &f);
    }
    let p6 = ipv6_packet(17, &[], &udp_bytes(7, 8, b"lo"));
    for af in [24u32, 28, 30] {
        for header in [af.to_le_bytes(), af.to_be_bytes()] {
            let mut f = header.to_vec();
            f.extend(&p6);
            assert_eq!(decode_udp(LinkType::Null, &f).unwrap().payload, b"lo");
        }
        let mut f = af.to_be_bytes().to_vec();
        f.extend(&p6);
        assert_eq!(decode_udp(LinkType::Loop, &f).unwrap().payload, b"lo");
    }
    let mut f = 2u32.to_be_bytes().to_vec();
    f.extend(ipv4_packet());
    expect_fixture_payload(LinkType::Loop, &f);
    check_prefixes(LinkType::Loop, &f);
    // AF_UNIX (1) is not IP.
    assert_eq!(
        decode_udp(LinkType::Null, &[1, 0, 0, 0, 0x45]),
        Err(LinkError::NotIp)
    );
}

#[test]
fn ipv4_with_options() {
    let mut p = ipv4_packet();
    // IHL 6 and total length 36: 4 option bytes (three NOPs and an end of list).
    p[0] = 0x46;
    p[2..4].copy_from_slice(&36u16.to_be_bytes());
    p.splice(20..20, [1, 1, 1, 0]);
    expect_fixture_payload(LinkType::RawIp, &p);
    check_prefixes(LinkType::RawIp, &p);
}

#[test]
fn ipv4_bad_headers() {
    let bad4 = Err(LinkError::BadHeader { layer: Layer::Ipv4 });
    let bad_udp = Err(LinkError::BadHeader { layer: Layer::Udp });
    let patched = |at: usize, bytes: &[u8]| {
        let mut p = ipv4_packet();
        p[at..at + bytes.len()].copy_from_slice(bytes);
        p
    };
    // IHL 4 (16 bytes) is below the minimum.
    assert_eq!(decode_udp(LinkType::RawIp, &patched(0, &[0x44])), bad4);
    // Total length 19 is less than the header.
    assert_eq!(decode_udp(LinkType::RawIp, &patched(2, &[0, 19])), bad4);
    // Total length 24 leaves no room for a UDP header.
    assert_eq!(decode_udp(LinkType::RawIp, &patched(2, &[0, 24])), bad_udp);
    // UDP length 7 is below its own header.
    assert_eq!(decode_udp(LinkType::RawIp, &patched(24, &[0, 7])), bad_udp);
    // UDP length 13 exceeds the 12-byte IP payload.
    assert_eq!(decode_udp(LinkType::RawIp, &patched(24, &[0, 13])), bad_udp);
    // UDP length 10 inside a 12-byte IP payload: IP padding, payload cut to 2.
    let p = patched(24, &[0, 10]);
    let d = decode_udp(LinkType::RawIp, &p).unwrap();
    assert_eq!((d.payload, d.payload_len), (&PAYLOAD[..2], 2));
    // IP total length claims 100: snap-length cut, not an error; UDP says 4 bytes.
    let p = patched(2, &[0, 100]);
    let d = decode_udp(LinkType::RawIp, &p).unwrap();
    assert_eq!((d.payload, d.payload_len), (PAYLOAD, 4));
    // Both claim more than captured: the captured bytes, the UDP size.
    let mut p = patched(2, &[0, 128]);
    p[24..26].copy_from_slice(&108u16.to_be_bytes());
    let d = decode_udp(LinkType::RawIp, &p).unwrap();
    assert_eq!((d.payload, d.payload_len), (PAYLOAD, 100));
}

#[test]
fn ipv4_fragments_and_other_protocols() {
    let mut p = ipv4_packet();
    p[6] = 0x20; // MF set, offset 0: first fragment
    assert_eq!(decode_udp(LinkType::RawIp, &p), Err(LinkError::Fragment));
    p[6] = 0x00;
    p[7] = 0x10; // offset 16 * 8 bytes, MF clear: last fragment
    assert_eq!(decode_udp(LinkType::RawIp, &p), Err(LinkError::Fragment));
    let mut p = ipv4_packet();
    p[9] = 6; // TCP
    assert_eq!(decode_udp(LinkType::RawIp, &p), Err(LinkError::NotUdp));
    // ARP, and an 802.3 length field instead of an EtherType.
    assert_eq!(
        decode_udp(LinkType::Ethernet, &eth(0x0806, &[0; 28])),
        Err(LinkError::NotIp)
    );
    assert_eq!(
        decode_udp(LinkType::Ethernet, &eth(0x0040, &[0; 64])),
        Err(LinkError::NotIp)
    );
    assert_eq!(
        decode_udp(LinkType::Other(147), ETH_IPV4_UDP),
        Err(LinkError::UnsupportedLinkType)
    );
}

/// Hop-by-hop (8 bytes), destination options (16), routing (8), atomic fragment (8).
fn ipv6_ext_chain() -> Vec<u8> {
    let mut exts = Vec::new();
    // Hop-by-hop: next = dest options (60), length 0 (8 bytes), PadN of 4.
    exts.extend([60, 0, 1, 4, 0, 0, 0, 0]);
    // Destination options: next = routing (43), length 1 (16 bytes), PadN of 12.
    exts.extend([43, 1, 1, 12]);
    exts.extend([0; 12]);
    // Routing: next = fragment (44), length 0, type 4, segments left 0, reserved.
    exts.extend([44, 0, 4, 0, 0, 0, 0, 0]);
    // Fragment: next = UDP, reserved, offset 0 / M 0, identification.
    exts.extend([17, 0, 0, 0, 0xca, 0xfe, 0xba, 0xbe]);
    ipv6_packet(0, &exts, &udp_bytes(5004, 5005, b"rtp!"))
}

#[test]
fn ipv6_extension_headers() {
    let p = ipv6_ext_chain();
    let d = decode_udp(LinkType::Ipv6, &p).unwrap();
    assert_eq!(d.src, v6(1, 5004));
    assert_eq!(d.dst, v6(2, 5005));
    assert_eq!((d.payload, d.payload_len), (&b"rtp!"[..], 4));
    check_prefixes(LinkType::Ipv6, &p);
    let f = eth(0x86dd, &p);
    check_prefixes(LinkType::Ethernet, &f);
    // With padding after the packet.
    let mut padded = f.clone();
    padded.extend([0; 10]);
    assert_eq!(
        decode_udp(LinkType::Ethernet, &padded).unwrap().payload,
        b"rtp!"
    );
}

#[test]
fn ipv6_fragments_and_others() {
    let frag_at = 40 + 8 + 16 + 8;
    let mut p = ipv6_ext_chain();
    p[frag_at + 3] = 1; // M set
    assert_eq!(decode_udp(LinkType::Ipv6, &p), Err(LinkError::Fragment));
    let mut p = ipv6_ext_chain();
    p[frag_at + 2] = 0x01; // offset 32 (x 8 bytes)
    assert_eq!(decode_udp(LinkType::Ipv6, &p), Err(LinkError::Fragment));
    // ESP and TCP are not UDP.
    let p = ipv6_packet(50, &[], &[0; 16]);
    assert_eq!(decode_udp(LinkType::Ipv6, &p), Err(LinkError::NotUdp));
    let p = ipv6_packet(6, &[], &[0; 20]);
    assert_eq!(decode_udp(LinkType::Ipv6, &p), Err(LinkError::NotUdp));
    // Extension header longer than the payload length claims.
    let mut p = ipv6_packet(60, &[17, 4, 0, 0, 0, 0, 0, 0], &udp_bytes(1, 2, b""));
    let n = p.len();
    p.extend([0; 40]); // captured bytes exist, but beyond the IPv6 payload
    assert_eq!(n, 40 + 16);
    assert_eq!(
        decode_udp(LinkType::Ipv6, &p),
        Err(LinkError::BadHeader { layer: Layer::Ipv6 })
    );
    // Wrong version nibble.
    let mut p = ipv6_packet(17, &[], &udp_bytes(1, 2, b""));
    p[0] = 0x40;
    assert_eq!(
        decode_udp(LinkType::Ipv6, &p),
        Err(LinkError::BadHeader { layer: Layer::Ipv6 })
    );
}

#[test]
fn malformed_classification() {
    assert!(LinkError::Truncated { layer: Layer::Udp }.is_malformed());
    assert!(LinkError::BadHeader { layer: Layer::Vlan }.is_malformed());
    for e in [
        LinkError::NotIp,
        LinkError::NotUdp,
        LinkError::Fragment,
        LinkError::UnsupportedLinkType,
    ] {
        assert!(!e.is_malformed());
    }
    assert_eq!(
        LinkError::Truncated { layer: Layer::Ipv6 }.to_string(),
        "ipv6 header cut short"
    );
}

const ALL_LINKS: [LinkType; 9] = [
    LinkType::Ethernet,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::RawIp,
    LinkType::Ipv4,
    LinkType::Ipv6,
    LinkType::Null,
    LinkType::Loop,
    LinkType::Other(147),
];

#[test]
fn builder_round_trip() {
    let pairs = [
        (v4([192, 0, 2, 1], 40000), v4([198, 51, 100, 7], 3478)),
        (v6(1, 50000), v6(0xffff, 443)),
    ];
    let big = vec![0x5a; 1200];
    for link in ALL_LINKS {
        for (src, dst) in pairs {
            let is_v4 = src.is_ipv4();
            let fits = !matches!(
                (link, is_v4),
                (LinkType::Other(_), _) | (LinkType::Ipv4, false) | (LinkType::Ipv6, true)
            );
            for payload in [&b""[..], b"a", b"abc", &big] {
                let mut out = vec![0xee]; // existing content is kept
                let r = write_udp_frame(&mut out, link, src, dst, payload);
                if !fits {
                    assert!(r.is_err());
                    assert_eq!(out, [0xee]);
                    continue;
                }
                r.unwrap();
                assert_eq!(out[0], 0xee);
                let frame = &out[1..];
                let d = decode_udp(link, frame).unwrap();
                assert_eq!((d.src, d.dst), (src, dst), "{link:?}");
                assert_eq!(d.payload, payload);
                assert_eq!(d.payload_len, payload.len());
                check_checksums(frame, d.payload.len(), is_v4);
                if payload.len() == 3 {
                    check_prefixes(link, frame);
                }
            }
        }
    }
}

/// Verifies the builder's checksums with pnet's independent implementation. The IP
/// packet is the last `ip header + 8 + payload_len` bytes of the frame.
fn check_checksums(frame: &[u8], payload_len: usize, is_v4: bool) {
    use pnet_packet::udp::{ipv4_checksum, ipv6_checksum};
    let ip_len = if is_v4 { 20 } else { 40 } + 8 + payload_len;
    let ip = &frame[frame.len() - ip_len..];
    if is_v4 {
        let p = Ipv4Packet::new(ip).unwrap();
        assert_eq!(p.get_checksum(), pnet_packet::ipv4::checksum(&p));
        assert_eq!(p.get_ttl(), 64);
        assert_eq!(p.get_flags(), Ipv4Flags::DontFragment);
        let u = UdpPacket::new(&ip[20..]).unwrap();
        let expect = ipv4_checksum(&u, &p.get_source(), &p.get_destination());
        assert_eq!(u.get_checksum(), expect);
    } else {
        let p = Ipv6Packet::new(ip).unwrap();
        let u = UdpPacket::new(&ip[40..]).unwrap();
        let expect = ipv6_checksum(&u, &p.get_source(), &p.get_destination());
        assert_eq!(u.get_checksum(), expect);
    }
}

#[test]
fn builder_matches_fixture() {
    let mut out = Vec::new();
    write_udp_frame(
        &mut out,
        LinkType::Ethernet,
        v4([10, 0, 0, 1], 5000),
        v4([10, 0, 0, 2], 5001),
        PAYLOAD,
    )
    .unwrap();
    assert_eq!(out.len(), ETH_IPV4_UDP.len());
    // Identical except the two checksums the fixture leaves at 0.
    let mut masked = out.clone();
    masked[24..26].fill(0);
    masked[40..42].fill(0);
    assert_eq!(masked, ETH_IPV4_UDP);
}

#[test]
fn builder_errors_leave_output_alone() {
    let mut out = vec![1, 2, 3];
    let cases = [
        (
            LinkType::Ethernet,
            v4([1, 1, 1, 1], 1),
            v6(1, 1),
            0,
            BuildError::FamilyMismatch,
        ),
        (
            LinkType::Ipv4,
            v6(1, 1),
            v6(2, 1),
            0,
            BuildError::FamilyMismatch,
        ),
        (
            LinkType::Ipv6,
            v4([1, 1, 1, 1], 1),
            v4([1, 1, 1, 2], 1),
            0,
            BuildError::FamilyMismatch,
        ),
        (
            LinkType::Other(5),
            v6(1, 1),
            v6(2, 1),
            0,
            BuildError::UnsupportedLinkType,
        ),
        (
            LinkType::RawIp,
            v4([1, 1, 1, 1], 1),
            v4([1, 1, 1, 2], 1),
            MAX_UDP_PAYLOAD_V4 + 1,
            BuildError::PayloadTooLarge,
        ),
        (
            LinkType::RawIp,
            v6(1, 1),
            v6(2, 1),
            MAX_UDP_PAYLOAD_V6 + 1,
            BuildError::PayloadTooLarge,
        ),
    ];
    for (link, src, dst, len, err) in cases {
        let payload = vec![0; len];
        assert_eq!(
            write_udp_frame(&mut out, link, src, dst, &payload),
            Err(err)
        );
        assert_eq!(out, [1, 2, 3]);
    }
    // The largest payloads fit.
    let payload = vec![7; MAX_UDP_PAYLOAD_V4];
    let src = v4([1, 1, 1, 1], 1);
    let dst = v4([1, 1, 1, 2], 2);
    let mut out = Vec::new();
    write_udp_frame(&mut out, LinkType::RawIp, src, dst, &payload).unwrap();
    assert_eq!(
        decode_udp(LinkType::RawIp, &out).unwrap().payload_len,
        MAX_UDP_PAYLOAD_V4
    );
    let payload = vec![7; MAX_UDP_PAYLOAD_V6];
    let mut out = Vec::new();
    write_udp_frame(&mut out, LinkType::RawIp, v6(1, 1), v6(2, 2), &payload).unwrap();
    assert_eq!(
        decode_udp(LinkType::RawIp, &out).unwrap().payload_len,
        MAX_UDP_PAYLOAD_V6
    );
}

/// Random bytes and random single-byte corruptions of valid frames must never panic.
#[test]
fn no_panic_on_garbage() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut valid = vec![ETH_IPV4_UDP.to_vec(), eth(0x86dd, &ipv6_ext_chain())];
    valid.push(pppoe_frame(0x0021, &ipv4_packet()));
    valid.push(stacked_tags(3));
    for _ in 0..20_000 {
        let link = ALL_LINKS[(next() % 9) as usize];
        let len = (next() % 120) as usize;
        let garbage: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let _ = decode_udp(link, &garbage);
        let mut f = valid[(next() % valid.len() as u64) as usize].clone();
        let at = (next() % f.len() as u64) as usize;
        f[at] = next() as u8;
        if let Ok(d) = decode_udp(LinkType::Ethernet, &f) {
            assert!(d.payload.len() <= d.payload_len);
        }
    }
}
