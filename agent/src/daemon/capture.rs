//! The capture thread: the AF_PACKET ring's batches into the call book. A batch is copied
//! out of the ring into one reused arena first, so the book is locked only to process it,
//! never while waiting for packets (the control API shares the book). When the capture
//! fails (the interface went down or was renamed) it is reopened every second; the calls
//! stay.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vtcq_collector::capture::LinkType;
use vtcq_collector::Timestamp;
use vtcq_livecap::{Capture, CaptureConfig};

use super::{lock, Daemon};

/// How long one wait for a batch may block, which bounds how late the thread sees `stop`.
const BATCH_WAIT: Duration = Duration::from_millis(100);

/// The capture's state and counters, shared without a lock.
#[derive(Debug)]
pub(super) struct CaptureStatus {
    /// The capture is open and reading (readiness).
    running: AtomicBool,
    /// Set at shutdown: the thread returns within [`BATCH_WAIT`] (or a reopen's second).
    stop: AtomicBool,
    /// Packets read from the ring.
    pub(super) packets: AtomicU64,
    /// Packets the kernel dropped because the ring was full, across reopens.
    pub(super) kernel_drops: AtomicU64,
    /// Capture failures (each followed by reopening).
    pub(super) errors: AtomicU64,
}

impl CaptureStatus {
    /// An open capture's status.
    pub(super) fn running() -> CaptureStatus {
        CaptureStatus {
            running: AtomicBool::new(true),
            stop: AtomicBool::new(false),
            packets: AtomicU64::new(0),
            kernel_drops: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        }
    }

    /// True while the capture reads.
    pub(super) fn is_running(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }

    /// Asks the thread to return.
    pub(super) fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// Starts the capture thread on an open capture.
pub(super) fn spawn(
    daemon: Arc<Daemon>,
    config: CaptureConfig,
    capture: Capture,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("vtcq-capture".into())
        .spawn(move || capture_loop(&daemon, &config, capture))
}

fn capture_loop(daemon: &Daemon, config: &CaptureConfig, mut capture: Capture) {
    let status = &daemon.capture;
    let mut link = LinkType::from_linktype(capture.link_type());
    let mut last_stats = Instant::now();
    let mut drops_seen = 0u64;
    // A block's frames fit in about one block's bytes (4 more for each frame whose VLAN
    // tag is put back: then the arena grows once).
    let mut arena: Vec<u8> = Vec::with_capacity(config.block_size as usize);
    let mut frames: Vec<(i64, usize, usize)> = Vec::with_capacity(4096);
    while !status.stopping() {
        arena.clear();
        frames.clear();
        let result = capture.next_batch(BATCH_WAIT, |packet| {
            let start = arena.len();
            arena.extend_from_slice(packet.data);
            frames.push((packet.timestamp_ns, start, packet.data.len()));
        });
        if !frames.is_empty() {
            let mut book = lock(&daemon.calls);
            for &(ts, start, len) in &frames {
                if let Some(frame) = arena.get(start..start + len) {
                    book.process_frame(Timestamp::from_nanos(ts), link, frame);
                }
            }
        }
        match result {
            Ok(n) => {
                status.packets.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(e) => {
                status.errors.fetch_add(1, Ordering::Relaxed);
                status.running.store(false, Ordering::Relaxed);
                tracing::error!(interface = %config.interface, error = %e, "capture failed; reopening");
                let Some(reopened) = reopen(status, config) else {
                    return;
                };
                capture = reopened;
                drops_seen = 0;
                link = LinkType::from_linktype(capture.link_type());
            }
        }
        if last_stats.elapsed() >= Duration::from_secs(1) {
            last_stats = Instant::now();
            count_drops(status, &mut capture, &mut drops_seen);
        }
    }
}

/// Reopens the capture every second until it opens (`Some`) or the daemon stops (`None`).
/// The interface may be down or renamed: the calls stay meanwhile.
fn reopen(status: &CaptureStatus, config: &CaptureConfig) -> Option<Capture> {
    loop {
        if status.stopping() {
            return None;
        }
        std::thread::sleep(Duration::from_secs(1));
        match Capture::open(config) {
            Ok(reopened) => {
                status.running.store(true, Ordering::Relaxed);
                tracing::info!(interface = %config.interface, "capture reopened");
                return Some(reopened);
            }
            Err(e) => tracing::debug!(error = %e, "capture still unavailable"),
        }
    }
}

/// Adds the kernel's new drops to the counter. The kernel counts per socket: a reopened
/// capture starts again from 0, the metric must not (it is a counter), so what is new on
/// this socket is added.
fn count_drops(status: &CaptureStatus, capture: &mut Capture, drops_seen: &mut u64) {
    let Ok(stats) = capture.stats() else {
        return;
    };
    let new_drops = stats.drops.saturating_sub(*drops_seen);
    *drops_seen = stats.drops;
    if new_drops > 0 {
        status.kernel_drops.fetch_add(new_drops, Ordering::Relaxed);
        tracing::warn!(
            drops = new_drops,
            "the kernel dropped packets: the capture ring overflowed"
        );
    }
}
