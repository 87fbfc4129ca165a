//! Demultiplexing of one UDP port shared by several protocols (RFC 7983, RFC 5761).
//!
//! WebRTC and most softphones multiplex STUN, DTLS, TURN channel data, ZRTP, RTP and RTCP
//! on one 5-tuple. RFC 7983 §7 tells them apart by the first byte of the UDP payload:
//!
//! ```text
//!              +----------------+
//!              |        [0..3] -+--> STUN
//!              |      [16..19] -+--> ZRTP
//!  packet -->  |      [20..63] -+--> DTLS
//!              |      [64..79] -+--> TURN channel
//!              |    [128..191] -+--> RTP / RTCP
//!              +----------------+
//! ```
//!
//! RTP and RTCP are then told apart by the second byte (RFC 5761 §4): RTCP packet types
//! 192..=223 would be RTP payload types 64..=95 with the marker bit set, which RTP
//! profiles avoid for exactly this reason.
//!
//! [`classify`] is only a cheap first cut: it looks at a few bytes and the length. Full
//! validity comes from the views ([`super::rtp::RtpPacket`], [`super::rtcp::Compound`]).

/// STUN magic cookie (RFC 5389 §6), at bytes 4..8 of every STUN message.
const STUN_MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];

/// ZRTP magic cookie `"ZRTP"` (RFC 6189 §5), at bytes 4..8 of every ZRTP packet.
const ZRTP_MAGIC_COOKIE: [u8; 4] = *b"ZRTP";

/// Smallest STUN message: the 20-byte header.
const STUN_MIN_LEN: usize = 20;

/// Smallest ZRTP packet we accept: its 12-byte header (version, sequence, cookie, SSRC).
const ZRTP_MIN_LEN: usize = 12;

/// Smallest DTLS record: the 13-byte record header.
const DTLS_MIN_LEN: usize = 13;

/// Smallest TURN ChannelData message: channel number and length.
const TURN_CHANNEL_MIN_LEN: usize = 4;

/// Smallest RTCP packet: the 4-byte common header.
const RTCP_MIN_LEN: usize = 4;

/// Smallest RTP packet: the 12-byte fixed header.
const RTP_MIN_LEN: usize = 12;

/// What a UDP payload looks like, going by its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PayloadClass {
    /// RTP (first byte 128..=191, second byte not an RTCP packet type).
    Rtp,
    /// RTCP (first byte 128..=191, second byte 192..=223).
    Rtcp,
    /// STUN (first byte 0..=3 and the magic cookie present).
    Stun,
    /// DTLS record (first byte 20..=63).
    Dtls,
    /// TURN ChannelData (first byte 64..=79).
    TurnChannel,
    /// ZRTP (first byte 16..=19 and the `"ZRTP"` cookie present).
    Zrtp,
    /// Anything else, including payloads too short for the class their first byte
    /// suggests.
    Other,
}

