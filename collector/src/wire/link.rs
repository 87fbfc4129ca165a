//! Link layer down to UDP.
//!
//! [`decode_udp`] peels a captured frame down to its UDP datagram: Ethernet II with any
//! stack of 802.1Q / 802.1ad tags and PPPoE sessions, Linux cooked captures (SLL, SLL2),
//! raw IP, and BSD loopback. The fixed headers are read through `pnet_packet` views;
//! everything whose length comes from the packet itself is sliced here with checked
//! bounds, so no input can make it panic.
//!
//! Deliberate limits:
//! - IP fragments are reported as [`LinkError::Fragment`], not reassembled: RTP media
//!   is sent in datagrams below the path MTU, and reassembly would need per-flow state in
//!   what is otherwise a pure function.
//! - Checksums are not verified: captures taken on a sending host usually carry
//!   not-yet-computed checksums (offloaded to the NIC), and a media analyser would
//!   rather count those packets than drop them.
//! - A frame cut by the capture's snap length is not an error as long as the 8-byte UDP
//!   header survived: the payload is what was captured and
//!   [`UdpDatagram::payload_len`] is the real size from the UDP header.
//!
//! [`write_udp_frame`] builds frames the decoder accepts, for the traffic generator and
//! the tests.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use pnet_packet::ethernet::EthernetPacket;
use pnet_packet::ipv4::{Ipv4Flags, Ipv4Packet};
use pnet_packet::ipv6::Ipv6Packet;
use pnet_packet::udp::UdpPacket;

use super::bytes::{read_be16, read_be32};
use crate::capture::LinkType;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
/// 802.1Q customer tag.
const ETHERTYPE_VLAN: u16 = 0x8100;
/// 802.1ad service tag (QinQ outer tag).
const ETHERTYPE_QINQ: u16 = 0x88a8;
/// Pre-standard QinQ outer tag still used by some switches.
const ETHERTYPE_QINQ_LEGACY: u16 = 0x9100;
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;

/// Deepest tag stack we walk. Real networks use one or two; the bound keeps a frame made
/// of nothing but tags from being walked byte by byte.
const MAX_VLAN_TAGS: usize = 8;

const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;

const IPPROTO_HOPOPTS: u8 = 0;
pub(crate) const IPPROTO_UDP: u8 = 17;
pub(crate) const IPPROTO_TCP: u8 = 6;
const IPPROTO_ROUTING: u8 = 43;
const IPPROTO_FRAGMENT: u8 = 44;
const IPPROTO_DSTOPTS: u8 = 60;

/// BSD address families as they appear in `LINKTYPE_NULL` / `LINKTYPE_LOOP` headers.
const AF_INET: u32 = 2;
/// AF_INET6 is 24 on NetBSD/OpenBSD, 28 on FreeBSD, 30 on macOS.
const AF_INET6_BSD: u32 = 24;
const AF_INET6_FREEBSD: u32 = 28;
const AF_INET6_DARWIN: u32 = 30;

const ETHERNET_HEADER_LEN: usize = 14;
const SLL_HEADER_LEN: usize = 16;
const SLL2_HEADER_LEN: usize = 20;
const IPV4_MIN_HEADER_LEN: usize = 20;
const IPV6_HEADER_LEN: usize = 40;
const UDP_HEADER_LEN: usize = 8;

/// A UDP datagram found in a captured frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpDatagram<'a> {
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// The payload as captured: at most what the UDP length says, fewer bytes if the
    /// capture's snap length cut the frame.
    pub payload: &'a [u8],
    /// The payload's real size, from the UDP length field (minus its 8-byte header).
    pub payload_len: usize,
}

/// The protocol layer a [`LinkError`] refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layer {
    /// The link-layer header (Ethernet, SLL, SLL2, loopback).
    Link,
    /// An 802.1Q / 802.1ad tag.
    Vlan,
    /// The PPPoE session header and PPP protocol field.
    Pppoe,
    /// The IPv4 header.
    Ipv4,
    /// The IPv6 header or an extension header.
    Ipv6,
    /// The UDP header.
    Udp,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Link => "link-layer",
            Layer::Vlan => "vlan",
            Layer::Pppoe => "pppoe",
            Layer::Ipv4 => "ipv4",
            Layer::Ipv6 => "ipv6",
            Layer::Udp => "udp",
        })
    }
}

