//! Byte fixtures for the RTCP views, commented field by field.
#![allow(clippy::unwrap_used)]

use super::*;

/// Concatenates fixture pieces into one datagram.
fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Parses `buf` as a compound and collects its sub-packets.
fn packets(buf: &[u8]) -> (CompoundKind, Vec<Result<Packet<'_>, RtcpError>>) {
    let c = Compound::parse(buf);
    (c.kind(), c.packets().collect())
}

/// Reads every field of every sub-packet, recursing into every iterator: used to prove
/// that nothing panics on hostile input.
fn consume(buf: &[u8]) -> usize {
    let mut n = 0;
    let c = Compound::parse(buf);
    let _ = c.break_error();
    for p in c.packets() {
        n += 1;
        let Ok(p) = p else { continue };
        let _ = p.packet_type();
        match p {
            Packet::SenderReport(sr) => {
                let _ = (sr.ssrc(), sr.ntp_timestamp(), sr.rtp_timestamp());
                let _ = (sr.packet_count(), sr.octet_count(), sr.profile_extension());
                n += sr.report_blocks().count();
            }
            Packet::ReceiverReport(rr) => {
                let _ = (rr.ssrc(), rr.profile_extension());
                n += rr.report_blocks().count();
            }
            Packet::SourceDescription(sdes) => {
                for (_, items) in sdes.chunks().flatten() {
                    n += items.count();
                }
            }
            Packet::Goodbye(bye) => {
                n += bye.sources().count();
                let _ = bye.reason();
            }
            Packet::App(app) => {
                let _ = (app.subtype(), app.ssrc(), app.name(), app.data());
            }
            Packet::ExtendedReport(xr) => {
                let _ = xr.ssrc();
                for block in xr.blocks() {
                    if let Ok(XrBlock::Dlrr(d)) = block {
                        n += d.sub_blocks().count();
                    }
                }
            }
            Packet::TransportFeedback(fb) | Packet::PayloadFeedback(fb) => {
                let _ = (
                    fb.packet_type(),
                    fb.fmt(),
                    fb.sender_ssrc(),
                    fb.media_ssrc(),
                );
                let _ = fb.fci();
            }
            Packet::Unknown { .. } => {}
        }
    }
    n
}

/// Deterministic xorshift32, so "random" fixtures are reproducible.
struct Rng(u32);

impl Rng {
    fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = self.next_u32() as u8;
        }
    }
}

/// Header and sender info of an SR with RC=0.
const SR_NO_BLOCKS: [u8; 28] = [
    0x80, 0xC8, 0x00, 0x06, // V=2 P=0 RC=0, PT=200 (SR), length=6 (28 bytes)
    0x90, 0x2F, 0x9E, 0x2E, // SSRC of sender
    0xE9, 0x5F, 0x1A, 0x2B, // NTP timestamp, seconds
    0x80, 0x00, 0x00, 0x00, // NTP timestamp, fraction (0.5 s)
    0x00, 0x01, 0xE2, 0x40, // RTP timestamp 123456
    0x00, 0x00, 0x03, 0xE8, // sender's packet count 1000
    0x00, 0x02, 0x71, 0x00, // sender's octet count 160000
];

/// A report block with ordinary values.
const BLOCK_A: [u8; 24] = [
    0xBC, 0x5E, 0x9A, 0x40, // SSRC_1
    0x19, // fraction lost 25/256
    0x00, 0x00, 0x2A, // cumulative lost 42
    0x00, 0x01, 0x00, 0x05, // extended highest sequence: 1 cycle, seq 5
    0x00, 0x00, 0x00, 0x64, // interarrival jitter 100
    0x5F, 0x1A, 0x2B, 0x80, // last SR (middle 32 bits of its NTP time)
    0x00, 0x01, 0x80, 0x00, // delay since last SR: 1.5 s in 1/65536 s
];

/// A report block with duplicates (negative loss) and no SR received yet.
const BLOCK_B: [u8; 24] = [
    0x00, 0x00, 0x00, 0x07, // SSRC_2
    0x00, // fraction lost 0
    0xFF, 0xFF, 0xFF, // cumulative lost -1 (one duplicate)
    0x00, 0x00, 0xFF, 0xFF, // extended highest sequence 65535
    0x00, 0x00, 0x00, 0x00, // jitter 0
    0x00, 0x00, 0x00, 0x00, // last SR 0: none received
    0x00, 0x00, 0x00, 0x00, // delay since last SR 0
];

fn block_a() -> ReportBlock {
    ReportBlock {
        ssrc: 0xBC5E_9A40,
        fraction_lost: 25,
        cumulative_lost: 42,
        extended_highest_sequence: 0x0001_0005,
        jitter: 100,
        last_sr: 0x5F1A_2B80,
        delay_since_last_sr: 0x0001_8000,
    }
}

fn block_b() -> ReportBlock {
    ReportBlock {
        ssrc: 7,
        fraction_lost: 0,
        cumulative_lost: -1,
        extended_highest_sequence: 0xFFFF,
        jitter: 0,
        last_sr: 0,
        delay_since_last_sr: 0,
    }
}

/// SR header with RC and length patched in, followed by the sender info of
/// [`SR_NO_BLOCKS`].
fn sr_header(rc: u8, length_words: u16) -> Vec<u8> {
    let mut v = SR_NO_BLOCKS.to_vec();
    v[0] = 0x80 | rc;
    v[2..4].copy_from_slice(&length_words.to_be_bytes());
    v
}

/// An RR with one report block.
const RR_ONE_BLOCK: [u8; 32] = [
    0x81, 0xC9, 0x00, 0x07, // V=2 P=0 RC=1, PT=201 (RR), length=7 (32 bytes)
    0x11, 0x22, 0x33, 0x44, // SSRC of reporter
    0xBC, 0x5E, 0x9A, 0x40, // SSRC_1
    0x19, // fraction lost 25/256
    0x00, 0x00, 0x2A, // cumulative lost 42
    0x00, 0x01, 0x00, 0x05, // extended highest sequence
    0x00, 0x00, 0x00, 0x64, // jitter 100
    0x5F, 0x1A, 0x2B, 0x80, // last SR
    0x00, 0x01, 0x80, 0x00, // delay since last SR
];

/// An SDES with one chunk: the CNAME "user@host".
const SDES_CNAME_ONLY: [u8; 20] = [
    0x81, 0xCA, 0x00, 0x04, // V=2 P=0 SC=1, PT=202 (SDES), length=4 (20 bytes)
    0x90, 0x2F, 0x9E, 0x2E, // chunk 1: SSRC
    0x01, 0x09, // CNAME, 9 bytes
    b'u', b's', b'e', b'r', b'@', b'h', b'o', b's', b't', // "user@host"
    0x00, // end of item list (fills to the 32-bit boundary)
];

/// A BYE for one source with the reason "bye".
const BYE_WITH_REASON: [u8; 12] = [
    0x81, 0xCB, 0x00, 0x02, // V=2 P=0 SC=1, PT=203 (BYE), length=2 (12 bytes)
    0x90, 0x2F, 0x9E, 0x2E, // SSRC
    0x03, b'b', b'y', b'e', // reason: 3 bytes "bye" (ends on the boundary)
];

