use super::*;

/// A plain 12-byte header followed by a 4-byte payload.
const BASIC: [u8; 16] = [
    0x80, // V=2 P=0 X=0 CC=0
    0xE0, // M=1 PT=96
    0xFF, 0xFF, // sequence number 65535 (about to wrap)
    0xFF, 0xFF, 0xFF, 0xFF, // timestamp u32::MAX (about to wrap)
    0x89, 0xAB, 0xCD, 0xEF, // SSRC
    0xDE, 0xAD, 0xBE, 0xEF, // payload
];

#[test]
fn basic_fields_and_wraparound_values() {
    let p = RtpPacket::new_checked(&BASIC).unwrap();
    assert_eq!(p.version(), 2);
    assert!(!p.padding());
    assert!(!p.extension());
    assert_eq!(p.csrc_count(), 0);
    assert!(p.marker());
    assert_eq!(p.payload_type(), 96);
    assert_eq!(p.sequence_number(), u16::MAX);
    assert_eq!(p.timestamp(), u32::MAX);
    assert_eq!(p.ssrc(), 0x89AB_CDEF);
    assert_eq!(p.csrcs().count(), 0);
    assert_eq!(p.extension_profile(), None);
    assert_eq!(p.extension_data(), None);
    assert_eq!(p.extension_elements().count(), 0);
    assert_eq!(p.header_len(), 12);
    assert_eq!(p.padding_len(), 0);
    assert_eq!(p.payload(), &[0xDE, 0xAD, 0xBE, 0xEF]);
    assert_eq!(p.as_bytes(), &BASIC);
}

#[test]
fn header_only_packet_has_empty_payload() {
    let p = RtpPacket::new_checked(&BASIC[..12]).unwrap();
    assert_eq!(p.payload(), &[] as &[u8]);
}

#[test]
fn zero_values() {
    let buf = [
        0x80, 0x00, // V=2, M=0 PT=0
        0x00, 0x00, // seq 0 (just wrapped)
        0x00, 0x00, 0x00, 0x00, // timestamp 0
        0x00, 0x00, 0x00, 0x00, // SSRC 0
    ];
    let p = RtpPacket::new_checked(&buf).unwrap();
    assert!(!p.marker());
    assert_eq!(p.payload_type(), 0);
    assert_eq!(p.sequence_number(), 0);
    assert_eq!(p.timestamp(), 0);
    assert_eq!(p.ssrc(), 0);
}

#[test]
fn csrcs() {
    let buf = [
        0x82, // V=2 CC=2
        0x6F, // M=0 PT=111
        0x12, 0x34, // seq
        0x00, 0x00, 0x10, 0x00, // timestamp
        0x00, 0x00, 0x00, 0x01, // SSRC
        0x00, 0x00, 0x00, 0x02, // CSRC 1
        0xFF, 0xFF, 0xFF, 0xFE, // CSRC 2
        0xAA, // payload
    ];
    let p = RtpPacket::new_checked(&buf).unwrap();
    assert_eq!(p.csrc_count(), 2);
    let csrcs = p.csrcs();
    assert_eq!(csrcs.len(), 2);
    assert_eq!(csrcs.collect::<Vec<_>>(), vec![2, 0xFFFF_FFFE]);
    assert_eq!(p.header_len(), 20);
    assert_eq!(p.payload(), &[0xAA]);
    // One CSRC byte short.
    assert_eq!(
        RtpPacket::new_checked(&buf[..19]),
        Err(RtpError::CsrcOverflow)
    );
}

#[test]
fn csrc_count_fifteen_needs_72_bytes() {
    let mut buf = vec![0x8F, 0x00];
    buf.resize(72, 0);
    assert_eq!(RtpPacket::new_checked(&buf).unwrap().csrcs().len(), 15);
    assert_eq!(
        RtpPacket::new_checked(&buf[..71]),
        Err(RtpError::CsrcOverflow)
    );
}

/// One-byte-header extension with CSRC: abs-send-time (id 3) and audio level (id 1).
const WITH_EXTENSION: [u8; 32] = [
    0x91, // V=2 P=0 X=1 CC=1
    0x6F, // PT=111
    0x00, 0x07, // seq 7
    0x00, 0x00, 0x03, 0xC0, // timestamp 960
    0x00, 0x00, 0x00, 0x0A, // SSRC
    0x00, 0x00, 0x00, 0x0B, // CSRC
    0xBE, 0xDE, 0x00, 0x02, // profile 0xBEDE, 2 words
    0x32, 0x01, 0x02, 0x03, // id 3, L=2 (3 bytes): 01 02 03
    0x10, 0x7F, 0x00, 0x00, // id 1, L=0 (1 byte): 7F, then 2 padding bytes
    0xCA, 0xFE, 0xBA, 0xBE, // payload
];

