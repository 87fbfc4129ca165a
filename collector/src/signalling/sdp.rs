//! SDP view (RFC 8866) with the attributes a media plan needs.
//!
//! ```text
//! v=0
//! o=- 20518 0 IN IP4 203.0.113.1
//! s=-
//! c=IN IP4 203.0.113.1                   <- session-level connection (default for media)
//! t=0 0
//! a=sendrecv                             <- session-level direction (default for media)
//! m=audio 54400 RTP/SAVP 0 96            <- media description: type port proto formats
//! a=rtpmap:96 opus/48000/2
//! a=rtcp:54401                           <- RFC 3605
//! a=rtcp-mux                             <- RFC 5761
//! a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR
//! m=video 55400/2 RTP/AVP 100            <- port/count (RFC 8866 §5.14)
//! c=IN IP6 2001:db8::1                   <- media-level connection
//! a=content:slides                       <- RFC 4796
//! a=label:12                             <- RFC 4574
//! m=application 5070 TCP/BFCP *          <- RFC 8856 floor control
//! a=floorctrl:c-s
//! a=floorid:1 mstrm:12
//! ```
//!
//! [`Sdp::parse`] checks every line once (`<letter>=`, a `v=` first, at most
//! [`MAX_MEDIA`] media descriptions and [`MAX_LINES`] lines, every `m=` line well formed).
//! Attribute values are parsed lazily by the accessors: an attribute that does not parse
//! comes back as an `Err` item, for the caller to count, never as a panic.

use std::fmt;
use std::net::IpAddr;

use super::text::{eq_ci, lines, parse_u16, parse_u32, trim};

/// Most media descriptions in one SDP (a VTC call has 2 to 5; the bound is for hostile
/// input, and it bounds what one SDP can add to a media plan).
pub const MAX_MEDIA: usize = 32;

/// Most lines in one SDP.
pub const MAX_LINES: usize = 2048;

/// Why a body is not a usable SDP. Each variant is one counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum SdpError {
    /// The first line is not `v=`.
    #[error("sdp does not start with v=")]
    NoVersion,
    /// A line is not `<letter>=<value>`.
    #[error("malformed sdp line")]
    BadLine,
    /// An `m=` line without media, port and protocol.
    #[error("malformed sdp m= line")]
    BadMediaLine,
    /// More than [`MAX_MEDIA`] media descriptions.
    #[error("too many sdp media descriptions")]
    TooManyMedia,
    /// More than [`MAX_LINES`] lines.
    #[error("too many sdp lines")]
    TooManyLines,
}

/// Why one attribute or connection line was skipped. Each variant is one counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum SdpAttributeError {
    /// `c=` that is not `IN IP4|IP6 <literal address>` (e.g. a host name).
    #[error("unusable sdp connection line")]
    Connection,
    /// `a=rtpmap` that is not `<pt> <name>/<rate>[/<channels>]`.
    #[error("malformed a=rtpmap")]
    Rtpmap,
    /// `a=rtcp` without a port, or with an unusable address.
    #[error("malformed a=rtcp")]
    Rtcp,
    /// `a=crypto` without tag, suite and key parameters.
    #[error("malformed a=crypto")]
    Crypto,
    /// `a=ssrc` without a numeric SSRC.
    #[error("malformed a=ssrc")]
    Ssrc,
}

/// A validated, zero-copy view of one session description. `Debug` shows the shape, not
/// the text (it may hold `a=crypto` keys).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Sdp<'a> {
    /// Session-level lines (before the first `m=`).
    session: &'a [u8],
    /// From the first `m=` line to the end.
    media: &'a [u8],
}

/// A media description: its `m=` line and the lines up to the next `m=`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Media<'a> {
    block: &'a [u8],
    session: &'a [u8],
    line: MediaLine<'a>,
}

/// The fields of an `m=` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaLine<'a> {
    /// `audio`, `video`, `application`, ...
    pub media: &'a [u8],
    /// The transport port (0: the stream is rejected or disabled).
    pub port: u16,
    /// The number of ports after `/` (1 when absent).
    pub port_count: u16,
    /// `RTP/AVP`, `RTP/SAVP`, `UDP/TLS/RTP/SAVPF`, `TCP/BFCP`, ...
    pub proto: &'a [u8],
    /// The format list (payload types for RTP), space-separated.
    pub formats: &'a [u8],
}