/// Classifies a UDP payload by its first byte (RFC 7983) and, for RTP/RTCP, its second
/// byte (RFC 5761).
///
/// STUN and ZRTP also need their magic cookie, since their first-byte ranges are narrow
/// and easily hit by noise; every class needs at least its minimal header length.
pub fn classify(udp_payload: &[u8]) -> PayloadClass {
    let Some(&first) = udp_payload.first() else {
        return PayloadClass::Other;
    };
    let len = udp_payload.len();
    let cookie = udp_payload.get(4..8);
    match first {
        0..=3 if len >= STUN_MIN_LEN && cookie == Some(&STUN_MAGIC_COOKIE[..]) => {
            PayloadClass::Stun
        }
        16..=19 if len >= ZRTP_MIN_LEN && cookie == Some(&ZRTP_MAGIC_COOKIE[..]) => {
            PayloadClass::Zrtp
        }
        20..=63 if len >= DTLS_MIN_LEN => PayloadClass::Dtls,
        64..=79 if len >= TURN_CHANNEL_MIN_LEN => PayloadClass::TurnChannel,
        128..=191 => match udp_payload.get(1) {
            Some(192..=223) if len >= RTCP_MIN_LEN => PayloadClass::Rtcp,
            Some(192..=223) => PayloadClass::Other,
            _ if len >= RTP_MIN_LEN => PayloadClass::Rtp,
            _ => PayloadClass::Other,
        },
        _ => PayloadClass::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_prefix(prefix: &[u8], len: usize) -> Vec<u8> {
        let mut v = prefix.to_vec();
        v.resize(len, 0);
        v
    }

    #[test]
    fn stun() {
        // Binding request: type 0x0001, length 0, cookie, transaction id.
        let req = with_prefix(&[0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42], 20);
        assert_eq!(classify(&req), PayloadClass::Stun);
        // Binding success response starts 0x01.
        let resp = with_prefix(&[0x01, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42], 20);
        assert_eq!(classify(&resp), PayloadClass::Stun);
        // Too short for a STUN header.
        assert_eq!(classify(&req[..19]), PayloadClass::Other);
        // No magic cookie (RFC 3489 classic STUN or noise).
        let no_cookie = with_prefix(&[0x00, 0x01], 20);
        assert_eq!(classify(&no_cookie), PayloadClass::Other);
    }

    #[test]
    fn zrtp() {
        // Version 0001 + flags, sequence, "ZRTP", SSRC, then a message.
        let zrtp = with_prefix(&[0x10, 0x00, 0x00, 0x01, b'Z', b'R', b'T', b'P'], 28);
        assert_eq!(classify(&zrtp), PayloadClass::Zrtp);
        assert_eq!(classify(&zrtp[..11]), PayloadClass::Other);
        let no_cookie = with_prefix(&[0x10], 28);
        assert_eq!(classify(&no_cookie), PayloadClass::Other);
    }

    #[test]
    fn dtls() {
        // Handshake record: content type 22, version DTLS 1.2 (0xFEFD), epoch, seq, len.
        let rec = with_prefix(&[22, 0xFE, 0xFD], 13);
        assert_eq!(classify(&rec), PayloadClass::Dtls);
        assert_eq!(classify(&rec[..12]), PayloadClass::Other);
        assert_eq!(classify(&with_prefix(&[20], 13)), PayloadClass::Dtls);
        assert_eq!(classify(&with_prefix(&[63], 13)), PayloadClass::Dtls);
    }

    #[test]
    fn turn_channel() {
        // Channel 0x4000, length 0.
        assert_eq!(
            classify(&[0x40, 0x00, 0x00, 0x00]),
            PayloadClass::TurnChannel
        );
        assert_eq!(classify(&with_prefix(&[79], 8)), PayloadClass::TurnChannel);
        assert_eq!(classify(&[0x40, 0x00, 0x00]), PayloadClass::Other);
    }

    #[test]
    fn rtp_and_rtcp() {
        // RR header: V=2, PT=201, length 1.
        let rr = [0x80, 0xC9, 0x00, 0x01, 0, 0, 0, 1];
        assert_eq!(classify(&rr), PayloadClass::Rtcp);
        // RTCP packet types 192 and 223 bound the RFC 5761 range.
        assert_eq!(classify(&[0x80, 192, 0, 0]), PayloadClass::Rtcp);
        assert_eq!(classify(&[0x81, 223, 0, 0]), PayloadClass::Rtcp);
        assert_eq!(classify(&[0x80, 0xC9, 0x00]), PayloadClass::Other);
        // RTP PT 96 with and without marker; PT 63 with marker (second byte 191).
        for second in [96u8, 96 | 0x80, 191, 224] {
            let rtp = with_prefix(&[0x80, second], 12);
            assert_eq!(classify(&rtp), PayloadClass::Rtp, "second byte {second}");
            assert_eq!(classify(&rtp[..11]), PayloadClass::Other);
        }
        // The whole first-byte range 128..=191 (padding, extension, CSRC bits).
        assert_eq!(classify(&with_prefix(&[191, 0], 12)), PayloadClass::Rtp);
    }

    #[test]
    fn other() {
        assert_eq!(classify(&[]), PayloadClass::Other);
        for first in (4..16).chain(80..128).chain(192..=255) {
            let v = with_prefix(&[first, 0, 0, 0, 0x21, 0x12, 0xA4, 0x42], 64);
            assert_eq!(classify(&v), PayloadClass::Other, "first byte {first}");
        }
    }

    #[test]
    fn every_short_input_is_classified_without_panic() {
        for first in 0..=255u8 {
            for len in 0..24 {
                let v = with_prefix(&[first, 0xC8], len.max(1));
                let _ = classify(&v[..len]);
            }
        }
    }
}