#[test]
fn one_byte_extension() {
    let p = RtpPacket::new_checked(&WITH_EXTENSION).unwrap();
    assert!(p.extension());
    assert_eq!(p.csrcs().collect::<Vec<_>>(), vec![0x0B]);
    assert_eq!(p.extension_profile(), Some(0xBEDE));
    assert_eq!(
        p.extension_data(),
        Some(&[0x32, 0x01, 0x02, 0x03, 0x10, 0x7F, 0x00, 0x00][..])
    );
    assert_eq!(p.header_len(), 28);
    assert_eq!(p.payload(), &[0xCA, 0xFE, 0xBA, 0xBE]);
    let elems: Vec<_> = p.extension_elements().collect();
    assert_eq!(
        elems,
        vec![
            Ok(ExtensionElement {
                id: 3,
                data: &[1, 2, 3]
            }),
            Ok(ExtensionElement {
                id: 1,
                data: &[0x7F]
            }),
        ]
    );
}

#[test]
fn extension_overflow() {
    // Header says 2 words but only 1 follows.
    assert_eq!(
        RtpPacket::new_checked(&WITH_EXTENSION[..24]),
        Err(RtpError::ExtensionOverflow)
    );
    // Not even the 4-byte extension header fits.
    assert_eq!(
        RtpPacket::new_checked(&WITH_EXTENSION[..18]),
        Err(RtpError::ExtensionOverflow)
    );
    // Exactly the extension, empty payload.
    let p = RtpPacket::new_checked(&WITH_EXTENSION[..28]).unwrap();
    assert!(p.payload().is_empty());
}

#[test]
fn empty_extension_block() {
    let buf = [
        0x90, 0x00, 0x00, 0x01, // V=2 X=1, PT 0, seq 1
        0x00, 0x00, 0x00, 0x00, // timestamp
        0x00, 0x00, 0x00, 0x01, // SSRC
        0x12, 0x34, 0x00, 0x00, // profile 0x1234, 0 words
    ];
    let p = RtpPacket::new_checked(&buf).unwrap();
    assert_eq!(p.extension_profile(), Some(0x1234));
    assert_eq!(p.extension_data(), Some(&[][..]));
    assert_eq!(p.header_len(), 16);
    // Unknown profile: no RFC 8285 elements.
    assert_eq!(p.extension_elements().count(), 0);
}

#[test]
fn two_byte_extension_elements() {
    let buf = [
        0x90, 0x00, 0x00, 0x01, // V=2 X=1, PT 0, seq 1
        0x00, 0x00, 0x00, 0x00, // timestamp
        0x00, 0x00, 0x00, 0x01, // SSRC
        0x10, 0x00, 0x00, 0x02, // profile 0x1000 (two-byte form), 2 words
        0x05, 0x00, // id 5, empty element (allowed in the two-byte form)
        0x00, // padding byte
        0x10, 0x03, 0xAA, 0xBB, 0xCC, // id 16, 3 bytes
    ];
    let p = RtpPacket::new_checked(&buf).unwrap();
    let elems: Vec<_> = p.extension_elements().collect();
    assert_eq!(
        elems,
        vec![
            Ok(ExtensionElement { id: 5, data: &[] }),
            Ok(ExtensionElement {
                id: 16,
                data: &[0xAA, 0xBB, 0xCC]
            }),
        ]
    );
}

#[test]
fn broken_extension_elements_are_reported() {
    let buf = [
        0x90, 0x00, 0x00, 0x01, // V=2 X=1
        0x00, 0x00, 0x00, 0x00, // timestamp
        0x00, 0x00, 0x00, 0x01, // SSRC
        0xBE, 0xDE, 0x00, 0x01, // one-byte form, 1 word
        0x10, 0x01, // id 1, 1 byte: 01
        0x23, 0x00, // id 2, L=3 (4 bytes) but only 1 byte left
    ];
    let p = RtpPacket::new_checked(&buf).unwrap();
    let elems: Vec<_> = p.extension_elements().collect();
    assert_eq!(
        elems,
        vec![
            Ok(ExtensionElement { id: 1, data: &[1] }),
            Err(RtpError::ExtensionElementOverflow),
        ]
    );
    // ID 15 stops processing without an error.
    let mut reserved = buf;
    reserved[18] = 0xF3;
    let p = RtpPacket::new_checked(&reserved).unwrap();
    assert_eq!(p.extension_elements().count(), 1);
}

