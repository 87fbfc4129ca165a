//! Call lifecycle (SEMANTICS.md "Call boundaries and identity"), sans-IO: registrations,
//! packets and `now` in; ended calls with their channels out.
//!
//! A call is registered by the bot with its media sessions (local RTP port, kind, optional
//! remote address and port, optional payload-type clock rates). It ends by whichever comes
//! first: the bot's end request, RTCP BYE from every stream of the call, no packet for the
//! idle timeout, the maximum duration, or shutdown. Its channels are computed once, at the
//! end, and kept for `ended_retention` so that a late end request (the device's BYE
//! usually beats the bot's) answers with the same record. Ending is idempotent.
//!
//! The analyzer sees every flow from the first packet, registered or not, so a
//! registration that arrives after the media began covers the packets since the flow
//! began. A flow no registered call claims is reported as [`Event::Unregistered`] once it
//! has been idle for the idle timeout (or when the unregistered-flow bound is reached):
//! logged and counted by the daemon, never posted.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use rustc_hash::FxHashSet;

use crate::analyzer::{index_channels, Analyzer, AnalyzerConfig, Session};
use crate::capture::LinkType;
use crate::summary::{ChannelQuality, KindSource, MediaKind};
use crate::Timestamp;

/// One media session of a registered call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaSessionSpec {
    /// Its kind.
    pub kind: MediaKind,
    /// The bot's RTP port.
    pub local_port: u16,
    /// The device's address, when known.
    pub remote_addr: Option<IpAddr>,
    /// The device's RTP port, when known.
    pub remote_port: Option<u16>,
    /// Clock rates of the payload types negotiated on this session.
    pub clock_rates: Vec<(u8, u32)>,
}

impl MediaSessionSpec {
    /// The side of `session` that is this spec's local end, if the session belongs to it.
    fn local_side_of(&self, session: &Session, local_addrs: &[IpAddr]) -> Option<usize> {
        let endpoints = session.endpoints();
        (0..2).find(|&side| {
            let local = endpoints[side];
            let remote = endpoints[1 - side];
            local.port() == self.local_port
                && (local_addrs.is_empty() || local_addrs.contains(&local.ip()))
                && self.remote_addr.is_none_or(|ip| ip == remote.ip())
                && self.remote_port.is_none_or(|port| port == remote.port())
        })
    }
}

/// Lifecycle settings. Defaults follow SEMANTICS.md.
#[derive(Clone, Debug)]
pub struct LifecycleConfig {
    /// A call with no packet for this long ends (default 30 s).
    pub idle_timeout: Duration,
    /// A call ends at this age at the latest (default 12 h).
    pub max_duration: Duration,
    /// How long an ended call's record answers repeated end requests (default 10 min).
    pub ended_retention: Duration,
    /// Most unregistered flows kept at once; past it the oldest is reported early.
    pub max_unregistered_flows: usize,
    /// Most calls registered at once; past it a registration is refused.
    pub max_active_calls: usize,
    /// Link speed of the capture interface, bytes per second.
    pub link_speed_bytes_per_sec: Option<u64>,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        LifecycleConfig {
            idle_timeout: Duration::from_secs(30),
            max_duration: Duration::from_secs(12 * 3600),
            ended_retention: Duration::from_secs(600),
            max_unregistered_flows: 4096,
            max_active_calls: 1024,
            link_speed_bytes_per_sec: None,
        }
    }
}

/// Why a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The bot asked.
    Api,
    /// Every stream sent RTCP BYE.
    Bye,
    /// No packet for the idle timeout.
    Idle,
    /// The maximum duration passed.
    MaxDuration,
    /// The agent is stopping.
    Shutdown,
}

impl EndReason {
    /// Lowercase name, for logs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Api => "api",
            EndReason::Bye => "bye",
            EndReason::Idle => "idle",
            EndReason::MaxDuration => "max_duration",
            EndReason::Shutdown => "shutdown",
        }
    }
}

/// A call that ended, with its channels.
#[derive(Clone, Debug, PartialEq)]
pub struct EndedCall {
    /// The id it was registered under (the media leg id).
    pub id: String,
    /// Why it ended.
    pub reason: EndReason,
    /// When.
    pub ended_at: Timestamp,
    /// Its channels, indexed.
    pub channels: Vec<ChannelQuality>,
}

