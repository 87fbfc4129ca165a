//! The sans-IO analyzer: frames and capture timestamps in, channel statistics out.
//!
//! A **channel** (here: a session) is the RTP between two endpoints (address, RTP port),
//! both directions, plus its RTCP on port+1 or multiplexed on the RTP port (RFC 5761).
//! Each session has two sides; everything measured is attributed to the side that sent
//! it, symmetrically. Which side is *local* (the bot) only matters when the results are
//! read, so a call registered after its media began still gets every packet, and
//! `vtcq analyze` can infer the local address after one pass.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::capture::LinkType;
use crate::clock::ClockRateMap;
use crate::rtt::{self, ChainLink, Histories, SR_HISTORY};
use crate::stats::{ActivityTracker, DurationSamples, LossSamples};
use crate::stream::{RtpStream, SeqVerdict};
use crate::summary::{ChannelQuality, DirectionQuality, KindSource, MediaKind, Metric, Source};
use crate::wire::demux::{classify, PayloadClass};
use crate::wire::link::{decode_udp, LinkError};
use crate::wire::rtcp::{Compound, CompoundKind, Packet, ReportBlock, XrBlock};
use crate::wire::rtp::RtpPacket;
use crate::Timestamp;

/// Most RTP streams (SSRCs) one endpoint of a session may have at once. A real endpoint
/// sends a handful (a few SSRC changes, FEC, RTX); past this the oldest are evicted.
pub const MAX_STREAMS_PER_SIDE: usize = 32;

/// Default of [`AnalyzerConfig::max_sessions`]: 100 times a busy CVI host's 600 channels
/// would be far more than real traffic, while a flood of unvalidated flows stays at a few
/// MiB (sessions without valid RTP hold no histograms).
pub const DEFAULT_MAX_SESSIONS: usize = 8192;

/// How many candidates one admission looks at before evicting a protected session anyway:
/// keeps admission O(1) even when a flood aims at a registered port.
const EVICTION_SCAN: usize = 8;

/// Settings of the measurement core. Defaults follow SEMANTICS.md.
#[derive(Clone, Debug)]
pub struct AnalyzerConfig {
    /// Clock rates per (local port, PT) and per PT.
    pub clock_rates: ClockRateMap,
    /// The bot's addresses, when known while packets flow (they scope port-bound clock
    /// rates to the local port; orientation itself is decided when results are read).
    pub local_addrs: Vec<IpAddr>,
    /// A gap longer than this ends an active period (default 5 s).
    pub idle_gap: Duration,
    /// Period of the agent's own loss and jitter samples (default 5 s).
    pub sample_interval: Duration,
    /// Keep every RTT computation (for conformance tests and `--trace`).
    pub record_rtt_observations: bool,
    /// Most sessions (endpoint pairs) held at once. A new one past it evicts the oldest
    /// session that never carried valid RTP, preferring those on no protected port
    /// ([`Analyzer::set_protected_ports`]); when every session carries valid RTP, the new flow is
    /// refused. Both are counted.
    pub max_sessions: usize,
}

impl Default for AnalyzerConfig {
    fn default() -> Self {
        AnalyzerConfig {
            clock_rates: ClockRateMap::new(),
            local_addrs: Vec::new(),
            idle_gap: Duration::from_secs(5),
            sample_interval: Duration::from_secs(5),
            record_rtt_observations: false,
            max_sessions: DEFAULT_MAX_SESSIONS,
        }
    }
}

/// Everything counted that is not a statistic of a channel. Nothing is dropped silently:
/// each datagram or block the analyzer does not use lands in one of these.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Frames handed in.
    pub frames: u64,
    /// Frames that were not IP/UDP (ARP, TCP, ICMP ...).
    pub not_udp: u64,
    /// IP fragments (not reassembled).
    pub fragments: u64,
    /// Frames of a link type the decoder does not know.
    pub unsupported_link: u64,
    /// Frames whose headers were broken or cut short.
    pub malformed_frames: u64,
    /// UDP datagrams.
    pub udp: u64,
    /// RTP packets of valid streams.
    pub rtp_packets: u64,
    /// Datagrams that looked like RTP but whose header did not check out.
    pub rtp_malformed: u64,
    /// RTP-looking packets still in RFC 3550 probation (or never validated).
    pub rtp_probation: u64,
    /// RTCP compound datagrams read.
    pub rtcp_compounds: u64,
    /// RTCP sub-packets parsed.
    pub rtcp_packets: u64,
    /// Compounds that did not walk cleanly (their good sub-packets were still used).
    pub rtcp_malformed: u64,
    /// Sub-packets rejected inside compounds.
    pub rtcp_bad_subpackets: u64,
    /// SRTCP (encrypted) datagrams: counted, never read as report blocks.
    pub srtcp: u64,
    /// RTCP types other than SR/RR/SDES/BYE/APP/XR/FB.
    pub rtcp_unknown_type: u64,
    /// Report blocks about SSRC 0.
    pub blocks_ssrc_zero: u64,
    /// Report blocks about SSRCs that are not an RTP stream of the channel.
    pub blocks_unknown_ssrc: u64,
    /// Report blocks whose jitter could not be converted (no clock rate).
    pub jitter_without_rate: u64,
    /// RTT results ≤ 0 or > 10 s, rejected.
    pub rtt_rejected: u64,
    /// BYE SSRCs seen.
    pub bye_sources: u64,
    /// STUN datagrams.
    pub stun: u64,
    /// DTLS records.
    pub dtls: u64,
    /// TURN channel data.
    pub turn_channel: u64,
    /// ZRTP.
    pub zrtp: u64,
    /// Other UDP.
    pub other_udp: u64,
    /// Streams evicted because an endpoint had more than [`MAX_STREAMS_PER_SIDE`].
    pub streams_evicted: u64,
    /// Sessions without valid RTP evicted to admit a new one past
    /// [`AnalyzerConfig::max_sessions`].
    pub sessions_evicted: u64,
    /// Datagrams of new flows refused because every held session carries valid RTP.
    pub sessions_refused: u64,
}