#[test]
fn padding() {
    let buf = [
        0xA0, 0x60, 0x00, 0x01, // V=2 P=1, PT 96, seq 1
        0x00, 0x00, 0x00, 0x00, // timestamp
        0x00, 0x00, 0x00, 0x01, // SSRC
        0x11, 0x22, // payload
        0x00, 0x00, 0x03, // 3 bytes of padding, count included
    ];
    let p = RtpPacket::new_checked(&buf).unwrap();
    assert!(p.padding());
    assert_eq!(p.padding_len(), 3);
    assert_eq!(p.payload(), &[0x11, 0x22]);
}

#[test]
fn padding_edge_cases() {
    let header = [
        0xA0, 0x60, 0x00, 0x01, // V=2 P=1
        0x00, 0x00, 0x00, 0x00, // timestamp
        0x00, 0x00, 0x00, 0x01, // SSRC
    ];
    let with = |tail: &[u8]| {
        let mut v = header.to_vec();
        v.extend_from_slice(tail);
        v
    };
    // The whole body is padding: empty payload.
    let all = with(&[0, 0, 0, 4]);
    let p = RtpPacket::new_checked(&all).unwrap();
    assert_eq!(p.padding_len(), 4);
    assert!(p.payload().is_empty());
    // A single padding byte counting itself.
    let one = with(&[9, 1]);
    assert_eq!(RtpPacket::new_checked(&one).unwrap().payload(), &[9]);
    // Count 0 is invalid: the count byte is itself padding.
    assert_eq!(
        RtpPacket::new_checked(&with(&[9, 0])),
        Err(RtpError::ZeroPadding)
    );
    // Count larger than the bytes after the header.
    assert_eq!(
        RtpPacket::new_checked(&with(&[9, 3])),
        Err(RtpError::PaddingOverflow {
            count: 3,
            available: 2
        })
    );
    // P set but nothing after the header: no count byte of its own.
    assert_eq!(
        RtpPacket::new_checked(&header),
        Err(RtpError::PaddingOverflow {
            count: 0,
            available: 0
        })
    );
    // Padding may not eat into the extension.
    let mut ext = with(&[]);
    ext[0] |= 0x10; // X=1
    ext.extend_from_slice(&[0xBE, 0xDE, 0x00, 0x00, 0x05]);
    assert_eq!(
        RtpPacket::new_checked(&ext),
        Err(RtpError::PaddingOverflow {
            count: 5,
            available: 1
        })
    );
}

#[test]
fn bad_version() {
    for v in [0u8, 1, 3] {
        let mut buf = BASIC;
        buf[0] = v << 6;
        assert_eq!(RtpPacket::new_checked(&buf), Err(RtpError::BadVersion(v)));
    }
}

#[test]
fn too_short() {
    for len in 0..12 {
        assert_eq!(
            RtpPacket::new_checked(&BASIC[..len]),
            Err(RtpError::TooShort)
        );
    }
}

#[test]
fn no_input_panics() {
    // Every prefix and every first-byte value of a packet with all features.
    let mut buf = WITH_EXTENSION.to_vec();
    buf[0] |= 0x20;
    buf.extend_from_slice(&[0, 2]);
    for first in 0..=255u8 {
        buf[0] = first;
        for len in 0..=buf.len() {
            if let Ok(p) = RtpPacket::new_checked(&buf[..len]) {
                let _ = (p.csrcs().count(), p.extension_data(), p.payload());
                let _ = p.extension_elements().count();
                assert!(p.header_len() + p.padding_len() <= len);
            }
        }
    }
}

#[test]
fn writer_round_trip() {
    for hdr in [
        RtpHeader {
            marker: true,
            payload_type: 111,
            sequence_number: 65535,
            timestamp: u32::MAX,
            ssrc: 0xDEAD_BEEF,
        },
        RtpHeader::default(),
    ] {
        let mut out = vec![0xEE]; // appends, not overwrites
        hdr.write(&mut out);
        assert_eq!(out.len(), 13);
        let p = RtpPacket::new_checked(&out[1..]).unwrap();
        assert_eq!(p.version(), 2);
        assert!(!p.padding() && !p.extension());
        assert_eq!(p.csrc_count(), 0);
        assert_eq!(p.marker(), hdr.marker);
        assert_eq!(p.payload_type(), hdr.payload_type);
        assert_eq!(p.sequence_number(), hdr.sequence_number);
        assert_eq!(p.timestamp(), hdr.timestamp);
        assert_eq!(p.ssrc(), hdr.ssrc);
    }
    // An out-of-range payload type cannot set the marker bit.
    let mut out = Vec::new();
    RtpHeader {
        payload_type: 0xFF,
        ..RtpHeader::default()
    }
    .write(&mut out);
    let p = RtpPacket::new_checked(&out).unwrap();
    assert!(!p.marker());
    assert_eq!(p.payload_type(), 0x7F);
}