/// A reduced-size PLI (PSFB FMT=1), legal on its own under RFC 5506.
const PLI: [u8; 12] = [
    0x81, 0xCE, 0x00, 0x02, // V=2 P=0 FMT=1 (PLI), PT=206 (PSFB), length=2
    0x11, 0x22, 0x33, 0x44, // SSRC of packet sender
    0x90, 0x2F, 0x9E, 0x2E, // SSRC of media source
];

#[test]
fn sender_report_without_blocks() {
    let (kind, pkts) = packets(&SR_NO_BLOCKS);
    assert_eq!(kind, CompoundKind::Plain);
    assert_eq!(pkts.len(), 1);
    let Ok(Packet::SenderReport(sr)) = pkts[0] else {
        panic!("{:?}", pkts[0])
    };
    assert_eq!(sr.ssrc(), 0x902F_9E2E);
    assert_eq!(sr.ntp_timestamp(), 0xE95F_1A2B_8000_0000);
    assert_eq!(sr.rtp_timestamp(), 123_456);
    assert_eq!(sr.packet_count(), 1000);
    assert_eq!(sr.octet_count(), 160_000);
    assert_eq!(sr.report_blocks().len(), 0);
    assert!(sr.profile_extension().is_empty());
    assert_eq!(SenderReport::new_checked(&SR_NO_BLOCKS), Ok(sr));
}

#[test]
fn sender_report_with_one_block() {
    let buf = cat(&[&sr_header(1, 12), &BLOCK_A]);
    let sr = SenderReport::new_checked(&buf).unwrap();
    let blocks = sr.report_blocks();
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks.collect::<Vec<_>>(), vec![block_a()]);
    assert!(sr.profile_extension().is_empty());
}

#[test]
fn sender_report_with_two_blocks() {
    let buf = cat(&[&sr_header(2, 18), &BLOCK_A, &BLOCK_B]);
    let (kind, pkts) = packets(&buf);
    assert_eq!(kind, CompoundKind::Plain);
    let Ok(Packet::SenderReport(sr)) = pkts[0] else {
        panic!("{:?}", pkts[0])
    };
    let mut blocks = sr.report_blocks();
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks.next(), Some(block_a()));
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks.next(), Some(block_b()));
    assert_eq!(blocks.next(), None);
}

#[test]
fn receiver_report() {
    let (kind, pkts) = packets(&RR_ONE_BLOCK);
    assert_eq!(kind, CompoundKind::Plain);
    let Ok(Packet::ReceiverReport(rr)) = pkts[0] else {
        panic!("{:?}", pkts[0])
    };
    assert_eq!(rr.ssrc(), 0x1122_3344);
    assert_eq!(rr.report_blocks().collect::<Vec<_>>(), vec![block_a()]);
    assert!(rr.profile_extension().is_empty());
}

#[test]
fn empty_receiver_report_is_valid() {
    // The usual RR of a receive-only endpoint that has heard nobody yet.
    let buf = [
        0x80, 0xC9, 0x00, 0x01, // V=2 RC=0, PT=201, length=1 (8 bytes)
        0x11, 0x22, 0x33, 0x44, // SSRC of reporter
    ];
    let rr = ReceiverReport::new_checked(&buf).unwrap();
    assert_eq!(rr.report_blocks().len(), 0);
}

#[test]
fn sr_sdes_bye_compound() {
    let buf = cat(&[&SR_NO_BLOCKS, &SDES_CNAME_ONLY, &BYE_WITH_REASON]);
    let (kind, pkts) = packets(&buf);
    assert_eq!(kind, CompoundKind::Plain);
    assert_eq!(pkts.len(), 3);
    assert!(matches!(pkts[0], Ok(Packet::SenderReport(_))));
    let Ok(Packet::SourceDescription(sdes)) = pkts[1] else {
        panic!("{:?}", pkts[1])
    };
    let chunks: Vec<_> = sdes.chunks().collect();
    assert_eq!(chunks.len(), 1);
    let Ok((ssrc, items)) = chunks[0].clone() else {
        panic!()
    };
    assert_eq!(ssrc, 0x902F_9E2E);
    assert_eq!(
        items.collect::<Vec<_>>(),
        vec![Ok((SDES_CNAME, &b"user@host"[..]))]
    );
    let Ok(Packet::Goodbye(bye)) = pkts[2] else {
        panic!("{:?}", pkts[2])
    };
    assert_eq!(bye.sources().collect::<Vec<_>>(), vec![0x902F_9E2E]);
    assert_eq!(bye.reason(), Some(&b"bye"[..]));
    assert_eq!(pkts[2].as_ref().map(Packet::packet_type), Ok(203));
}

#[test]
fn cumulative_lost_is_signed_24_bit() {
    for (bytes, expected) in [
        ([0xFF, 0xFF, 0xFF], -1),
        ([0x80, 0x00, 0x00], -8_388_608),
        ([0x7F, 0xFF, 0xFF], 8_388_607),
        ([0x00, 0x00, 0x00], 0),
        ([0xFF, 0xFF, 0xFE], -2),
    ] {
        let mut block = BLOCK_A;
        block[4] = 0xFF; // fraction lost 255: must not leak into the loss count
        block[5..8].copy_from_slice(&bytes);
        let buf = cat(&[&RR_ONE_BLOCK[..8], &block]);
        let rr = ReceiverReport::new_checked(&buf).unwrap();
        let b = rr.report_blocks().next().unwrap();
        assert_eq!(b.cumulative_lost, expected, "{bytes:02X?}");
        assert_eq!(b.fraction_lost, 255);
    }
}

#[test]
fn padding_on_last_sub_packet() {
    let bye = [
        0xA1, 0xCB, 0x00, 0x02, // V=2 P=1 SC=1, PT=203 (BYE), length=2 (12 bytes)
        0x90, 0x2F, 0x9E, 0x2E, // SSRC
        0x00, 0x00, 0x00, 0x04, // 4 bytes of padding, count included
    ];
    let buf = cat(&[&RR_ONE_BLOCK, &bye]);
    let (kind, pkts) = packets(&buf);
    assert_eq!(kind, CompoundKind::Plain);
    let Ok(Packet::Goodbye(bye)) = pkts[1] else {
        panic!("{:?}", pkts[1])
    };
    assert_eq!(bye.sources().len(), 1);
    // The padding is not mistaken for a reason.
    assert_eq!(bye.reason(), None);
}

#[test]
fn padding_inside_report_is_not_read_as_profile_extension() {
    // RR, RC=0, with 8 bytes of padding: honoured even though it is not the last.
    let rr = [
        0xA0, 0xC9, 0x00, 0x03, // V=2 P=1 RC=0, PT=201, length=3 (16 bytes)
        0x11, 0x22, 0x33, 0x44, // SSRC of reporter
        0x00, 0x00, 0x00, 0x00, // padding
        0x00, 0x00, 0x00, 0x08, // padding, count 8
    ];
    let buf = cat(&[&rr, &PLI]);
    let (kind, pkts) = packets(&buf);
    assert_eq!(kind, CompoundKind::Plain);
    let Ok(Packet::ReceiverReport(rr)) = pkts[0] else {
        panic!("{:?}", pkts[0])
    };
    assert!(rr.profile_extension().is_empty());
    assert!(matches!(pkts[1], Ok(Packet::PayloadFeedback(_))));
}