/// Why a frame yielded no UDP datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum LinkError {
    /// The frame ends inside a header we need.
    #[error("{layer} header cut short")]
    Truncated {
        /// Where it ends.
        layer: Layer,
    },
    /// The capture's link type is not one we decode.
    #[error("unsupported link type")]
    UnsupportedLinkType,
    /// The frame carries something other than IPv4 or IPv6 (ARP, LLDP, ...).
    #[error("not an ip packet")]
    NotIp,
    /// The IP packet carries something other than UDP.
    #[error("not a udp datagram")]
    NotUdp,
    /// An IP fragment; fragments are not reassembled.
    #[error("ip fragment (not reassembled)")]
    Fragment,
    /// A header field that cannot be right (bad version, lengths that contradict).
    #[error("invalid {layer} header")]
    BadHeader {
        /// Which header.
        layer: Layer,
    },
}

impl LinkError {
    /// `true` for a broken packet ([`LinkError::Truncated`], [`LinkError::BadHeader`]),
    /// `false` for ordinary traffic that just isn't unfragmented UDP.
    pub fn is_malformed(&self) -> bool {
        matches!(
            self,
            LinkError::Truncated { .. } | LinkError::BadHeader { .. }
        )
    }
}

/// An IP packet located in a frame, not parsed yet.
pub(crate) enum Ip<'a> {
    V4(&'a [u8]),
    V6(&'a [u8]),
}

/// A transport protocol the IP walk ends at: UDP here, TCP in [`super::tcp`]. The walk
/// (IPv4 header, IPv6 extension headers, fragments) is written once and monomorphised
/// per protocol, so the UDP path compiles exactly as it did before TCP shared it.
pub(crate) trait Transport<'a> {
    /// The IP protocol number.
    const PROTOCOL: u8;
    /// What a decoded packet is.
    type Output;
    /// The decoder's error, which the link and IP errors convert into.
    type Error: From<LinkError>;
    /// The error for a packet of another protocol.
    fn other_protocol() -> Self::Error;
    /// Reads the transport header: `l4` is the IP payload as captured (bounded by the IP
    /// length), `claimed` the IP payload length the IP header states.
    fn read(
        src: IpAddr,
        dst: IpAddr,
        l4: &'a [u8],
        claimed: usize,
    ) -> Result<Self::Output, Self::Error>;
}

/// The UDP end of the IP walk.
struct Udp;

impl<'a> Transport<'a> for Udp {
    const PROTOCOL: u8 = IPPROTO_UDP;
    type Output = UdpDatagram<'a>;
    type Error = LinkError;

    fn other_protocol() -> LinkError {
        LinkError::NotUdp
    }

    #[inline]
    fn read(
        src: IpAddr,
        dst: IpAddr,
        l4: &'a [u8],
        claimed: usize,
    ) -> Result<UdpDatagram<'a>, LinkError> {
        udp(src, dst, l4, claimed)
    }
}

/// Decodes a captured frame of the given link type down to its UDP datagram.
///
/// See the module documentation for what is and isn't accepted.
pub fn decode_udp(link_type: LinkType, frame: &[u8]) -> Result<UdpDatagram<'_>, LinkError> {
    if link_type == LinkType::Ethernet {
        if let Some(datagram) = ethernet_ipv4_udp(frame) {
            return Ok(datagram);
        }
    }
    decode_ip::<Udp>(link_type, frame)
}

/// Decodes a frame down to the transport `T` (the general path, with every link type).
#[inline]
pub(crate) fn decode_ip<'a, T: Transport<'a>>(
    link_type: LinkType,
    frame: &'a [u8],
) -> Result<T::Output, T::Error> {
    match locate_ip(link_type, frame)? {
        Ip::V4(b) => ipv4::<T>(b),
        Ip::V6(b) => ipv6::<T>(b),
    }
}

