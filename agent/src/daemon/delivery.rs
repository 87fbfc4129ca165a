//! The delivery task: drains the spool to Graph whenever a record enters it (or every
//! 30 s), waits a minute after delivery was blocked (credentials refused), and gives the
//! last records the rest of the shutdown grace period at exit ([`DeliveryTask::finish`]).
//! Only with Graph as the destination; the sinks store records synchronously.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use vtcq_reporter::delivery::{Delivery, DeliveryMetrics};
use vtcq_reporter::errors;
use vtcq_reporter::spool::Spool;

use super::Daemon;

/// Longest time between two drains when no new record wakes the task.
const IDLE_DRAIN: Duration = Duration::from_secs(30);
/// Wait after delivery was blocked (the token endpoint refuses our credentials).
const BLOCKED_WAIT: Duration = Duration::from_secs(60);
/// Wait after a spool error during delivery.
const SPOOL_ERROR_WAIT: Duration = Duration::from_secs(5);

/// Delivery's counters, for `/metrics`, shared without a lock.
#[derive(Debug, Default)]
pub(super) struct DeliveryStatus {
    /// Posted, failed attempts, dead-lettered.
    pub(super) metrics: Arc<DeliveryMetrics>,
    /// Access tokens fetched.
    pub(super) token_refreshes: AtomicU64,
}

impl DeliveryStatus {
    /// The status of `delivery` (or an idle one without delivery).
    pub(super) fn of(delivery: Option<&Delivery>) -> DeliveryStatus {
        DeliveryStatus {
            metrics: delivery.map(|d| d.metrics().clone()).unwrap_or_default(),
            token_refreshes: AtomicU64::new(0),
        }
    }
}

/// The running delivery loop.
#[derive(Debug)]
pub(super) struct DeliveryTask {
    delivery: Arc<tokio::sync::Mutex<Delivery>>,
    spool: Arc<Mutex<Spool>>,
    task: JoinHandle<()>,
}

impl DeliveryTask {
    /// Starts draining `spool` to Graph.
    pub(super) fn spawn(
        delivery: Delivery,
        spool: Arc<Mutex<Spool>>,
        daemon: Arc<Daemon>,
    ) -> DeliveryTask {
        let delivery = Arc::new(tokio::sync::Mutex::new(delivery));
        let task = tokio::spawn(drain_loop(delivery.clone(), spool.clone(), daemon));
        DeliveryTask {
            delivery,
            spool,
            task,
        }
    }

    /// Stops the loop and drains what is left until `deadline`; what is not delivered by
    /// then stays in the spool for the next start.
    pub(super) async fn finish(self, deadline: tokio::time::Instant) {
        self.task.abort();
        let _ = self.task.await;
        let mut delivery = self.delivery.lock().await;
        match delivery.drain(&self.spool, Some(deadline)).await {
            Ok(r) if r.remaining > 0 => tracing::warn!(
                remaining = r.remaining,
                "records stay in the spool for the next start"
            ),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %errors::chain(&e), "spool error at shutdown"),
        }
    }
}

async fn drain_loop(
    delivery: Arc<tokio::sync::Mutex<Delivery>>,
    spool: Arc<Mutex<Spool>>,
    daemon: Arc<Daemon>,
) {
    loop {
        let report = {
            let mut d = delivery.lock().await;
            let report = d.drain(&spool, None).await;
            daemon
                .delivery
                .token_refreshes
                .store(d.poster().tokens().refresh_count(), Ordering::Relaxed);
            report
        };
        match report {
            Ok(r) if r.blocked.is_some() => tokio::time::sleep(BLOCKED_WAIT).await,
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %errors::chain(&e), "spool error during delivery; retrying");
                tokio::time::sleep(SPOOL_ERROR_WAIT).await;
            }
        }
        let _ = tokio::time::timeout(IDLE_DRAIN, daemon.outbox.new_record()).await;
    }
}
