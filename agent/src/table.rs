//! Human-readable output of `vtcq analyze`.

use std::fmt::Write;
use std::net::IpAddr;
use std::time::Duration;

use vtcq_collector::analyzer::StreamRow;
use vtcq_collector::offline::{CaptureEnd, CaptureSummary};
use vtcq_collector::summary::{ChannelQuality, KindSource, Metric, Source};

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn duration_metric(m: &Metric<Duration>) -> String {
    match (m.average, m.maximum) {
        (Some(avg), Some(max)) => format!("{} / {}", ms(avg), ms(max)),
        (None, Some(max)) => format!("- / {}", ms(max)),
        _ => "-".to_owned(),
    }
}

fn percent_metric(m: &Metric<f64>) -> String {
    match (m.average, m.maximum) {
        (Some(avg), Some(max)) => format!("{avg:.2} % / {max:.2} %"),
        (None, Some(max)) => format!("- / {max:.2} %"),
        _ => "-".to_owned(),
    }
}

fn source<T>(m: &Metric<T>) -> String {
    if m.source == Source::None {
        String::new()
    } else {
        format!("[{}, {} samples]", m.source.describe(), m.samples)
    }
}

fn opt(v: Option<f64>, unit: &str, digits: usize) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$} {unit}"))
}

/// The per-channel summary.
pub fn channels(
    path: &str,
    summary: &CaptureSummary,
    local: &[IpAddr],
    channels: &[ChannelQuality],
) -> String {
    let mut out = String::new();
    let locals: Vec<String> = local.iter().map(ToString::to_string).collect();
    let _ = writeln!(
        out,
        "{path}: {} frames{}; local {}",
        summary.frames,
        match summary.end {
            CaptureEnd::Complete => "",
            CaptureEnd::CutShort { .. } => " (cut short)",
            CaptureEnd::Damaged { .. } => " (damaged tail)",
        },
        locals.join(", ")
    );
    for c in channels {
        let remote = c.remote.map_or_else(|| "?".to_owned(), |r| r.to_string());
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{} #{}{}  {} <-> {}  RTCP {}  media {}{}",
            c.kind,
            c.channel_index,
            if c.kind_source == KindSource::Heuristic {
                " (guessed)"
            } else {
                ""
            },
            c.local,
            remote,
            if c.rtcp_mux { "mux" } else { "port+1" },
            c.media_duration
                .map_or_else(|| "-".to_owned(), |d| format!("{:.1} s", d.as_secs_f64())),
            if c.srtcp_packets > 0 {
                format!("  SRTCP {}", c.srtcp_packets)
            } else {
                String::new()
            },
        );
        let _ = writeln!(
            out,
            "  {:<22}{:<44}outbound (local -> remote)",
            "", "inbound (remote -> local)"
        );
        let mut row = |label: &str, inbound: String, outbound: String| {
            let _ = writeln!(out, "  {label:<22}{inbound:<44}{outbound}");
        };
        row(
            "packets",
            c.inbound.packets.to_string(),
            c.outbound.packets.to_string(),
        );
        row(
            "loss avg / max",
            percent_metric(&c.inbound.loss),
            percent_metric(&c.outbound.loss),
        );
        row(
            "  source",
            source(&c.inbound.loss),
            source(&c.outbound.loss),
        );
        row(
            "jitter avg / max",
            duration_metric(&c.inbound.jitter),
            duration_metric(&c.outbound.jitter),
        );
        row(
            "  source",
            source(&c.inbound.jitter),
            source(&c.outbound.jitter),
        );
        row(
            "round trip avg / max",
            duration_metric(&c.inbound.round_trip),
            duration_metric(&c.outbound.round_trip),
        );
        row(
            "  source",
            source(&c.inbound.round_trip),
            source(&c.outbound.round_trip),
        );
        row(
            "bit rate",
            opt(c.inbound.bit_rate.map(|b| b / 1e3), "kbit/s", 1),
            opt(c.outbound.bit_rate.map(|b| b / 1e3), "kbit/s", 1),
        );
        row(
            "frame rate",
            opt(c.inbound.frame_rate, "fps", 1),
            opt(c.outbound.frame_rate, "fps", 1),
        );
    }
    out
}

/// The per-stream table, in the spirit of `tshark -q -z rtp,streams`.
pub fn streams(rows: &[StreamRow]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>22} {:>6} {:>22} {:>6} {:>10} {:>4} {:>6} {:>8} {:>9} {:>14} {:>14}",
        "Src addr",
        "Port",
        "Dst addr",
        "Port",
        "SSRC",
        "PT",
        "Rate",
        "Pkts",
        "Lost",
        "Max jitter ms",
        "Mean jitter ms"
    );
    for r in rows {
        let (max, mean) = r
            .jitter_ms
            .map_or(("-".to_owned(), "-".to_owned()), |(max, mean)| {
                (format!("{max:.3}"), format!("{mean:.3}"))
            });
        let _ = writeln!(
            out,
            "{:>22} {:>6} {:>22} {:>6} 0x{:08X} {:>4} {:>6} {:>8} {:>9} {:>14} {:>14}",
            r.src.ip(),
            r.src.port(),
            r.dst.ip(),
            r.dst.port(),
            r.ssrc,
            r.payload_type,
            r.clock_rate
                .map_or_else(|| "?".to_owned(), |hz| hz.to_string()),
            r.packets,
            r.lost,
            max,
            mean
        );
    }
    out
}