/// Peels the link layer (and VLAN tags, PPPoE) off a frame down to its IP packet.
#[inline]
pub(crate) fn locate_ip(link_type: LinkType, frame: &[u8]) -> Result<Ip<'_>, LinkError> {
    const LINK_CUT: LinkError = LinkError::Truncated { layer: Layer::Link };
    Ok(match link_type {
        LinkType::Ethernet => {
            let eth = EthernetPacket::new(frame).ok_or(LINK_CUT)?;
            let rest = frame.get(ETHERNET_HEADER_LEN..).ok_or(LINK_CUT)?;
            by_ethertype(eth.get_ethertype().0, rest)?
        }
        LinkType::LinuxSll => {
            // packet type, ARPHRD type, address length, 8 address bytes, protocol.
            let proto = read_be16(frame, 14).ok_or(LINK_CUT)?;
            by_ethertype(proto, frame.get(SLL_HEADER_LEN..).ok_or(LINK_CUT)?)?
        }
        LinkType::LinuxSll2 => {
            // protocol first, then reserved, ifindex, ARPHRD, packet type, address.
            let proto = read_be16(frame, 0).ok_or(LINK_CUT)?;
            by_ethertype(proto, frame.get(SLL2_HEADER_LEN..).ok_or(LINK_CUT)?)?
        }
        LinkType::RawIp => match frame.first().map(|b| b >> 4) {
            Some(4) => Ip::V4(frame),
            Some(6) => Ip::V6(frame),
            Some(_) => return Err(LinkError::NotIp),
            None => return Err(LINK_CUT),
        },
        LinkType::Ipv4 => Ip::V4(frame),
        LinkType::Ipv6 => Ip::V6(frame),
        LinkType::Null => {
            // Host byte order of the capturing machine, which we don't know. Family
            // numbers are small, so a value above 0xffff was written the other way.
            let raw = frame.get(..4).ok_or(LINK_CUT)?;
            let le = u32::from_le_bytes(raw.try_into().map_err(|_| LINK_CUT)?);
            let af = if le > 0xffff { le.swap_bytes() } else { le };
            by_address_family(af, frame.get(4..).ok_or(LINK_CUT)?)?
        }
        LinkType::Loop => {
            let af = read_be32(frame, 0).ok_or(LINK_CUT)?;
            by_address_family(af, frame.get(4..).ok_or(LINK_CUT)?)?
        }
        LinkType::Other(_) => return Err(LinkError::UnsupportedLinkType),
    })
}

/// The common frame in one pass over fixed offsets: Ethernet II, IPv4 without options,
/// not a fragment, UDP whose length fits the IP packet, at least the 42 header bytes
/// captured. `None` for anything else (and for every error), which then takes the general
/// path; for the frames this accepts, the general path would return the same datagram.
#[inline]
fn ethernet_ipv4_udp(frame: &[u8]) -> Option<UdpDatagram<'_>> {
    const IP: usize = ETHERNET_HEADER_LEN;
    const UDP: usize = IP + IPV4_MIN_HEADER_LEN;
    let h: &[u8; UDP + UDP_HEADER_LEN] = frame.get(..UDP + UDP_HEADER_LEN)?.try_into().ok()?;
    let be = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
    // EtherType IPv4, version 4 with a 20-byte header, no MF flag nor offset, UDP.
    if be(12) != ETHERTYPE_IPV4
        || h[IP] != 0x45
        || be(IP + 6) & 0x3fff != 0
        || h[IP + 9] != IPPROTO_UDP
    {
        return None;
    }
    let total_len = usize::from(be(IP + 2));
    let udp_len = usize::from(be(UDP + 4));
    if total_len < IPV4_MIN_HEADER_LEN + UDP_HEADER_LEN
        || udp_len < UDP_HEADER_LEN
        || udp_len > total_len - IPV4_MIN_HEADER_LEN
    {
        return None;
    }
    // The total length, not the frame, ends the packet: Ethernet pads short frames.
    let end = (IP + total_len).min(frame.len());
    let l4 = frame.get(UDP..end)?;
    let ip = |i: usize| Ipv4Addr::new(h[i], h[i + 1], h[i + 2], h[i + 3]);
    Some(UdpDatagram {
        src: SocketAddr::new(IpAddr::V4(ip(IP + 12)), be(UDP)),
        dst: SocketAddr::new(IpAddr::V4(ip(IP + 16)), be(UDP + 2)),
        payload: l4.get(UDP_HEADER_LEN..udp_len.min(l4.len())).unwrap_or(&[]),
        payload_len: udp_len - UDP_HEADER_LEN,
    })
}