#[test]
fn bad_padding_is_reported_and_the_walk_continues() {
    let zero_count = [
        0xA0, 0xC9, 0x00, 0x02, // V=2 P=1 RC=0, PT=201, length=2 (12 bytes)
        0x11, 0x22, 0x33, 0x44, // SSRC
        0x00, 0x00, 0x00, 0x00, // padding count 0: invalid
    ];
    let too_large = [
        0xA0, 0xC9, 0x00, 0x02, // V=2 P=1 RC=0, PT=201, length=2 (12 bytes)
        0x11, 0x22, 0x33, 0x44, // SSRC
        0x00, 0x00, 0x00, 0x09, // padding count 9 > 8 body bytes
    ];
    let buf = cat(&[&zero_count, &too_large, &PLI]);
    let (kind, pkts) = packets(&buf);
    assert_eq!(kind, CompoundKind::Plain);
    assert_eq!(pkts[0], Err(RtcpError::ZeroPadding));
    assert_eq!(
        pkts[1],
        Err(RtcpError::PaddingOverflow { count: 9, body: 8 })
    );
    assert!(matches!(pkts[2], Ok(Packet::PayloadFeedback(_))));
    // The padding may eat the whole body, leaving an RR too short for its SSRC.
    let all_padding = [
        0xA0, 0xC9, 0x00, 0x01, // V=2 P=1 RC=0, PT=201, length=1 (8 bytes)
        0x00, 0x00, 0x00, 0x04, // padding count 4: the whole body
    ];
    assert_eq!(
        ReceiverReport::new_checked(&all_padding),
        Err(RtcpError::TooShort { packet_type: 201 })
    );
    // Header-only packet with P set: the "count" would be a header byte.
    let header_only = [0xA0, 0xCB, 0x00, 0x00]; // V=2 P=1 SC=0, BYE, length=0
    assert_eq!(
        Packet::new_checked(&header_only),
        Err(RtcpError::ZeroPadding)
    );
}

#[test]
fn profile_extension_is_exposed() {
    let buf = cat(&[
        &sr_header(1, 14),
        &BLOCK_A,
        &[0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x00, 0x00, 0x01], // profile-specific extension
    ]);
    let sr = SenderReport::new_checked(&buf).unwrap();
    assert_eq!(sr.report_blocks().len(), 1);
    assert_eq!(
        sr.profile_extension(),
        &[0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x00, 0x00, 0x01]
    );
    let rr = cat(&[
        &[0x80, 0xC9, 0x00, 0x02], // V=2 RC=0, PT=201, length=2 (12 bytes)
        &[0x11, 0x22, 0x33, 0x44], // SSRC of reporter
        &[0x01, 0x02, 0x03, 0x04], // profile-specific extension
    ]);
    let rr = ReceiverReport::new_checked(&rr).unwrap();
    assert_eq!(rr.profile_extension(), &[1, 2, 3, 4]);
}

#[test]
fn report_blocks_exceeding_length() {
    // RC=2 but the length only covers one block.
    let buf = cat(&[&sr_header(2, 12), &BLOCK_A]);
    assert_eq!(
        SenderReport::new_checked(&buf),
        Err(RtcpError::ReportBlocksOverflow { count: 2 })
    );
    let (kind, pkts) = packets(&buf);
    assert_eq!(kind, CompoundKind::Plain);
    assert_eq!(
        pkts,
        vec![Err(RtcpError::ReportBlocksOverflow { count: 2 })]
    );
    // An SR too short even for its sender info.
    let short = cat(&[&sr_header(0, 2)[..12]]);
    assert_eq!(
        SenderReport::new_checked(&short),
        Err(RtcpError::TooShort { packet_type: 200 })
    );
}

#[test]
fn length_field_past_end() {
    // No word that could be an SRTCP `E‖index` (word-aligned, at or after offset 8,
    // 4..=20 bytes before the end) has its top bit set, so this cannot pass for SRTCP.
    let buf = [
        0x80, 0xC9, 0x00, 0x07, // V=2 RC=0, PT=201 (RR), length=7 (32 bytes)...
        0x11, 0x22, 0x33, 0x44, // SSRC of reporter
        0x00, 0x00, 0x00, 0x00, // profile extension, word 1
        0x00, 0x00, 0x00, 0x00, // word 2
        0x00, 0x00, 0x00, 0x00, // word 3
        0x00, 0x00, 0x00, 0x00, // word 4
        0x00, 0x00, 0x00, 0x00, // word 5, and the datagram ends: word 6 is missing
    ];
    let c = Compound::parse(&buf);
    assert_eq!(c.kind(), CompoundKind::Malformed);
    let err = RtcpError::LengthOverflow {
        declared: 32,
        available: 28,
    };
    assert_eq!(c.break_error(), Some(err));
    assert_eq!(c.packets().collect::<Vec<_>>(), vec![Err(err)]);
    assert_eq!(
        err.to_string(),
        "length field says 32 bytes but only 28 are left"
    );
    assert!(!is_rtcp_header(&buf));
    // A good sub-packet first is still read.
    let buf = cat(&[&PLI, &buf]);
    let (kind, pkts) = packets(&buf);
    assert_eq!(kind, CompoundKind::Malformed);
    assert!(matches!(pkts[0], Ok(Packet::PayloadFeedback(_))));
    assert_eq!(pkts[1], Err(err));
    assert_eq!(pkts.len(), 2);
}

#[test]
fn truncated_sr_with_a_current_ntp_time_counts_as_srtcp() {
    // The required SRTCP rule at work: NTP seconds have had their top bit set since
    // 1968, so a cut SR whose NTP word sits where an `E‖index` word could be reads as
    // encrypted. Erring that way never turns ciphertext into report blocks.
    let buf = cat(&[&sr_header(1, 12), &BLOCK_A[..4]]);
    assert_eq!(buf.len(), 32);
    // 32 - 16 (tag) - 4 = 8: the NTP seconds word.
    assert_eq!(Compound::parse(&buf).kind(), CompoundKind::Srtcp);
}

#[test]
fn zero_length_datagram_and_sub_packet() {
    let c = Compound::parse(&[]);
    assert_eq!(c.kind(), CompoundKind::Malformed);
    assert_eq!(c.packets().collect::<Vec<_>>(), vec![Err(RtcpError::Empty)]);
    // Fewer bytes than a header.
    let (kind, pkts) = packets(&[0x80, 0xC9, 0x00]);
    assert_eq!(kind, CompoundKind::Malformed);
    assert_eq!(pkts, vec![Err(RtcpError::TruncatedHeader { remaining: 3 })]);
    // Length field 0: a header-only sub-packet. Valid for a BYE without sources...
    let (kind, pkts) = packets(&[0x80, 0xCB, 0x00, 0x00]); // V=2 SC=0, BYE, length=0
    assert_eq!(kind, CompoundKind::Plain);
    let Ok(Packet::Goodbye(bye)) = pkts[0] else {
        panic!("{:?}", pkts[0])
    };
    assert_eq!(bye.sources().len(), 0);
    assert_eq!(bye.reason(), None);
    // ...but too short for an RR, which needs its SSRC.
    let (kind, pkts) = packets(&[0x80, 0xC9, 0x00, 0x00]); // V=2 RC=0, RR, length=0
    assert_eq!(kind, CompoundKind::Plain);
    assert_eq!(pkts, vec![Err(RtcpError::TooShort { packet_type: 201 })]);
}

