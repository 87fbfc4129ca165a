//! Call lifecycle (SEMANTICS.md "Call boundaries and identity"), sans-IO: registrations,
//! packets and `now` in; ended calls with their channels out.
//!
//! A call is registered by the bot with its media sessions (local RTP port, kind, optional
//! remote address and port, optional payload-type clock rates: `registration.rs`). It ends
//! by whichever comes first: the bot's end request, RTCP BYE from every stream of the
//! call, no packet for the idle timeout, the maximum duration, or shutdown
//! (`lifecycle.rs`). Its channels are built once, at the end ([`crate::channel`]), and kept
//! for `ended_retention` so that a late end request (the device's BYE usually beats the
//! bot's) answers with the same record. Ending is idempotent.
//!
//! The analyzer sees every flow from the first packet, registered or not, so a
//! registration that arrives after the media began covers the packets since the flow
//! began. A flow no registered call claims is reported as [`Event::Unregistered`] once it
//! has been idle for the idle timeout (or when the unregistered-flow bound is reached):
//! logged and counted by the daemon, never posted.

mod lifecycle;
mod registration;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use rustc_hash::FxHashSet;

use crate::analyzer::{Analyzer, AnalyzerConfig, Flow};
use crate::capture::LinkType;
use crate::channel::{build_channels, ChannelParts, OrientedFlow};
use crate::summary::KindSource;
use crate::time::duration_nanos;
use crate::Timestamp;
use registration::{check_media_sessions, ActiveCall};