/// Follows an EtherType through VLAN tags and PPPoE to the IP packet.
fn by_ethertype(mut ethertype: u16, mut rest: &[u8]) -> Result<Ip<'_>, LinkError> {
    let mut tags = 0;
    loop {
        match ethertype {
            ETHERTYPE_IPV4 => return Ok(Ip::V4(rest)),
            ETHERTYPE_IPV6 => return Ok(Ip::V6(rest)),
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_LEGACY => {
                tags += 1;
                if tags > MAX_VLAN_TAGS {
                    return Err(LinkError::BadHeader { layer: Layer::Vlan });
                }
                // Tag control information (2 bytes), then the inner EtherType.
                let cut = LinkError::Truncated { layer: Layer::Vlan };
                ethertype = read_be16(rest, 2).ok_or(cut)?;
                rest = rest.get(4..).ok_or(cut)?;
            }
            ETHERTYPE_PPPOE_SESSION => return pppoe(rest),
            // Includes 802.3 length fields (< 0x0600): LLC frames, never IP here.
            _ => return Err(LinkError::NotIp),
        }
    }
}

/// PPPoE session stage (RFC 2516): version/type 0x11, code 0, session id, length, then
/// the PPP protocol field.
fn pppoe(b: &[u8]) -> Result<Ip<'_>, LinkError> {
    let cut = LinkError::Truncated {
        layer: Layer::Pppoe,
    };
    let bad = LinkError::BadHeader {
        layer: Layer::Pppoe,
    };
    let (&ver_type, &code) = (b.first().ok_or(cut)?, b.get(1).ok_or(cut)?);
    if ver_type != 0x11 || code != 0 {
        return Err(bad);
    }
    // The length counts the PPP protocol field and what follows it.
    let len = usize::from(read_be16(b, 4).ok_or(cut)?);
    if len < 2 {
        return Err(bad);
    }
    let proto = read_be16(b, 6).ok_or(cut)?;
    // Bound by the PPPoE length (drops Ethernet padding) or by what was captured.
    let end = (6 + len).min(b.len());
    let payload = b.get(8..end).unwrap_or(&[]);
    match proto {
        PPP_IPV4 => Ok(Ip::V4(payload)),
        PPP_IPV6 => Ok(Ip::V6(payload)),
        _ => Err(LinkError::NotIp),
    }
}

fn by_address_family(af: u32, rest: &[u8]) -> Result<Ip<'_>, LinkError> {
    match af {
        AF_INET => Ok(Ip::V4(rest)),
        AF_INET6_BSD | AF_INET6_FREEBSD | AF_INET6_DARWIN => Ok(Ip::V6(rest)),
        _ => Err(LinkError::NotIp),
    }
}

fn ipv4<'a, T: Transport<'a>>(b: &'a [u8]) -> Result<T::Output, T::Error> {
    let bad = LinkError::BadHeader { layer: Layer::Ipv4 };
    // Version first: a short packet of another version is mislabelled, not cut.
    if b.first().is_some_and(|v| v >> 4 != 4) {
        return Err(bad.into());
    }
    let ip = Ipv4Packet::new(b).ok_or(LinkError::Truncated { layer: Layer::Ipv4 })?;
    let header_len = usize::from(ip.get_header_length()) * 4;
    let total_len = usize::from(ip.get_total_length());
    if header_len < IPV4_MIN_HEADER_LEN || total_len < header_len {
        return Err(bad.into());
    }
    if ip.get_flags() & Ipv4Flags::MoreFragments != 0 || ip.get_fragment_offset() != 0 {
        return Err(LinkError::Fragment.into());
    }
    if ip.get_next_level_protocol().0 != T::PROTOCOL {
        return Err(T::other_protocol());
    }
    // The total length, not the frame, ends the packet: Ethernet pads short frames.
    let end = total_len.min(b.len());
    let l4 = b
        .get(header_len..end)
        .ok_or(LinkError::Truncated { layer: Layer::Ipv4 })?;
    T::read(
        IpAddr::V4(ip.get_source()),
        IpAddr::V4(ip.get_destination()),
        l4,
        total_len - header_len,
    )
}

