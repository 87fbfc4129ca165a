//! Reader and writer tests on hand-built byte fixtures.
#![allow(clippy::unwrap_used)]

use std::io::{self, Cursor, Read};

use super::*;

// ---------------------------------------------------------------------------------------
// Fixture builders. Each writes the fields in the order the format defines them.

fn u16b(o: ByteOrder, v: u16) -> [u8; 2] {
    match o {
        ByteOrder::Little => v.to_le_bytes(),
        ByteOrder::Big => v.to_be_bytes(),
    }
}

fn u32b(o: ByteOrder, v: u32) -> [u8; 4] {
    match o {
        ByteOrder::Little => v.to_le_bytes(),
        ByteOrder::Big => v.to_be_bytes(),
    }
}

fn u64b(o: ByteOrder, v: u64) -> [u8; 8] {
    match o {
        ByteOrder::Little => v.to_le_bytes(),
        ByteOrder::Big => v.to_be_bytes(),
    }
}

/// pcap file header.
fn pcap_header(o: ByteOrder, nanos: bool, snaplen: u32, linktype: u32) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend(u32b(o, if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 })); // magic
    v.extend(u16b(o, 2)); // version major
    v.extend(u16b(o, 4)); // version minor
    v.extend(u32b(o, 0)); // thiszone
    v.extend(u32b(o, 0)); // sigfigs
    v.extend(u32b(o, snaplen));
    v.extend(u32b(o, linktype));
    v
}

/// pcap record: header + data.
fn pcap_record(o: ByteOrder, secs: u32, frac: u32, data: &[u8], orig: u32) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend(u32b(o, secs));
    v.extend(u32b(o, frac));
    v.extend(u32b(o, data.len() as u32)); // captured length
    v.extend(u32b(o, orig)); // original length
    v.extend(data);
    v
}

/// A pcapng block: type, total length, body padded to 32 bits, total length again.
fn block(o: ByteOrder, ty: u32, body: &[u8]) -> Vec<u8> {
    let padded = body.len().div_ceil(4) * 4;
    let total = (12 + padded) as u32;
    let mut v = Vec::new();
    v.extend(u32b(o, ty));
    v.extend(u32b(o, total));
    v.extend(body);
    v.resize(8 + padded, 0);
    v.extend(u32b(o, total));
    v
}

/// Section Header Block, version 1.0, unknown section length, no options.
fn shb(o: ByteOrder) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(u32b(o, 0x1a2b_3c4d)); // byte-order magic
    body.extend(u16b(o, 1)); // major
    body.extend(u16b(o, 0)); // minor
    body.extend(u64b(o, u64::MAX)); // section length: -1 = not given
    block(o, 0x0a0d_0d0a, &body)
}

/// One option: code, length, value padded to 32 bits.
fn opt(o: ByteOrder, code: u16, value: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend(u16b(o, code));
    v.extend(u16b(o, value.len() as u16));
    v.extend(value);
    v.resize(4 + value.len().div_ceil(4) * 4, 0);
    v
}

/// Interface Description Block with the given options (an opt_endofopt is appended).
fn idb(o: ByteOrder, linktype: u16, snaplen: u32, opts: &[Vec<u8>]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(u16b(o, linktype));
    body.extend(u16b(o, 0)); // reserved
    body.extend(u32b(o, snaplen));
    for op in opts {
        body.extend(op);
    }
    if !opts.is_empty() {
        body.extend([0, 0, 0, 0]); // opt_endofopt
    }
    block(o, 1, &body)
}

/// Enhanced Packet Block.
fn epb(o: ByteOrder, iface: u32, ts: u64, data: &[u8], orig: u32) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(u32b(o, iface));
    body.extend(u32b(o, (ts >> 32) as u32)); // timestamp high
    body.extend(u32b(o, ts as u32)); // timestamp low
    body.extend(u32b(o, data.len() as u32)); // captured length
    body.extend(u32b(o, orig)); // original length
    body.extend(data);
    block(o, 6, &body)
}

/// Simple Packet Block: original length, then the (snaplen-limited) data.
fn spb(o: ByteOrder, orig: u32, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(u32b(o, orig));
    body.extend(data);
    block(o, 3, &body)
}