/// Something the daemon must act on.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A call ended on its own (BYE, idle, maximum duration): deliver its record.
    Ended(EndedCall),
    /// A flow that no call claimed went idle: log and count it, never post it.
    Unregistered {
        /// Its two RTP endpoints.
        endpoints: [SocketAddr; 2],
        /// RTP packets each endpoint sent.
        packets: [(SocketAddr, u64); 2],
    },
}

/// Why a registration was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// The call already ended; its record is kept, a new registration would double it.
    #[error("call {0} already ended")]
    AlreadyEnded(String),
    /// Another active call has a media session on this local port.
    #[error("local port {port} already belongs to call {other}")]
    PortInUse {
        /// The port.
        port: u16,
        /// The call holding it.
        other: String,
    },
    /// The same local port twice in one registration.
    #[error("local port {0} appears twice")]
    DuplicatePort(u16),
    /// A registration without media sessions.
    #[error("a call needs at least one media session")]
    NoSessions,
    /// As many calls as allowed are active already.
    #[error("{0} calls are active, the configured maximum")]
    TooManyCalls(usize),
}

/// An active call's live numbers (for `GET /v1/calls`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallStatus {
    /// Id.
    pub id: String,
    /// When it was registered.
    pub registered_at: Timestamp,
    /// Per media session: local port, kind, RTP packets in and out so far.
    pub sessions: Vec<(u16, MediaKind, u64, u64)>,
}

#[derive(Clone, Debug)]
struct ActiveCall {
    specs: Vec<MediaSessionSpec>,
    registered_at: Timestamp,
}

/// Counters of the lifecycle.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LifecycleCounters {
    /// Calls registered.
    pub registered: u64,
    /// Calls ended, by reason: api, bye, idle, max_duration, shutdown.
    pub ended: [u64; 5],
    /// Flows reported as unregistered.
    pub unregistered_flows: u64,
}

/// Tracks calls over one [`Analyzer`].
#[derive(Debug)]
pub struct CallTracker {
    analyzer: Analyzer,
    local_addrs: Vec<IpAddr>,
    config: LifecycleConfig,
    sample_interval: Duration,
    active: BTreeMap<String, ActiveCall>,
    ended: BTreeMap<String, EndedCall>,
    counters: LifecycleCounters,
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

impl CallTracker {
    /// A tracker; `local_addrs` are the bot's addresses (empty: any address, matched by port).
    pub fn new(
        analyzer: AnalyzerConfig,
        local_addrs: Vec<IpAddr>,
        config: LifecycleConfig,
    ) -> Self {
        let sample_interval = analyzer.sample_interval;
        CallTracker {
            analyzer: Analyzer::new(AnalyzerConfig {
                local_addrs: local_addrs.clone(),
                ..analyzer
            }),
            local_addrs,
            config,
            sample_interval,
            active: BTreeMap::new(),
            ended: BTreeMap::new(),
            counters: LifecycleCounters::default(),
        }
    }

    /// The analyzer (counters, streams).
    pub fn analyzer(&self) -> &Analyzer {
        &self.analyzer
    }

    /// Lifecycle counters.
    pub fn counters(&self) -> &LifecycleCounters {
        &self.counters
    }

    /// Feeds a captured frame.
    pub fn process_frame(&mut self, now: Timestamp, link_type: LinkType, frame: &[u8]) {
        self.analyzer.process_frame(now, link_type, frame);
    }