fn ipv6<'a, T: Transport<'a>>(b: &'a [u8]) -> Result<T::Output, T::Error> {
    if b.first().is_some_and(|v| v >> 4 != 6) {
        return Err(LinkError::BadHeader { layer: Layer::Ipv6 }.into());
    }
    let ip = Ipv6Packet::new(b).ok_or(LinkError::Truncated { layer: Layer::Ipv6 })?;
    let claimed_end = IPV6_HEADER_LEN + usize::from(ip.get_payload_length());
    // `n` more bytes from the start of the packet are needed: beyond the payload
    // length the packet contradicts itself, beyond the capture it was cut.
    let need = |n: usize| {
        if n > claimed_end {
            Err(LinkError::BadHeader { layer: Layer::Ipv6 })
        } else if n > b.len() {
            Err(LinkError::Truncated { layer: Layer::Ipv6 })
        } else {
            Ok(())
        }
    };
    let mut next = ip.get_next_header().0;
    let mut pos = IPV6_HEADER_LEN;
    // Every extension header is at least 8 bytes, so this ends within 8 KiB of steps.
    while next != T::PROTOCOL {
        match next {
            IPPROTO_HOPOPTS | IPPROTO_ROUTING | IPPROTO_DSTOPTS => {
                need(pos + 2)?;
                let (Some(&nh), Some(&units)) = (b.get(pos), b.get(pos + 1)) else {
                    return Err(LinkError::Truncated { layer: Layer::Ipv6 }.into());
                };
                // Length in 8-byte units, not counting the first 8 bytes.
                let len = (usize::from(units) + 1) * 8;
                need(pos + len)?;
                next = nh;
                pos += len;
            }
            IPPROTO_FRAGMENT => {
                need(pos + 8)?;
                let nh = b.get(pos).copied();
                let offset_flags = read_be16(b, pos + 2);
                let (Some(nh), Some(offset_flags)) = (nh, offset_flags) else {
                    return Err(LinkError::Truncated { layer: Layer::Ipv6 }.into());
                };
                // Offset in the top 13 bits, M flag in the lowest. Offset 0 without M is
                // an atomic fragment (RFC 6946): a whole datagram, so read on.
                if offset_flags >> 3 != 0 || offset_flags & 1 != 0 {
                    return Err(LinkError::Fragment.into());
                }
                next = nh;
                pos += 8;
            }
            // ESP, AH, another transport, ICMPv6, no-next-header, ...
            _ => return Err(T::other_protocol()),
        }
    }
    let end = claimed_end.min(b.len());
    let l4 = b
        .get(pos..end)
        .ok_or(LinkError::Truncated { layer: Layer::Ipv6 })?;
    T::read(
        IpAddr::V6(ip.get_source()),
        IpAddr::V6(ip.get_destination()),
        l4,
        claimed_end - pos,
    )
}

/// `l4` is the IP payload as captured (already bounded by the IP length); `claimed` is
/// the IP payload length the IP header states.
fn udp(src: IpAddr, dst: IpAddr, l4: &[u8], claimed: usize) -> Result<UdpDatagram<'_>, LinkError> {
    let bad = LinkError::BadHeader { layer: Layer::Udp };
    if claimed < UDP_HEADER_LEN {
        return Err(bad);
    }
    let u = UdpPacket::new(l4).ok_or(LinkError::Truncated { layer: Layer::Udp })?;
    let udp_len = usize::from(u.get_length());
    // Shorter than its own header, or longer than the IP packet that carries it. (Shorter
    // than the IP payload is allowed: that is IP-level padding.)
    if udp_len < UDP_HEADER_LEN || udp_len > claimed {
        return Err(bad);
    }
    let payload = l4.get(UDP_HEADER_LEN..udp_len.min(l4.len())).unwrap_or(&[]);
    Ok(UdpDatagram {
        src: SocketAddr::new(src, u.get_source()),
        dst: SocketAddr::new(dst, u.get_destination()),
        payload,
        payload_len: udp_len - UDP_HEADER_LEN,
    })
}