/// How an RTT sample was computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RttMethod {
    /// Capture time of an SR and of the block answering it.
    CaptureTime,
    /// The SR NTP chain (the block's sender view).
    NtpChain,
    /// XR RRTR answered by DLRR.
    XrDlrr,
}

/// One RTT computation, kept when [`AnalyzerConfig::record_rtt_observations`] is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RttObservation {
    /// 1-based number of the frame that completed it (Wireshark's `frame.number`).
    pub frame: u64,
    /// Sender of the answering report.
    pub reporter: SocketAddr,
    /// The SSRC the answering block is about.
    pub about_ssrc: u32,
    /// Method.
    pub method: RttMethod,
    /// Result before the sanity bounds, in nanoseconds.
    pub rtt_nanos: i64,
    /// Whether it passed the sanity bounds.
    pub accepted: bool,
}

/// One RTP stream as `--streams` lists it (comparable to `tshark -z rtp,streams`).
#[derive(Clone, Debug, PartialEq)]
pub struct StreamRow {
    /// Source address.
    pub src: SocketAddr,
    /// Destination address.
    pub dst: SocketAddr,
    /// SSRC.
    pub ssrc: u32,
    /// Latest payload type.
    pub payload_type: u8,
    /// Clock rate in use, if known.
    pub clock_rate: Option<u32>,
    /// Packets captured.
    pub packets: u64,
    /// Expected minus captured (negative with duplicates).
    pub lost: i64,
    /// Duplicates detected.
    pub duplicates: u64,
    /// Max and mean A.8 jitter in ms.
    pub jitter_ms: Option<(f64, f64)>,
    /// First and last capture time.
    pub first: Timestamp,
    /// Last capture time.
    pub last: Timestamp,
}

/// Baseline of the last report block of one reporter about one SSRC.
#[derive(Clone, Copy, Debug)]
struct BlockBaseline {
    reporter: u32,
    about: u32,
    extended_highest: u32,
    cumulative_lost: i32,
}

/// What one side of a session sent, and what was measured from it.
///
/// `repr(C)`, aligned to a cache line: what every RTP packet of the side touches (the
/// stream list and the activity) is the first line; the RTCP state follows.
#[derive(Clone, Debug, Default)]
#[repr(C, align(64))]
struct SideState {
    streams: Vec<RtpStream>,
    activity: ActivityTracker,
    /// This side's SRs, with the chain links their blocks made.
    sender_reports: Histories,
    /// This side's XR RRTRs.
    reference_times: Histories,
    baselines: Vec<BlockBaseline>,
    /// Samples from this side's blocks about the peer's streams (peer -> this side).
    reported_loss: LossSamples,
    reported_jitter: DurationSamples,
    blocks_accepted: u64,
    /// This side's SRs answered by the peer: the capture-time RTT.
    rtt_capture: DurationSamples,
    /// NTP chains with this side's SR in the middle, and this side's RRTRs answered.
    rtt_peer_view: DurationSamples,
    rtcp_packets: u64,
    srtcp_packets: u64,
}

impl SideState {
    fn stream_index(&self, ssrc: u32) -> Option<usize> {
        self.streams.iter().position(|s| s.ssrc() == ssrc)
    }

    fn valid_stream(&self, ssrc: u32) -> Option<&RtpStream> {
        self.streams
            .iter()
            .find(|s| s.ssrc() == ssrc && s.is_valid())
    }

    fn has_valid_stream(&self) -> bool {
        self.streams.iter().any(RtpStream::is_valid)
    }
}

/// One channel: RTP between two endpoints, both directions, with its RTCP.
///
/// `repr(C)`, aligned to a cache line: an RTP packet touches the first line (last
/// packet, activity) and the first line of its sender's side, nothing else of the session
/// (its side comes from the index key, not from comparing `endpoints`).
#[derive(Clone, Debug)]
#[repr(C, align(64))]
pub struct Session {
    last_packet: Timestamp,
    activity: ActivityTracker,
    first_packet: Timestamp,
    rtcp_mux: bool,
    finished: bool,
    sides: [SideState; 2],
    /// The two endpoints, ordered (side 0 is the smaller address).
    endpoints: [SocketAddr; 2],
}

impl Session {
    fn new(a: SocketAddr, b: SocketAddr, now: Timestamp) -> Self {
        let endpoints = if a <= b { [a, b] } else { [b, a] };
        Session {
            endpoints,
            sides: [SideState::default(), SideState::default()],
            activity: ActivityTracker::default(),
            first_packet: now,
            last_packet: now,
            rtcp_mux: false,
            finished: false,
        }
    }

    fn side_of(&self, addr: SocketAddr) -> usize {
        usize::from(self.endpoints[0] != addr)
    }

    /// The two RTP endpoints.
    pub fn endpoints(&self) -> [SocketAddr; 2] {
        self.endpoints
    }

    /// True when at least one stream of the session passed probation.
    pub fn has_rtp(&self) -> bool {
        self.sides.iter().any(SideState::has_valid_stream)
    }

    /// Time of the last RTP packet.
    pub fn last_rtp(&self) -> Option<Timestamp> {
        self.activity.last_seen()
    }

    /// Time of the first packet (RTP or RTCP) of the session.
    pub fn first_packet(&self) -> Timestamp {
        self.first_packet
    }

    /// Time of the last packet, RTP or RTCP.
    pub fn last_packet(&self) -> Timestamp {
        self.last_packet
    }

    /// RTP packets sent by each endpoint so far (valid streams only).
    pub fn packets_by_endpoint(&self) -> [(SocketAddr, u64); 2] {
        let count = |side: &SideState| -> u64 {
            side.streams
                .iter()
                .filter(|s| s.is_valid())
                .map(RtpStream::packets)
                .sum()
        };
        [
            (self.endpoints[0], count(&self.sides[0])),
            (self.endpoints[1], count(&self.sides[1])),
        ]
    }

    /// True when every valid stream of the session said RTCP BYE.
    pub fn all_streams_said_bye(&self) -> bool {
        let mut any = false;
        for stream in self
            .sides
            .iter()
            .flat_map(|s| s.streams.iter())
            .filter(|s| s.is_valid())
        {
            if !stream.said_bye() {
                return false;
            }
            any = true;
        }
        any
    }

