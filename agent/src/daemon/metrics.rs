//! `/metrics`: the daemon's numbers in the Prometheus text format (version 0.0.4). The
//! numbers are copied out first ([`Snapshot::of`], each lock held only to copy), then
//! formatted without any lock ([`render`]).
//!
//! Names follow `<namespace>_<name>_<unit>_total` for counters; there are no per-call or
//! per-SSRC labels, only the bounded `reason` of `vtcq_calls_ended_total`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use vtcq_collector::calls::EndReason;
use vtcq_reporter::spool::SpoolStats;

use super::calls::CallNumbers;
use super::{lock, Daemon};

/// Every number `/metrics` shows, read at one moment.
#[derive(Clone, Debug)]
pub(super) struct Snapshot {
    packets_captured: u64,
    kernel_drops: u64,
    capture_errors: u64,
    calls: CallNumbers,
    records_stored: u64,
    handoff_failures: u64,
    posted: u64,
    failed_attempts: u64,
    dead_lettered: u64,
    token_refreshes: u64,
    /// `None` without a spool (the sinks).
    spool: Option<SpoolStats>,
}

/// The reasons a call ends, in the order of `LifecycleCounters::ended`.
impl Snapshot {
    /// Reads the daemon's numbers: the call book's under one short lock, the spool's under
    /// another, the rest from atomics.
    pub(super) fn of(daemon: &Daemon) -> Snapshot {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let calls = lock(&daemon.calls).numbers();
        let (records_stored, handoff_failures) = daemon.outbox.totals();
        let delivery = &daemon.delivery;
        Snapshot {
            packets_captured: load(&daemon.capture.packets),
            kernel_drops: load(&daemon.capture.kernel_drops),
            capture_errors: load(&daemon.capture.errors),
            calls,
            records_stored,
            handoff_failures,
            posted: load(&delivery.metrics.posted_total),
            failed_attempts: load(&delivery.metrics.failed_attempts_total),
            dead_lettered: load(&delivery.metrics.dead_lettered_total),
            token_refreshes: load(&delivery.token_refreshes),
            spool: daemon.outbox.spool().map(|spool| lock(spool).stats()),
        }
    }
}

