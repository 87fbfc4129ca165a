//! The media plan of a call: what its SDP offer/answer exchanges negotiated, per `m=`
//! line, over the call's whole life.
//!
//! A plan is owned data (it outlives the packets it was learnt from). It is built by the
//! dialog tracker ([`super::dialog`]) with [`MediaPlan::apply_negotiation`], once per
//! completed offer/answer exchange; a re-INVITE or UPDATE that moves a port or changes
//! codecs updates the same channel (the `m=` line keeps its position, RFC 3264 §8), so a
//! channel is one channel for the whole call, as SEMANTICS.md requires, and its
//! endpoints list every address each side used, in order.
//!
//! Kinds (SEMANTICS.md "Streams, channels, kinds"), decided from the offer and the answer
//! together:
//! - `m=audio` is audio.
//! - `m=video` is screenSharing when either side marks it `a=content:slides` (RFC 4796);
//!   video when either marks it `a=content:main`;
//! - otherwise screenSharing when it is a **BFCP-controlled second video**: a BFCP
//!   `m=application` line (RFC 8856) names its `a=label` in an `a=floorid ... mstrm:`
//!   list and it is not the first video line; or, when a BFCP line is present but names no
//!   stream at all (some devices omit `mstrm:`), any video line after the first;
//! - otherwise video. Other media (BFCP itself, T.38 `m=image`, ...) have no kind: they
//!   are listed in the plan but carry no RTP to measure.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use super::counters::{DialogCounters, SdpErrorCounts};
use super::sdp::{Crypto, Direction, Media, Sdp};
use crate::clock::static_clock_rate;
use crate::summary::MediaKind;
use crate::Timestamp;

/// Endpoints kept per side of a channel: a call that moves more often than this is
/// hostile or broken; later moves are counted, not kept.
pub const MAX_ENDPOINTS_PER_SIDE: usize = 16;

/// Payload types kept per side of a channel.
pub const MAX_PAYLOAD_TYPES: usize = 64;

/// The two parties of a dialog: the caller sent the initial INVITE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The `From` of the initial INVITE.
    Caller,
    /// The `To` of the initial INVITE.
    Callee,
}

impl Side {
    /// The other party.
    pub fn other(self) -> Side {
        match self {
            Side::Caller => Side::Callee,
            Side::Callee => Side::Caller,
        }
    }
}

/// Who a party is, from the initial INVITE's From or To.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Party {
    /// The display name, if any (lossy UTF-8).
    pub display_name: Option<String>,
    /// The URI.
    pub uri: String,
}

/// Why a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// A BYE from either side.
    Bye,
    /// The caller cancelled before the answer.
    Cancel,
    /// A final non-2xx response to the initial INVITE (the status code).
    Rejected(u16),
    /// No final response within the setup timeout, or no message within the idle timeout.
    Timeout,
    /// Evicted from a full dialog table.
    Evicted,
}

/// How a side's RTCP travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RtcpPlan {
    /// On the RTP port (RFC 5761), negotiated by both sides.
    Mux,
    /// On this address (`a=rtcp`, RFC 3605, else the RTP port + 1).
    Port(SocketAddr),
}

/// One payload type a side declared, with its clock rate from `a=rtpmap`, else from
/// RFC 3551's static table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayloadType {
    /// The payload type number.
    pub payload_type: u8,
    /// The encoding name (`a=rtpmap`, or the static table's), if known.
    pub encoding: Option<String>,
    /// The clock rate in Hz, if known.
    pub clock_rate: Option<u32>,
    /// Audio channels, when `a=rtpmap` gives them.
    pub channels: Option<u16>,
}

/// An SDES key (RFC 4568): protects what the side that declared it sends. The key
/// parameters are a secret: `Debug` does not show them and nothing logs them.
#[derive(Clone, PartialEq, Eq)]
pub struct SdesKey {
    /// The `a=crypto` tag.
    pub tag: u32,
    /// The crypto suite.
    pub suite: String,
    key_params: String,
}

