//! TCP segments, for SIP over TCP (RFC 3261 §18.3).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Source Port          |       Destination Port        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                        Sequence Number                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Acknowledgment Number                      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Data |       |C|E|U|A|P|R|S|F|                               |
//! | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Checksum            |         Urgent Pointer        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Options (Data Offset > 5)                  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! [`decode_tcp`] shares the link and IP layers with [`super::link::decode_udp`] (the same
//! VLAN, PPPoE, cooked and loopback handling, the same IPv6 extension-header walk,
//! monomorphised per transport) and adds only the TCP header. The RTP path never calls it: media is UDP, and SIP over TCP
//! is a few messages per call.

use std::net::{IpAddr, SocketAddr};

use super::link::{decode_ip, LinkError, Transport, IPPROTO_TCP};
use crate::capture::LinkType;

/// Length of the TCP header without options.
const TCP_MIN_HEADER_LEN: usize = 20;

/// Why a frame yielded no TCP segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TcpDecodeError {
    /// The link or IP layer did not yield a transport payload.
    #[error(transparent)]
    Link(LinkError),
    /// The IP packet carries another protocol.
    #[error("not a tcp segment")]
    NotTcp,
    /// The capture ends inside the TCP header.
    #[error("tcp header cut short")]
    Truncated,
    /// A data offset below 5 words or beyond the segment.
    #[error("invalid tcp header")]
    BadHeader,
}

impl From<LinkError> for TcpDecodeError {
    fn from(e: LinkError) -> Self {
        TcpDecodeError::Link(e)
    }
}

/// The control bits of a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// FIN: the sender has no more data.
    pub const FIN: u8 = 0x01;
    /// SYN: the first segment of a direction; its sequence number is the ISN.
    pub const SYN: u8 = 0x02;
    /// RST: the connection is aborted.
    pub const RST: u8 = 0x04;

    /// True when `bit` is set.
    #[inline]
    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
}

/// A TCP segment found in a captured frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// Sequence number of the first payload byte (of the SYN itself when SYN is set).
    pub seq: u32,
    /// Control bits.
    pub flags: TcpFlags,
    /// The payload as captured: fewer bytes than [`TcpSegment::payload_len`] when the
    /// capture's snap length cut the frame.
    pub payload: &'a [u8],
    /// The payload's real size, from the IP length.
    pub payload_len: usize,
}

/// Decodes a captured frame of the given link type down to its TCP segment.
pub fn decode_tcp(link_type: LinkType, frame: &[u8]) -> Result<TcpSegment<'_>, TcpDecodeError> {
    decode_ip::<Tcp>(link_type, frame)
}

/// The TCP end of the shared IP walk.
struct Tcp;

impl<'a> Transport<'a> for Tcp {
    const PROTOCOL: u8 = IPPROTO_TCP;
    type Output = TcpSegment<'a>;
    type Error = TcpDecodeError;

    fn other_protocol() -> TcpDecodeError {
        TcpDecodeError::NotTcp
    }

    fn read(
        src: IpAddr,
        dst: IpAddr,
        l4: &'a [u8],
        claimed: usize,
    ) -> Result<TcpSegment<'a>, TcpDecodeError> {
        let header: &[u8; TCP_MIN_HEADER_LEN] = l4
            .get(..TCP_MIN_HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(TcpDecodeError::Truncated)?;
        let be16 = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]);
        let header_len = usize::from(header[12] >> 4) * 4;
        if header_len < TCP_MIN_HEADER_LEN || header_len > claimed {
            return Err(TcpDecodeError::BadHeader);
        }
        let payload = l4.get(header_len..).ok_or(TcpDecodeError::Truncated)?;
        Ok(TcpSegment {
            src: SocketAddr::new(src, be16(0)),
            dst: SocketAddr::new(dst, be16(2)),
            seq: u32::from_be_bytes([header[4], header[5], header[6], header[7]]),
            flags: TcpFlags(header[13]),
            payload,
            payload_len: claimed - header_len,
        })
    }
}