/// The Prometheus text of a snapshot.
pub(super) fn render(s: &Snapshot) -> String {
    let c = &s.calls.analyzer;
    let life = &s.calls.lifecycle;
    let mut metrics: Vec<(&str, &str, &str, u64)> = vec![
        ("vtcq_packets_captured_total", "counter", "Packets read from the capture ring.", s.packets_captured),
        ("vtcq_kernel_drops_total", "counter", "Packets the kernel dropped because the ring was full (capture loss, not network loss).", s.kernel_drops),
        ("vtcq_capture_errors_total", "counter", "Capture errors (the capture is reopened).", s.capture_errors),
        ("vtcq_rtp_packets_total", "counter", "RTP packets of valid streams.", c.rtp_packets),
        ("vtcq_rtcp_packets_total", "counter", "RTCP sub-packets parsed.", c.rtcp_packets),
        (
            "vtcq_parse_errors_total",
            "counter",
            "Malformed frames, RTP headers, RTCP compounds and sub-packets.",
            c.malformed_frames + c.rtp_malformed + c.rtcp_malformed + c.rtcp_bad_subpackets,
        ),
        ("vtcq_srtcp_packets_total", "counter", "Encrypted RTCP datagrams (counted, not read).", c.srtcp),
        ("vtcq_flows", "gauge", "Flows (endpoint pairs) measured now; bounded by calls.max_flows.", s.calls.flows),
        ("vtcq_flows_evicted_total", "counter", "Flows without valid RTP evicted at calls.max_flows (a flood of new flows).", c.flows_evicted),
        ("vtcq_flows_refused_total", "counter", "Datagrams of new flows refused at calls.max_flows because every flow carries RTP.", c.flows_refused),
        ("vtcq_streams_evicted_total", "counter", "RTP streams evicted past 32 SSRCs per endpoint (random SSRCs).", c.streams_evicted),
        ("vtcq_calls_active", "gauge", "Registered calls not yet ended.", s.calls.active_calls),
        ("vtcq_calls_registered_total", "counter", "Calls registered.", life.registered),
        ("vtcq_unregistered_flows_total", "counter", "RTP flows seen on the wire but never registered.", life.unregistered_flows),
        ("vtcq_records_spooled_total", "counter", "Records handed to the spool or sink.", s.records_stored),
        ("vtcq_records_handoff_failures_total", "counter", "Records that could not be stored yet (kept in memory, retried).", s.handoff_failures),
        ("vtcq_records_posted_total", "counter", "Records acknowledged by Graph.", s.posted),
        ("vtcq_records_failed_total", "counter", "Delivery attempts that failed and will be retried.", s.failed_attempts),
        ("vtcq_records_dead_lettered_total", "counter", "Records Graph rejected (dead-letter folder).", s.dead_lettered),
        ("vtcq_token_refreshes_total", "counter", "Access tokens fetched.", s.token_refreshes),
    ];
    if let Some(spool) = &s.spool {
        metrics.extend([
            (
                "vtcq_spool_records",
                "gauge",
                "Records waiting in the spool.",
                spool.records as u64,
            ),
            (
                "vtcq_spool_bytes",
                "gauge",
                "Bytes waiting in the spool.",
                spool.bytes,
            ),
            (
                "vtcq_spool_dropped_total",
                "counter",
                "Records the spool bounds dropped.",
                spool.dropped_total,
            ),
        ]);
    }
    let mut out = String::new();
    for (name, kind, help, value) in metrics {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
    let _ = writeln!(out, "# HELP vtcq_calls_ended_total Calls ended, by reason.\n# TYPE vtcq_calls_ended_total counter");
    for reason in EndReason::ALL {
        let _ = writeln!(
            out,
            "vtcq_calls_ended_total{{reason=\"{}\"}} {}",
            reason.as_str(),
            life.ended_by(reason)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use vtcq_collector::analyzer::Counters;
    use vtcq_collector::calls::LifecycleCounters;

    fn snapshot() -> Snapshot {
        Snapshot {
            packets_captured: 7,
            kernel_drops: 0,
            capture_errors: 1,
            calls: CallNumbers {
                analyzer: Counters::default(),
                lifecycle: LifecycleCounters {
                    registered: 3,
                    ended: [1, 2, 0, 0, 1],
                    unregistered_flows: 4,
                },
                active_calls: 2,
                flows: 5,
            },
            records_stored: 3,
            handoff_failures: 0,
            posted: 2,
            failed_attempts: 6,
            dead_lettered: 0,
            token_refreshes: 1,
            spool: None,
        }
    }

    /// The exposition format: every sample with its HELP and TYPE, integers only.
    #[test]
    fn every_metric_is_typed_and_the_end_reasons_are_labelled() {
        let text = render(&snapshot());
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        for sample in &samples {
            let (name, value) = sample.rsplit_once(' ').unwrap_or_default();
            let family = name.split('{').next().unwrap_or_default();
            assert!(text.contains(&format!("# TYPE {family} ")), "{family}");
            assert!(text.contains(&format!("# HELP {family} ")), "{family}");
            assert!(value.parse::<u64>().is_ok(), "{sample}");
        }
        for line in [
            "vtcq_packets_captured_total 7",
            "vtcq_flows 5",
            "vtcq_calls_active 2",
            "vtcq_unregistered_flows_total 4",
            "vtcq_records_posted_total 2",
            "vtcq_calls_ended_total{reason=\"api\"} 1",
            "vtcq_calls_ended_total{reason=\"bye\"} 2",
            "vtcq_calls_ended_total{reason=\"shutdown\"} 1",
        ] {
            assert!(samples.contains(&line), "{line} in\n{text}");
        }
        assert!(
            !text.contains("vtcq_spool_records"),
            "no spool, no spool metrics"
        );
        let with_spool = render(&Snapshot {
            spool: Some(SpoolStats {
                records: 2,
                bytes: 900,
                ..SpoolStats::default()
            }),
            ..snapshot()
        });
        assert!(
            with_spool.contains("\nvtcq_spool_records 2\n"),
            "{with_spool}"
        );
        assert!(
            with_spool.contains("\nvtcq_spool_bytes 900\n"),
            "{with_spool}"
        );
    }
}
