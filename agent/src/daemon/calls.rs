//! The call book: the sans-IO [`CallTracker`] and who each registered call is (its
//! [`CallIdentity`], from the registration), kept together under one lock because they
//! change together: a registration adds to both, the tracker forgetting a call (past
//! `calls.ended_retention`) removes it from both.

use std::collections::HashMap;
use std::net::IpAddr;

use uuid::Uuid;
use vtcq_collector::analyzer::{AnalyzerConfig, Counters};
use vtcq_collector::calls::{
    CallStatus, CallTracker, EndReason, EndedCall, Event, LifecycleConfig, LifecycleCounters,
    MediaSessionSpec, RegisterError,
};
use vtcq_collector::capture::LinkType;
use vtcq_collector::Timestamp;
use vtcq_reporter::CallIdentity;

/// The tracker and the identities of its calls.
#[derive(Debug)]
pub(super) struct CallBook {
    tracker: CallTracker,
    identities: HashMap<String, CallIdentity>,
}

/// What `/metrics` reads from the book, copied out under the lock.
#[derive(Clone, Debug)]
pub(super) struct CallNumbers {
    /// The analyzer's counters (packets, parse errors, flow bound).
    pub analyzer: Counters,
    /// Registrations and ends.
    pub lifecycle: LifecycleCounters,
    /// Calls registered and not yet ended.
    pub active_calls: u64,
    /// Flows measured now.
    pub flows: u64,
}

impl CallBook {
    pub(super) fn new(
        analyzer: AnalyzerConfig,
        local_addresses: Vec<IpAddr>,
        lifecycle: LifecycleConfig,
    ) -> CallBook {
        CallBook {
            tracker: CallTracker::new(analyzer, local_addresses, lifecycle),
            identities: HashMap::new(),
        }
    }

    /// One captured frame.
    pub(super) fn process_frame(&mut self, now: Timestamp, link: LinkType, frame: &[u8]) {
        self.tracker.process_frame(now, link, frame);
    }

    /// Registers (or updates) a call. `Ok(true)` when it is new.
    pub(super) fn register(
        &mut self,
        now: Timestamp,
        identity: CallIdentity,
        specs: Vec<MediaSessionSpec>,
    ) -> Result<bool, RegisterError> {
        let id = identity.media_leg_id.to_string();
        let created = !self.tracker.is_active(&id);
        self.tracker.register(now, &id, specs)?;
        self.identities.insert(id, identity);
        Ok(created)
    }

    /// Ends a call at the bot's request (idempotent: an ended call's record again);
    /// `None` for a call the book does not know.
    pub(super) fn end(&mut self, now: Timestamp, id: &str) -> Option<(EndedCall, CallIdentity)> {
        let ended = self.tracker.end(now, id, EndReason::Api)?.clone();
        let identity = self.identity_of(id);
        Some((ended, identity))
    }

    /// Ends what is due at `now` (BYE, idle, maximum duration), reports idle unregistered
    /// flows, and forgets the identities of calls the tracker has forgotten.
    pub(super) fn poll(&mut self, now: Timestamp) -> Vec<Event> {
        let events = self.tracker.poll(now);
        let tracker = &self.tracker;
        self.identities
            .retain(|id, _| tracker.is_active(id) || tracker.ended_call(id).is_some());
        events
    }

    /// Ends every active call (the daemon is stopping).
    pub(super) fn shutdown(&mut self, now: Timestamp) -> Vec<(EndedCall, CallIdentity)> {
        let ended = self.tracker.shutdown(now);
        ended
            .into_iter()
            .map(|call| {
                let identity = self.identity_of(&call.id);
                (call, identity)
            })
            .collect()
    }

    /// True while the tracker remembers the call (active, or ended within the retention).
    pub(super) fn knows(&self, id: &str) -> bool {
        self.tracker.is_active(id) || self.tracker.ended_call(id).is_some()
    }

    /// Who a call is. A call registered through the API always has its identity; the
    /// fallback (the id as media leg, nil GUIDs) covers a call that has none.
    pub(super) fn identity_of(&self, id: &str) -> CallIdentity {
        self.identities
            .get(id)
            .cloned()
            .unwrap_or_else(|| CallIdentity {
                media_leg_id: Uuid::parse_str(id).unwrap_or_default(),
                ..CallIdentity::default()
            })
    }

    /// The active calls with their live numbers and identities.
    pub(super) fn active_calls(&self) -> Vec<(CallStatus, CallIdentity)> {
        self.tracker
            .active_calls()
            .into_iter()
            .map(|status| {
                let identity = self.identities.get(&status.id).cloned().unwrap_or_default();
                (status, identity)
            })
            .collect()
    }

    /// The numbers `/metrics` shows.
    pub(super) fn numbers(&self) -> CallNumbers {
        CallNumbers {
            analyzer: self.tracker.analyzer().counters().clone(),
            lifecycle: self.tracker.counters().clone(),
            active_calls: self.tracker.active_calls().len() as u64,
            flows: self.tracker.analyzer().flows().len() as u64,
        }
    }
}