/// `a=sendrecv|sendonly|recvonly|inactive` (RFC 8866 §6.7): what the side that wrote the
/// SDP will do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// Sends and receives (the default).
    #[default]
    SendRecv,
    /// Sends only.
    SendOnly,
    /// Receives only.
    RecvOnly,
    /// Neither (on hold).
    Inactive,
}

/// `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<channels>]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rtpmap<'a> {
    /// The payload type.
    pub payload_type: u8,
    /// `PCMU`, `opus`, `H264`, `telephone-event`, ...
    pub encoding: &'a [u8],
    /// The RTP clock rate in Hz.
    pub clock_rate: u32,
    /// The audio channel count, when given.
    pub channels: Option<u16>,
}

/// `a=rtcp:<port> [IN IP4|IP6 <address>]` (RFC 3605).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rtcp {
    /// The RTCP port.
    pub port: u16,
    /// The RTCP address, when it differs from the media's.
    pub address: Option<IpAddr>,
}

/// `a=crypto:<tag> <suite> <key-params> [<session-params>]` (RFC 4568). The key
/// parameters are a secret: [`fmt::Debug`] does not show them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Crypto<'a> {
    /// The tag that the answer echoes to select this line.
    pub tag: u32,
    /// `AES_CM_128_HMAC_SHA1_80`, `AEAD_AES_256_GCM`, ...
    pub suite: &'a [u8],
    /// `inline:<key||salt>[|lifetime][|MKI:len]`, possibly several separated by `;`.
    pub key_params: &'a [u8],
    /// Session parameters (`UNENCRYPTED_SRTCP`, `KDR=`, ...), possibly empty.
    pub session_params: &'a [u8],
}

impl fmt::Debug for Crypto<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Crypto")
            .field("tag", &self.tag)
            .field("suite", &String::from_utf8_lossy(self.suite))
            .field("key_params", &"<redacted>")
            .finish()
    }
}

/// `a=floorid:<floor id> [mstrm:<label> ...]` (RFC 8856 §7): which media streams a BFCP
/// floor controls, by their `a=label`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FloorId<'a> {
    /// The floor id.
    pub floor: &'a [u8],
    /// The labels after `mstrm:` (or the older `m-stream:`), space-separated.
    streams: &'a [u8],
}

impl<'a> FloorId<'a> {
    /// The labels of the media streams this floor controls.
    pub fn streams(&self) -> impl Iterator<Item = &'a [u8]> {
        self.streams
            .split(|&b| b == b' ' || b == b'\t')
            .filter(|s| !s.is_empty())
    }
}

/// `a=ssrc:<ssrc> <attribute>[:<value>]` (RFC 5576).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ssrc<'a> {
    /// The SSRC.
    pub ssrc: u32,
    /// `cname`, `msid`, ... (may be empty).
    pub attribute: &'a [u8],
    /// The value after `:`, possibly empty.
    pub value: &'a [u8],
}

impl<'a> Sdp<'a> {
    /// Validates `body` as an SDP.
    pub fn parse(body: &'a [u8]) -> Result<Self, SdpError> {
        let mut media_count = 0usize;
        let mut media_start = None;
        let mut offset = 0usize;
        for (n, line) in lines(body).enumerate() {
            if n >= MAX_LINES {
                return Err(SdpError::TooManyLines);
            }
            let line_offset = offset;
            // `lines` strips a CR before the LF; find where the next line starts.
            offset = body
                .get(offset..)
                .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
                .map_or(body.len(), |i| offset + i + 1);
            if n == 0 && !line.starts_with(b"v=") {
                return Err(SdpError::NoVersion);
            }
            if line.is_empty() {
                continue; // tolerated (a trailing blank line is common)
            }
            match line {
                [letter, b'=', ..] if letter.is_ascii_alphabetic() => {}
                _ => return Err(SdpError::BadLine),
            }
            if let Some(m) = line.strip_prefix(b"m=") {
                media_count += 1;
                if media_count > MAX_MEDIA {
                    return Err(SdpError::TooManyMedia);
                }
                MediaLine::parse(m).ok_or(SdpError::BadMediaLine)?;
                media_start.get_or_insert(line_offset);
            }
        }
        if body.is_empty() {
            return Err(SdpError::NoVersion);
        }
        let split = media_start.unwrap_or(body.len());
        Ok(Sdp {
            session: body.get(..split).unwrap_or(&[]),
            media: body.get(split..).unwrap_or(&[]),
        })
    }