#[test]
fn unknown_type_in_the_middle_is_skipped() {
    let unknown = [
        0x80, 0xD0, 0x00, 0x02, // V=2, PT=208 (unassigned), length=2 (12 bytes)
        0xAA, 0xBB, 0xCC, 0xDD, // opaque
        0x11, 0x22, 0x33, 0x44, // opaque
    ];
    let buf = cat(&[&RR_ONE_BLOCK, &unknown, &SDES_CNAME_ONLY]);
    let (kind, pkts) = packets(&buf);
    assert_eq!(kind, CompoundKind::Plain);
    assert_eq!(pkts.len(), 3);
    assert!(matches!(pkts[0], Ok(Packet::ReceiverReport(_))));
    assert_eq!(
        pkts[1],
        Ok(Packet::Unknown {
            packet_type: 208,
            body: &unknown[4..]
        })
    );
    assert!(matches!(pkts[2], Ok(Packet::SourceDescription(_))));
    // 195 (IJ), 199 and 223 are unknown too.
    for pt in [195u8, 199, 223] {
        let mut u = unknown;
        u[1] = pt;
        let buf = cat(&[&u, &PLI]);
        let (kind, pkts) = packets(&buf);
        assert_eq!(kind, CompoundKind::Plain);
        assert_eq!(pkts[0].as_ref().map(Packet::packet_type), Ok(pt));
        assert!(pkts[1].is_ok());
    }
}

#[test]
fn one_bad_sub_packet_between_two_good_ones() {
    // RR whose RC=2 blocks do not fit its length (one block only).
    let bad = cat(&[&[0x82, 0xC9, 0x00, 0x07], &RR_ONE_BLOCK[4..]]);
    let buf = cat(&[&SR_NO_BLOCKS, &bad, &SDES_CNAME_ONLY]);
    let (kind, pkts) = packets(&buf);
    assert_eq!(kind, CompoundKind::Plain);
    assert_eq!(pkts.len(), 3);
    assert!(matches!(pkts[0], Ok(Packet::SenderReport(_))));
    assert_eq!(pkts[1], Err(RtcpError::ReportBlocksOverflow { count: 2 }));
    assert!(matches!(pkts[2], Ok(Packet::SourceDescription(_))));
}

#[test]
fn bad_version_mid_compound_breaks_the_walk() {
    let mut rr = RR_ONE_BLOCK;
    rr[0] = 0x41; // V=1
                  // Keep every candidate SRTCP word's top bit clear.
    rr[24] = 0x00;
    let buf = cat(&[&PLI, &rr]);
    let (kind, pkts) = packets(&buf);
    assert_eq!(kind, CompoundKind::Malformed);
    assert!(pkts[0].is_ok());
    assert_eq!(pkts[1], Err(RtcpError::BadVersion(1)));
    assert_eq!(pkts.len(), 2);
}

#[test]
fn trailing_zero_bytes_are_malformed() {
    let buf = cat(&[&RR_ONE_BLOCK, &[0, 0, 0, 0]]);
    let (kind, pkts) = packets(&buf);
    assert_eq!(kind, CompoundKind::Malformed);
    assert!(matches!(pkts[0], Ok(Packet::ReceiverReport(_))));
    assert_eq!(pkts[1], Err(RtcpError::BadVersion(0)));
}

/// XR with an RRTR, a DLRR with two sub-blocks and a block of unknown type.
const XR_THREE_BLOCKS: [u8; 60] = [
    0x80, 0xCF, 0x00, 0x0E, // V=2, PT=207 (XR), length=14 (60 bytes)
    0x12, 0x34, 0x56, 0x78, // SSRC of originator
    0x04, 0x00, 0x00, 0x02, // BT=4 (RRTR), reserved, block length 2
    0xE9, 0x5F, 0x1A, 0x2B, // NTP timestamp, seconds
    0x40, 0x00, 0x00, 0x00, // NTP timestamp, fraction (0.25 s)
    0x05, 0x00, 0x00, 0x06, // BT=5 (DLRR), reserved, block length 6 (2 sub-blocks)
    0x00, 0x00, 0x00, 0x01, // sub-block 1: SSRC
    0x5F, 0x1A, 0x2B, 0x40, // sub-block 1: last RR
    0x00, 0x00, 0x80, 0x00, // sub-block 1: delay since last RR (0.5 s)
    0x00, 0x00, 0x00, 0x02, // sub-block 2: SSRC
    0x00, 0x00, 0x00, 0x00, // sub-block 2: last RR (none)
    0x00, 0x00, 0x00, 0x00, // sub-block 2: delay since last RR
    0x07, 0x01, 0x00, 0x02, // BT=7 (VoIP metrics, not decoded), type-specific 1, 2 words
    0xAA, 0xBB, 0xCC, 0xDD, // opaque
    0x01, 0x02, 0x03, 0x04, // opaque
];

#[test]
fn extended_report_blocks() {
    let (kind, pkts) = packets(&XR_THREE_BLOCKS);
    assert_eq!(kind, CompoundKind::Plain);
    let Ok(Packet::ExtendedReport(xr)) = pkts[0] else {
        panic!("{:?}", pkts[0])
    };
    assert_eq!(xr.ssrc(), 0x1234_5678);
    let blocks: Vec<_> = xr.blocks().collect();
    assert_eq!(blocks.len(), 3);
    assert_eq!(
        blocks[0],
        Ok(XrBlock::ReceiverReferenceTime {
            ntp_timestamp: 0xE95F_1A2B_4000_0000
        })
    );
    let Ok(XrBlock::Dlrr(dlrr)) = blocks[1] else {
        panic!("{:?}", blocks[1])
    };
    let subs = dlrr.sub_blocks();
    assert_eq!(subs.len(), 2);
    assert_eq!(
        subs.collect::<Vec<_>>(),
        vec![
            DlrrSubBlock {
                ssrc: 1,
                last_rr: 0x5F1A_2B40,
                delay_since_last_rr: 0x8000
            },
            DlrrSubBlock {
                ssrc: 2,
                last_rr: 0,
                delay_since_last_rr: 0
            },
        ]
    );
    assert_eq!(
        blocks[2],
        Ok(XrBlock::Other {
            block_type: 7,
            body: &XR_THREE_BLOCKS[52..]
        })
    );
}