// ---------------------------------------------------------------------------------------
// Builder

/// Source MAC of built Ethernet frames (locally administered, made up).
pub const BUILDER_SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
/// Destination MAC of built Ethernet frames (locally administered, made up).
pub const BUILDER_DST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

/// Largest payload of one IPv4 UDP datagram (65535 - 20 - 8).
pub const MAX_UDP_PAYLOAD_V4: usize = 65_507;
/// Largest payload of one IPv6 UDP datagram without jumbograms (65535 - 8).
pub const MAX_UDP_PAYLOAD_V6: usize = 65_527;

/// Why [`write_udp_frame`] could not build a frame. Nothing is appended in that case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum BuildError {
    /// The link type is [`LinkType::Other`].
    #[error("cannot build frames for this link type")]
    UnsupportedLinkType,
    /// Source and destination are of different address families, or the family is not
    /// the one the link type carries ([`LinkType::Ipv4`], [`LinkType::Ipv6`]).
    #[error("address family mismatch")]
    FamilyMismatch,
    /// More than [`MAX_UDP_PAYLOAD_V4`] / [`MAX_UDP_PAYLOAD_V6`] bytes.
    #[error("payload too large for one udp datagram")]
    PayloadTooLarge,
}

/// Appends one complete frame carrying a UDP datagram from `src` to `dst` to `out`.
///
/// Every [`LinkType`] except `Other` is supported: Ethernet II (MACs
/// [`BUILDER_SRC_MAC`] → [`BUILDER_DST_MAC`], no padding), Linux SLL and SLL2 (an
/// incoming packet on ifindex 1), raw IP, `LINKTYPE_IPV4`/`IPV6`, and Null (little-endian
/// family, AF_INET6 = 24) / Loop. IPv4 gets TTL 64, DF, ID 0 and a correct header
/// checksum; IPv6 hop limit 64; UDP a correct checksum.
///
/// `src` and `dst` must be of the same family (there is no silent v4-mapped conversion):
/// a mixed pair is [`BuildError::FamilyMismatch`]. On any error `out` is left unchanged.
pub fn write_udp_frame(
    out: &mut Vec<u8>,
    link_type: LinkType,
    src: SocketAddr,
    dst: SocketAddr,
    payload: &[u8],
) -> Result<(), BuildError> {
    let (v4, max) = match (src.ip(), dst.ip()) {
        (IpAddr::V4(_), IpAddr::V4(_)) => (true, MAX_UDP_PAYLOAD_V4),
        (IpAddr::V6(_), IpAddr::V6(_)) => (false, MAX_UDP_PAYLOAD_V6),
        _ => return Err(BuildError::FamilyMismatch),
    };
    match (link_type, v4) {
        (LinkType::Other(_), _) => return Err(BuildError::UnsupportedLinkType),
        (LinkType::Ipv4, false) | (LinkType::Ipv6, true) => return Err(BuildError::FamilyMismatch),
        _ => {}
    }
    if payload.len() > max {
        return Err(BuildError::PayloadTooLarge);
    }
    let ethertype = if v4 { ETHERTYPE_IPV4 } else { ETHERTYPE_IPV6 };
    let af = if v4 { AF_INET } else { AF_INET6_BSD };
    match link_type {
        LinkType::Ethernet => {
            out.extend_from_slice(&BUILDER_DST_MAC);
            out.extend_from_slice(&BUILDER_SRC_MAC);
            out.extend_from_slice(&ethertype.to_be_bytes());
        }
        LinkType::LinuxSll => {
            out.extend_from_slice(&0u16.to_be_bytes()); // packet type: to us
            out.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
            out.extend_from_slice(&6u16.to_be_bytes()); // address length
            out.extend_from_slice(&BUILDER_SRC_MAC);
            out.extend_from_slice(&[0, 0]); // address padding to 8
            out.extend_from_slice(&ethertype.to_be_bytes());
        }
        LinkType::LinuxSll2 => {
            out.extend_from_slice(&ethertype.to_be_bytes());
            out.extend_from_slice(&0u16.to_be_bytes()); // reserved
            out.extend_from_slice(&1u32.to_be_bytes()); // interface index
            out.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
            out.push(0); // packet type: to us
            out.push(6); // address length
            out.extend_from_slice(&BUILDER_SRC_MAC);
            out.extend_from_slice(&[0, 0]);
        }
        LinkType::Null => out.extend_from_slice(&af.to_le_bytes()),
        LinkType::Loop => out.extend_from_slice(&af.to_be_bytes()),
        LinkType::RawIp | LinkType::Ipv4 | LinkType::Ipv6 | LinkType::Other(_) => {}
    }
    // Both fit u16: checked against MAX_UDP_PAYLOAD_* above.
    let udp_len = (UDP_HEADER_LEN + payload.len()) as u16;
    let pseudo = match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            write_ipv4_header(out, s, d, udp_len);
            sum_words(&[
                &s.octets(),
                &d.octets(),
                &[0, IPPROTO_UDP],
                &udp_len.to_be_bytes(),
            ])
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            out.extend_from_slice(&0x6000_0000u32.to_be_bytes()); // version 6, class, flow
            out.extend_from_slice(&udp_len.to_be_bytes()); // payload length
            out.push(IPPROTO_UDP); // next header
            out.push(64); // hop limit
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
            let len32 = u32::from(udp_len).to_be_bytes();
            sum_words(&[&s.octets(), &d.octets(), &len32, &[0, 0, 0, IPPROTO_UDP]])
        }
        // Ruled out above.
        _ => 0,
    };
    let mut header = [0u8; UDP_HEADER_LEN];
    header[0..2].copy_from_slice(&src.port().to_be_bytes());
    header[2..4].copy_from_slice(&dst.port().to_be_bytes());
    header[4..6].copy_from_slice(&udp_len.to_be_bytes());
    let sum = pseudo + sum_words(&[&header, payload]);
    // 0 means "no checksum" in UDP, so a computed 0 is sent as its equivalent 0xffff.
    let checksum = match finish_checksum(sum) {
        0 => 0xffff,
        c => c,
    };
    header[6..8].copy_from_slice(&checksum.to_be_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(payload);
    Ok(())
}