    /// Closes the streams' last sampling intervals (call end). Idempotent.
    pub fn finish(&mut self, end: Timestamp, sample_interval: Duration) {
        if self.finished {
            return;
        }
        self.finished = true;
        let every = duration_nanos(sample_interval);
        for side in &mut self.sides {
            for stream in &mut side.streams {
                stream.finish(end, every);
            }
        }
    }

    /// Which side is the bot's, given its addresses.
    pub fn local_side(&self, local: &[IpAddr]) -> Option<usize> {
        let a = local.contains(&self.endpoints[0].ip());
        let b = local.contains(&self.endpoints[1].ip());
        match (a, b) {
            (true, false) => Some(0),
            (false, true) => Some(1),
            // Both local (a loopback test call): the first is as good as the second.
            (true, true) => Some(0),
            (false, false) => None,
        }
    }

    fn guess_kind(&self) -> MediaKind {
        let video = self
            .sides
            .iter()
            .flat_map(|s| s.streams.iter())
            .filter(|s| s.is_valid())
            .any(|s| matches!(s.clock_rate(), Some((90_000, _))));
        if video {
            MediaKind::Video
        } else {
            MediaKind::Audio
        }
    }

    /// The channel's record, seen from `local_side`. The index is filled in by the caller.
    pub fn quality(
        &self,
        local_side: usize,
        kind: MediaKind,
        kind_source: KindSource,
        link_speed_bytes_per_sec: Option<u64>,
    ) -> ChannelQuality {
        let remote_side = 1 - local_side;
        let local = &self.sides[local_side];
        let remote = &self.sides[remote_side];

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
            for stream in remote.streams.iter().filter(|s| s.is_valid()) {
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
            kind,
            kind_source,
            channel_index: 0,
            local: self.endpoints[local_side],
            remote: Some(self.endpoints[remote_side]),
            media_duration: self.has_rtp().then(|| self.activity.active()),
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
            rtcp_mux: self.rtcp_mux,
            srtcp_packets: self.sides[0].srtcp_packets + self.sides[1].srtcp_packets,
        }
    }
}

fn direction(
    sender: &SideState,
    loss: Metric<f64>,
    jitter: Metric<Duration>,
    round_trip: Metric<Duration>,
) -> DirectionQuality {
    let valid = || sender.streams.iter().filter(|s| s.is_valid());
    let packets = valid().map(RtpStream::packets).sum();
    let bytes: u64 = valid().map(RtpStream::bytes).sum();
    let frames: u64 = valid().map(RtpStream::frames).sum();
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
        ssrcs: valid().map(RtpStream::ssrc).collect(),
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

fn duration_nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// What `vtcq analyze` can tell about the bot's address without being told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalInference {
    /// One address is an endpoint of every RTP flow, and no other is.
    Unique {
        /// The address.
        addr: IpAddr,
        /// Number of RTP flows it is on.
        flows: usize,
    },
    /// Several addresses fit: the user has to pick.
    Ambiguous {
        /// The addresses that could be local.
        candidates: Vec<IpAddr>,
    },
    /// No RTP at all.
    NoRtp,
}

/// The index key of the session between two endpoints: for two IPv4 endpoints (nearly
/// all media), each packed into 48 bits (address, port), which hashes and compares in a
/// few instructions and keeps an index entry at 24 bytes; the endpoints themselves
/// otherwise. Either way the pair is ordered as [`Session`] orders its endpoints.
#[derive(Clone, Copy, Debug)]
enum FlowKey {
    V4(u64, u64),
    Other(SocketAddr, SocketAddr),
}

impl FlowKey {
    /// The two endpoints' ports.
    fn ports(&self) -> [u16; 2] {
        match self {
            FlowKey::V4(x, y) => [*x as u16, *y as u16],
            FlowKey::Other(a, b) => [a.port(), b.port()],
        }
    }

    /// The key of the session between `a` and `b`, and the side of that session `a` is
    /// on (`Session::side_of(a)`, found without reading the session).
    fn of(a: SocketAddr, b: SocketAddr) -> (FlowKey, usize) {
        if let (SocketAddr::V4(x), SocketAddr::V4(y)) = (a, b) {
            // `SocketAddrV4` orders by address, then port: so do these integers.
            let pack =
                |s: SocketAddrV4| (u64::from(u32::from(*s.ip())) << 16) | u64::from(s.port());
            let (x, y) = (pack(x), pack(y));
            return if x <= y {
                (FlowKey::V4(x, y), 0)
            } else {
                (FlowKey::V4(y, x), 1)
            };
        }
        if a <= b {
            (FlowKey::Other(a, b), 0)
        } else {
            (FlowKey::Other(b, a), 1)
        }
    }
}

/// The analyzer. Feed it frames in capture order; read channels at the end.
#[derive(Debug)]
pub struct Analyzer {
    config: AnalyzerConfig,
    sample_every: i64,
    idle_gap: i64,
    sessions: Vec<Session>,
    /// Ordered IPv4 endpoint pair ([`FlowKey::V4`]) -> index into `sessions`.
    index_v4: FxHashMap<(u64, u64), usize>,
    /// Any other ordered endpoint pair -> index into `sessions`.
    index: FxHashMap<(SocketAddr, SocketAddr), usize>,
    /// Sessions in order of creation, the eviction candidates. Entries of sessions that
    /// since validated or went away are dropped lazily, when met.
    admission: VecDeque<FlowKey>,
    /// Local ports of registered calls: their unvalidated sessions are evicted last, so a
    /// flood of new flows cannot keep a starting call in probation for ever.
    protected_ports: FxHashSet<u16>,
    counters: Counters,
    observations: Vec<RttObservation>,
    first_frame: Option<Timestamp>,
    last_frame: Option<Timestamp>,
}

impl Analyzer {
    /// A new analyzer.
    pub fn new(config: AnalyzerConfig) -> Self {
        Analyzer {
            sample_every: duration_nanos(config.sample_interval).max(1),
            idle_gap: duration_nanos(config.idle_gap),
            config,
            sessions: Vec::new(),
            index_v4: FxHashMap::default(),
            index: FxHashMap::default(),
            admission: VecDeque::new(),
            protected_ports: FxHashSet::default(),
            counters: Counters::default(),
            observations: Vec::new(),
            first_frame: None,
            last_frame: None,
        }
    }