impl SdesKey {
    fn from_crypto(crypto: Crypto<'_>) -> Self {
        SdesKey {
            tag: crypto.tag,
            suite: lossy(crypto.suite),
            key_params: lossy(crypto.key_params),
        }
    }

    /// The key parameters (`inline:...`), for the SRTP layer only: never log them.
    pub fn expose_key_params(&self) -> &str {
        &self.key_params
    }
}

impl fmt::Debug for SdesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SdesKey")
            .field("tag", &self.tag)
            .field("suite", &self.suite)
            .field("key_params", &"<redacted>")
            .finish()
    }
}

/// What one side declared for one channel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelSide {
    /// Every RTP address:port this side used, in order of first use.
    pub endpoints: Vec<SocketAddr>,
    /// How its RTCP travels (latest negotiation), if known.
    pub rtcp: Option<RtcpPlan>,
    /// Its payload types (latest negotiation), in `m=` order.
    pub payload_types: Vec<PayloadType>,
    /// Its direction attribute (latest negotiation).
    pub direction: Direction,
    /// The SDES key this side sends with (latest negotiation).
    pub sdes: Option<SdesKey>,
    /// Its `a=label`, `a=mid`, `a=content` (raw).
    pub label: Option<String>,
    /// `a=mid`.
    pub mid: Option<String>,
    /// `a=content`.
    pub content: Option<String>,
}

impl ChannelSide {
    /// The clock rate this side declared for `payload_type`.
    pub fn clock_rate(&self, payload_type: u8) -> Option<u32> {
        self.payload_types
            .iter()
            .find(|p| p.payload_type == payload_type)
            .and_then(|p| p.clock_rate)
    }
}

/// One `m=` line of the call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedChannel {
    /// The `m=` line's position (0-based) in every SDP of the call.
    pub position: usize,
    /// `audio`, `video`, `application`, ... (latest offer).
    pub media: String,
    /// The transport protocol (latest offer).
    pub proto: String,
    /// The kind, for RTP media lines (see the module documentation).
    pub kind: Option<MediaKind>,
    /// The caller's declarations.
    pub caller: ChannelSide,
    /// The callee's declarations.
    pub callee: ChannelSide,
    /// False when the latest answer rejected the line (port 0).
    pub active: bool,
}

impl PlannedChannel {
    fn new(position: usize) -> Self {
        PlannedChannel {
            position,
            media: String::new(),
            proto: String::new(),
            kind: None,
            caller: ChannelSide::default(),
            callee: ChannelSide::default(),
            active: false,
        }
    }

    /// One side's declarations.
    pub fn side(&self, side: Side) -> &ChannelSide {
        match side {
            Side::Caller => &self.caller,
            Side::Callee => &self.callee,
        }
    }

    fn side_mut(&mut self, side: Side) -> &mut ChannelSide {
        match side {
            Side::Caller => &mut self.caller,
            Side::Callee => &mut self.callee,
        }
    }

    /// The clock rate of `payload_type` in packets `sender` sends: the receiver's SDP
    /// declares the numbers it wants to receive (RFC 3264 §5.1), so its map comes first;
    /// the sender's own is the fallback.
    pub fn clock_rate_for_sender(&self, sender: Side, payload_type: u8) -> Option<u32> {
        self.side(sender.other())
            .clock_rate(payload_type)
            .or_else(|| self.side(sender).clock_rate(payload_type))
    }
}

/// The media plan of one call (one dialog).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaPlan {
    /// The Call-ID (lossy UTF-8).
    pub call_id: String,
    /// The From of the initial INVITE.
    pub caller: Party,
    /// The To of the initial INVITE.
    pub callee: Party,
    /// Which side made the first offer (the caller unless the INVITE had no SDP).
    pub first_offer: Option<Side>,
    /// When the initial INVITE was captured.
    pub started: Timestamp,
    /// When and why the call ended, once it has.
    pub ended: Option<(Timestamp, EndReason)>,
    /// Negotiations (offer/answer exchanges) applied.
    pub negotiations: u32,
    /// One entry per `m=` line, in order.
    pub channels: Vec<PlannedChannel>,
}

