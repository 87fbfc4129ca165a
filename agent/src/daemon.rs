//! `vtcq run`: the daemon next to a CVI bot.
//!
//! Start-up in linkerd2-proxy's order: logging -> validate config (exit 78) -> open the
//! spool -> open the capture -> bind the control API -> spawn -> READY. Then three loops
//! share one [`CallTracker`]: the capture thread feeds it packets, the control API
//! registers and ends calls, and a 1 s tick ends idle calls and reports unregistered
//! flows. Every ended call's record is handed off exactly once: durably into the spool
//! (Graph) or the file sink, then a delivery task drains the spool. SIGTERM/SIGINT end
//! every active call, spool its record, and give delivery `daemon.shutdown_grace`.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use uuid::Uuid;
use vtcq_collector::analyzer::AnalyzerConfig;
use vtcq_collector::calls::{
    CallTracker, EndReason, EndedCall, Event, LifecycleConfig, MediaSessionSpec, RegisterError,
};
use vtcq_collector::capture::LinkType;
use vtcq_collector::Timestamp;
use vtcq_livecap::{Capture, CaptureConfig};
use vtcq_reporter::delivery::DeliveryMetrics;
use vtcq_reporter::handoff::{Handoff, Opened, Stored};
use vtcq_reporter::secret::Secret;
use vtcq_reporter::settings::ReporterSettings;
use vtcq_reporter::{CallIdentity, CloudService, QualityRequest};

use crate::api::{
    ActiveCall, ActiveSession, ApiConfig, ApiServer, CallControl, ControlError, Listen,
    Registration,
};
use crate::config::{load_raw, parse_port_range, RawConfig, EXIT_CONFIG};

/// Everything `vtcq run` needs, validated.
#[derive(Debug)]
pub struct DaemonSettings {
    /// Reporter (destination, spool, retry).
    pub reporter: ReporterSettings,
    /// Capture.
    pub capture: CaptureConfig,
    /// The bot's addresses.
    pub local_addresses: Vec<std::net::IpAddr>,
    /// Link speed override.
    pub link_speed_bytes: Option<u64>,
    /// Lifecycle.
    pub lifecycle: LifecycleConfig,
    /// Most flows measured at once (`calls.max_flows`).
    pub max_flows: usize,
    /// Control API.
    pub api: ApiConfig,
    /// Deployment fields.
    pub cloud: CloudService,
    /// Shutdown grace.
    pub shutdown_grace: Duration,
    /// Log format and filter.
    pub log_json: bool,
    /// Log filter.
    pub log_level: String,
}

fn config_error(path: &std::path::Path, key: &str, message: impl std::fmt::Display) -> String {
    format!("config {}: {key}: {message}", path.display())
}

/// Reads and validates the whole configuration (exit 78 material on error).
pub fn load_settings(path: &std::path::Path) -> Result<DaemonSettings, String> {
    let raw: RawConfig = load_raw(path).map_err(|e| e.to_string())?;
    settings_from_raw(path, &raw)
}

