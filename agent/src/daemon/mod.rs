//! `vtcq run`: the daemon next to a CVI bot; and `vtcq validate`, which checks a
//! configuration exactly as `run` does.
//!
//! This file is the lifecycle, in linkerd2-proxy's order: logging (started by `main`
//! before anything else) -> config (`[log]` applied first; exit 78 naming the key) ->
//! spool (or sink: a record must have somewhere durable to go before any call can end)
//! -> capture (no `CAP_NET_RAW` or no interface stops start-up) -> bind the control API (a
//! busy port stops start-up) -> serve (capture thread, API, tick, delivery; then
//! `READY=1`) -> SIGTERM or SIGINT -> drain within `daemon.shutdown_grace`.
//!
//! One job per file:
//! - `calls.rs`: the call book (the sans-IO `CallTracker` and each call's identity).
//! - `outbox.rs`: each ended call's record handed off once; kept and retried if it
//!   cannot be stored.
//! - `capture.rs`: the capture thread, ring batches into the call book.
//! - `control.rs`: the control API's [`CallControl`](crate::api::CallControl).
//! - `ticker.rs`: the 1 s tick (ends due calls, retries, watchdog).
//! - `delivery.rs`: the task that drains the spool to Graph.
//! - `metrics.rs`: `/metrics`; `notify.rs`: sd_notify.
//!
//! # Shared state and its locks
//!
//! [`Daemon`] is shared by the capture thread, the API's requests, the tick and the
//! delivery task. Its parts lock separately, and always in this order when more than one
//! is held: the call book, then the outbox's marks, then the spool (inside the outbox's
//! hand-off, and taken by delivery between its requests). No lock is held across an
//! `await` or a network request; the capture thread holds the call book only to process
//! one batch already copied out of the ring. Counters are atomics.

mod calls;
mod capture;
mod control;
mod delivery;
mod metrics;
mod notify;
mod outbox;
mod ticker;

use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use vtcq_collector::Timestamp;
use vtcq_livecap::Capture;
use vtcq_reporter::delivery::Delivery;
use vtcq_reporter::errors;

use crate::api::ApiServer;
use crate::config::{self, ConfigError, DaemonSettings, LogSettings, EXIT_CONFIG};
use crate::logging::Logging;
use calls::CallBook;
use capture::CaptureStatus;
use control::Control;
use delivery::{DeliveryStatus, DeliveryTask};
use outbox::Outbox;

/// What the daemon's tasks share; see the module documentation for the lock order.
#[derive(Debug)]
struct Daemon {
    /// The call tracker and the calls' identities.
    calls: Mutex<CallBook>,
    /// Ended calls' records on their way to the spool or sink.
    outbox: Outbox,
    /// The capture thread's state and counters.
    capture: CaptureStatus,
    /// Delivery's counters.
    delivery: DeliveryStatus,
}

/// `vtcq validate --config FILE`: every check `run` makes before it opens anything.
pub fn validate(config: &Path) -> ExitCode {
    match config::load(config) {
        Ok(_) => {
            println!("{}: ok", config.display());
            ExitCode::SUCCESS
        }
        Err(e) => config_error(&e),
    }
}

/// Runs the daemon until SIGTERM or SIGINT.
pub fn run(config: &Path, logging: &Logging) -> Result<ExitCode> {
    let settings = match load_config(config, logging) {
        Ok(settings) => settings,
        Err(e) => return Ok(config_error(&e)),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(serve(settings))
}

fn config_error(e: &ConfigError) -> ExitCode {
    eprintln!("error: {}", errors::chain(e));
    ExitCode::from(EXIT_CONFIG)
}

/// Reads the configuration and applies `[log]` before validating the rest, so that the
/// warnings validation raises are written the way `[log]` asks.
fn load_config(path: &Path, logging: &Logging) -> Result<DaemonSettings, ConfigError> {
    let raw = config::load_raw(path)?;
    let log = LogSettings::from_raw(path, &raw)?;
    if let Err(e) = logging.apply(&log) {
        tracing::warn!(error = %errors::chain(&e), "logging stays as it started");
    }
    DaemonSettings::from_raw(path, &raw)
}

async fn serve(settings: DaemonSettings) -> Result<ExitCode> {
    let DaemonSettings {
        reporter,
        capture: capture_settings,
        mut lifecycle,
        analyzer,
        api,
        cloud,
        shutdown_grace,
        log: _,
    } = settings;
    let (outbox, delivery) = Outbox::open(reporter, cloud)?;
    let ring = &capture_settings.ring;
    let capture =
        Capture::open(ring).with_context(|| format!("cannot capture on {}", ring.interface))?;
    lifecycle.link_speed_bytes_per_sec = capture_settings
        .link_speed_bytes
        .or_else(|| Capture::interface_speed_mbps(&ring.interface).map(|mbps| mbps * 125_000));
    let daemon = Arc::new(Daemon {
        calls: Mutex::new(CallBook::new(
            analyzer,
            capture_settings.local_addresses,
            lifecycle,
        )),
        outbox,
        capture: CaptureStatus::running(),
        delivery: DeliveryStatus::of(delivery.as_ref()),
    });
    let server = ApiServer::bind(api, Arc::new(Control(daemon.clone())))
        .await
        .context("cannot bind the control API")?;
    if let Some(addr) = server.local_addr() {
        tracing::info!(%addr, "control API listening");
    }
    let running = Running::start(daemon, server, capture, capture_settings.ring, delivery)?;
    notify::ready();
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "vtcq is running");
    wait_for_signal().await;
    notify::stopping();
    tracing::info!(
        grace_secs = shutdown_grace.as_secs(),
        "stopping: ending active calls"
    );
    Ok(running.drain(shutdown_grace).await)
}