    /// Registers (or updates) a call. Updating an active call replaces its sessions.
    pub fn register(
        &mut self,
        now: Timestamp,
        id: &str,
        specs: Vec<MediaSessionSpec>,
    ) -> Result<(), RegisterError> {
        if self.ended.contains_key(id) {
            return Err(RegisterError::AlreadyEnded(id.to_owned()));
        }
        if specs.is_empty() {
            return Err(RegisterError::NoSessions);
        }
        for (i, spec) in specs.iter().enumerate() {
            if specs[..i].iter().any(|s| s.local_port == spec.local_port) {
                return Err(RegisterError::DuplicatePort(spec.local_port));
            }
        }
        for spec in &specs {
            if let Some((other, _)) = self.active.iter().find(|(other, call)| {
                other.as_str() != id && call.specs.iter().any(|s| s.local_port == spec.local_port)
            }) {
                return Err(RegisterError::PortInUse {
                    port: spec.local_port,
                    other: other.clone(),
                });
            }
        }
        for spec in &specs {
            for &(pt, hz) in &spec.clock_rates {
                self.analyzer.set_clock_rate(Some(spec.local_port), pt, hz);
            }
        }
        if !self.active.contains_key(id) && self.active.len() >= self.config.max_active_calls {
            return Err(RegisterError::TooManyCalls(self.active.len()));
        }
        let registered_at = self.active.get(id).map_or(now, |c| c.registered_at);
        if !self.active.contains_key(id) {
            self.counters.registered += 1;
        }
        self.active.insert(
            id.to_owned(),
            ActiveCall {
                specs,
                registered_at,
            },
        );
        self.protect_registered_ports();
        Ok(())
    }

    /// Tells the analyzer which ports belong to registered calls, so that a flood of new
    /// flows cannot evict a call's flow before its RTP validates.
    fn protect_registered_ports(&mut self) {
        let ports = self
            .active
            .values()
            .flat_map(|call| call.specs.iter().map(|spec| spec.local_port));
        self.analyzer.set_protected_ports(ports);
    }

    /// Ends a call (the bot's request, or shutdown). Idempotent: a call that already ended
    /// answers with the record it ended with. `None` for an unknown id.
    pub fn end(&mut self, now: Timestamp, id: &str, reason: EndReason) -> Option<&EndedCall> {
        if !self.ended.contains_key(id) {
            let call = self.active.remove(id)?;
            let ended = self.finish_call(now, id, call, reason);
            self.ended.insert(id.to_owned(), ended);
        }
        self.ended.get(id)
    }

    fn finish_call(
        &mut self,
        now: Timestamp,
        id: &str,
        call: ActiveCall,
        reason: EndReason,
    ) -> EndedCall {
        let local_addrs = self.local_addrs.clone();
        let specs = call.specs;
        self.protect_registered_ports();
        let mut sessions = self.analyzer.take_sessions(|s| {
            specs
                .iter()
                .any(|spec| spec.local_side_of(s, &local_addrs).is_some())
        });
        let mut channels = Vec::new();
        for session in &mut sessions {
            // An idle call ends at its last packet, not at the moment the timeout noticed.
            let end = match reason {
                EndReason::Idle => session.last_packet(),
                _ => now,
            };
            session.finish(end, self.sample_interval);
            let Some((order, spec, side)) = specs.iter().enumerate().find_map(|(i, spec)| {
                spec.local_side_of(session, &local_addrs)
                    .map(|side| (i, spec, side))
            }) else {
                continue;
            };
            if !session.has_rtp() {
                continue;
            }
            let quality = session.quality(
                side,
                spec.kind,
                KindSource::Declared,
                self.config.link_speed_bytes_per_sec,
            );
            channels.push((order, session.first_packet(), quality));
        }
        self.counters.ended[reason as usize] += 1;
        EndedCall {
            id: id.to_owned(),
            reason,
            ended_at: now,
            channels: index_channels(channels),
        }
    }