fn write_ipv4_header(out: &mut Vec<u8>, src: Ipv4Addr, dst: Ipv4Addr, udp_len: u16) {
    // The caller bounded udp_len to 65535 - 20; saturating only to be panic-free.
    let total = udp_len.saturating_add(IPV4_MIN_HEADER_LEN as u16);
    let mut h = [0u8; IPV4_MIN_HEADER_LEN];
    h[0] = 0x45; // version 4, header length 5 words
    h[2..4].copy_from_slice(&total.to_be_bytes());
    // Identification 0 is fine with DF set (RFC 6864).
    h[6..8].copy_from_slice(&0x4000u16.to_be_bytes()); // DF, offset 0
    h[8] = 64; // TTL
    h[9] = IPPROTO_UDP;
    h[12..16].copy_from_slice(&src.octets());
    h[16..20].copy_from_slice(&dst.octets());
    let checksum = finish_checksum(sum_words(&[&h]));
    h[10..12].copy_from_slice(&checksum.to_be_bytes());
    out.extend_from_slice(&h);
}

/// Sums big-endian 16-bit words of the concatenated parts (each part of even length
/// except possibly the last, which is zero-padded). `u64` cannot overflow for any
/// datagram size.
fn sum_words(parts: &[&[u8]]) -> u64 {
    let mut sum = 0u64;
    for part in parts {
        let mut words = part.chunks_exact(2);
        for w in &mut words {
            if let [hi, lo] = w {
                sum += u64::from(u16::from_be_bytes([*hi, *lo]));
            }
        }
        if let [last] = words.remainder() {
            sum += u64::from(*last) << 8;
        }
    }
    sum
}

/// Folds a word sum to 16 bits and complements it (RFC 1071).
fn finish_checksum(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // The loop leaves sum <= 0xffff.
    !u16::try_from(sum).unwrap_or(0xffff)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