#[test]
fn extended_report_block_length_overflow() {
    let mut buf = XR_THREE_BLOCKS;
    buf[51] = 0x03; // the unknown block now claims 3 words, only 2 remain
    let xr = ExtendedReport::new_checked(&buf).unwrap();
    let blocks: Vec<_> = xr.blocks().collect();
    assert_eq!(blocks.len(), 3);
    assert!(blocks[0].is_ok() && blocks[1].is_ok());
    assert_eq!(blocks[2], Err(RtcpError::XrBlockOverflow));
    // A block header cut short.
    let cut = cat(&[
        &[0x80, 0xCF, 0x00, 0x02], // V=2, PT=207, length=2 (12 bytes)
        &[0x12, 0x34, 0x56, 0x78], // SSRC
        &[0x04, 0x00, 0x00, 0x02], // RRTR claiming 2 words that are not there
    ]);
    let xr = ExtendedReport::new_checked(&cut).unwrap();
    assert_eq!(
        xr.blocks().collect::<Vec<_>>(),
        vec![Err(RtcpError::XrBlockOverflow)]
    );
    // Odd padding leaves a stub shorter than a block header.
    let stub = cat(&[
        &[0xA0, 0xCF, 0x00, 0x02], // V=2 P=1, PT=207, length=2 (12 bytes)
        &[0x12, 0x34, 0x56, 0x78], // SSRC
        &[0x04, 0x00, 0x00, 0x01], // 1 byte of padding leaves a 3-byte stub
    ]);
    let xr = ExtendedReport::new_checked(&stub).unwrap();
    assert_eq!(
        xr.blocks().collect::<Vec<_>>(),
        vec![Err(RtcpError::XrBlockOverflow)]
    );
}

#[test]
fn extended_report_known_block_with_wrong_length() {
    let buf = cat(&[
        &[0x80, 0xCF, 0x00, 0x06], // V=2, PT=207 (XR), length=6 (28 bytes)
        &[0x12, 0x34, 0x56, 0x78], // SSRC
        &[0x04, 0x00, 0x00, 0x01], // BT=4 (RRTR) with 1 word instead of 2
        &[0xE9, 0x5F, 0x1A, 0x2B], // half an NTP timestamp
        &[0x05, 0x00, 0x00, 0x01], // BT=5 (DLRR) with 1 word: not a whole sub-block
        &[0x00, 0x00, 0x00, 0x01], // a third of a sub-block
        &[0x09, 0x00, 0x00, 0x00], // BT=9, empty
    ]);
    let xr = ExtendedReport::new_checked(&buf).unwrap();
    assert_eq!(
        xr.blocks().collect::<Vec<_>>(),
        vec![
            Err(RtcpError::XrBlockLength { block_type: 4 }),
            Err(RtcpError::XrBlockLength { block_type: 5 }),
            Ok(XrBlock::Other {
                block_type: 9,
                body: &[]
            }),
        ]
    );
}

#[test]
fn reduced_size_lone_psfb() {
    let (kind, pkts) = packets(&PLI);
    assert_eq!(kind, CompoundKind::Plain);
    let Ok(Packet::PayloadFeedback(fb)) = pkts[0] else {
        panic!("{:?}", pkts[0])
    };
    assert_eq!(fb.packet_type(), 206);
    assert_eq!(fb.fmt(), 1);
    assert_eq!(fb.sender_ssrc(), 0x1122_3344);
    assert_eq!(fb.media_ssrc(), 0x902F_9E2E);
    assert!(fb.fci().is_empty());
}

#[test]
fn transport_feedback_nack() {
    let buf = [
        0x81, 0xCD, 0x00, 0x03, // V=2 FMT=1 (generic NACK), PT=205 (RTPFB), length=3
        0x11, 0x22, 0x33, 0x44, // SSRC of packet sender
        0x90, 0x2F, 0x9E, 0x2E, // SSRC of media source
        0x01, 0x00, 0x00, 0x05, // FCI: PID 256, BLP 0x0005
    ];
    let (kind, pkts) = packets(&buf);
    assert_eq!(kind, CompoundKind::Plain);
    let Ok(Packet::TransportFeedback(fb)) = pkts[0] else {
        panic!("{:?}", pkts[0])
    };
    assert_eq!(fb.packet_type(), 205);
    assert_eq!(fb.fmt(), 1);
    assert_eq!(fb.fci(), &[0x01, 0x00, 0x00, 0x05]);
    assert_eq!(Feedback::new_checked(&buf), Ok(fb));
    // Too short for the media SSRC.
    let short = [0x81, 0xCD, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44];
    assert_eq!(
        Feedback::new_checked(&short),
        Err(RtcpError::TooShort { packet_type: 205 })
    );
}

#[test]
fn app_packet() {
    let buf = [
        0x85, 0xCC, 0x00, 0x03, // V=2 subtype=5, PT=204 (APP), length=3 (16 bytes)
        0x12, 0x34, 0x56, 0x78, // SSRC
        b'v', b't', b'c', b'q', // name "vtcq"
        0x01, 0x02, 0x03, 0x04, // application data
    ];
    let (kind, pkts) = packets(&buf);
    assert_eq!(kind, CompoundKind::Plain);
    let Ok(Packet::App(app)) = pkts[0] else {
        panic!("{:?}", pkts[0])
    };
    assert_eq!(app.subtype(), 5);
    assert_eq!(app.ssrc(), 0x1234_5678);
    assert_eq!(&app.name(), b"vtcq");
    assert_eq!(app.data(), &[1, 2, 3, 4]);
    assert_eq!(
        App::new_checked(&[0x80, 0xCC, 0x00, 0x01, 0, 0, 0, 1]),
        Err(RtcpError::TooShort { packet_type: 204 })
    );
}

#[test]
fn typed_views_reject_other_types() {
    assert_eq!(
        SenderReport::new_checked(&RR_ONE_BLOCK),
        Err(RtcpError::WrongPacketType(201))
    );
    assert_eq!(
        ReceiverReport::new_checked(&SR_NO_BLOCKS),
        Err(RtcpError::WrongPacketType(200))
    );
    assert_eq!(
        Goodbye::new_checked(&PLI),
        Err(RtcpError::WrongPacketType(206))
    );
    assert_eq!(
        SourceDescription::new_checked(&PLI),
        Err(RtcpError::WrongPacketType(206))
    );
    assert_eq!(
        ExtendedReport::new_checked(&PLI),
        Err(RtcpError::WrongPacketType(206))
    );
    assert_eq!(App::new_checked(&PLI), Err(RtcpError::WrongPacketType(206)));
    assert_eq!(
        Feedback::new_checked(&SR_NO_BLOCKS),
        Err(RtcpError::WrongPacketType(200))
    );
    // An RTP header (PT 96) is no RTCP packet at all.
    let rtp = [0x80, 0x60, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 1];
    assert_eq!(Packet::new_checked(&rtp), Err(RtcpError::NotRtcp(96)));
    // Views read one sub-packet and ignore what follows it.
    let buf = cat(&[&PLI, &SR_NO_BLOCKS]);
    assert_eq!(Feedback::new_checked(&buf).unwrap().fci(), &[] as &[u8]);
}