impl MediaPlan {
    /// An empty plan for a call that starts now.
    pub fn new(call_id: String, caller: Party, callee: Party, started: Timestamp) -> Self {
        MediaPlan {
            call_id,
            caller,
            callee,
            first_offer: None,
            started,
            ended: None,
            negotiations: 0,
            channels: Vec::new(),
        }
    }

    /// Applies one completed offer/answer exchange: `offer` from `offerer`, `answer`
    /// from the other side. Channels are matched by `m=` position.
    pub fn apply_negotiation(
        &mut self,
        offerer: Side,
        offer: &Sdp<'_>,
        answer: &Sdp<'_>,
        counters: &mut DialogCounters,
        sdp_errors: &mut SdpErrorCounts,
    ) {
        self.first_offer.get_or_insert(offerer);
        self.negotiations = self.negotiations.saturating_add(1);
        if offer.media().count() != answer.media().count() {
            counters.media_count_mismatch += 1;
        }
        let kinds = decide_kinds(offer, answer);
        for (position, (om, am)) in offer.media().zip(answer.media()).enumerate() {
            if self.channels.len() <= position {
                self.channels.push(PlannedChannel::new(position));
            }
            let Some(channel) = self.channels.get_mut(position) else {
                continue;
            };
            let line = om.line();
            channel.media = lossy(line.media);
            channel.proto = lossy(line.proto);
            channel.kind = kinds.get(position).copied().flatten();
            // Port 0 in the answer rejects the stream (RFC 3264 §6); a port 0 offer
            // disables it.
            let active = line.port != 0 && am.line().port != 0;
            channel.active = active;
            let mux = om.rtcp_mux() && am.rtcp_mux();
            let answered = am.cryptos().find_map(Result::ok);
            // Each side's key protects what it sends; the answer's tag picks the offer's.
            let offered = answered.and_then(|chosen| {
                om.cryptos()
                    .filter_map(Result::ok)
                    .find(|c| c.tag == chosen.tag)
            });
            let offer_update = SideUpdate {
                media: om,
                mux,
                key: offered.map(SdesKey::from_crypto),
                active,
            };
            let answer_update = SideUpdate {
                media: am,
                mux,
                key: answered.map(SdesKey::from_crypto),
                active,
            };
            update_side(
                channel.side_mut(offerer),
                offer_update,
                counters,
                sdp_errors,
            );
            update_side(
                channel.side_mut(offerer.other()),
                answer_update,
                counters,
                sdp_errors,
            );
        }
    }
}

/// What one side's SDP says about one channel.
struct SideUpdate<'a> {
    media: Media<'a>,
    mux: bool,
    key: Option<SdesKey>,
    active: bool,
}

fn update_side(
    side: &mut ChannelSide,
    update: SideUpdate<'_>,
    counters: &mut DialogCounters,
    sdp_errors: &mut SdpErrorCounts,
) {
    let media = update.media;
    let port = media.line().port;
    let address = match media.connection() {
        Some(Ok(ip)) => Some(ip),
        Some(Err(e)) => {
            sdp_errors.add_attribute(e);
            None
        }
        None => None,
    };
    if let (Some(ip), true) = (address, update.active) {
        let endpoint = SocketAddr::new(ip, port);
        if !side.endpoints.contains(&endpoint) {
            if side.endpoints.len() < MAX_ENDPOINTS_PER_SIDE {
                side.endpoints.push(endpoint);
            } else {
                counters.plan_bounds_hit += 1;
            }
        }
    }
    side.rtcp = rtcp_plan(&media, address, update.mux, sdp_errors);
    side.payload_types = payload_types(&media, counters, sdp_errors);
    side.direction = media.direction();
    side.sdes = update.key;
    side.label = media.label().map(lossy);
    side.mid = media.mid().map(lossy);
    side.content = media.attribute(b"content").map(lossy);
}