/// Validates an already parsed configuration into [`DaemonSettings`] (reads the secret
/// and certificate files it names). `path` only names the file in errors.
pub fn settings_from_raw(
    path: &std::path::Path,
    raw: &RawConfig,
) -> Result<DaemonSettings, String> {
    let reporter = ReporterSettings::from_sections(&raw.graph, &raw.spool, &raw.retry, &raw.sink)
        .map_err(|e| format!("config {}: {e}", path.display()))?;
    let interface = raw
        .capture
        .interface
        .clone()
        .filter(|i| !i.trim().is_empty())
        .ok_or_else(|| {
            config_error(
                path,
                "capture.interface",
                "missing: the interface that carries the VTC media leg",
            )
        })?;
    let mut port_ranges = Vec::new();
    for text in &raw.capture.port_ranges {
        port_ranges.push(
            parse_port_range(text).map_err(|m| config_error(path, "capture.port_ranges", m))?,
        );
    }
    let mut capture = CaptureConfig::new(interface);
    capture.port_ranges = port_ranges;
    if let Some(size) = raw.capture.ring_block_size {
        if size < 4096 || size % 4096 != 0 {
            return Err(config_error(
                path,
                "capture.ring_block_size",
                "must be a multiple of 4096",
            ));
        }
        capture.block_size = size;
    }
    if let Some(count) = raw.capture.ring_block_count {
        if count == 0 {
            return Err(config_error(
                path,
                "capture.ring_block_count",
                "must be at least 1",
            ));
        }
        capture.block_count = count;
    }
    let calls = &raw.calls;
    for (key, value) in [
        ("calls.idle_timeout", calls.idle_timeout),
        ("calls.max_duration", calls.max_duration),
        ("calls.ended_retention", calls.ended_retention),
        ("daemon.shutdown_grace", raw.daemon.shutdown_grace),
    ] {
        if value.is_zero() {
            return Err(config_error(path, key, "must be greater than zero"));
        }
    }
    for (key, value) in [
        ("calls.max_active_calls", calls.max_active_calls),
        ("calls.max_flows", calls.max_flows),
    ] {
        if value == 0 {
            return Err(config_error(path, key, "must be at least 1"));
        }
    }
    let listen = match raw.api.listen.strip_prefix("unix:") {
        Some(socket) => Listen::Unix(PathBuf::from(socket)),
        None => Listen::Tcp(raw.api.listen.parse::<SocketAddr>().map_err(|_| {
            config_error(
                path,
                "api.listen",
                format!("{:?} is not IP:PORT or unix:/path", raw.api.listen),
            )
        })?),
    };
    let bearer_token = match &raw.api.bearer_token_file {
        Some(file) => {
            let token = Secret::from_file(file).map_err(|e| {
                config_error(
                    path,
                    "api.bearer_token_file",
                    format!("cannot read {}: {e}", file.display()),
                )
            })?;
            if token.is_empty() {
                return Err(config_error(
                    path,
                    "api.bearer_token_file",
                    format!("{} is empty", file.display()),
                ));
            }
            vtcq_reporter::settings::warn_if_readable_by_others("api.bearer_token_file", file);
            Some(token)
        }
        None => None,
    };
    if let (Listen::Tcp(addr), None) = (&listen, &bearer_token) {
        if !addr.ip().is_loopback() {
            tracing::warn!(
                listen = %addr,
                "the control API listens beyond loopback without api.bearer_token_file: anyone who can reach it can register and end calls"
            );
        }
    }
    if raw.api.max_body_bytes < 1024 {
        return Err(config_error(
            path,
            "api.max_body_bytes",
            "must be at least 1024",
        ));
    }
    let log_json = match raw.log.format.as_str() {
        "text" => false,
        "json" => true,
        other => {
            return Err(config_error(
                path,
                "log.format",
                format!("{other:?} is not text or json"),
            ))
        }
    };
    if tracing_subscriber::EnvFilter::try_new(&raw.log.level).is_err() {
        return Err(config_error(
            path,
            "log.level",
            format!("{:?} is not a tracing filter", raw.log.level),
        ));
    }
    let id = &raw.identity;
    Ok(DaemonSettings {
        reporter,
        capture,
        local_addresses: raw.capture.local_addresses.clone(),
        link_speed_bytes: raw.capture.link_speed_bytes,
        lifecycle: LifecycleConfig {
            idle_timeout: calls.idle_timeout,
            max_duration: calls.max_duration,
            ended_retention: calls.ended_retention,
            max_unregistered_flows: calls.max_unregistered_flows,
            max_active_calls: calls.max_active_calls,
            link_speed_bytes_per_sec: None,
        },
        max_flows: calls.max_flows,
        api: ApiConfig {
            listen,
            bearer_token,
            max_body_bytes: raw.api.max_body_bytes,
            ..ApiConfig::default()
        },
        cloud: CloudService {
            deployment_environment: id.cloud_service_deployment_environment.clone(),
            deployment_id: id.cloud_service_deployment_id.clone(),
            instance_name: id.cloud_service_instance_name.clone(),
            name: id.cloud_service_name.clone(),
        },
        shutdown_grace: raw.daemon.shutdown_grace,
        log_json,
        log_level: raw.log.level.clone(),
    })
}