    /// The session-level connection address (`c=` before the first `m=`).
    pub fn connection(&self) -> Option<Result<IpAddr, SdpAttributeError>> {
        connection_in(self.session)
    }

    /// The session-level direction attribute, if any.
    pub fn direction(&self) -> Option<Direction> {
        direction_in(self.session)
    }

    /// The media descriptions in order.
    pub fn media(&self) -> impl Iterator<Item = Media<'a>> {
        let session = self.session;
        let mut rest = Some(self.media).filter(|m| !m.is_empty());
        std::iter::from_fn(move || loop {
            let current = rest?;
            // The next `m=` at a line start ends this block.
            let next = (1..current.len()).find(|&i| {
                current.get(i - 1) == Some(&b'\n') && current.get(i..i + 2) == Some(b"m=")
            });
            let block = match next {
                Some(i) => {
                    rest = current.get(i..);
                    current.get(..i)?
                }
                None => {
                    rest = None;
                    current
                }
            };
            let first = lines(block).next()?;
            // Every m= line was validated; the `continue` is for the impossible case.
            if let Some(line) = first.strip_prefix(b"m=").and_then(MediaLine::parse) {
                return Some(Media {
                    block,
                    session,
                    line,
                });
            }
        })
    }
}

impl<'a> MediaLine<'a> {
    fn parse(value: &'a [u8]) -> Option<Self> {
        let mut parts = value.splitn(4, |&b| b == b' ');
        let media = parts.next().filter(|m| !m.is_empty())?;
        let port_field = parts.next()?;
        let proto = parts.next().filter(|p| !p.is_empty())?;
        let formats = trim(parts.next().unwrap_or(&[]));
        let (port, port_count) = match port_field.iter().position(|&b| b == b'/') {
            Some(i) => (
                parse_u16(port_field.get(..i)?)?,
                parse_u16(port_field.get(i + 1..)?)?,
            ),
            None => (parse_u16(port_field)?, 1),
        };
        Some(MediaLine {
            media,
            port,
            port_count,
            proto,
            formats,
        })
    }
}