#[test]
fn is_rtcp_header_checks() {
    assert!(is_rtcp_header(&SR_NO_BLOCKS));
    assert!(is_rtcp_header(&PLI));
    // Extra bytes after the first sub-packet are fine.
    assert!(is_rtcp_header(&cat(&[&PLI, &[1, 2, 3]])));
    assert!(!is_rtcp_header(&SR_NO_BLOCKS[..27])); // length does not fit
    assert!(!is_rtcp_header(&[0x80, 0xC8, 0x00])); // shorter than a header
    assert!(!is_rtcp_header(&[0x40, 0xC8, 0x00, 0x00])); // V=1
    assert!(!is_rtcp_header(&[0x80, 0xBF, 0x00, 0x00])); // PT 191
    assert!(!is_rtcp_header(&[0x80, 0xE0, 0x00, 0x00])); // PT 224
    assert!(is_rtcp_header(&[0x80, 0xC0, 0x00, 0x00])); // PT 192, length 0
    assert!(is_rtcp_header(&[0x80, 0xDF, 0x00, 0x00])); // PT 223, length 0
}

#[test]
fn sdes_chunks_and_items() {
    let buf = [
        0x82, 0xCA, 0x00, 0x07, // V=2 SC=2, PT=202 (SDES), length=7 (32 bytes)
        0x00, 0x00, 0x00, 0x01, // chunk 1: SSRC 1
        0x01, 0x02, b'a', 0x00, // CNAME "a\0": a zero inside text is not the end
        0x06, 0x03, b'o', b'b', // TOOL, 3 bytes: "obs"
        b's', 0x00, 0x00, 0x00, // ... end of list, pad to the boundary
        0x00, 0x00, 0x00, 0x02, // chunk 2: SSRC 2
        0x01, 0x00, 0x00, 0x00, // empty CNAME, end of list, pad
        0x00, 0x00, 0x00, 0x00, // extra null octets (tolerated)
    ];
    let sdes = SourceDescription::new_checked(&buf).unwrap();
    let chunks: Vec<_> = sdes
        .chunks()
        .map(|c| c.map(|(ssrc, items)| (ssrc, items.collect::<Vec<_>>())))
        .collect();
    assert_eq!(
        chunks,
        vec![
            Ok((1, vec![Ok((1, &b"a\0"[..])), Ok((6, &b"obs"[..]))])),
            Ok((2, vec![Ok((1, &b""[..]))])),
        ]
    );
}

#[test]
fn sdes_chunk_ending_on_a_boundary_needs_a_full_null_word() {
    let buf = [
        0x82, 0xCA, 0x00, 0x05, // V=2 SC=2, PT=202, length=5 (24 bytes)
        0x00, 0x00, 0x00, 0x01, // chunk 1: SSRC 1
        0x01, 0x02, b'a', b'b', // CNAME "ab": items end on a boundary
        0x00, 0x00, 0x00, 0x00, // so the end of list takes a whole word
        0x00, 0x00, 0x00, 0x02, // chunk 2: SSRC 2
        0x00, 0x00, 0x00, 0x00, // no items
    ];
    let sdes = SourceDescription::new_checked(&buf).unwrap();
    let ssrcs: Vec<_> = sdes
        .chunks()
        .map(|c| c.map(|(s, items)| (s, items.count())))
        .collect();
    assert_eq!(ssrcs, vec![Ok((1, 1)), Ok((2, 0))]);
}

#[test]
fn broken_sdes_items_are_reported() {
    // An item runs past the end: the good item before it is still yielded.
    let overflow = [
        0x81, 0xCA, 0x00, 0x03, // V=2 SC=1, PT=202, length=3 (16 bytes)
        0x00, 0x00, 0x00, 0x01, // chunk 1: SSRC 1
        0x01, 0x01, b'x', // CNAME "x"
        0x02, 0x08, b'n', b'a', b'm', // NAME claiming 8 bytes, 3 present
    ];
    let sdes = SourceDescription::new_checked(&overflow).unwrap();
    let mut chunks = sdes.chunks();
    let (ssrc, items) = chunks.next().unwrap().unwrap();
    assert_eq!(ssrc, 1);
    assert_eq!(
        items.collect::<Vec<_>>(),
        vec![Ok((1, &b"x"[..])), Err(RtcpError::SdesItemOverflow)]
    );
    assert!(chunks.next().is_none());

    // No null item at the end.
    let unterminated = [
        0x81, 0xCA, 0x00, 0x02, // V=2 SC=1, PT=202, length=2 (12 bytes)
        0x00, 0x00, 0x00, 0x01, // chunk 1: SSRC 1
        0x01, 0x02, b'h', b'i', // CNAME "hi", no end of list
    ];
    let sdes = SourceDescription::new_checked(&unterminated).unwrap();
    let (_, items) = sdes.chunks().next().unwrap().unwrap();
    assert_eq!(
        items.collect::<Vec<_>>(),
        vec![Ok((1, &b"hi"[..])), Err(RtcpError::SdesUnterminated)]
    );

    // A lone type byte with no length byte.
    let no_length = [
        0x81, 0xCA, 0x00, 0x01, // V=2 SC=1, PT=202, length=1 (8 bytes)
        0x00, 0x00, 0x00, 0x01, // chunk 1: SSRC 1 (no room for items)
    ];
    let sdes = SourceDescription::new_checked(&no_length).unwrap();
    let (_, items) = sdes.chunks().next().unwrap().unwrap();
    assert_eq!(
        items.collect::<Vec<_>>(),
        vec![Err(RtcpError::SdesUnterminated)]
    );
    let stub = [
        0x81, 0xCA, 0x00, 0x02, // V=2 SC=1, PT=202, length=2 (12 bytes)
        0x00, 0x00, 0x00, 0x01, // chunk 1: SSRC 1
        0x01, 0x03, b'a', b'b', // CNAME claiming 3 bytes, 2 present
    ];
    let sdes = SourceDescription::new_checked(&stub).unwrap();
    let (_, items) = sdes.chunks().next().unwrap().unwrap();
    assert_eq!(
        items.collect::<Vec<_>>(),
        vec![Err(RtcpError::SdesItemOverflow)]
    );

    // SC announces more chunks than there are.
    let mut missing_chunk = SDES_CNAME_ONLY;
    missing_chunk[0] = 0x82; // SC=2
    let sdes = SourceDescription::new_checked(&missing_chunk).unwrap();
    let chunks: Vec<_> = sdes.chunks().map(|c| c.map(|(s, _)| s)).collect();
    assert_eq!(
        chunks,
        vec![Ok(0x902F_9E2E), Err(RtcpError::SdesChunkOverflow)]
    );

    // A broken SDES is still a sound sub-packet: the compound stays Plain.
    let buf = cat(&[&overflow, &PLI]);
    let (kind, pkts) = packets(&buf);
    assert_eq!(kind, CompoundKind::Plain);
    assert!(pkts.iter().all(Result::is_ok));
}

#[test]
fn bye_checks() {
    // SC=2 but only one SSRC fits.
    let buf = [
        0x82, 0xCB, 0x00, 0x01, // V=2 SC=2, PT=203, length=1 (8 bytes)
        0x00, 0x00, 0x00, 0x01, // SSRC 1
    ];
    assert_eq!(
        Goodbye::new_checked(&buf),
        Err(RtcpError::SourcesOverflow { count: 2 })
    );
    // Reason length past the end.
    let buf = [
        0x81, 0xCB, 0x00, 0x02, // V=2 SC=1, PT=203, length=2 (12 bytes)
        0x00, 0x00, 0x00, 0x01, // SSRC 1
        0x04, b'b', b'y', b'e', // reason claims 4 bytes, 3 present
    ];
    assert_eq!(Goodbye::new_checked(&buf), Err(RtcpError::ReasonOverflow));
    // Zero-length reason followed by null octets reads as no reason.
    let buf = [
        0x81, 0xCB, 0x00, 0x02, // V=2 SC=1, PT=203, length=2 (12 bytes)
        0x00, 0x00, 0x00, 0x01, // SSRC 1
        0x00, 0x00, 0x00, 0x00, // reason length 0, padding
    ];
    assert_eq!(Goodbye::new_checked(&buf).unwrap().reason(), None);
}