/// `vtcq validate --config FILE`.
pub fn validate(config: &std::path::Path) -> ExitCode {
    match load_settings(config) {
        Ok(_) => {
            println!("{}: ok", config.display());
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

fn now() -> Timestamp {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    Timestamp::from_nanos(i64::try_from(nanos).unwrap_or(i64::MAX))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Default)]
struct Metrics {
    packets_captured: AtomicU64,
    kernel_drops: AtomicU64,
    capture_errors: AtomicU64,
    records_handed_off: AtomicU64,
    handoff_failures: AtomicU64,
    unregistered_flows: AtomicU64,
    token_refreshes: AtomicU64,
}

struct Shared {
    tracker: Mutex<CallTracker>,
    identities: Mutex<HashMap<String, CallIdentity>>,
    handed_off: Mutex<HashSet<String>>,
    /// Records whose hand-off failed (spool unwritable): retried every tick, never dropped.
    pending: Mutex<Vec<(String, Vec<u8>)>>,
    handoff: Handoff,
    cloud: CloudService,
    new_record: tokio::sync::Notify,
    capture_running: AtomicBool,
    stop: AtomicBool,
    metrics: Metrics,
    delivery_metrics: Arc<DeliveryMetrics>,
}

impl Shared {
    fn body_of(&self, ended: &EndedCall) -> Vec<u8> {
        let identity = lock(&self.identities)
            .get(&ended.id)
            .cloned()
            .unwrap_or_else(|| CallIdentity {
                media_leg_id: Uuid::parse_str(&ended.id).unwrap_or_default(),
                ..CallIdentity::default()
            });
        let request = QualityRequest::new(&identity, &self.cloud, &ended.channels);
        serde_json::to_vec(&request).unwrap_or_default()
    }

    /// Hands an ended call's record off once. Returns its body.
    fn hand_off(&self, ended: &EndedCall) -> Result<Vec<u8>, String> {
        let body = self.body_of(ended);
        if !lock(&self.handed_off).insert(ended.id.clone()) {
            return Ok(body);
        }
        tracing::info!(call = %ended.id, reason = ended.reason.as_str(), channels = ended.channels.len(), "call ended");
        if let Err(e) = self.store(&body) {
            tracing::error!(call = %ended.id, error = %e, "cannot store the record; kept in memory and retried");
            self.metrics
                .handoff_failures
                .fetch_add(1, Ordering::Relaxed);
            lock(&self.pending).push((ended.id.clone(), body.clone()));
            return Err(e);
        }
        Ok(body)
    }

    fn store(&self, body: &[u8]) -> Result<(), String> {
        let stored = self
            .handoff
            .store(body, SystemTime::now())
            .map_err(|e| vtcq_reporter::errors::chain(&e))?;
        if matches!(stored, Stored::Spooled(_)) {
            self.new_record.notify_one();
        }
        self.metrics
            .records_handed_off
            .fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn retry_pending(&self) {
        let pending = std::mem::take(&mut *lock(&self.pending));
        for (id, body) in pending {
            if let Err(e) = self.store(&body) {
                tracing::warn!(call = %id, error = %e, "record still not stored; retrying");
                lock(&self.pending).push((id, body));
            }
        }
    }

    fn tick(&self) {
        let events = {
            let mut tracker = lock(&self.tracker);
            let events = tracker.poll(now());
            // Forget the identities and hand-off marks of calls the tracker has forgotten
            // (past `calls.ended_retention`): they would otherwise grow with every call.
            let known = |id: &str| tracker.is_active(id) || tracker.ended_call(id).is_some();
            lock(&self.identities).retain(|id, _| known(id));
            lock(&self.handed_off).retain(|id| known(id));
            events
        };
        for event in events {
            match event {
                Event::Ended(ended) => {
                    let _ = self.hand_off(&ended);
                }
                Event::Unregistered { endpoints, packets } => {
                    self.metrics
                        .unregistered_flows
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        a = %endpoints[0], b = %endpoints[1],
                        packets_a = packets[0].1, packets_b = packets[1].1,
                        "RTP flow seen but no call registered for it; not posted"
                    );
                }
            }
        }
        self.retry_pending();
    }

    fn metrics_text(&self) -> String {
        let m = &self.metrics;
        let d = &self.delivery_metrics;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        // Read the tracker's numbers under one short lock, then format without it.
        let (c, life, active, flows) = {
            let tracker = lock(&self.tracker);
            (
                tracker.analyzer().counters().clone(),
                tracker.counters().clone(),
                tracker.active_calls().len() as u64,
                tracker.analyzer().sessions().len() as u64,
            )
        };
        let mut metrics: Vec<(&str, &str, &str, u64)> = vec![
            ("vtcq_packets_captured_total", "counter", "Packets read from the capture ring.", load(&m.packets_captured)),
            ("vtcq_kernel_drops_total", "counter", "Packets the kernel dropped because the ring was full (capture loss, not network loss).", load(&m.kernel_drops)),
            ("vtcq_capture_errors_total", "counter", "Capture errors (the capture is reopened).", load(&m.capture_errors)),
            ("vtcq_rtp_packets_total", "counter", "RTP packets of valid streams.", c.rtp_packets),
            ("vtcq_rtcp_packets_total", "counter", "RTCP sub-packets parsed.", c.rtcp_packets),
            (
                "vtcq_parse_errors_total",
                "counter",
                "Malformed frames, RTP headers, RTCP compounds and sub-packets.",
                c.malformed_frames + c.rtp_malformed + c.rtcp_malformed + c.rtcp_bad_subpackets,
            ),
            ("vtcq_srtcp_packets_total", "counter", "Encrypted RTCP datagrams (counted, not read).", c.srtcp),
            ("vtcq_flows", "gauge", "Flows (endpoint pairs) measured now; bounded by calls.max_flows.", flows),
            ("vtcq_flows_evicted_total", "counter", "Flows without valid RTP evicted at calls.max_flows (a flood of new flows).", c.sessions_evicted),
            ("vtcq_flows_refused_total", "counter", "Datagrams of new flows refused at calls.max_flows because every flow carries RTP.", c.sessions_refused),
            ("vtcq_streams_evicted_total", "counter", "RTP streams evicted past 32 SSRCs per endpoint (random SSRCs).", c.streams_evicted),
            ("vtcq_calls_active", "gauge", "Registered calls not yet ended.", active),
            ("vtcq_calls_registered_total", "counter", "Calls registered.", life.registered),
            ("vtcq_unregistered_flows_total", "counter", "RTP flows seen on the wire but never registered.", load(&m.unregistered_flows)),
            ("vtcq_records_spooled_total", "counter", "Records handed to the spool or sink.", load(&m.records_handed_off)),
            ("vtcq_records_handoff_failures_total", "counter", "Records that could not be stored yet (kept in memory, retried).", load(&m.handoff_failures)),
            ("vtcq_records_posted_total", "counter", "Records acknowledged by Graph.", load(&d.posted_total)),
            ("vtcq_records_failed_total", "counter", "Delivery attempts that failed and will be retried.", load(&d.failed_attempts_total)),
            ("vtcq_records_dead_lettered_total", "counter", "Records Graph rejected (dead-letter folder).", load(&d.dead_lettered_total)),
            ("vtcq_token_refreshes_total", "counter", "Access tokens fetched.", load(&m.token_refreshes)),
        ];
        if let Some(spool) = self.handoff.spool() {
            let stats = lock(spool).stats();
            metrics.push((
                "vtcq_spool_records",
                "gauge",
                "Records waiting in the spool.",
                stats.records as u64,
            ));
            metrics.push((
                "vtcq_spool_bytes",
                "gauge",
                "Bytes waiting in the spool.",
                stats.bytes,
            ));
            metrics.push((
                "vtcq_spool_dropped_total",
                "counter",
                "Records the spool bounds dropped.",
                stats.dropped_total,
            ));
        }
        let mut out = String::new();
        for (name, kind, help, value) in metrics {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        let _ = writeln!(out, "# HELP vtcq_calls_ended_total Calls ended, by reason.\n# TYPE vtcq_calls_ended_total counter");
        for (i, reason) in ["api", "bye", "idle", "max_duration", "shutdown"]
            .iter()
            .enumerate()
        {
            let _ = writeln!(
                out,
                "vtcq_calls_ended_total{{reason=\"{reason}\"}} {}",
                life.ended[i]
            );
        }
        out
    }
}

struct Control(Arc<Shared>);

impl CallControl for Control {
    fn register(
        &self,
        media_leg_id: Uuid,
        registration: Registration,
    ) -> Result<bool, ControlError> {
        let id = media_leg_id.to_string();
        let specs: Vec<MediaSessionSpec> = registration
            .media_sessions
            .iter()
            .map(|m| MediaSessionSpec {
                kind: m.kind,
                local_port: m.local_port,
                remote_addr: m.remote_address,
                remote_port: m.remote_port,
                clock_rates: m
                    .payload_types
                    .iter()
                    .map(|p| (p.payload_type, p.clock_rate))
                    .collect(),
            })
            .collect();
        let mut tracker = lock(&self.0.tracker);
        let created = !tracker.is_active(&id);
        tracker.register(now(), &id, specs).map_err(|e| match e {
            RegisterError::DuplicatePort(_) | RegisterError::NoSessions => ControlError::Invalid {
                field: "mediaSessions".to_owned(),
                message: e.to_string(),
            },
            RegisterError::PortInUse { .. } | RegisterError::AlreadyEnded(_) => {
                ControlError::Conflict(e.to_string())
            }
            RegisterError::TooManyCalls(_) => {
                ControlError::Unavailable(format!("{e} (calls.max_active_calls)"))
            }
        })?;
        drop(tracker);
        lock(&self.0.identities).insert(
            id.clone(),
            CallIdentity {
                call_chain_id: registration.call_chain_id,
                participant_id: registration.participant_id,
                media_leg_id,
                device_name: registration.device_name,
                device_description: registration.device_description,
            },
        );
        tracing::info!(call = %id, created, "call registered");
        Ok(created)
    }

    fn end(&self, media_leg_id: Uuid) -> Result<Option<serde_json::Value>, ControlError> {
        let id = media_leg_id.to_string();
        let ended = lock(&self.0.tracker)
            .end(now(), &id, EndReason::Api)
            .cloned();
        let Some(ended) = ended else { return Ok(None) };
        let body = self.0.hand_off(&ended).map_err(ControlError::Unavailable)?;
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| ControlError::Unavailable(e.to_string()))
    }

    fn list(&self) -> Vec<ActiveCall> {
        let calls = lock(&self.0.tracker).active_calls();
        let identities = lock(&self.0.identities);
        calls
            .into_iter()
            .map(|c| {
                let identity = identities.get(&c.id).cloned().unwrap_or_default();
                let registered = SystemTime::UNIX_EPOCH
                    + Duration::from_nanos(c.registered_at.as_nanos().max(0) as u64);
                ActiveCall {
                    media_leg_id: identity.media_leg_id,
                    call_chain_id: identity.call_chain_id,
                    device_name: identity.device_name,
                    registered_at: humantime::format_rfc3339_millis(registered).to_string(),
                    media_sessions: c
                        .sessions
                        .iter()
                        .map(|(port, kind, inbound, outbound)| ActiveSession {
                            kind: kind.as_str().to_owned(),
                            local_port: *port,
                            inbound_packets: *inbound,
                            outbound_packets: *outbound,
                        })
                        .collect(),
                }
            })
            .collect()
    }

    fn ready(&self) -> bool {
        self.0.capture_running.load(Ordering::Relaxed) && lock(&self.0.pending).is_empty()
    }

    fn metrics(&self) -> String {
        self.0.metrics_text()
    }
}

/// systemd's notification protocol, without libsystemd: a datagram to $NOTIFY_SOCKET.
fn sd_notify(message: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(socket) = std::os::unix::net::UnixDatagram::unbound() else {
        return;
    };
    let path = path.to_string_lossy().into_owned();
    let result = match path.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
                .and_then(|addr| socket.send_to_addr(message.as_bytes(), &addr))
        }
        None => socket.send_to(message.as_bytes(), &path),
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "sd_notify failed");
    }
}

fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

fn init_logging(settings: &DaemonSettings) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VTCQ_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&settings.log_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if settings.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn capture_loop(shared: Arc<Shared>, config: CaptureConfig, mut capture: Capture) {
    let mut link = LinkType::from_linktype(capture.link_type());
    let mut last_stats = std::time::Instant::now();
    let mut drops_seen = 0u64;
    // A batch is copied out of the ring into one reused arena, so the tracker is locked
    // only to process it, never while waiting for packets (the control API shares it).
    // A block's frames fit in about one block's bytes (4 more for each frame whose VLAN
    // tag is put back: then the arena grows once).
    let mut arena: Vec<u8> = Vec::with_capacity(config.block_size as usize);
    let mut frames: Vec<(i64, usize, usize)> = Vec::with_capacity(4096);
    while !shared.stop.load(Ordering::Relaxed) {
        arena.clear();
        frames.clear();
        let result = capture.next_batch(Duration::from_millis(100), |packet| {
            let start = arena.len();
            arena.extend_from_slice(packet.data);
            frames.push((packet.timestamp_ns, start, packet.data.len()));
        });
        if !frames.is_empty() {
            let mut tracker = lock(&shared.tracker);
            for &(ts, start, len) in &frames {
                if let Some(frame) = arena.get(start..start + len) {
                    tracker.process_frame(Timestamp::from_nanos(ts), link, frame);
                }
            }
        }
        match result {
            Ok(n) => {
                shared
                    .metrics
                    .packets_captured
                    .fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(e) => {
                shared
                    .metrics
                    .capture_errors
                    .fetch_add(1, Ordering::Relaxed);
                shared.capture_running.store(false, Ordering::Relaxed);
                tracing::error!(interface = %config.interface, error = %e, "capture failed; reopening");
                // The interface may be down or renamed: keep trying, the calls stay.
                loop {
                    if shared.stop.load(Ordering::Relaxed) {
                        return;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                    match Capture::open(&config) {
                        Ok(reopened) => {
                            capture = reopened;
                            drops_seen = 0;
                            link = LinkType::from_linktype(capture.link_type());
                            shared.capture_running.store(true, Ordering::Relaxed);
                            tracing::info!(interface = %config.interface, "capture reopened");
                            break;
                        }
                        Err(e) => tracing::debug!(error = %e, "capture still unavailable"),
                    }
                }
            }
        }
        if last_stats.elapsed() >= Duration::from_secs(1) {
            last_stats = std::time::Instant::now();
            if let Ok(stats) = capture.stats() {
                // The kernel counts per socket: a reopened capture starts again from 0, the
                // metric must not (it is a counter), so add what is new on this socket.
                let new_drops = stats.drops.saturating_sub(drops_seen);
                drops_seen = stats.drops;
                if new_drops > 0 {
                    shared
                        .metrics
                        .kernel_drops
                        .fetch_add(new_drops, Ordering::Relaxed);
                    tracing::warn!(
                        drops = new_drops,
                        "the kernel dropped packets: the capture ring overflowed"
                    );
                }
            }
        }
    }
}

/// Runs the daemon until SIGTERM or SIGINT.
pub fn run(config_path: &std::path::Path) -> Result<ExitCode> {
    let settings = match load_settings(config_path) {
        Ok(s) => s,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    init_logging(&settings);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run_async(settings))
}

async fn run_async(settings: DaemonSettings) -> Result<ExitCode> {
    let DaemonSettings {
        reporter,
        capture: capture_config,
        local_addresses,
        link_speed_bytes,
        mut lifecycle,
        max_flows,
        api,
        cloud,
        shutdown_grace,
        ..
    } = settings;

    // Spool (or sink) first: a record must have somewhere durable to go.
    let Opened {
        handoff,
        delivery,
        recovered,
    } = Handoff::open(reporter, SystemTime::now())?;
    if recovered > 0 {
        tracing::info!(
            records = recovered,
            "undelivered records from an earlier run will be delivered first"
        );
    }
    if let Handoff::Files(dir) = &handoff {
        tracing::warn!(dir = %dir.display(), "no Graph credentials configured: records go to the file sink");
    }

    let capture = Capture::open(&capture_config)
        .with_context(|| format!("cannot capture on {}", capture_config.interface))?;
    lifecycle.link_speed_bytes_per_sec = link_speed_bytes.or_else(|| {
        Capture::interface_speed_mbps(&capture_config.interface).map(|mbps| mbps * 125_000)
    });
    let delivery_metrics = delivery
        .as_ref()
        .map(|d| d.metrics().clone())
        .unwrap_or_default();
    let shared = Arc::new(Shared {
        tracker: Mutex::new(CallTracker::new(
            AnalyzerConfig {
                max_sessions: max_flows,
                ..AnalyzerConfig::default()
            },
            local_addresses,
            lifecycle,
        )),
        identities: Mutex::new(HashMap::new()),
        handed_off: Mutex::new(HashSet::new()),
        pending: Mutex::new(Vec::new()),
        handoff,
        cloud,
        new_record: tokio::sync::Notify::new(),
        capture_running: AtomicBool::new(true),
        stop: AtomicBool::new(false),
        metrics: Metrics::default(),
        delivery_metrics,
    });

    let server = ApiServer::bind(api, Arc::new(Control(shared.clone())))
        .await
        .context("cannot bind the control API")?;
    if let Some(addr) = server.local_addr() {
        tracing::info!(%addr, "control API listening");
    }

    let capture_thread = {
        let shared = shared.clone();
        let config = capture_config.clone();
        std::thread::Builder::new()
            .name("vtcq-capture".into())
            .spawn(move || capture_loop(shared, config, capture))?
    };
    let (stop_api_tx, stop_api_rx) = tokio::sync::oneshot::channel::<()>();
    let api_task = tokio::spawn(server.serve(async move {
        let _ = stop_api_rx.await;
    }));
    let tick_task = {
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_secs(1));
            let watchdog = watchdog_interval();
            let mut last_ping = tokio::time::Instant::now();
            loop {
                interval.tick().await;
                shared.tick();
                if watchdog.is_some_and(|w| last_ping.elapsed() >= w) {
                    sd_notify("WATCHDOG=1");
                    last_ping = tokio::time::Instant::now();
                }
            }
        })
    };
    let delivery = delivery.map(|d| Arc::new(tokio::sync::Mutex::new(d)));
    let delivery_task = match (shared.handoff.spool(), &delivery) {
        (Some(spool), Some(delivery)) => {
            let spool = spool.clone();
            let delivery = delivery.clone();
            let shared = shared.clone();
            Some(tokio::spawn(async move {
                loop {
                    let report = {
                        let mut d = delivery.lock().await;
                        let report = d.drain(&spool, None).await;
                        shared
                            .metrics
                            .token_refreshes
                            .store(d.poster().tokens().refresh_count(), Ordering::Relaxed);
                        report
                    };
                    match report {
                        Ok(r) if r.blocked.is_some() => {
                            tokio::time::sleep(Duration::from_secs(60)).await
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::error!(error = %e, "spool error during delivery; retrying");
                            tokio::time::sleep(Duration::from_secs(5)).await;
                        }
                    }
                    let _ =
                        tokio::time::timeout(Duration::from_secs(30), shared.new_record.notified())
                            .await;
                }
            }))
        }
        _ => None,
    };

    sd_notify("READY=1");
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "vtcq is running");

    wait_for_signal().await;
    sd_notify("STOPPING=1");
    tracing::info!(
        grace_secs = shutdown_grace.as_secs(),
        "stopping: ending active calls"
    );
    let deadline = tokio::time::Instant::now() + shutdown_grace;
    let _ = stop_api_tx.send(());
    shared.stop.store(true, Ordering::Relaxed);
    tick_task.abort();
    let ended = lock(&shared.tracker).shutdown(now());
    for call in &ended {
        let _ = shared.hand_off(call);
    }
    shared.retry_pending();
    if let Some(task) = delivery_task {
        task.abort();
        let _ = task.await;
    }
    if let (Some(spool), Some(delivery)) = (shared.handoff.spool(), delivery) {
        let mut d = delivery.lock().await;
        match d.drain(spool, Some(deadline)).await {
            Ok(r) if r.remaining > 0 => tracing::warn!(
                remaining = r.remaining,
                "records stay in the spool for the next start"
            ),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "spool error at shutdown"),
        }
    }
    let _ = tokio::time::timeout_at(deadline, api_task).await;
    let _ = capture_thread.join();
    let unstored = lock(&shared.pending).len();
    if unstored > 0 {
        tracing::error!(
            records = unstored,
            "records could not be stored before exit"
        );
        return Ok(ExitCode::FAILURE);
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
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