/// Obsolete Packet Block: 16-bit interface, 16-bit drop count, then like an EPB.
fn pb(o: ByteOrder, iface: u16, ts: u64, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(u16b(o, iface));
    body.extend(u16b(o, 0)); // drops count
    body.extend(u32b(o, (ts >> 32) as u32));
    body.extend(u32b(o, ts as u32));
    body.extend(u32b(o, data.len() as u32));
    body.extend(u32b(o, data.len() as u32));
    body.extend(data);
    block(o, 2, &body)
}

/// Everything a frame carries, owned, for comparisons.
#[derive(Debug, PartialEq, Eq)]
struct Owned {
    ts: i64,
    link: LinkType,
    iface: u32,
    data: Vec<u8>,
    orig: u32,
}

/// Reads all frames until the end or the first error.
fn read_all(bytes: &[u8]) -> (Vec<Owned>, Result<(), CaptureError>) {
    let mut r = match CaptureReader::new(bytes) {
        Ok(r) => r,
        Err(e) => return (Vec::new(), Err(e)),
    };
    let mut out = Vec::new();
    loop {
        match r.next_frame() {
            Ok(Some(f)) => out.push(Owned {
                ts: f.timestamp.as_nanos(),
                link: f.link_type,
                iface: f.interface,
                data: f.data.to_vec(),
                orig: f.original_len,
            }),
            Ok(None) => return (out, Ok(())),
            Err(e) => return (out, Err(e)),
        }
    }
}

fn frames_ok(bytes: &[u8]) -> Vec<Owned> {
    let (frames, res) = read_all(bytes);
    res.unwrap();
    frames
}

const LE: ByteOrder = ByteOrder::Little;
const BE: ByteOrder = ByteOrder::Big;

// ---------------------------------------------------------------------------------------
// pcap

/// Little-endian microsecond pcap, spelled out byte by byte.
const PCAP_LE_USEC: &[u8] = &[
    // --- file header
    0xd4, 0xc3, 0xb2, 0xa1, // magic 0xa1b2c3d4 read little-endian: microseconds
    0x02, 0x00, 0x04, 0x00, // version 2.4
    0x00, 0x00, 0x00, 0x00, // thiszone
    0x00, 0x00, 0x00, 0x00, // sigfigs
    0xff, 0xff, 0x00, 0x00, // snaplen 65535
    0x01, 0x00, 0x00, 0x00, // link type 1: Ethernet
    // --- record 1
    0x10, 0x00, 0x00, 0x00, // ts seconds 16
    0x3f, 0x42, 0x0f, 0x00, // ts microseconds 999_999
    0x04, 0x00, 0x00, 0x00, // captured length 4
    0x3c, 0x00, 0x00, 0x00, // original length 60
    0xde, 0xad, 0xbe, 0xef, // data
    // --- record 2
    0x11, 0x00, 0x00, 0x00, // ts seconds 17
    0x01, 0x00, 0x00, 0x00, // ts microseconds 1
    0x00, 0x00, 0x00, 0x00, // captured length 0
    0x00, 0x00, 0x00, 0x00, // original length 0
];

/// Big-endian nanosecond pcap with raw IP (101) and a top-bits-set link type field.
const PCAP_BE_NSEC: &[u8] = &[
    // --- file header
    0xa1, 0xb2, 0x3c, 0x4d, // magic 0xa1b23c4d big-endian: nanoseconds
    0x00, 0x02, 0x00, 0x04, // version 2.4
    0x00, 0x00, 0x00, 0x00, // thiszone
    0x00, 0x00, 0x00, 0x00, // sigfigs
    0x00, 0x00, 0x00, 0x80, // snaplen 128
    0x14, 0x00, 0x00, 0x65, // FCS bits (0x14 << 24) + link type 101: raw IP
    // --- record 1
    0x00, 0x00, 0x00, 0x02, // ts seconds 2
    0x3b, 0x9a, 0xc9, 0xff, // ts nanoseconds 999_999_999
    0x00, 0x00, 0x00, 0x02, // captured length 2
    0x00, 0x00, 0x00, 0x02, // original length 2
    0x45, 0x00, // data
];