/// Builds an Ethernet + IPv4 + TCP frame (no options, checksums zero: the decoder does
/// not verify them), for tests and the fuzz seeds.
pub fn write_tcp_frame_v4(
    src: std::net::SocketAddrV4,
    dst: std::net::SocketAddrV4,
    seq: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let total = 20 + TCP_MIN_HEADER_LEN + payload.len();
    let mut f = Vec::with_capacity(14 + total);
    f.extend_from_slice(&super::link::BUILDER_DST_MAC);
    f.extend_from_slice(&super::link::BUILDER_SRC_MAC);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    // IPv4: version/IHL, DSCP, total length (saturated: a test never needs more),
    // id, flags/offset, TTL, protocol, checksum.
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&u16::try_from(total).unwrap_or(u16::MAX).to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x40, 0, 64, IPPROTO_TCP, 0, 0]);
    f.extend_from_slice(&src.ip().octets());
    f.extend_from_slice(&dst.ip().octets());
    f.extend_from_slice(&src.port().to_be_bytes());
    f.extend_from_slice(&dst.port().to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&0u32.to_be_bytes()); // ack
    f.extend_from_slice(&[0x50, flags]); // data offset 5 words
    f.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]); // window, checksum, urgent
    f.extend_from_slice(payload);
    f
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::net::SocketAddrV4;

    fn addrs() -> (SocketAddrV4, SocketAddrV4) {
        (
            "192.0.2.1:40000".parse().unwrap(),
            "192.0.2.2:5060".parse().unwrap(),
        )
    }

    #[test]
    fn a_built_segment_decodes_to_its_fields() {
        let (a, b) = addrs();
        let frame = write_tcp_frame_v4(a, b, 0xfffffff0, TcpFlags::SYN, b"INVITE");
        let s = decode_tcp(LinkType::Ethernet, &frame).unwrap();
        assert_eq!(s.src, SocketAddr::V4(a));
        assert_eq!(s.dst, SocketAddr::V4(b));
        assert_eq!(s.seq, 0xfffffff0);
        assert!(s.flags.has(TcpFlags::SYN) && !s.flags.has(TcpFlags::FIN));
        assert_eq!(s.payload, b"INVITE");
        assert_eq!(s.payload_len, 6);
    }

    #[test]
    fn a_udp_frame_is_not_tcp_and_a_bad_offset_is_refused() {
        let (a, b) = addrs();
        let mut udp = Vec::new();
        crate::wire::link::write_udp_frame(
            &mut udp,
            LinkType::Ethernet,
            SocketAddr::V4(a),
            SocketAddr::V4(b),
            b"x",
        )
        .unwrap();
        assert_eq!(
            decode_tcp(LinkType::Ethernet, &udp),
            Err(TcpDecodeError::NotTcp)
        );
        let mut frame = write_tcp_frame_v4(a, b, 1, 0, b"abc");
        frame[14 + 20 + 12] = 0x40; // 4 words: below the fixed header
        assert_eq!(
            decode_tcp(LinkType::Ethernet, &frame),
            Err(TcpDecodeError::BadHeader)
        );
        frame[14 + 20 + 12] = 0xf0; // 60 bytes: beyond the 23-byte segment
        assert_eq!(
            decode_tcp(LinkType::Ethernet, &frame),
            Err(TcpDecodeError::BadHeader)
        );
    }

    #[test]
    fn every_prefix_of_a_segment_decodes_or_errs_without_panic() {
        let (a, b) = addrs();
        let frame = write_tcp_frame_v4(a, b, 7, 0, b"SIP/2.0 200 OK\r\n\r\n");
        for cut in 0..=frame.len() {
            match decode_tcp(LinkType::Ethernet, &frame[..cut]) {
                Ok(s) => assert!(s.payload.len() <= s.payload_len),
                Err(_) => assert!(cut < 14 + 40),
            }
        }
    }
}