    /// Advances time: ends calls by BYE, idle timeout or maximum duration, reports idle
    /// unregistered flows, forgets ended records past their retention.
    pub fn poll(&mut self, now: Timestamp) -> Vec<Event> {
        let idle = nanos(self.config.idle_timeout);
        let max = nanos(self.config.max_duration);
        let local_addrs = self.local_addrs.clone();
        let mut to_end = Vec::new();
        for (id, call) in &self.active {
            let sessions: Vec<&Session> = self
                .analyzer
                .sessions()
                .iter()
                .filter(|s| {
                    call.specs
                        .iter()
                        .any(|spec| spec.local_side_of(s, &local_addrs).is_some())
                })
                .collect();
            let last = sessions
                .iter()
                .map(|s| s.last_packet())
                .max()
                .unwrap_or(call.registered_at)
                .max(call.registered_at);
            let started = sessions
                .iter()
                .map(|s| s.first_packet())
                .min()
                .unwrap_or(call.registered_at)
                .min(call.registered_at);
            let reason = if !sessions.is_empty()
                && sessions
                    .iter()
                    .all(|s| !s.has_rtp() || s.all_streams_said_bye())
                && sessions.iter().any(|s| s.has_rtp())
            {
                Some(EndReason::Bye)
            } else if now.nanos_since(last) >= idle {
                Some(EndReason::Idle)
            } else if now.nanos_since(started) >= max {
                Some(EndReason::MaxDuration)
            } else {
                None
            };
            if let Some(reason) = reason {
                to_end.push((id.clone(), reason));
            }
        }
        let mut events = Vec::new();
        for (id, reason) in to_end {
            if let Some(call) = self.active.remove(&id) {
                let ended = self.finish_call(now, &id, call, reason);
                self.ended.insert(id, ended.clone());
                events.push(Event::Ended(ended));
            }
        }

        // Flows no call claims: reported once idle, or early when too many are held.
        let claimed = |s: &Session, active: &BTreeMap<String, ActiveCall>| {
            active.values().any(|call| {
                call.specs
                    .iter()
                    .any(|spec| spec.local_side_of(s, &local_addrs).is_some())
            })
        };
        let active = &self.active;
        let mut unclaimed: Vec<(Timestamp, [SocketAddr; 2])> = self
            .analyzer
            .sessions()
            .iter()
            .filter(|s| !claimed(s, active))
            .map(|s| (s.last_packet(), s.endpoints()))
            .collect();
        unclaimed.sort();
        let excess = unclaimed
            .len()
            .saturating_sub(self.config.max_unregistered_flows);
        let expired: FxHashSet<[SocketAddr; 2]> = unclaimed
            .iter()
            .enumerate()
            .filter(|(i, (last, _))| *i < excess || now.nanos_since(*last) >= idle)
            .map(|(_, (_, e))| *e)
            .collect();
        if !expired.is_empty() {
            let taken = self
                .analyzer
                .take_sessions(|s| expired.contains(&s.endpoints()));
            for session in taken.iter().filter(|s| s.has_rtp()) {
                self.counters.unregistered_flows += 1;
                events.push(Event::Unregistered {
                    endpoints: session.endpoints(),
                    packets: session.packets_by_endpoint(),
                });
            }
        }

        let retention = nanos(self.config.ended_retention);
        self.ended
            .retain(|_, e| now.nanos_since(e.ended_at) < retention);
        events
    }

    /// Ends every active call (SIGTERM): their records must still be delivered.
    pub fn shutdown(&mut self, now: Timestamp) -> Vec<EndedCall> {
        let ids: Vec<String> = self.active.keys().cloned().collect();
        ids.iter()
            .filter_map(|id| self.end(now, id, EndReason::Shutdown).cloned())
            .collect()
    }

    /// Active calls with live packet counts.
    pub fn active_calls(&self) -> Vec<CallStatus> {
        let local_addrs = &self.local_addrs;
        self.active
            .iter()
            .map(|(id, call)| CallStatus {
                id: id.clone(),
                registered_at: call.registered_at,
                sessions: call
                    .specs
                    .iter()
                    .map(|spec| {
                        let (mut inbound, mut outbound) = (0, 0);
                        for s in self.analyzer.sessions() {
                            if let Some(side) = spec.local_side_of(s, local_addrs) {
                                let packets = s.packets_by_endpoint();
                                outbound += packets[side].1;
                                inbound += packets[1 - side].1;
                            }
                        }
                        (spec.local_port, spec.kind, inbound, outbound)
                    })
                    .collect(),
            })
            .collect()
    }

    /// The kept record of an ended call.
    pub fn ended_call(&self, id: &str) -> Option<&EndedCall> {
        self.ended.get(id)
    }

    /// True when `id` is an active call.
    pub fn is_active(&self, id: &str) -> bool {
        self.active.contains_key(id)
    }
}