#[test]
fn pcap_little_endian_microseconds() {
    let mut r = CaptureReader::new(PCAP_LE_USEC).unwrap();
    assert_eq!(r.format(), CaptureFormat::Pcap);
    assert_eq!(
        r.interfaces(),
        &[InterfaceInfo {
            link_type: LinkType::Ethernet,
            name: None,
            speed_bits_per_sec: None,
            snaplen: 65535
        }]
    );
    assert_eq!(r.bytes_consumed(), 24);
    let f = r.next_frame().unwrap().unwrap();
    assert_eq!(f.timestamp, Timestamp(16_999_999_000));
    assert_eq!(f.link_type, LinkType::Ethernet);
    assert_eq!(f.interface, 0);
    assert_eq!(f.data, &[0xde, 0xad, 0xbe, 0xef]);
    assert_eq!(f.original_len, 60);
    let f = r.next_frame().unwrap().unwrap();
    assert_eq!(f.timestamp, Timestamp(17_000_001_000));
    assert!(f.data.is_empty());
    assert!(r.next_frame().unwrap().is_none());
    assert!(r.next_frame().unwrap().is_none());
    assert_eq!(r.frames_read(), 2);
    assert_eq!(r.bytes_consumed(), PCAP_LE_USEC.len() as u64);
}

#[test]
fn pcap_big_endian_nanoseconds() {
    let mut r = CaptureReader::new(PCAP_BE_NSEC).unwrap();
    assert_eq!(r.interfaces()[0].link_type, LinkType::RawIp);
    assert_eq!(r.interfaces()[0].snaplen, 128);
    let f = r.next_frame().unwrap().unwrap();
    assert_eq!(f.timestamp, Timestamp(2_999_999_999));
    assert_eq!(f.link_type, LinkType::RawIp);
    assert_eq!(f.data, &[0x45, 0x00]);
    assert!(r.next_frame().unwrap().is_none());
}

