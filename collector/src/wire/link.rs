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

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
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
            let proto = be16(frame, 14).ok_or(LINK_CUT)?;
            by_ethertype(proto, frame.get(SLL_HEADER_LEN..).ok_or(LINK_CUT)?)?
        }
        LinkType::LinuxSll2 => {
            // protocol first, then reserved, ifindex, ARPHRD, packet type, address.
            let proto = be16(frame, 0).ok_or(LINK_CUT)?;
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
            let af = be32(frame, 0).ok_or(LINK_CUT)?;
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
                ethertype = be16(rest, 2).ok_or(cut)?;
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
    let len = usize::from(be16(b, 4).ok_or(cut)?);
    if len < 2 {
        return Err(bad);
    }
    let proto = be16(b, 6).ok_or(cut)?;
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
                let offset_flags = be16(b, pos + 2);
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
mod tests {
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
}
