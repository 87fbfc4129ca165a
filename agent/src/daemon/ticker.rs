//! The once-a-second tick: ends the calls that are due (every stream said BYE, idle,
//! maximum duration) and hands their records off, reports the unregistered flows that
//! went idle, retries the records not stored yet, and pings systemd's watchdog.

use std::sync::Arc;
use std::time::Duration;

use vtcq_collector::calls::Event;

use super::{lock, notify, now, Daemon};

/// Time between ticks: the resolution of the idle timeout and of the retries.
const TICK: Duration = Duration::from_secs(1);

/// Runs the tick until the task is aborted.
pub(super) async fn run(daemon: Arc<Daemon>) {
    let mut interval = tokio::time::interval(TICK);
    let watchdog = notify::watchdog_interval();
    let mut last_ping = tokio::time::Instant::now();
    loop {
        interval.tick().await;
        tick(&daemon);
        if watchdog.is_some_and(|w| last_ping.elapsed() >= w) {
            notify::watchdog();
            last_ping = tokio::time::Instant::now();
        }
    }
}

fn tick(daemon: &Daemon) {
    let (ended, unregistered) = {
        let mut book = lock(&daemon.calls);
        let events = book.poll(now());
        // The book's lock, then the outbox's: the lock order.
        daemon.outbox.forget_unless(|id| book.knows(id));
        let mut ended = Vec::new();
        let mut unregistered = Vec::new();
        for event in events {
            match event {
                Event::Ended(call) => {
                    let identity = book.identity_of(&call.id);
                    ended.push((call, identity));
                }
                Event::Unregistered { endpoints, packets } => {
                    unregistered.push((endpoints, packets));
                }
            }
        }
        (ended, unregistered)
    };
    for (call, identity) in &ended {
        // A failure is logged, counted and kept for the retry below.
        let _ = daemon.outbox.hand_off(call, identity);
    }
    for (endpoints, packets) in unregistered {
        tracing::warn!(
            a = %endpoints[0], b = %endpoints[1],
            packets_a = packets[0].1, packets_b = packets[1].1,
            "RTP flow seen but no call registered for it; not posted"
        );
    }
    daemon.outbox.retry_pending();
}