impl<'a> Media<'a> {
    /// The `m=` line.
    pub fn line(&self) -> MediaLine<'a> {
        self.line
    }

    /// True for an RTP transport (`RTP/AVP`, `RTP/SAVP`, `UDP/TLS/RTP/SAVPF`, ...).
    pub fn is_rtp(&self) -> bool {
        self.line.proto.windows(4).any(|w| eq_ci(w, b"RTP/"))
    }

    /// True for BFCP (`TCP/BFCP`, `TCP/TLS/BFCP`, `UDP/BFCP`, `UDP/TLS/BFCP`).
    pub fn is_bfcp(&self) -> bool {
        let proto = self.line.proto;
        proto.len() >= 4
            && proto
                .get(proto.len() - 4..)
                .is_some_and(|t| eq_ci(t, b"BFCP"))
    }

    /// The formats as payload types (RTP only; tokens that are not 0..=127 skipped).
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + 'a {
        let rtp = self.is_rtp();
        self.line
            .formats
            .split(|&b| b == b' ')
            .filter(move |_| rtp)
            .filter_map(parse_u16)
            .filter_map(|pt| u8::try_from(pt).ok().filter(|pt| *pt <= 127))
    }

    /// The connection address: media-level `c=`, else the session's.
    pub fn connection(&self) -> Option<Result<IpAddr, SdpAttributeError>> {
        connection_in(self.block).or_else(|| connection_in(self.session))
    }

    /// The direction: media-level attribute, else the session's, else sendrecv.
    pub fn direction(&self) -> Direction {
        direction_in(self.block)
            .or_else(|| direction_in(self.session))
            .unwrap_or_default()
    }

    /// Values of every `a=<name>:<value>` (or `a=<name>` with an empty value).
    pub fn attributes(&self, name: &'static [u8]) -> impl Iterator<Item = &'a [u8]> {
        attributes_in(self.block, name)
    }

    /// The value of the first `a=<name>`.
    pub fn attribute(&self, name: &'static [u8]) -> Option<&'a [u8]> {
        self.attributes(name).next()
    }

    /// Every `a=rtpmap`.
    pub fn rtpmaps(&self) -> impl Iterator<Item = Result<Rtpmap<'a>, SdpAttributeError>> {
        self.attributes(b"rtpmap")
            .map(|v| parse_rtpmap(v).ok_or(SdpAttributeError::Rtpmap))
    }

    /// `a=rtcp`, if present.
    pub fn rtcp(&self) -> Option<Result<Rtcp, SdpAttributeError>> {
        self.attribute(b"rtcp")
            .map(|v| parse_rtcp(v).ok_or(SdpAttributeError::Rtcp))
    }

    /// True with `a=rtcp-mux`.
    pub fn rtcp_mux(&self) -> bool {
        self.attribute(b"rtcp-mux").is_some()
    }

    /// Every `a=crypto`.
    pub fn cryptos(&self) -> impl Iterator<Item = Result<Crypto<'a>, SdpAttributeError>> {
        self.attributes(b"crypto")
            .map(|v| parse_crypto(v).ok_or(SdpAttributeError::Crypto))
    }

    /// True when `a=content` lists `value` (RFC 4796 allows a comma-separated list).
    pub fn has_content(&self, value: &[u8]) -> bool {
        self.attributes(b"content")
            .any(|v| v.split(|&b| b == b',').any(|c| eq_ci(trim(c), value)))
    }

    /// `a=label` (RFC 4574).
    pub fn label(&self) -> Option<&'a [u8]> {
        self.attribute(b"label")
    }

    /// `a=mid` (RFC 5888).
    pub fn mid(&self) -> Option<&'a [u8]> {
        self.attribute(b"mid")
    }

    /// `a=floorctrl` (RFC 8856: `c-only`, `s-only`, `c-s`).
    pub fn floorctrl(&self) -> Option<&'a [u8]> {
        self.attribute(b"floorctrl")
    }

    /// Every `a=floorid`.
    pub fn floor_ids(&self) -> impl Iterator<Item = FloorId<'a>> {
        self.attributes(b"floorid").map(parse_floorid)
    }

    /// Every `a=ssrc`.
    pub fn ssrcs(&self) -> impl Iterator<Item = Result<Ssrc<'a>, SdpAttributeError>> {
        self.attributes(b"ssrc")
            .map(|v| parse_ssrc(v).ok_or(SdpAttributeError::Ssrc))
    }
}

impl fmt::Debug for Sdp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sdp")
            .field("session_bytes", &self.session.len())
            .field("media", &self.media().map(|m| m.line).collect::<Vec<_>>())
            .finish()
    }
}

impl fmt::Debug for Media<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the raw block: it may hold a=crypto keys.
        f.debug_struct("Media").field("line", &self.line).finish()
    }
}

fn attributes_in<'a>(block: &'a [u8], name: &'static [u8]) -> impl Iterator<Item = &'a [u8]> {
    lines(block).filter_map(move |line| {
        let attr = line.strip_prefix(b"a=")?;
        let (key, value) = match attr.iter().position(|&b| b == b':') {
            Some(i) => (attr.get(..i)?, attr.get(i + 1..)?),
            None => (attr, &[][..]),
        };
        eq_ci(trim(key), name).then(|| trim(value))
    })
}

fn connection_in(block: &[u8]) -> Option<Result<IpAddr, SdpAttributeError>> {
    let line = lines(block).find_map(|l| l.strip_prefix(b"c="))?;
    Some(parse_connection(line).ok_or(SdpAttributeError::Connection))
}

