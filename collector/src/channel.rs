//! Channels (SEMANTICS.md "Streams, channels, kinds"): a call's media sessions as its
//! record lists them, built from the analyzer's flows.
//!
//! A **channel** is one oriented, kinded, indexed media session of a call, made of one or
//! more flows. `vtcq analyze` ([`channels_seen_from`]) and the daemon's call tracker
//! ([`crate::calls`]) build channels the same way, in four steps:
//! 1. **orient**: which endpoint of a flow is the bot's ([`OrientedFlow`]): from the bot's
//!    addresses ([`Flow::local_side`]), or from the local port of a registered media
//!    session;
//! 2. **group and kind**: the flows that realise one media session, its kind, where that
//!    came from and the session's place in the declaration ([`ChannelParts`]). Today every
//!    flow is a channel of its own;
//! 3. **measure**: [`ChannelParts::measure`] reads both sides into a [`ChannelQuality`]:
//!    inbound is what the remote side sent and what the local side reported about it
//!    (else the agent's own analysis), outbound the reverse;
//! 4. **number**: `channelIndex`, 1-based within a kind, in order of declaration, then of
//!    first packet ([`build_channels`]).

use std::net::IpAddr;
use std::time::Duration;

use crate::analyzer::{Flow, FlowSide, Side};
use crate::stats::{DurationSamples, LossSamples};
use crate::stream::RtpStream;
use crate::summary::{ChannelQuality, DirectionQuality, KindSource, MediaKind, Metric, Source};
use crate::Timestamp;

/// A flow seen from the bot: the flow and which of its endpoints is local.
#[derive(Clone, Copy, Debug)]
pub struct OrientedFlow<'a> {
    /// The flow.
    pub flow: &'a Flow,
    /// The bot's side of it.
    pub local: Side,
}

impl OrientedFlow<'_> {
    fn local_side(&self) -> &FlowSide {
        self.flow.side(self.local)
    }

    fn remote_side(&self) -> &FlowSide {
        self.flow.side(self.local.peer())
    }
}

/// What one channel is made of before it is numbered.
#[derive(Clone, Copy, Debug)]
pub struct ChannelParts<'a> {
    /// The flow that carried the media session.
    pub flow: OrientedFlow<'a>,
    /// The record type.
    pub kind: MediaKind,
    /// How the kind was decided.
    pub kind_source: KindSource,
    /// The media session's position in its declaration (the registration's media
    /// sessions, `--kind` flags); `None` when undeclared.
    pub declared_at: Option<usize>,
}

impl ChannelParts<'_> {
    /// The channel's record, seen from the bot. The index is left 0 for
    /// [`build_channels`] to fill in.
    pub fn measure(&self, link_speed_bytes_per_sec: Option<u64>) -> ChannelQuality {
        let flow = self.flow.flow;
        let local = self.flow.local_side();
        let remote = self.flow.remote_side();

        // Inbound: the local side's reports about the remote streams; without any, the
        // agent's own analysis of the remote streams.
        let (inbound_loss, inbound_jitter) = if local.blocks_accepted > 0 {
            (
                loss_metric(&local.reported_loss, Source::LocalRtcp),
                duration_metric(&local.reported_jitter, Source::LocalRtcp),
            )
        } else {
            let mut loss = LossSamples::default();
            let mut jitter = DurationSamples::default();
            for stream in remote.valid_streams() {
                loss.merge(stream.own_loss());
                jitter.merge(stream.own_jitter());
            }
            (
                loss_metric(&loss, Source::RtpAnalysis),
                duration_metric(&jitter, Source::RtpAnalysis),
            )
        };
        let outbound_loss = loss_metric(&remote.reported_loss, Source::RemoteRtcp);
        let outbound_jitter = duration_metric(&remote.reported_jitter, Source::RemoteRtcp);

        ChannelQuality {
            kind: self.kind,
            kind_source: self.kind_source,
            channel_index: 0,
            local: flow.endpoint(self.flow.local),
            remote: Some(flow.endpoint(self.flow.local.peer())),
            media_duration: flow.has_rtp().then(|| flow.active()),
            link_speed_bytes_per_sec,
            inbound: direction(
                remote,
                inbound_loss,
                inbound_jitter,
                duration_metric(&local.rtt_peer_view, Source::NtpChain),
            ),
            outbound: direction(
                local,
                outbound_loss,
                outbound_jitter,
                duration_metric(&local.rtt_capture, Source::CaptureTime),
            ),
            rtcp_mux: flow.rtcp_mux(),
            srtcp_packets: local.srtcp_packets + remote.srtcp_packets,
        }
    }
}