/// Builds a real-looking SRTCP packet: a plaintext SR header and SSRC, a ciphertext body
/// covering the rest of an SR + SDES compound, `E‖index` and an authentication tag.
fn srtcp(rng: &mut Rng, tag_len: usize) -> Vec<u8> {
    let mut plain = cat(&[&sr_header(1, 12), &BLOCK_A]);
    write_sdes_cname(&mut plain, 0x902F_9E2E, "user@host");
    // RFC 3711 leaves the first 8 bytes in the clear and encrypts the rest.
    rng.fill(&mut plain[8..]);
    // E=1, index 0x2A.
    plain.extend_from_slice(&0x8000_002Au32.to_be_bytes());
    let mut tag = vec![0; tag_len];
    rng.fill(&mut tag);
    plain.extend_from_slice(&tag);
    plain
}

#[test]
fn srtcp_is_detected_and_not_read() {
    let mut rng = Rng(0x9E37_79B9);
    for tag_len in [10, 4, 8, 12, 16, 0] {
        for _ in 0..200 {
            let buf = srtcp(&mut rng, tag_len);
            let c = Compound::parse(&buf);
            assert_eq!(c.kind(), CompoundKind::Srtcp, "tag {tag_len}: {buf:02X?}");
            assert_eq!(c.packets().count(), 0);
            assert!(c.break_error().is_some());
        }
    }
}

#[test]
fn unencrypted_srtcp_tail_is_malformed_but_keeps_the_compound() {
    // E=0 (encryption off): the trailer is not recognised, but the compound before it
    // is plaintext and still read.
    let mut buf = RR_ONE_BLOCK.to_vec();
    buf[24] = 0x00; // keep the last-SR word's top bit clear
    buf.extend_from_slice(&0x0000_002Au32.to_be_bytes()); // E=0, index 0x2A
    buf.extend_from_slice(&[0x00; 10]); // authentication tag
    let (kind, pkts) = packets(&buf);
    assert_eq!(kind, CompoundKind::Malformed);
    assert!(matches!(pkts[0], Ok(Packet::ReceiverReport(_))));
    assert_eq!(pkts[1], Err(RtcpError::BadVersion(0)));
}

/// A compound using every sub-packet type, for the no-panic sweeps.
fn everything() -> Vec<u8> {
    let mut buf = cat(&[&sr_header(2, 18), &BLOCK_A, &BLOCK_B]);
    buf.extend_from_slice(&RR_ONE_BLOCK);
    buf.extend_from_slice(&SDES_CNAME_ONLY);
    buf.extend_from_slice(&XR_THREE_BLOCKS);
    buf.extend_from_slice(&PLI);
    buf.extend_from_slice(&[
        0x85, 0xCC, 0x00, 0x03, // APP
        0x12, 0x34, 0x56, 0x78, b'v', b't', b'c', b'q', 1, 2, 3, 4,
    ]);
    buf.extend_from_slice(&[0x80, 0xD0, 0x00, 0x00]); // unknown, empty
    buf.extend_from_slice(&[
        0xA1, 0xCB, 0x00, 0x03, // BYE with reason and padding
        0x90, 0x2F, 0x9E, 0x2E, 0x02, b'o', b'k', 0x00, 0x00, 0x00, 0x00, 0x04,
    ]);
    buf
}

#[test]
fn every_prefix_of_a_valid_compound_is_safe() {
    let buf = everything();
    let (kind, pkts) = packets(&buf);
    assert_eq!(kind, CompoundKind::Plain);
    assert_eq!(pkts.len(), 8);
    assert!(pkts.iter().all(Result::is_ok), "{pkts:?}");
    for len in 0..=buf.len() {
        consume(&buf[..len]);
        // Views on sub-slices starting anywhere must not panic either.
        for start in (0..len).step_by(4) {
            let _ = Packet::new_checked(&buf[start..len]);
        }
    }
}

#[test]
fn random_and_mutated_input_is_safe() {
    let mut rng = Rng(0x1234_5678);
    let base = everything();
    for _ in 0..5_000 {
        // Flip a few bytes of a valid compound: mostly-sound headers with broken bodies.
        let mut buf = base.clone();
        for _ in 0..1 + rng.next_u32() % 4 {
            let i = rng.next_u32() as usize % buf.len();
            buf[i] = rng.next_u32() as u8;
        }
        consume(&buf);
        // Pure noise, with the first byte nudged towards V=2.
        let mut noise = vec![0; rng.next_u32() as usize % 96];
        rng.fill(&mut noise);
        if let Some(b) = noise.first_mut() {
            *b = 0x80 | (*b & 0x3F);
        }
        consume(&noise);
    }
}

#[test]
fn report_writers_round_trip() {
    let extreme = ReportBlock {
        ssrc: u32::MAX,
        fraction_lost: 255,
        cumulative_lost: -8_388_608,
        extended_highest_sequence: u32::MAX,
        jitter: u32::MAX,
        last_sr: u32::MAX,
        delay_since_last_sr: u32::MAX,
    };
    let blocks = [block_a(), block_b(), extreme];
    let mut out = vec![];
    write_sender_report(&mut out, 0xAB, 0xE95F_1A2B_8000_0000, 7, 8, 9, &blocks);
    assert_eq!(out.len(), 28 + 3 * 24);
    let sr = SenderReport::new_checked(&out).unwrap();
    assert_eq!(sr.ssrc(), 0xAB);
    assert_eq!(sr.ntp_timestamp(), 0xE95F_1A2B_8000_0000);
    assert_eq!(
        (sr.rtp_timestamp(), sr.packet_count(), sr.octet_count()),
        (7, 8, 9)
    );
    assert_eq!(sr.report_blocks().collect::<Vec<_>>(), blocks);
    assert!(sr.profile_extension().is_empty());

    // The fixtures are exactly what the writers produce.
    let mut out = vec![];
    write_sender_report(
        &mut out,
        0x902F_9E2E,
        0xE95F_1A2B_8000_0000,
        123_456,
        1000,
        160_000,
        &[block_a(), block_b()],
    );
    assert_eq!(out, cat(&[&sr_header(2, 18), &BLOCK_A, &BLOCK_B]));
    let mut out = vec![];
    write_receiver_report(&mut out, 0x1122_3344, &[block_a()]);
    assert_eq!(out, RR_ONE_BLOCK);

    let mut out = vec![];
    write_receiver_report(&mut out, 5, &[]);
    let rr = ReceiverReport::new_checked(&out).unwrap();
    assert_eq!((rr.ssrc(), rr.report_blocks().len()), (5, 0));

    // More than 31 blocks: only 31 fit the RC field.
    let many = vec![block_a(); 40];
    let mut out = vec![];
    write_receiver_report(&mut out, 5, &many);
    assert_eq!(
        ReceiverReport::new_checked(&out)
            .unwrap()
            .report_blocks()
            .len(),
        31
    );
}