pub use lifecycle::{
    EndReason, EndedCall, Event, LifecycleConfig, LifecycleCounters, DEFAULT_ENDED_RETENTION,
    DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_ACTIVE_CALLS, DEFAULT_MAX_DURATION,
    DEFAULT_MAX_UNREGISTERED_FLOWS,
};
pub use registration::{CallStatus, MediaSessionSpec, RegisterError};

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

    /// The analyzer (counters, flows).
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

    /// Registers (or updates) a call. Updating an active call replaces its media sessions.
    pub fn register(
        &mut self,
        now: Timestamp,
        id: &str,
        specs: Vec<MediaSessionSpec>,
    ) -> Result<(), RegisterError> {
        if self.ended.contains_key(id) {
            return Err(RegisterError::AlreadyEnded(id.to_owned()));
        }
        check_media_sessions(id, &specs, &self.active)?;
        for spec in &specs {
            for &(pt, hz) in &spec.clock_rates {
                self.analyzer.set_clock_rate(Some(spec.local_port), pt, hz);
            }
        }
        let known = self.active.get(id).map(|call| call.registered_at);
        if known.is_none() && self.active.len() >= self.config.max_active_calls {
            return Err(RegisterError::TooManyCalls(self.active.len()));
        }
        if known.is_none() {
            self.counters.registered += 1;
        }
        self.active.insert(
            id.to_owned(),
            ActiveCall {
                specs,
                registered_at: known.unwrap_or(now),
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

    /// Takes the call's flows out of the analyzer and builds its channels.
    fn finish_call(
        &mut self,
        now: Timestamp,
        id: &str,
        call: ActiveCall,
        reason: EndReason,
    ) -> EndedCall {
        self.protect_registered_ports();
        let local_addrs = &self.local_addrs;
        let mut flows = self
            .analyzer
            .take_flows(|flow| call.claims(flow, local_addrs));
        for flow in &mut flows {
            // An idle call ends at its last packet, not at the moment the timeout noticed.
            let end = match reason {
                EndReason::Idle => flow.last_packet(),
                _ => now,
            };
            flow.finish(end, self.sample_interval);
        }
        // Every flow of a media session is a channel of its own for now.
        let parts = flows
            .iter()
            .filter(|flow| flow.has_rtp())
            .filter_map(|flow| {
                call.specs.iter().enumerate().find_map(|(order, spec)| {
                    let local = spec.local_side_of(flow, local_addrs)?;
                    Some(ChannelParts {
                        flow: OrientedFlow { flow, local },
                        kind: spec.kind,
                        kind_source: KindSource::Declared,
                        declared_at: Some(order),
                    })
                })
            });
        let channels = build_channels(parts, self.config.link_speed_bytes_per_sec);
        self.counters.ended[reason.index()] += 1;
        EndedCall {
            id: id.to_owned(),
            reason,
            ended_at: now,
            channels,
        }
    }

    /// Advances time: ends calls by BYE, idle timeout or maximum duration, reports idle
    /// unregistered flows, forgets ended records past their retention.
    pub fn poll(&mut self, now: Timestamp) -> Vec<Event> {
        let mut events = Vec::new();
        for (id, reason) in self.calls_to_end(now) {
            if let Some(call) = self.active.remove(&id) {
                let ended = self.finish_call(now, &id, call, reason);
                self.ended.insert(id, ended.clone());
                events.push(Event::Ended(ended));
            }
        }
        self.release_unclaimed_flows(now, &mut events);
        let retention = duration_nanos(self.config.ended_retention);
        self.ended
            .retain(|_, e| now.nanos_since(e.ended_at) < retention);
        events
    }

    /// The active calls that end at `now` on their own, and why.
    fn calls_to_end(&self, now: Timestamp) -> Vec<(String, EndReason)> {
        self.active
            .iter()
            .filter_map(|(id, call)| Some((id.clone(), self.end_reason(call, now)?)))
            .collect()
    }

    /// Why `call` ends at `now`, if it does: every stream said BYE, no packet for the idle
    /// timeout (counted from its registration when later), or the maximum duration
    /// (counted from its first packet when earlier than the registration).
    fn end_reason(&self, call: &ActiveCall, now: Timestamp) -> Option<EndReason> {
        let flows: Vec<&Flow> = self
            .analyzer
            .flows()
            .iter()
            .filter(|flow| call.claims(flow, &self.local_addrs))
            .collect();
        let last = flows
            .iter()
            .map(|flow| flow.last_packet())
            .max()
            .unwrap_or(call.registered_at)
            .max(call.registered_at);
        let started = flows
            .iter()
            .map(|flow| flow.first_packet())
            .min()
            .unwrap_or(call.registered_at)
            .min(call.registered_at);
        let said_bye = !flows.is_empty()
            && flows
                .iter()
                .all(|flow| !flow.has_rtp() || flow.all_streams_said_bye())
            && flows.iter().any(|flow| flow.has_rtp());
        if said_bye {
            Some(EndReason::Bye)
        } else if now.nanos_since(last) >= duration_nanos(self.config.idle_timeout) {
            Some(EndReason::Idle)
        } else if now.nanos_since(started) >= duration_nanos(self.config.max_duration) {
            Some(EndReason::MaxDuration)
        } else {
            None
        }
    }

    /// Takes the flows no active call claims once idle for the idle timeout, or the
    /// oldest of them early when more than `max_unregistered_flows` are held; reports
    /// each that carried RTP.
    fn release_unclaimed_flows(&mut self, now: Timestamp, events: &mut Vec<Event>) {
        let idle = duration_nanos(self.config.idle_timeout);
        let local_addrs = &self.local_addrs;
        let active = &self.active;
        let claimed = |flow: &Flow| active.values().any(|call| call.claims(flow, local_addrs));
        let mut unclaimed: Vec<(Timestamp, [SocketAddr; 2])> = self
            .analyzer
            .flows()
            .iter()
            .filter(|flow| !claimed(flow))
            .map(|flow| (flow.last_packet(), flow.endpoints()))
            .collect();
        unclaimed.sort();
        let excess = unclaimed
            .len()
            .saturating_sub(self.config.max_unregistered_flows);
        let expired: FxHashSet<[SocketAddr; 2]> = unclaimed
            .iter()
            .enumerate()
            .filter(|(i, (last, _))| *i < excess || now.nanos_since(*last) >= idle)
            .map(|(_, (_, endpoints))| *endpoints)
            .collect();
        if expired.is_empty() {
            return;
        }
        let taken = self
            .analyzer
            .take_flows(|flow| expired.contains(&flow.endpoints()));
        for flow in taken.iter().filter(|flow| flow.has_rtp()) {
            self.counters.unregistered_flows += 1;
            events.push(Event::Unregistered {
                endpoints: flow.endpoints(),
                packets: flow.packets_by_endpoint(),
            });
        }
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
                media_sessions: call
                    .specs
                    .iter()
                    .map(|spec| {
                        let (mut inbound, mut outbound) = (0, 0);
                        for flow in self.analyzer.flows() {
                            if let Some(local) = spec.local_side_of(flow, local_addrs) {
                                outbound += flow.rtp_packets(local);
                                inbound += flow.rtp_packets(local.peer());
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