/// `IN IP4 <addr>[/<ttl>[/<count>]]` or `IN IP6 <addr>[/<count>]`.
fn parse_connection(value: &[u8]) -> Option<IpAddr> {
    let mut parts = trim(value).split(|&b| b == b' ').filter(|p| !p.is_empty());
    let (net, family, address) = (parts.next()?, parts.next()?, parts.next()?);
    if !eq_ci(net, b"IN") {
        return None;
    }
    let address = address.split(|&b| b == b'/').next()?;
    let ip: IpAddr = std::str::from_utf8(address).ok()?.parse().ok()?;
    let family_matches =
        (eq_ci(family, b"IP4") && ip.is_ipv4()) || (eq_ci(family, b"IP6") && ip.is_ipv6());
    family_matches.then_some(ip)
}

fn direction_in(block: &[u8]) -> Option<Direction> {
    lines(block).find_map(|line| match line {
        b"a=sendrecv" => Some(Direction::SendRecv),
        b"a=sendonly" => Some(Direction::SendOnly),
        b"a=recvonly" => Some(Direction::RecvOnly),
        b"a=inactive" => Some(Direction::Inactive),
        _ => None,
    })
}

fn parse_rtpmap(value: &[u8]) -> Option<Rtpmap<'_>> {
    let space = value.iter().position(|&b| b == b' ')?;
    let payload_type = u8::try_from(parse_u16(value.get(..space)?)?)
        .ok()
        .filter(|pt| *pt <= 127)?;
    let mut parts = trim(value.get(space..)?).split(|&b| b == b'/');
    let encoding = parts.next().filter(|e| !e.is_empty())?;
    let clock_rate = parse_u32(parts.next()?).filter(|hz| *hz > 0)?;
    let channels = match parts.next() {
        Some(c) => Some(parse_u16(c)?),
        None => None,
    };
    Some(Rtpmap {
        payload_type,
        encoding,
        clock_rate,
        channels,
    })
}

fn parse_rtcp(value: &[u8]) -> Option<Rtcp> {
    let (port, rest) = match value.iter().position(|&b| b == b' ') {
        Some(i) => (value.get(..i)?, value.get(i..)?),
        None => (value, &[][..]),
    };
    let address = if trim(rest).is_empty() {
        None
    } else {
        Some(parse_connection(rest)?)
    };
    Some(Rtcp {
        port: parse_u16(port)?,
        address,
    })
}

fn parse_crypto(value: &[u8]) -> Option<Crypto<'_>> {
    let mut parts = value.splitn(4, |&b| b == b' ');
    let tag = parse_u32(parts.next()?)?;
    let suite = parts.next().filter(|s| !s.is_empty())?;
    let key_params = parts.next().filter(|k| !k.is_empty())?;
    Some(Crypto {
        tag,
        suite,
        key_params,
        session_params: trim(parts.next().unwrap_or(&[])),
    })
}

fn parse_floorid(value: &[u8]) -> FloorId<'_> {
    let space = value.iter().position(|&b| b == b' ').unwrap_or(value.len());
    let rest = trim(value.get(space..).unwrap_or(&[]));
    let streams = rest
        .strip_prefix(b"mstrm:")
        .or_else(|| rest.strip_prefix(b"m-stream:"))
        .unwrap_or(&[]);
    FloorId {
        floor: value.get(..space).unwrap_or(&[]),
        streams,
    }
}

fn parse_ssrc(value: &[u8]) -> Option<Ssrc<'_>> {
    let space = value.iter().position(|&b| b == b' ').unwrap_or(value.len());
    let ssrc = parse_u32(value.get(..space)?)?;
    let rest = trim(value.get(space..).unwrap_or(&[]));
    let (attribute, attr_value) = match rest.iter().position(|&b| b == b':') {
        Some(i) => (rest.get(..i)?, rest.get(i + 1..)?),
        None => (rest, &[][..]),
    };
    Some(Ssrc {
        ssrc,
        attribute,
        value: attr_value,
    })
}

#[cfg(test)]
mod tests;