#[test]
fn cumulative_lost_is_clamped_when_written() {
    for (written, read) in [
        (-1, -1),
        (-8_388_608, -8_388_608),
        (8_388_607, 8_388_607),
        (-9_000_000, -8_388_608),
        (i32::MIN, -8_388_608),
        (9_000_000, 8_388_607),
        (i32::MAX, 8_388_607),
    ] {
        let block = ReportBlock {
            cumulative_lost: written,
            ..block_a()
        };
        let mut out = vec![];
        block.write(&mut out);
        assert_eq!(out.len(), ReportBlock::LEN);
        assert_eq!(out[4], 25, "fraction lost untouched by {written}");
        let mut rr = vec![];
        write_receiver_report(&mut rr, 1, &[block]);
        let got = ReceiverReport::new_checked(&rr)
            .unwrap()
            .report_blocks()
            .next()
            .unwrap();
        assert_eq!(got.cumulative_lost, read, "{written}");
    }
    let mut out = vec![];
    block_b().write(&mut out);
    assert_eq!(&out[4..8], &[0x00, 0xFF, 0xFF, 0xFF]);
}

#[test]
fn sdes_writer_round_trip() {
    let mut out = vec![];
    write_sdes_cname(&mut out, 0x902F_9E2E, "user@host");
    assert_eq!(out, SDES_CNAME_ONLY);
    // Every length mod 4, so every amount of null padding.
    for name in [
        "",
        "a",
        "ab",
        "abc",
        "abcd",
        "abcde",
        "é@ü",
        &"x".repeat(255),
    ] {
        let mut out = vec![];
        write_sdes_cname(&mut out, 42, name);
        assert_eq!(out.len() % 4, 0);
        let sdes = SourceDescription::new_checked(&out).unwrap();
        let mut chunks = sdes.chunks();
        let (ssrc, items) = chunks.next().unwrap().unwrap();
        assert_eq!(ssrc, 42);
        assert_eq!(
            items.collect::<Vec<_>>(),
            vec![Ok((SDES_CNAME, name.as_bytes()))]
        );
        assert!(chunks.next().is_none());
    }
    // Too long: cut to 255 bytes at a character boundary (2-byte 'é' straddles 255).
    let long = format!("{}{}", "x".repeat(254), "é");
    let mut out = vec![];
    write_sdes_cname(&mut out, 1, &long);
    let sdes = SourceDescription::new_checked(&out).unwrap();
    let (_, mut items) = sdes.chunks().next().unwrap().unwrap();
    assert_eq!(
        items.next(),
        Some(Ok((SDES_CNAME, "x".repeat(254).as_bytes())))
    );
}

#[test]
fn bye_writer_round_trip() {
    for (ssrcs, reason) in [
        (&[1u32, 2, 3][..], Some("teardown")),
        (&[1][..], Some("bye")),
        (&[1][..], Some("a")),
        (&[][..], None),
        (&[7][..], None),
        (&[7][..], Some("")),
    ] {
        let mut out = vec![];
        write_bye(&mut out, ssrcs, reason);
        assert_eq!(out.len() % 4, 0);
        let bye = Goodbye::new_checked(&out).unwrap();
        assert_eq!(bye.sources().collect::<Vec<_>>(), ssrcs);
        assert_eq!(
            bye.reason(),
            reason.filter(|r| !r.is_empty()).map(str::as_bytes)
        );
    }
    let mut out = vec![];
    write_bye(&mut out, &[0x902F_9E2E], Some("bye"));
    assert_eq!(out, BYE_WITH_REASON);
    let mut out = vec![];
    write_bye(&mut out, &[9; 40], Some(&"r".repeat(300)));
    let bye = Goodbye::new_checked(&out).unwrap();
    assert_eq!(bye.sources().len(), 31);
    assert_eq!(bye.reason().map(<[u8]>::len), Some(255));
}

#[test]
fn xr_writers_round_trip() {
    let mut out = vec![];
    write_xr_rrtr(&mut out, 0x1234_5678, 0xE95F_1A2B_4000_0000);
    assert_eq!(out[..4], [0x80, 0xCF, 0x00, 0x04]); // V=2, PT=207, length=4 (20 bytes)
    assert_eq!(out[4..], XR_THREE_BLOCKS[4..20]);
    let mut out = vec![];
    let subs = [
        DlrrSubBlock {
            ssrc: 1,
            last_rr: 0x5F1A_2B40,
            delay_since_last_rr: 0x8000,
        },
        DlrrSubBlock {
            ssrc: 2,
            last_rr: 0,
            delay_since_last_rr: 0,
        },
    ];
    write_xr_dlrr(&mut out, 0x1234_5678, &subs);
    let xr = ExtendedReport::new_checked(&out).unwrap();
    assert_eq!(xr.ssrc(), 0x1234_5678);
    let blocks: Vec<_> = xr.blocks().collect();
    let [Ok(XrBlock::Dlrr(dlrr))] = blocks[..] else {
        panic!("{blocks:?}")
    };
    assert_eq!(dlrr.sub_blocks().collect::<Vec<_>>(), subs);
    // An empty DLRR is legal.
    let mut out = vec![];
    write_xr_dlrr(&mut out, 3, &[]);
    let xr = ExtendedReport::new_checked(&out).unwrap();
    let blocks: Vec<_> = xr.blocks().collect();
    let [Ok(XrBlock::Dlrr(dlrr))] = blocks[..] else {
        panic!("{blocks:?}")
    };
    assert_eq!(dlrr.sub_blocks().len(), 0);
    // The largest DLRR the length field allows.
    let mut out = vec![];
    write_xr_dlrr(&mut out, 3, &vec![subs[0]; 30_000]);
    let xr = ExtendedReport::new_checked(&out).unwrap();
    let Some(Ok(XrBlock::Dlrr(dlrr))) = xr.blocks().next() else {
        panic!()
    };
    assert_eq!(dlrr.sub_blocks().len(), 21_844);
    assert_eq!(Compound::parse(&out).kind(), CompoundKind::Plain);
}

#[test]
fn written_compound_parses_as_plain() {
    let mut out = vec![];
    write_sender_report(&mut out, 1, 2, 3, 4, 5, &[block_b()]);
    write_sdes_cname(&mut out, 1, "alice@example.org");
    write_xr_rrtr(&mut out, 1, 6);
    write_xr_dlrr(&mut out, 1, &[]);
    write_receiver_report(&mut out, 1, &[]);
    write_bye(&mut out, &[1], Some("done"));
    let (kind, pkts) = packets(&out);
    assert_eq!(kind, CompoundKind::Plain);
    let types: Vec<_> = pkts
        .iter()
        .map(|p| p.as_ref().map(Packet::packet_type))
        .collect();
    assert_eq!(
        types,
        vec![Ok(200), Ok(202), Ok(207), Ok(207), Ok(201), Ok(203)]
    );
}