/// The daemon's loops, running.
struct Running {
    daemon: Arc<Daemon>,
    capture_thread: std::thread::JoinHandle<()>,
    stop_api: tokio::sync::oneshot::Sender<()>,
    api_task: tokio::task::JoinHandle<std::io::Result<()>>,
    tick_task: tokio::task::JoinHandle<()>,
    delivery: Option<DeliveryTask>,
}

impl Running {
    /// Starts the capture thread, the API, the tick and (for Graph) the delivery task.
    fn start(
        daemon: Arc<Daemon>,
        server: ApiServer,
        capture: Capture,
        ring: vtcq_livecap::CaptureConfig,
        delivery: Option<Delivery>,
    ) -> Result<Running> {
        let capture_thread = capture::spawn(daemon.clone(), ring, capture)?;
        let (stop_api, stopped) = tokio::sync::oneshot::channel::<()>();
        let api_task = tokio::spawn(server.serve(async move {
            let _ = stopped.await;
        }));
        let tick_task = tokio::spawn(ticker::run(daemon.clone()));
        let delivery = match (delivery, daemon.outbox.spool()) {
            (Some(delivery), Some(spool)) => {
                Some(DeliveryTask::spawn(delivery, spool.clone(), daemon.clone()))
            }
            _ => None,
        };
        Ok(Running {
            daemon,
            capture_thread,
            stop_api,
            api_task,
            tick_task,
            delivery,
        })
    }

    /// Stops everything within `grace`: the API stops accepting (in-flight requests
    /// finish), the capture and the tick stop, every active call ends and its record is
    /// handed off, and delivery gets what is left of the grace period. Exits 1 if a record
    /// could not even be stored.
    async fn drain(self, grace: Duration) -> ExitCode {
        let deadline = tokio::time::Instant::now() + grace;
        let daemon = &self.daemon;
        let _ = self.stop_api.send(());
        daemon.capture.stop();
        self.tick_task.abort();
        let ended = lock(&daemon.calls).shutdown(now());
        for (call, identity) in &ended {
            // A failure is logged, counted and kept for the retry below.
            let _ = daemon.outbox.hand_off(call, identity);
        }
        daemon.outbox.retry_pending();
        if let Some(delivery) = self.delivery {
            delivery.finish(deadline).await;
        }
        let _ = tokio::time::timeout_at(deadline, self.api_task).await;
        let _ = self.capture_thread.join();
        let unstored = daemon.outbox.pending();
        if unstored > 0 {
            tracing::error!(
                records = unstored,
                "records could not be stored before exit"
            );
            return ExitCode::FAILURE;
        }
        tracing::info!("stopped");
        ExitCode::SUCCESS
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers there is nothing to wait for but Ctrl-C.
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM"),
        _ = int.recv() => tracing::info!("SIGINT"),
    }
}

/// The wall clock as the collector's timestamp (the capture's kernel timestamps are wall
/// clock too, so the API's `now` and the packets' times compare).
fn now() -> Timestamp {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    Timestamp::from_nanos(i64::try_from(nanos).unwrap_or(i64::MAX))
}

/// Locks a mutex; a panic while it was held (never expected) does not make the daemon's
/// state unusable: every critical section leaves it consistent.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