/// Measures and numbers channels: sorted by kind, then declaration order, then first
/// packet (stable: ties keep the order given), `channelIndex` 1-based within each kind.
pub fn build_channels<'a>(
    parts: impl IntoIterator<Item = ChannelParts<'a>>,
    link_speed_bytes_per_sec: Option<u64>,
) -> Vec<ChannelQuality> {
    let mut channels: Vec<(usize, Timestamp, ChannelQuality)> = parts
        .into_iter()
        .map(|parts| {
            (
                parts.declared_at.unwrap_or(usize::MAX),
                parts.flow.flow.first_packet(),
                parts.measure(link_speed_bytes_per_sec),
            )
        })
        .collect();
    channels.sort_by_key(|(order, first, c)| (c.kind, *order, *first));
    let mut next_index = [1u32; 3];
    for (_, _, channel) in &mut channels {
        let slot = channel.kind as usize;
        channel.channel_index = next_index[slot];
        next_index[slot] += 1;
    }
    channels.into_iter().map(|(_, _, c)| c).collect()
}

/// The channels of `flows` seen from `local` (`vtcq analyze`): every flow with RTP and a
/// local endpoint; kinds from `declared` (local port -> kind, in declaration order), else
/// guessed ([`guess_kind`]).
pub fn channels_seen_from<'a>(
    flows: impl IntoIterator<Item = &'a Flow>,
    local: &[IpAddr],
    declared: &[(u16, MediaKind)],
    link_speed_bytes_per_sec: Option<u64>,
) -> Vec<ChannelQuality> {
    let parts = flows
        .into_iter()
        .filter(|flow| flow.has_rtp())
        .filter_map(|flow| {
            let local_side = flow.local_side(local)?;
            let port = flow.endpoint(local_side).port();
            let declared_at = declared.iter().position(|(p, _)| *p == port);
            let (kind, kind_source) = match declared_at {
                Some(i) => (declared[i].1, KindSource::Declared),
                None => (guess_kind(flow), KindSource::Heuristic),
            };
            Some(ChannelParts {
                flow: OrientedFlow {
                    flow,
                    local: local_side,
                },
                kind,
                kind_source,
                declared_at,
            })
        });
    build_channels(parts, link_speed_bytes_per_sec)
}

/// The kind of an undeclared flow: video when one of its valid streams runs a 90 kHz
/// clock, else audio.
pub fn guess_kind(flow: &Flow) -> MediaKind {
    let video = Side::BOTH
        .into_iter()
        .flat_map(|side| flow.side(side).valid_streams())
        .any(|s| matches!(s.clock_rate(), Some((90_000, _))));
    if video {
        MediaKind::Video
    } else {
        MediaKind::Audio
    }
}

/// One direction of a channel: what `sender` sent, with the metrics measured about it.
fn direction(
    sender: &FlowSide,
    loss: Metric<f64>,
    jitter: Metric<Duration>,
    round_trip: Metric<Duration>,
) -> DirectionQuality {
    let packets = sender.valid_streams().map(RtpStream::packets).sum();
    let bytes: u64 = sender.valid_streams().map(RtpStream::bytes).sum();
    let frames: u64 = sender.valid_streams().map(RtpStream::frames).sum();
    let active = sender.activity.active();
    let secs = active.as_secs_f64();
    DirectionQuality {
        packets,
        bytes,
        loss,
        jitter,
        round_trip,
        bit_rate: (secs > 0.0).then(|| bytes as f64 * 8.0 / secs),
        frame_rate: (secs > 0.0).then(|| frames as f64 / secs),
        active,
        ssrcs: sender.valid_streams().map(RtpStream::ssrc).collect(),
    }
}

fn loss_metric(samples: &LossSamples, source: Source) -> Metric<f64> {
    if samples.count() == 0 {
        return Metric::none();
    }
    Metric {
        average: samples.average_percent(),
        maximum: samples.max_percent(),
        samples: samples.count(),
        source,
    }
}

fn duration_metric(samples: &DurationSamples, source: Source) -> Metric<Duration> {
    if samples.count() == 0 {
        return Metric::none();
    }
    Metric {
        average: samples.mean(),
        maximum: samples.max(),
        samples: samples.count(),
        source,
    }
}