#[test]
fn pcap_all_magics() {
    for o in [LE, BE] {
        for nanos in [false, true] {
            let mut file = pcap_header(o, nanos, 0, 113);
            file.extend(pcap_record(o, 1_700_000_000, 5, b"abc", 3));
            let frames = frames_ok(&file);
            let frac = if nanos { 5 } else { 5_000 };
            assert_eq!(
                frames,
                vec![Owned {
                    ts: 1_700_000_000_000_000_000 + frac,
                    link: LinkType::LinuxSll,
                    iface: 0,
                    data: b"abc".to_vec(),
                    orig: 3
                }],
                "{o:?} nanos={nanos}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// pcapng

#[test]
fn pcapng_two_interfaces() {
    let mut file = shb(LE);
    // Interface 0: Ethernet, named, 1 Gbit/s, default microsecond resolution.
    file.extend(idb(
        LE,
        1,
        262_144,
        &[
            opt(LE, 2, b"eth0"),
            opt(LE, 8, &1_000_000_000u64.to_le_bytes()),
        ],
    ));
    // Interface 1: raw IP, 2^-10 s resolution, 100 s offset, NUL-terminated name.
    file.extend(idb(
        LE,
        101,
        0,
        &[
            opt(LE, 2, b"tun0\0"),
            opt(LE, 9, &[0x80 | 10]),
            opt(LE, 14, &100i64.to_le_bytes()),
        ],
    ));
    // Interface 2: Linux SLL2, nanosecond resolution, negative offset.
    file.extend(idb(
        LE,
        276,
        0,
        &[opt(LE, 9, &[9]), opt(LE, 14, &(-1i64).to_le_bytes())],
    ));
    file.extend(epb(LE, 0, 1_500_000, b"eth-frame", 100));
    file.extend(epb(LE, 1, 3 * 1024 + 512, b"ip", 2));
    file.extend(epb(LE, 2, 2_000_000_001, b"sll2!", 5));

    let mut r = CaptureReader::new(&file[..]).unwrap();
    assert_eq!(r.format(), CaptureFormat::Pcapng);
    let frames = {
        let mut v = Vec::new();
        while let Some(f) = r.next_frame().unwrap() {
            v.push((
                f.timestamp.as_nanos(),
                f.link_type,
                f.interface,
                f.data.to_vec(),
            ));
        }
        v
    };
    assert_eq!(
        frames,
        vec![
            (1_500_000_000, LinkType::Ethernet, 0, b"eth-frame".to_vec()),
            // 3.5 s + 100 s offset
            (103_500_000_000, LinkType::RawIp, 1, b"ip".to_vec()),
            // 2.000000001 s - 1 s
            (1_000_000_001, LinkType::LinuxSll2, 2, b"sll2!".to_vec()),
        ]
    );
    let ifs = r.interfaces();
    assert_eq!(ifs.len(), 3);
    assert_eq!(ifs[0].name.as_deref(), Some("eth0"));
    assert_eq!(ifs[0].speed_bits_per_sec, Some(1_000_000_000));
    assert_eq!(ifs[0].snaplen, 262_144);
    assert_eq!(ifs[1].name.as_deref(), Some("tun0"));
    assert_eq!(ifs[1].speed_bits_per_sec, None);
    assert_eq!(ifs[1].link_type, LinkType::RawIp);
    assert_eq!(ifs[2].name, None);
    assert_eq!(r.frames_read(), 3);
    assert_eq!(r.bytes_consumed(), file.len() as u64);
}

#[test]
fn pcapng_big_endian_section() {
    let mut file = shb(BE);
    file.extend(idb(BE, 1, 0, &[opt(BE, 8, &10_000u64.to_be_bytes())]));
    file.extend(epb(BE, 0, 42, b"xyz", 3));
    let mut r = CaptureReader::new(&file[..]).unwrap();
    let f = r.next_frame().unwrap().unwrap();
    assert_eq!(f.timestamp, Timestamp(42_000));
    assert_eq!(f.data, b"xyz");
    assert_eq!(r.interfaces()[0].speed_bits_per_sec, Some(10_000));
}

#[test]
fn pcapng_simple_packet_blocks() {
    let mut file = shb(LE);
    // snaplen 4: an SPB carries at most 4 bytes whatever its original length.
    file.extend(idb(LE, 1, 4, &[]));
    // Before any timestamped frame: epoch 0.
    file.extend(spb(LE, 3, b"abc"));
    file.extend(epb(LE, 0, 7, b"e", 1));
    file.extend(spb(LE, 10, b"abcd"));
    let frames = frames_ok(&file);
    assert_eq!(frames.len(), 3);
    assert_eq!((frames[0].ts, &frames[0].data[..]), (0, &b"abc"[..]));
    assert_eq!(frames[0].orig, 3);
    // Takes the previous frame's timestamp.
    assert_eq!((frames[2].ts, &frames[2].data[..]), (7_000, &b"abcd"[..]));
    assert_eq!(frames[2].orig, 10);
    assert_eq!(frames[2].iface, 0);
}

#[test]
fn pcapng_spb_without_interface_is_malformed() {
    let mut file = shb(LE);
    file.extend(spb(LE, 3, b"abc"));
    let (_, res) = read_all(&file);
    assert!(
        matches!(res, Err(CaptureError::Malformed { .. })),
        "{res:?}"
    );
}

#[test]
fn pcapng_obsolete_packet_block() {
    let mut file = shb(LE);
    file.extend(idb(LE, 0, 0, &[]));
    file.extend(pb(LE, 0, 5, b"null"));
    let frames = frames_ok(&file);
    assert_eq!(frames[0].ts, 5_000);
    assert_eq!(frames[0].link, LinkType::Null);
    assert_eq!(frames[0].data, b"null");
}

#[test]
fn pcapng_skips_other_blocks() {
    let mut file = shb(LE);
    // Name resolution block before any interface.
    file.extend(block(LE, 4, &[0, 0, 0, 0]));
    file.extend(idb(LE, 1, 0, &[]));
    file.extend(epb(LE, 0, 1, b"a", 1));
    // Interface statistics, decryption secrets, a custom block, an unknown type, and a
    // block bigger than the reader's initial buffer.
    file.extend(block(LE, 5, &[0; 20]));
    file.extend(block(LE, 0x0000_000a, &[1; 8]));
    file.extend(block(LE, 0x0000_0bad, &[2; 16]));
    file.extend(block(LE, 0x4000_0bad, &[]));
    file.extend(block(LE, 0x0000_0bad, &vec![3; 300 * 1024]));
    file.extend(epb(LE, 0, 2, b"b", 1));
    let frames = frames_ok(&file);
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[1].data, b"b");
    assert_eq!(frames[1].ts, 2_000);
}

#[test]
fn pcapng_second_section_resets_interfaces() {
    let mut file = shb(LE);
    file.extend(idb(LE, 1, 0, &[opt(LE, 2, b"a")]));
    file.extend(idb(LE, 1, 0, &[opt(LE, 2, b"b")]));
    file.extend(epb(LE, 1, 1, b"first", 5));
    // New section, other byte order, one raw-IP interface with nanosecond resolution.
    file.extend(shb(BE));
    file.extend(idb(BE, 101, 0, &[opt(BE, 9, &[9])]));
    file.extend(epb(BE, 0, 2, b"second", 6));

    let mut r = CaptureReader::new(&file[..]).unwrap();
    let f = r.next_frame().unwrap().unwrap();
    assert_eq!((f.interface, f.link_type), (1, LinkType::Ethernet));
    assert_eq!(r.interfaces().len(), 2);
    let f = r.next_frame().unwrap().unwrap();
    assert_eq!(f.data, b"second");
    assert_eq!(f.timestamp, Timestamp(2));
    assert_eq!(f.link_type, LinkType::RawIp);
    assert_eq!(r.interfaces().len(), 1);
    assert_eq!(r.interfaces()[0].link_type, LinkType::RawIp);
    assert!(r.next_frame().unwrap().is_none());

    // Interface 1 existed only in the first section.
    let mut bad = shb(LE);
    bad.extend(idb(LE, 1, 0, &[]));
    bad.extend(idb(LE, 1, 0, &[]));
    bad.extend(shb(LE));
    bad.extend(idb(LE, 1, 0, &[]));
    let epb_offset = bad.len() as u64;
    bad.extend(epb(LE, 1, 1, b"x", 1));
    let (_, res) = read_all(&bad);
    match res {
        Err(CaptureError::Malformed { offset, .. }) => assert_eq!(offset, epb_offset),
        other => panic!("{other:?}"),
    }
}

#[test]
fn pcapng_broken_options_are_cut_not_fatal() {
    let mut o = opt(LE, 2, b"ok");
    // An option claiming 200 bytes in a short block: the list ends there.
    o.extend(u16b(LE, 8));
    o.extend(u16b(LE, 200));
    let mut file = shb(LE);
    file.extend(idb(LE, 1, 0, &[o]));
    file.extend(epb(LE, 0, 1, b"a", 1));
    let mut r = CaptureReader::new(&file[..]).unwrap();
    assert!(r.next_frame().unwrap().is_some());
    assert_eq!(r.interfaces()[0].name.as_deref(), Some("ok"));
    assert_eq!(r.interfaces()[0].speed_bits_per_sec, None);
}

// ---------------------------------------------------------------------------------------
// Truncation, garbage, malformed lengths

/// Cuts `file` at every length. Expects: `NotACapture` below 4 bytes, an error from
/// `new` inside the file header, then at a record boundary a clean end with the frames
/// before it, and inside a record `Truncated` at that record's offset with the frames
/// before it.
fn check_every_cut(file: &[u8], header_len: usize, boundaries: &[usize]) {
    let total_frames = boundaries.len();
    for cut in 0..=file.len() {
        let (frames, res) = read_all(&file[..cut]);
        if cut < 4 {
            assert!(matches!(res, Err(CaptureError::NotACapture)), "cut {cut}");
            continue;
        }
        if cut < header_len {
            assert!(
                matches!(
                    res,
                    Err(CaptureError::Truncated {
                        offset: 0,
                        frames_read: 0
                    }) | Err(CaptureError::NotACapture)
                ),
                "cut {cut}: {res:?}"
            );
            continue;
        }
        // Records that end at or before the cut are complete.
        let complete = boundaries.iter().filter(|&&end| end <= cut).count();
        assert_eq!(frames.len(), complete, "cut {cut}");
        let record_start = if complete == 0 {
            header_len
        } else {
            boundaries[complete - 1]
        };
        if cut == record_start {
            assert!(res.is_ok(), "cut {cut}: {res:?}");
        } else {
            match res {
                Err(CaptureError::Truncated {
                    offset,
                    frames_read,
                }) => {
                    assert_eq!(frames_read, complete as u64, "cut {cut}");
                    assert!(offset <= cut as u64 && offset >= record_start as u64);
                }
                other => panic!("cut {cut} of {total_frames}: {other:?}"),
            }
        }
    }
}

#[test]
fn pcap_truncated_everywhere() {
    let mut file = pcap_header(LE, true, 0, 1);
    let mut ends = Vec::new();
    for i in 0..3u8 {
        file.extend(pcap_record(LE, 1, 2, &[i; 10], 10));
        ends.push(file.len());
    }
    check_every_cut(&file, 24, &ends);
}

#[test]
fn pcap_truncated_mid_body_reports_record_offset() {
    let mut file = pcap_header(LE, false, 0, 1);
    file.extend(pcap_record(LE, 1, 2, &[1; 10], 10));
    file.extend(pcap_record(LE, 1, 2, &[2; 10], 10));
    file.truncate(24 + 26 + 16 + 3); // header, record 1, record 2's header, 3 data bytes
    let (frames, res) = read_all(&file);
    assert_eq!(frames.len(), 1);
    match res {
        Err(CaptureError::Truncated {
            offset,
            frames_read,
        }) => assert_eq!((offset, frames_read), (50, 1)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn pcapng_truncated_everywhere() {
    let mut file = shb(LE);
    let shb_len = file.len();
    // Non-packet blocks belong to the following record for the purpose of the check:
    // a cut inside them is `Truncated` too, and a cut right after them is clean.
    file.extend(idb(LE, 1, 0, &[opt(LE, 2, b"eth0")]));
    file.extend(epb(LE, 0, 1, &[1; 9], 9));
    let mut ends = vec![file.len()];
    file.extend(block(LE, 5, &[0; 8]));
    file.extend(epb(LE, 0, 2, &[2; 3], 3));
    ends.push(file.len());
    file.extend(spb(LE, 4, &[3; 4]));
    ends.push(file.len());
    for cut in shb_len..=file.len() {
        let (frames, res) = read_all(&file[..cut]);
        let complete = ends.iter().filter(|&&e| e <= cut).count();
        assert_eq!(frames.len(), complete, "cut {cut}");
        // A cut between blocks is clean; anywhere else it is Truncated with the count.
        let block_boundaries = block_starts(&file);
        if block_boundaries.contains(&cut) {
            assert!(res.is_ok(), "cut {cut}: {res:?}");
        } else {
            assert!(
                matches!(res, Err(CaptureError::Truncated { frames_read, .. }) if frames_read == complete as u64),
                "cut {cut}: {res:?}"
            );
        }
    }
    for cut in 0..shb_len {
        let (_, res) = read_all(&file[..cut]);
        assert!(
            matches!(
                res,
                Err(CaptureError::NotACapture) | Err(CaptureError::Truncated { .. })
            ),
            "cut {cut}: {res:?}"
        );
    }
}

/// Offsets where pcapng blocks start (and the end of the file).
fn block_starts(file: &[u8]) -> Vec<usize> {
    let mut v = vec![0];
    let mut at = 0;
    while at + 8 <= file.len() {
        let len = u32::from_le_bytes(file[at + 4..at + 8].try_into().unwrap()) as usize;
        at += len;
        v.push(at);
    }
    v
}

#[test]
fn not_a_capture() {
    let cases: &[&[u8]] = &[
        b"",
        b"\xd4",
        b"\xd4\xc3\xb2",
        b"GET / HTTP/1.1\r\nHost: example.invalid\r\n\r\n",
        &[0; 64],
        // SHB type (a plain "\n\r\r\n") but no byte-order magic after it.
        b"\n\r\r\n\x1c\x00\x00\x00hello, world\n",
        b"\n\r\r\n\x1c\x00",
    ];
    for c in cases {
        assert!(
            matches!(CaptureReader::new(*c), Err(CaptureError::NotACapture)),
            "{c:?}"
        );
    }
}

fn expect_malformed(file: &[u8]) {
    let (_, res) = read_all(file);
    assert!(
        matches!(res, Err(CaptureError::Malformed { .. })),
        "{res:?}"
    );
}

#[test]
fn impossible_lengths_are_malformed() {
    // pcap record claiming 2 GiB.
    let mut file = pcap_header(LE, false, 0, 1);
    file.extend(u32b(LE, 1));
    file.extend(u32b(LE, 0));
    file.extend(u32b(LE, 0x7fff_ffff)); // captured length
    file.extend(u32b(LE, 0x7fff_ffff));
    expect_malformed(&file);

    let ng = |len: u32| {
        let mut f = shb(LE);
        f.extend(idb(LE, 1, 0, &[]));
        f.extend(u32b(LE, 6)); // EPB
        f.extend(u32b(LE, len)); // absurd total length
        f.extend([0; 64]);
        f
    };
    expect_malformed(&ng(0xffff_fff0)); // beyond the sanity bound
    expect_malformed(&ng(8)); // below any block's minimum
    expect_malformed(&ng(28)); // below the EPB minimum of 32
    expect_malformed(&ng(34)); // not a multiple of 4

    // An EPB whose captured length exceeds its block.
    let mut f = shb(LE);
    f.extend(idb(LE, 1, 0, &[]));
    let mut b = epb(LE, 0, 0, b"abcd", 4);
    b[20..24].copy_from_slice(&u32b(LE, 5)); // captured length 5 > 4 bytes of room
    f.extend(b);
    expect_malformed(&f);

    // Trailing length different from the leading one.
    let mut f = shb(LE);
    f.extend(idb(LE, 1, 0, &[]));
    let mut b = epb(LE, 0, 0, b"abcd", 4);
    let n = b.len();
    b[n - 4..].copy_from_slice(&u32b(LE, 40));
    f.extend(b);
    expect_malformed(&f);

    // An EPB before any IDB.
    let mut f = shb(LE);
    f.extend(epb(LE, 0, 0, b"abcd", 4));
    expect_malformed(&f);

    // A section header with a bad byte-order magic later in the file.
    let mut f = shb(LE);
    let mut s = shb(LE);
    s[8..12].copy_from_slice(&[1, 2, 3, 4]);
    f.extend(s);
    expect_malformed(&f);

    // pcapng major version 2.
    let mut f = shb(LE);
    f[12..14].copy_from_slice(&u16b(LE, 2));
    assert!(matches!(
        CaptureReader::new(&f[..]),
        Err(CaptureError::Malformed { .. })
    ));
}

#[test]
fn reader_is_finished_after_an_error() {
    let mut file = pcap_header(LE, false, 0, 1);
    file.extend(pcap_record(LE, 1, 2, &[1; 10], 10));
    file.truncate(file.len() - 1);
    let mut r = CaptureReader::new(&file[..]).unwrap();
    assert!(matches!(
        r.next_frame(),
        Err(CaptureError::Truncated { .. })
    ));
    assert!(r.next_frame().unwrap().is_none());
}

/// Hands out one byte per `read` call, with an `Interrupted` in between, to exercise the
/// refill loop.
struct Trickle<'a> {
    data: &'a [u8],
    interrupt: bool,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.interrupt = !self.interrupt;
        if self.interrupt {
            return Err(io::ErrorKind::Interrupted.into());
        }
        match (self.data.split_first(), buf.first_mut()) {
            (Some((&b, rest)), Some(slot)) => {
                *slot = b;
                self.data = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

#[test]
fn byte_at_a_time_reader_and_large_frames() {
    let mut file = shb(LE);
    file.extend(idb(LE, 1, 0, &[]));
    // A frame larger than the initial buffer, between small ones.
    let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    file.extend(epb(LE, 0, 1, b"small", 5));
    file.extend(epb(LE, 0, 2, &big, big.len() as u32));
    for i in 0..100u64 {
        file.extend(epb(LE, 0, 3 + i, &[i as u8; 7], 7));
    }
    let mut r = CaptureReader::new(Trickle {
        data: &file,
        interrupt: false,
    })
    .unwrap();
    assert_eq!(r.next_frame().unwrap().unwrap().data, b"small");
    assert_eq!(r.next_frame().unwrap().unwrap().data, &big[..]);
    for i in 0..100u8 {
        assert_eq!(r.next_frame().unwrap().unwrap().data, &[i; 7]);
    }
    assert!(r.next_frame().unwrap().is_none());
    assert_eq!(r.bytes_consumed(), file.len() as u64);
}

/// Fails after `ok` bytes.
struct Failing<'a> {
    data: Cursor<&'a [u8]>,
}

impl Read for Failing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.data.read(buf)? {
            0 => Err(io::Error::other("disk on fire")),
            n => Ok(n),
        }
    }
}

#[test]
fn io_errors_are_reported() {
    let mut file = pcap_header(LE, false, 0, 1);
    file.extend(pcap_record(LE, 1, 2, &[1; 10], 10));
    let mut r = CaptureReader::new(Failing {
        data: Cursor::new(&file),
    })
    .unwrap();
    assert!(r.next_frame().unwrap().is_some());
    let err = r.next_frame().unwrap_err();
    assert!(matches!(err, CaptureError::Io(_)));
    // The I/O error is the source, so the message does not repeat it.
    let cause = std::error::Error::source(&err).map(ToString::to_string);
    assert!(cause.is_some());
    assert_eq!(err.to_string(), "i/o error reading the capture");
}

#[test]
fn link_type_numbers() {
    for (n, lt) in [
        (0, LinkType::Null),
        (1, LinkType::Ethernet),
        (101, LinkType::RawIp),
        (108, LinkType::Loop),
        (113, LinkType::LinuxSll),
        (228, LinkType::Ipv4),
        (229, LinkType::Ipv6),
        (276, LinkType::LinuxSll2),
        (147, LinkType::Other(147)),
    ] {
        assert_eq!(LinkType::from_linktype(n), lt);
        assert_eq!(lt.to_linktype(), n);
    }
    assert_eq!(LinkType::from_linktype(12), LinkType::RawIp);
    assert_eq!(LinkType::from_linktype(14), LinkType::RawIp);
}

// ---------------------------------------------------------------------------------------
// Writer

#[test]
fn writer_round_trip() {
    let mut w = PcapWriter::new(Vec::new(), LinkType::LinuxSll, 8).unwrap();
    w.write_frame(Timestamp(1_700_000_000_123_456_789), b"0123")
        .unwrap();
    // Longer than the snaplen: cut to 8, original length kept.
    w.write_frame(Timestamp(1_700_000_001_000_000_000), b"0123456789")
        .unwrap();
    // Before 1970: clamped to the epoch.
    w.write_frame(Timestamp(-5), b"").unwrap();
    let bytes = w.into_inner().unwrap();
    // Header: little-endian nanosecond magic.
    assert_eq!(&bytes[..4], &[0x4d, 0x3c, 0xb2, 0xa1]);

    let mut r = CaptureReader::new(&bytes[..]).unwrap();
    assert_eq!(r.interfaces()[0].link_type, LinkType::LinuxSll);
    assert_eq!(r.interfaces()[0].snaplen, 8);
    let f = r.next_frame().unwrap().unwrap();
    assert_eq!(f.timestamp, Timestamp(1_700_000_000_123_456_789));
    assert_eq!((f.data, f.original_len), (&b"0123"[..], 4));
    let f = r.next_frame().unwrap().unwrap();
    assert_eq!(f.timestamp, Timestamp(1_700_000_001_000_000_000));
    assert_eq!((f.data, f.original_len), (&b"01234567"[..], 10));
    let f = r.next_frame().unwrap().unwrap();
    assert_eq!(f.timestamp, Timestamp(0));
    assert!(r.next_frame().unwrap().is_none());
}