    /// Counters of everything seen.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// RTT computations, when recording was asked for.
    pub fn rtt_observations(&self) -> &[RttObservation] {
        &self.observations
    }

    /// Capture time of the first and last frame.
    pub fn time_span(&self) -> Option<(Timestamp, Timestamp)> {
        self.first_frame.zip(self.last_frame)
    }

    /// All sessions, including those that never carried valid RTP.
    pub fn sessions(&self) -> &[Session] {
        &self.sessions
    }

    /// Feeds one captured frame.
    pub fn process_frame(&mut self, now: Timestamp, link_type: LinkType, frame: &[u8]) {
        self.counters.frames += 1;
        if self.first_frame.is_none() {
            self.first_frame = Some(now);
        }
        if self.last_frame.is_none_or(|last| now > last) {
            self.last_frame = Some(now);
        }
        match decode_udp(link_type, frame) {
            Ok(udp) => self.process_udp(now, udp.src, udp.dst, udp.payload, udp.payload_len),
            Err(LinkError::Fragment) => self.counters.fragments += 1,
            Err(LinkError::UnsupportedLinkType) => self.counters.unsupported_link += 1,
            Err(e) if e.is_malformed() => self.counters.malformed_frames += 1,
            Err(_) => self.counters.not_udp += 1,
        }
    }

    /// Feeds one UDP datagram (the live capture path enters here too).
    pub fn process_udp(
        &mut self,
        now: Timestamp,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
        payload_len: usize,
    ) {
        self.counters.udp += 1;
        match classify(payload) {
            PayloadClass::Rtp => self.on_rtp(now, src, dst, payload, payload_len),
            PayloadClass::Rtcp => self.on_rtcp(now, src, dst, payload),
            PayloadClass::Stun => self.counters.stun += 1,
            PayloadClass::Dtls => self.counters.dtls += 1,
            PayloadClass::TurnChannel => self.counters.turn_channel += 1,
            PayloadClass::Zrtp => self.counters.zrtp += 1,
            PayloadClass::Other => self.counters.other_udp += 1,
        }
    }

    fn lookup(&self, key: &FlowKey) -> Option<usize> {
        match key {
            FlowKey::V4(x, y) => self.index_v4.get(&(*x, *y)).copied(),
            FlowKey::Other(a, b) => self.index.get(&(*a, *b)).copied(),
        }
    }

    fn insert_key(&mut self, key: FlowKey, i: usize) {
        match key {
            FlowKey::V4(x, y) => self.index_v4.insert((x, y), i),
            FlowKey::Other(a, b) => self.index.insert((a, b), i),
        };
    }

    fn remove_key(&mut self, key: &FlowKey) {
        match key {
            FlowKey::V4(x, y) => self.index_v4.remove(&(*x, *y)),
            FlowKey::Other(a, b) => self.index.remove(&(*a, *b)),
        };
    }

    /// The session between `a` and `b` (created if new), and the side `a` is on; `None`
    /// when the session bound refuses a new one (counted).
    fn session_and_side(
        &mut self,
        a: SocketAddr,
        b: SocketAddr,
        now: Timestamp,
    ) -> Option<(usize, usize)> {
        let (key, side) = FlowKey::of(a, b);
        if let Some(i) = self.lookup(&key) {
            return Some((i, side));
        }
        if self.sessions.len() >= self.config.max_sessions.max(1) && !self.evict_one() {
            self.counters.sessions_refused += 1;
            return None;
        }
        let i = self.sessions.len();
        self.sessions.push(Session::new(a, b, now));
        self.insert_key(key, i);
        self.admission.push_back(key);
        Some((i, side))
    }

    fn session_index(&mut self, a: SocketAddr, b: SocketAddr, now: Timestamp) -> Option<usize> {
        self.session_and_side(a, b, now).map(|(i, _)| i)
    }

    /// Evicts the oldest session without valid RTP, preferring unprotected ones. Looks at
    /// [`EVICTION_SCAN`] live candidates at most; false when none could go.
    fn evict_one(&mut self) -> bool {
        let mut seen = 0;
        while let Some(key) = self.admission.pop_front() {
            let Some(i) = self.lookup(&key) else {
                continue; // taken since: a stale entry
            };
            if self.sessions[i].has_rtp() {
                continue; // validated: never evicted, so no longer a candidate
            }
            seen += 1;
            let protected = key.ports().iter().any(|p| self.protected_ports.contains(p));
            if protected && seen < EVICTION_SCAN {
                self.admission.push_back(key);
                continue;
            }
            self.remove_key(&key);
            self.sessions.swap_remove(i);
            if let Some(moved) = self.sessions.get(i) {
                let [a, b] = moved.endpoints;
                self.insert_key(FlowKey::of(a, b).0, i);
            }
            self.counters.sessions_evicted += 1;
            return true;
        }
        false
    }

    /// Sets the registered calls' local ports, whose sessions are evicted last (see
    /// [`AnalyzerConfig::max_sessions`]).
    pub fn set_protected_ports(&mut self, ports: impl IntoIterator<Item = u16>) {
        self.protected_ports = ports.into_iter().collect();
    }

    fn find_session(&self, a: SocketAddr, b: SocketAddr) -> Option<usize> {
        self.lookup(&FlowKey::of(a, b).0)
    }