fn rtcp_plan(
    media: &Media<'_>,
    address: Option<IpAddr>,
    mux: bool,
    sdp_errors: &mut SdpErrorCounts,
) -> Option<RtcpPlan> {
    if !media.is_rtp() {
        return None;
    }
    if mux {
        return Some(RtcpPlan::Mux);
    }
    match media.rtcp() {
        Some(Ok(rtcp)) => rtcp
            .address
            .or(address)
            .map(|ip| RtcpPlan::Port(SocketAddr::new(ip, rtcp.port))),
        Some(Err(e)) => {
            sdp_errors.add_attribute(e);
            None
        }
        None => {
            address.map(|ip| RtcpPlan::Port(SocketAddr::new(ip, media.line().port.wrapping_add(1))))
        }
    }
}

fn payload_types(
    media: &Media<'_>,
    counters: &mut DialogCounters,
    sdp_errors: &mut SdpErrorCounts,
) -> Vec<PayloadType> {
    let mut list = Vec::new();
    for payload_type in media.payload_types() {
        if list.len() == MAX_PAYLOAD_TYPES {
            counters.plan_bounds_hit += 1;
            break;
        }
        let rtpmap = media
            .rtpmaps()
            .filter_map(Result::ok)
            .find(|r| r.payload_type == payload_type);
        list.push(match rtpmap {
            Some(r) => PayloadType {
                payload_type,
                encoding: Some(lossy(r.encoding)),
                clock_rate: Some(r.clock_rate),
                channels: r.channels,
            },
            None => PayloadType {
                payload_type,
                encoding: static_encoding(payload_type).map(str::to_owned),
                clock_rate: static_clock_rate(payload_type),
                channels: None,
            },
        });
    }
    // Malformed rtpmap lines are skipped above; count them once per SDP side.
    for error in media.rtpmaps().filter_map(Result::err) {
        sdp_errors.add_attribute(error);
    }
    list
}

/// Encoding names of RFC 3551's static payload types.
fn static_encoding(payload_type: u8) -> Option<&'static str> {
    Some(match payload_type {
        0 => "PCMU",
        3 => "GSM",
        4 => "G723",
        5 | 6 | 16 | 17 => "DVI4",
        7 => "LPC",
        8 => "PCMA",
        9 => "G722",
        10 | 11 => "L16",
        12 => "QCELP",
        13 => "CN",
        14 => "MPA",
        15 => "G728",
        18 => "G729",
        25 => "CelB",
        26 => "JPEG",
        28 => "nv",
        31 => "H261",
        32 => "MPV",
        33 => "MP2T",
        34 => "H263",
        _ => return None,
    })
}

/// The kind of each `m=` position (see the module documentation for the rule).
fn decide_kinds(offer: &Sdp<'_>, answer: &Sdp<'_>) -> Vec<Option<MediaKind>> {
    let both = || offer.media().chain(answer.media());
    let bfcp_present = both().any(|m| m.is_bfcp() && m.line().port != 0);
    let names_streams = both()
        .filter(|m| m.is_bfcp())
        .any(|m| m.floor_ids().any(|f| f.streams().next().is_some()));
    let controlled = |label: Option<&[u8]>| {
        label.is_some_and(|label| {
            both()
                .filter(|m| m.is_bfcp())
                .any(|m| m.floor_ids().any(|f| f.streams().any(|s| s == label)))
        })
    };
    let mut video_ordinal = 0usize;
    let answers: Vec<Media<'_>> = answer.media().collect();
    offer
        .media()
        .enumerate()
        .map(|(position, om)| {
            let am = answers.get(position);
            let media = om.line().media;
            if media.eq_ignore_ascii_case(b"audio") {
                return Some(MediaKind::Audio);
            }
            if !media.eq_ignore_ascii_case(b"video") {
                return None;
            }
            let ordinal = video_ordinal;
            video_ordinal += 1;
            let says =
                |value: &[u8]| om.has_content(value) || am.is_some_and(|a| a.has_content(value));
            let slides = says(b"slides")
                || (!says(b"main")
                    && ordinal > 0
                    && ((controlled(om.label()) || controlled(am.and_then(Media::label)))
                        || (bfcp_present && !names_streams)));
            Some(if slides {
                MediaKind::ScreenSharing
            } else {
                MediaKind::Video
            })
        })
        .collect()
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests;
