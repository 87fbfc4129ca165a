//! Call-end results: one [`ChannelQuality`] per media session, in domain terms.
//!
//! These are plain Rust values (durations, percentages, addresses), not Graph JSON: only
//! the reporter crate knows how Microsoft Graph spells them.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

/// The kind of a channel, which picks the record type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MediaKind {
    /// teleconferenceDeviceAudioQuality.
    Audio,
    /// teleconferenceDeviceVideoQuality.
    Video,
    /// teleconferenceDeviceScreenSharingQuality.
    ScreenSharing,
}

impl MediaKind {
    /// The spelling used on the command line and in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::ScreenSharing => "screenSharing",
        }
    }

    /// True for the kinds whose records carry bit and frame rates.
    pub fn is_video(self) -> bool {
        matches!(self, MediaKind::Video | MediaKind::ScreenSharing)
    }
}

impl fmt::Display for MediaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A media kind name that is not one of `audio`, `video`, `screenSharing`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown media kind {0:?} (expected audio, video or screenSharing)")]
pub struct UnknownMediaKind(pub String);

impl FromStr for MediaKind {
    type Err = UnknownMediaKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "audio" => Ok(MediaKind::Audio),
            "video" => Ok(MediaKind::Video),
            "screenSharing" | "screensharing" | "screen-sharing" | "screen_sharing" => {
                Ok(MediaKind::ScreenSharing)
            }
            other => Err(UnknownMediaKind(other.to_owned())),
        }
    }
}

/// How a channel's kind was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KindSource {
    /// Declared for the local port (registration or `--kind`).
    Declared,
    /// Guessed: a 90 kHz clock means video, anything else audio.
    Heuristic,
}

/// Where a measured value came from (shown by `vtcq analyze --format table` and logged).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// RTCP report blocks sent by the local side (the bot) about the remote streams.
    LocalRtcp,
    /// RTCP report blocks sent by the remote side (the device) about the local streams.
    RemoteRtcp,
    /// The agent's own RFC 3550 analysis of the captured RTP.
    RtpAnalysis,
    /// Capture-time RTT: local SR answered by a remote report block.
    CaptureTime,
    /// The device's view: NTP chain of SRs and/or local XR RRTR answered by DLRR.
    NtpChain,
    /// No sample.
    None,
}

impl Source {
    /// A short human description.
    pub fn describe(self) -> &'static str {
        match self {
            Source::LocalRtcp => "RTCP from local",
            Source::RemoteRtcp => "RTCP from remote",
            Source::RtpAnalysis => "own RTP analysis",
            Source::CaptureTime => "SR/RR capture time",
            Source::NtpChain => "NTP chain / XR DLRR",
            Source::None => "no sample",
        }
    }
}

/// An average and a maximum of samples, with their source.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Metric<T> {
    /// The average (`None` without samples).
    pub average: Option<T>,
    /// The maximum (`None` without samples).
    pub maximum: Option<T>,
    /// Number of samples.
    pub samples: u64,
    /// Where the samples came from.
    pub source: Source,
}

impl<T> Metric<T> {
    /// No samples at all.
    pub fn none() -> Self {
        Metric {
            average: None,
            maximum: None,
            samples: 0,
            source: Source::None,
        }
    }
}

/// One direction of a channel.
#[derive(Clone, Debug, PartialEq)]
pub struct DirectionQuality {
    /// RTP packets captured (all SSRCs, RTCP excluded).
    pub packets: u64,
    /// RTP bytes (UDP payload) captured.
    pub bytes: u64,
    /// Packet loss in percent (0..=100).
    pub loss: Metric<f64>,
    /// Interarrival jitter.
    pub jitter: Metric<Duration>,
    /// Round-trip delay.
    pub round_trip: Metric<Duration>,
    /// Bits per active second (`None` without an active second).
    pub bit_rate: Option<f64>,
    /// Distinct RTP timestamps per active second.
    pub frame_rate: Option<f64>,
    /// Active time of this direction (idle-gap rule).
    pub active: Duration,
    /// SSRCs of the RTP streams in this direction.
    pub ssrcs: Vec<u32>,
}

/// A channel's quality at call end.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelQuality {
    /// Record type.
    pub kind: MediaKind,
    /// How the kind was decided.
    pub kind_source: KindSource,
    /// 1-based index within the kind within the call.
    pub channel_index: u32,
    /// The bot's RTP address.
    pub local: SocketAddr,
    /// The device's RTP address (`None` for a declared channel that saw no traffic).
    pub remote: Option<SocketAddr>,
    /// Sum of the active periods, RTP in either direction.
    pub media_duration: Option<Duration>,
    /// Capture interface link speed in bytes per second.
    pub link_speed_bytes_per_sec: Option<u64>,
    /// Remote -> local.
    pub inbound: DirectionQuality,
    /// Local -> remote.
    pub outbound: DirectionQuality,
    /// RTCP shared the RTP port (RFC 5761).
    pub rtcp_mux: bool,
    /// SRTCP (encrypted RTCP) datagrams seen on the channel.
    pub srtcp_packets: u64,
}