    fn on_rtp(
        &mut self,
        now: Timestamp,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
        payload_len: usize,
    ) {
        let Ok(packet) = RtpPacket::new_checked(payload) else {
            self.counters.rtp_malformed += 1;
            return;
        };
        let header = packet.header();
        let local_port = self.local_port(src, dst);
        let rate = match local_port {
            Some(port) => self.config.clock_rates.lookup(&[port], header.payload_type),
            None => self
                .config
                .clock_rates
                .lookup(&[src.port(), dst.port()], header.payload_type),
        };
        let Some((si, side_index)) = self.session_and_side(src, dst, now) else {
            return; // refused by the session bound, counted there
        };
        let session = &mut self.sessions[si];
        debug_assert_eq!(side_index, session.side_of(src));
        session.last_packet = session.last_packet.max(now);
        let side = &mut session.sides[side_index];
        let stream_index = match side.stream_index(header.ssrc) {
            Some(i) => i,
            None => {
                if side.streams.len() >= MAX_STREAMS_PER_SIDE {
                    // A flood of random SSRCs must not grow the state without bound: drop
                    // the stream that never validated, else the one silent the longest.
                    let victim = side
                        .streams
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, s)| (s.is_valid(), s.span().1))
                        .map(|(i, _)| i)
                        .unwrap_or(0);
                    side.streams.swap_remove(victim);
                    self.counters.streams_evicted += 1;
                }
                if side.streams.capacity() == 0 {
                    // Most sides have one stream, and a flood's sessions never get a
                    // second: the default first capacity (4) would triple their size.
                    side.streams.reserve_exact(1);
                }
                side.streams.push(RtpStream::new(now, &header));
                side.streams.len() - 1
            }
        };
        let stream = &mut side.streams[stream_index];
        let was_valid = stream.is_valid();
        let verdict = stream.on_packet(now, &header, payload_len, rate, self.sample_every);
        if verdict == SeqVerdict::Probation {
            self.counters.rtp_probation += 1;
            return;
        }
        if !was_valid {
            // The packets held in probation are RTP after all.
            self.counters.rtp_probation = self
                .counters
                .rtp_probation
                .saturating_sub(stream.packets().saturating_sub(1));
            self.counters.rtp_packets += stream.packets().saturating_sub(1);
        }
        self.counters.rtp_packets += 1;
        side.activity.observe(now, self.idle_gap);
        session.activity.observe(now, self.idle_gap);
    }

    fn local_port(&self, src: SocketAddr, dst: SocketAddr) -> Option<u16> {
        let local = &self.config.local_addrs;
        if local.contains(&src.ip()) {
            Some(src.port())
        } else if local.contains(&dst.ip()) {
            Some(dst.port())
        } else {
            None
        }
    }

    /// Finds the session an RTCP datagram belongs to: the RTP flow on the same ports
    /// (RFC 5761 mux), else the one on port-1 (RFC 3550's default).
    fn rtcp_session(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        now: Timestamp,
    ) -> Option<(usize, SocketAddr)> {
        if let Some(i) = self.find_session(src, dst) {
            self.sessions[i].rtcp_mux = true;
            return Some((i, src));
        }
        let minus_one = |a: SocketAddr| a.port().checked_sub(1).map(|p| SocketAddr::new(a.ip(), p));
        if let (Some(s), Some(d)) = (minus_one(src), minus_one(dst)) {
            let odd = src.port() % 2 == 1 && dst.port() % 2 == 1;
            if let Some(i) = self.find_session(s, d) {
                return Some((i, s));
            }
            if odd {
                return self.session_index(s, d, now).map(|i| (i, s));
            }
        }
        let i = self.session_index(src, dst, now)?;
        self.sessions[i].rtcp_mux = true;
        Some((i, src))
    }

    fn on_rtcp(&mut self, now: Timestamp, src: SocketAddr, dst: SocketAddr, payload: &[u8]) {
        let compound = Compound::parse(payload);
        let Some((si, sender)) = self.rtcp_session(src, dst, now) else {
            return; // refused by the session bound, counted there
        };
        self.sessions[si].last_packet = self.sessions[si].last_packet.max(now);
        let side_index = self.sessions[si].side_of(sender);
        match compound.kind() {
            CompoundKind::Srtcp => {
                self.counters.srtcp += 1;
                self.sessions[si].sides[side_index].srtcp_packets += 1;
                return;
            }
            CompoundKind::Malformed => self.counters.rtcp_malformed += 1,
            CompoundKind::Plain => {}
        }
        self.counters.rtcp_compounds += 1;
        for packet in compound.packets() {
            let packet = match packet {
                Ok(p) => p,
                Err(_) => {
                    self.counters.rtcp_bad_subpackets += 1;
                    continue;
                }
            };
            self.counters.rtcp_packets += 1;
            self.sessions[si].sides[side_index].rtcp_packets += 1;
            match packet {
                Packet::SenderReport(sr) => {
                    let reporter = sr.ssrc();
                    let ntp = sr.ntp_timestamp();
                    let slot = self.sessions[si].sides[side_index]
                        .sender_reports
                        .get_or_insert(reporter)
                        .push(ntp, now);
                    for block in sr.report_blocks() {
                        self.on_report_block(
                            now,
                            si,
                            side_index,
                            sender,
                            reporter,
                            Some((slot, ntp)),
                            &block,
                        );
                    }
                }
                Packet::ReceiverReport(rr) => {
                    let reporter = rr.ssrc();
                    for block in rr.report_blocks() {
                        self.on_report_block(now, si, side_index, sender, reporter, None, &block);
                    }
                }
                Packet::Goodbye(bye) => {
                    for ssrc in bye.sources() {
                        self.counters.bye_sources += 1;
                        let side = &mut self.sessions[si].sides[side_index];
                        if let Some(i) = side.stream_index(ssrc) {
                            side.streams[i].mark_bye();
                        }
                    }
                }
                Packet::ExtendedReport(xr) => {
                    let reporter = xr.ssrc();
                    for block in xr.blocks() {
                        match block {
                            Ok(XrBlock::ReceiverReferenceTime { ntp_timestamp }) => {
                                self.sessions[si].sides[side_index]
                                    .reference_times
                                    .get_or_insert(reporter)
                                    .push(ntp_timestamp, now);
                            }
                            Ok(XrBlock::Dlrr(dlrr)) => {
                                for sub in dlrr.sub_blocks() {
                                    self.on_dlrr(
                                        now,
                                        si,
                                        side_index,
                                        sender,
                                        sub.ssrc,
                                        sub.last_rr,
                                        sub.delay_since_last_rr,
                                    );
                                }
                            }
                            Ok(_) => {}
                            Err(_) => self.counters.rtcp_bad_subpackets += 1,
                        }
                    }
                }
                Packet::Unknown { .. } => self.counters.rtcp_unknown_type += 1,
                Packet::SourceDescription(_)
                | Packet::App(_)
                | Packet::TransportFeedback(_)
                | Packet::PayloadFeedback(_) => {}
            }
        }
    }

    fn observe_rtt(
        &mut self,
        reporter: SocketAddr,
        about_ssrc: u32,
        method: RttMethod,
        rtt_nanos: i64,
    ) -> Option<i64> {
        let accepted = rtt::within_bounds(rtt_nanos);
        if accepted.is_none() {
            self.counters.rtt_rejected += 1;
        }
        if self.config.record_rtt_observations {
            self.observations.push(RttObservation {
                frame: self.counters.frames,
                reporter,
                about_ssrc,
                method,
                rtt_nanos,
                accepted: accepted.is_some(),
            });
        }
        accepted
    }

    #[allow(clippy::too_many_arguments)]
    fn on_report_block(
        &mut self,
        now: Timestamp,
        si: usize,
        reporter_side: usize,
        reporter_addr: SocketAddr,
        reporter_ssrc: u32,
        sender_report: Option<(usize, u64)>,
        block: &ReportBlock,
    ) {
        let peer_side = 1 - reporter_side;

        // Round-trip delay: the block answers one of the peer's SRs.
        let answered = self.sessions[si].sides[peer_side]
            .sender_reports
            .get(block.ssrc)
            .and_then(|h| h.find(block.last_sr))
            .copied();
        if let Some(answered) = answered {
            let dlsr = rtt::dlsr_nanos(block.delay_since_last_sr);
            let capture_rtt = now.nanos_since(answered.captured) - dlsr;
            if let Some(rtt) = self.observe_rtt(
                reporter_addr,
                block.ssrc,
                RttMethod::CaptureTime,
                capture_rtt,
            ) {
                self.sessions[si].sides[peer_side]
                    .rtt_capture
                    .record(nanos(rtt));
            }
            if let Some((slot, ntp)) = sender_report {
                // Third link of a chain: this SR (N2) answers the peer's SR, which
                // answered our earlier SR (N0) of the same SSRC.
                for link in answered.links().filter(|l| l.remote_ssrc == reporter_ssrc) {
                    let chain = rtt::ntp_diff_nanos(ntp, link.remote_ntp)
                        - rtt::dlsr_nanos(link.dlsr)
                        - dlsr;
                    if let Some(rtt) =
                        self.observe_rtt(reporter_addr, block.ssrc, RttMethod::NtpChain, chain)
                    {
                        self.sessions[si].sides[peer_side]
                            .rtt_peer_view
                            .record(nanos(rtt));
                    }
                }
                // Second link: this SR acknowledges the peer's SR.
                self.sessions[si].sides[reporter_side]
                    .sender_reports
                    .get_or_insert(reporter_ssrc)
                    .add_link(
                        slot,
                        ChainLink {
                            remote_ssrc: block.ssrc,
                            remote_ntp: answered.ntp,
                            dlsr: block.delay_since_last_sr,
                        },
                    );
            }
        }

        // Loss and jitter: only about RTP streams of this channel in that direction.
        if block.ssrc == 0 {
            self.counters.blocks_ssrc_zero += 1;
            return;
        }
        let session = &mut self.sessions[si];
        let [side0, side1] = &mut session.sides;
        let (reporter, peer) = if reporter_side == 0 {
            (side0, &*side1)
        } else {
            (side1, &*side0)
        };
        let Some(stream) = peer.valid_stream(block.ssrc) else {
            self.counters.blocks_unknown_ssrc += 1;
            return;
        };
        reporter.blocks_accepted += 1;
        match reporter
            .baselines
            .iter_mut()
            .find(|b| b.reporter == reporter_ssrc && b.about == block.ssrc)
        {
            None => {
                reporter
                    .reported_loss
                    .record_percent_only(f64::from(block.fraction_lost) / 256.0 * 100.0);
                if reporter.baselines.len() >= SR_HISTORY * 4 {
                    reporter.baselines.remove(0);
                }
                reporter.baselines.push(BlockBaseline {
                    reporter: reporter_ssrc,
                    about: block.ssrc,
                    extended_highest: block.extended_highest_sequence,
                    cumulative_lost: block.cumulative_lost,
                });
            }
            Some(baseline) => {
                let expected = i64::from(block.extended_highest_sequence)
                    - i64::from(baseline.extended_highest);
                if expected > 0 {
                    let lost = (i64::from(block.cumulative_lost)
                        - i64::from(baseline.cumulative_lost))
                    .max(0);
                    reporter.reported_loss.record_interval(lost, expected);
                }
                // expected ≤ 0: no new packets or a sequence reset; either way a new baseline.
                baseline.extended_highest = block.extended_highest_sequence;
                baseline.cumulative_lost = block.cumulative_lost;
            }
        }
        match stream.clock_rate() {
            Some((hz, _)) => reporter
                .reported_jitter
                .record_micros(f64::from(block.jitter) / f64::from(hz) * 1e6),
            None => self.counters.jitter_without_rate += 1,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_dlrr(
        &mut self,
        now: Timestamp,
        si: usize,
        reporter_side: usize,
        reporter_addr: SocketAddr,
        about_ssrc: u32,
        last_rr: u32,
        delay: u32,
    ) {
        let peer_side = 1 - reporter_side;
        let answered = self.sessions[si].sides[peer_side]
            .reference_times
            .get(about_ssrc)
            .and_then(|h| h.find(last_rr))
            .copied();
        if let Some(answered) = answered {
            let rtt = now.nanos_since(answered.captured) - rtt::dlsr_nanos(delay);
            if let Some(rtt) = self.observe_rtt(reporter_addr, about_ssrc, RttMethod::XrDlrr, rtt) {
                self.sessions[si].sides[peer_side]
                    .rtt_peer_view
                    .record(nanos(rtt));
            }
        }
    }

    /// Closes every stream's last sampling interval at `end` (call end, end of capture).
    pub fn finish(&mut self, end: Timestamp) {
        let interval = self.config.sample_interval;
        for session in &mut self.sessions {
            session.finish(end, interval);
        }
    }

    /// The RTP streams, in order of first packet (like `tshark -z rtp,streams`, valid ones only).
    pub fn stream_rows(&self) -> Vec<StreamRow> {
        let mut rows: Vec<StreamRow> = self
            .sessions
            .iter()
            .flat_map(|session| {
                session.sides.iter().enumerate().flat_map(move |(i, side)| {
                    let src = session.endpoints[i];
                    let dst = session.endpoints[1 - i];
                    side.streams.iter().filter(|s| s.is_valid()).map(move |s| {
                        let (first, last) = s.span();
                        StreamRow {
                            src,
                            dst,
                            ssrc: s.ssrc(),
                            payload_type: s.payload_type(),
                            clock_rate: s.clock_rate().map(|r| r.0),
                            packets: s.packets(),
                            lost: s.lost_signed(),
                            duplicates: s.duplicates(),
                            jitter_ms: s.jitter_max_mean_ms(),
                            first,
                            last,
                        }
                    })
                })
            })
            .collect();
        rows.sort_by_key(|r| r.first);
        rows
    }

    /// Guesses the bot's address: the one address that is an endpoint of every RTP flow.
    pub fn infer_local(&self) -> LocalInference {
        let flows: Vec<[IpAddr; 2]> = self
            .sessions
            .iter()
            .filter(|s| s.has_rtp())
            .map(|s| [s.endpoints[0].ip(), s.endpoints[1].ip()])
            .collect();
        let Some(first) = flows.first() else {
            return LocalInference::NoRtp;
        };
        let mut common: Vec<IpAddr> = first.to_vec();
        common.dedup();
        common.retain(|ip| flows.iter().all(|f| f.contains(ip)));
        if let [addr] = common[..] {
            return LocalInference::Unique {
                addr,
                flows: flows.len(),
            };
        }
        let mut candidates: Vec<IpAddr> = if common.is_empty() {
            flows.iter().flatten().copied().collect()
        } else {
            common
        };
        candidates.sort();
        candidates.dedup();
        LocalInference::Ambiguous { candidates }
    }

    /// The call's channels seen from `local`: every session with RTP and a local endpoint,
    /// kinds from `declared` (local port -> kind, in declaration order) or the heuristic,
    /// `channelIndex` 1-based within each kind in order of declaration, then first packet.
    pub fn channel_qualities(
        &self,
        local: &[IpAddr],
        declared: &[(u16, MediaKind)],
        link_speed_bytes_per_sec: Option<u64>,
    ) -> Vec<ChannelQuality> {
        channel_qualities(
            self.sessions.iter(),
            local,
            declared,
            link_speed_bytes_per_sec,
        )
    }

    /// Adds a clock rate (a late registration's payload types): packets from now on use it.
    pub fn set_clock_rate(&mut self, port: Option<u16>, payload_type: u8, hz: u32) {
        self.config.clock_rates.insert(port, payload_type, hz);
    }

    /// Removes and returns the sessions `keep_out` selects (a call that ended, a flow that
    /// went idle), so a later call on the same ports starts from nothing.
    pub fn take_sessions(&mut self, mut keep_out: impl FnMut(&Session) -> bool) -> Vec<Session> {
        // In place: this runs every second in the daemon, over up to `max_sessions`.
        let mut taken = Vec::new();
        let mut i = 0;
        while i < self.sessions.len() {
            if keep_out(&self.sessions[i]) {
                taken.push(self.sessions.swap_remove(i));
            } else {
                i += 1;
            }
        }
        if taken.is_empty() {
            return taken;
        }
        // Taking keeps the others' relative order only up to the swaps: rebuild the index.
        self.index_v4.clear();
        self.index.clear();
        for i in 0..self.sessions.len() {
            let [a, b] = self.sessions[i].endpoints;
            self.insert_key(FlowKey::of(a, b).0, i);
        }
        let mut admission = std::mem::take(&mut self.admission);
        admission.retain(|key| self.lookup(key).is_some());
        self.admission = admission;
        taken
    }
}

/// Channels of `sessions` seen from `local` (see [`Analyzer::channel_qualities`]).
pub fn channel_qualities<'a>(
    sessions: impl Iterator<Item = &'a Session>,
    local: &[IpAddr],
    declared: &[(u16, MediaKind)],
    link_speed_bytes_per_sec: Option<u64>,
) -> Vec<ChannelQuality> {
    let channels: Vec<(usize, Timestamp, ChannelQuality)> = sessions
        .filter(|s| s.has_rtp())
        .filter_map(|s| {
            let local_side = s.local_side(local)?;
            let port = s.endpoints[local_side].port();
            let declaration = declared.iter().position(|(p, _)| *p == port);
            let (kind, source, order) = match declaration {
                Some(i) => (declared[i].1, KindSource::Declared, i),
                None => (s.guess_kind(), KindSource::Heuristic, usize::MAX),
            };
            Some((
                order,
                s.first_packet,
                s.quality(local_side, kind, source, link_speed_bytes_per_sec),
            ))
        })
        .collect();
    index_channels(channels)
}

