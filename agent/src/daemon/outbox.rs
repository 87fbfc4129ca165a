//! Ended calls' records on their way out. Each ended call's record is built once and
//! handed off once, through the reporter's [`Handoff`] (durably into the spool for Graph,
//! or the file sink, or stdout). A record that cannot be stored (the spool's disk is full)
//! stays in memory and is tried again every tick: it is never dropped, and `/readyz`
//! answers 503 while one waits.
//!
//! The marks of which calls were handed off are what make "once" hold when the same call
//! ends twice (the device's BYE and then the bot's DELETE): the second end answers with
//! the same record and stores nothing. A mark is forgotten only when the call book has
//! forgotten the call, so a repeated DELETE can never store a record again.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::sync::Notify;
use vtcq_collector::calls::EndedCall;
use vtcq_reporter::delivery::Delivery;
use vtcq_reporter::errors;
use vtcq_reporter::handoff::{Handoff, HandoffError, Opened, Stored};
use vtcq_reporter::settings::ReporterSettings;
use vtcq_reporter::spool::Spool;
use vtcq_reporter::{CallIdentity, CloudService, QualityRequest};

use super::lock;

/// Where ended calls' records go, and what is still on its way.
#[derive(Debug)]
pub(super) struct Outbox {
    handoff: Handoff,
    /// The deployment fields of every record.
    cloud: CloudService,
    /// Guards which calls were handed off and the records not stored yet. Taken after the
    /// call book's lock when both are held, and before the spool's (inside `Handoff`).
    marks: Mutex<Marks>,
    /// Woken when a record enters the spool, so that delivery starts at once.
    new_record: Notify,
    /// Records stored (spool or sink).
    stored_total: AtomicU64,
    /// Records that could not be stored at first (kept in memory, retried).
    failures_total: AtomicU64,
}

#[derive(Debug, Default)]
struct Marks {
    handed_off: HashSet<String>,
    /// (call id, body) of records whose hand-off failed, oldest first.
    pending: Vec<(String, Vec<u8>)>,
}

impl Outbox {
    /// Opens where records go, with the delivery stage when that is Graph.
    pub(super) fn open(
        settings: ReporterSettings,
        cloud: CloudService,
    ) -> Result<(Outbox, Option<Delivery>), HandoffError> {
        let Opened {
            handoff,
            delivery,
            recovered,
        } = Handoff::open(settings, SystemTime::now())?;
        if recovered > 0 {
            tracing::info!(
                records = recovered,
                "undelivered records from an earlier run will be delivered first"
            );
        }
        if let Handoff::Files(dir) = &handoff {
            tracing::warn!(dir = %dir.display(), "no Graph credentials configured: records go to the file sink");
        }
        let outbox = Outbox {
            handoff,
            cloud,
            marks: Mutex::new(Marks::default()),
            new_record: Notify::new(),
            stored_total: AtomicU64::new(0),
            failures_total: AtomicU64::new(0),
        };
        Ok((outbox, delivery))
    }

    /// The request body of an ended call.
    fn body(&self, ended: &EndedCall, identity: &CallIdentity) -> Vec<u8> {
        let request = QualityRequest::new(identity, &self.cloud, &ended.channels);
        serde_json::to_vec(&request).unwrap_or_default()
    }

    /// Hands an ended call's record off, once per call: the first time it is stored (or
    /// kept for a retry, and the error returned), every later time only its body is
    /// returned. The body is the answer to the bot's DELETE.
    pub(super) fn hand_off(
        &self,
        ended: &EndedCall,
        identity: &CallIdentity,
    ) -> Result<Vec<u8>, HandoffError> {
        let body = self.body(ended, identity);
        if !lock(&self.marks).handed_off.insert(ended.id.clone()) {
            return Ok(body);
        }
        tracing::info!(call = %ended.id, reason = ended.reason.as_str(), channels = ended.channels.len(), "call ended");
        if let Err(e) = self.store(&body) {
            tracing::error!(call = %ended.id, error = %errors::chain(&e), "cannot store the record; kept in memory and retried");
            self.failures_total.fetch_add(1, Ordering::Relaxed);
            lock(&self.marks)
                .pending
                .push((ended.id.clone(), body.clone()));
            return Err(e);
        }
        Ok(body)
    }

    fn store(&self, body: &[u8]) -> Result<(), HandoffError> {
        let stored = self.handoff.store(body, SystemTime::now())?;
        if matches!(stored, Stored::Spooled(_)) {
            self.new_record.notify_one();
        }
        self.stored_total.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Tries to store the records kept in memory again; those that still fail stay.
    pub(super) fn retry_pending(&self) {
        let pending = std::mem::take(&mut lock(&self.marks).pending);
        for (id, body) in pending {
            if let Err(e) = self.store(&body) {
                tracing::warn!(call = %id, error = %errors::chain(&e), "record still not stored; retrying");
                lock(&self.marks).pending.push((id, body));
            }
        }
    }

    /// Forgets the marks of calls the call book no longer knows (it forgot them past
    /// `calls.ended_retention`); they would otherwise grow with every call. Called with
    /// the call book locked, which is the lock order.
    pub(super) fn forget_unless(&self, known: impl Fn(&str) -> bool) {
        lock(&self.marks).handed_off.retain(|id| known(id));
    }

    /// Records not stored yet.
    pub(super) fn pending(&self) -> usize {
        lock(&self.marks).pending.len()
    }

    /// The spool, when records go to Graph.
    pub(super) fn spool(&self) -> Option<&Arc<Mutex<Spool>>> {
        self.handoff.spool()
    }

    /// Resolves when a record has entered the spool since the last call.
    pub(super) async fn new_record(&self) {
        self.new_record.notified().await;
    }

    /// (stored, failed at first) since start.
    pub(super) fn totals(&self) -> (u64, u64) {
        (
            self.stored_total.load(Ordering::Relaxed),
            self.failures_total.load(Ordering::Relaxed),
        )
    }
}