/// Sorts channels by kind, then declaration order, then first packet, and numbers them
/// 1-based within each kind (`channelIndex`). Each entry is (declaration order, or
/// `usize::MAX` when undeclared; first packet; the channel).
pub fn index_channels(
    mut channels: Vec<(usize, Timestamp, ChannelQuality)>,
) -> Vec<ChannelQuality> {
    channels.sort_by_key(|(order, first, c)| (c.kind, *order, *first));
    let mut next_index = [1u32; 3];
    for (_, _, channel) in &mut channels {
        let slot = channel.kind as usize;
        channel.channel_index = next_index[slot];
        next_index[slot] += 1;
    }
    channels.into_iter().map(|(_, _, c)| c).collect()
}

fn nanos(n: i64) -> Duration {
    Duration::from_nanos(n.max(0) as u64)
}

#[cfg(test)]
mod bound_tests {
    use super::*;
    use crate::wire::rtp::RtpHeader;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap_or_else(|_| unreachable!("{text}"))
    }

    fn rtp(
        analyzer: &mut Analyzer,
        at_micros: i64,
        src: SocketAddr,
        dst: SocketAddr,
        seq: u16,
        ssrc: u32,
    ) {
        let mut payload = Vec::new();
        RtpHeader {
            marker: false,
            payload_type: 0,
            sequence_number: seq,
            timestamp: u32::from(seq) * 160,
            ssrc,
        }
        .write(&mut payload);
        payload.extend_from_slice(&[0u8; 20]);
        analyzer.process_udp(
            Timestamp::from_nanos(at_micros * 1_000),
            src,
            dst,
            &payload,
            payload.len(),
        );
    }

    /// One datagram from a new random-looking port each time: never validates.
    fn flood(analyzer: &mut Analyzer, from: u32, count: u32) {
        let dst = addr("192.0.2.2:6000");
        for i in from..from + count {
            let src = SocketAddr::new(
                IpAddr::from([198, 51, (i >> 16) as u8, (i >> 8) as u8]),
                (i & 0xffff) as u16 | 1024,
            );
            rtp(
                analyzer,
                i64::from(i),
                src,
                dst,
                i as u16,
                i.wrapping_mul(2_654_435_761),
            );
        }
    }

    fn bounded(max_sessions: usize) -> Analyzer {
        Analyzer::new(AnalyzerConfig {
            max_sessions,
            ..AnalyzerConfig::default()
        })
    }

    #[test]
    fn random_ssrcs_on_one_flow_stay_bounded() {
        let mut analyzer = Analyzer::new(AnalyzerConfig::default());
        let src = addr("192.0.2.1:5000");
        let dst = addr("192.0.2.2:6000");
        for i in 0..10_000u32 {
            rtp(
                &mut analyzer,
                i64::from(i),
                src,
                dst,
                i as u16,
                i.wrapping_mul(2_654_435_761),
            );
        }
        let session = &analyzer.sessions()[0];
        let streams: usize = session.sides.iter().map(|s| s.streams.len()).sum();
        assert!(streams <= MAX_STREAMS_PER_SIDE, "{streams}");
        assert_eq!(
            analyzer.counters().streams_evicted,
            10_000 - MAX_STREAMS_PER_SIDE as u64
        );
    }

    #[test]
    fn a_flood_of_new_flows_evicts_unvalidated_sessions_only() {
        let mut analyzer = bounded(64);
        let (a, b) = (addr("192.0.2.1:5000"), addr("192.0.2.9:7000"));
        // An established flow: validated before the flood.
        for seq in 0..5u16 {
            rtp(&mut analyzer, i64::from(seq), a, b, seq, 7);
        }
        flood(&mut analyzer, 100, 10_000);
        assert_eq!(analyzer.sessions().len(), 64);
        assert_eq!(analyzer.counters().sessions_evicted, 10_000 - 63);
        assert_eq!(analyzer.counters().sessions_refused, 0);
        // Index and sessions agree after all the swap-removes.
        for (i, s) in analyzer.sessions().iter().enumerate() {
            let [x, y] = s.endpoints();
            assert_eq!(analyzer.find_session(x, y), Some(i));
        }
        // The established flow is intact and still counts.
        rtp(&mut analyzer, 20_000, a, b, 5, 7);
        let rows = analyzer.stream_rows();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].ssrc, rows[0].packets, rows[0].lost), (7, 6, 0));
        // The queue of candidates does not outgrow the sessions.
        assert!(
            analyzer.admission.len() <= 64,
            "{}",
            analyzer.admission.len()
        );
    }

    #[test]
    fn a_registered_port_starting_under_a_flood_still_validates() {
        let mut analyzer = bounded(64);
        analyzer.set_protected_ports([5000]);
        let (a, b) = (addr("192.0.2.1:5000"), addr("192.0.2.9:7000"));
        // Its first packet, then enough new flows to rotate the bound 3 times over,
        // then its second packet: with protection it is still there and validates.
        rtp(&mut analyzer, 0, a, b, 0, 7);
        flood(&mut analyzer, 100, 200);
        rtp(&mut analyzer, 300, a, b, 1, 7);
        let rows = analyzer.stream_rows();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0].packets, 2);

        // Unprotected, the same sequence loses the first packet's session.
        let mut analyzer = bounded(64);
        rtp(&mut analyzer, 0, a, b, 0, 7);
        flood(&mut analyzer, 100, 200);
        rtp(&mut analyzer, 300, a, b, 1, 7);
        assert!(analyzer.stream_rows().is_empty());
    }

    #[test]
    fn a_flood_at_a_protected_port_still_stays_bounded() {
        let mut analyzer = bounded(32);
        analyzer.set_protected_ports([6000]); // the flood's destination port
        flood(&mut analyzer, 100, 5_000);
        assert_eq!(analyzer.sessions().len(), 32);
        assert_eq!(analyzer.counters().sessions_evicted, 5_000 - 32);
    }

    #[test]
    fn when_every_session_carries_rtp_new_flows_are_refused_and_counted() {
        let mut analyzer = bounded(4);
        for n in 0..4u16 {
            let a = SocketAddr::new(IpAddr::from([192, 0, 2, 1]), 5000 + 2 * n);
            for seq in 0..3u16 {
                rtp(
                    &mut analyzer,
                    i64::from(seq),
                    a,
                    addr("192.0.2.9:7000"),
                    seq,
                    1,
                );
            }
        }
        flood(&mut analyzer, 100, 10);
        assert_eq!(analyzer.sessions().len(), 4);
        assert_eq!(analyzer.counters().sessions_refused, 10);
        assert_eq!(analyzer.counters().sessions_evicted, 0);
        assert_eq!(analyzer.stream_rows().len(), 4);
        // Once one is taken (its call ended), a new flow is admitted again.
        let first = analyzer.sessions()[0].endpoints();
        analyzer.take_sessions(|s| s.endpoints() == first);
        flood(&mut analyzer, 200, 1);
        assert_eq!(analyzer.sessions().len(), 4);
        assert_eq!(analyzer.counters().sessions_refused, 10);
    }
}
