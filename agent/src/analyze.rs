//! `vtcq analyze`: a capture file in, Graph quality records (or a stream table) out.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use vtcq_collector::analyzer::{Analyzer, AnalyzerConfig, LocalInference};
use vtcq_collector::capture::{CaptureError, CaptureReader};
use vtcq_collector::clock::ClockRateMap;
use vtcq_collector::offline::{analyze_capture, CaptureEnd, CaptureSummary};
use vtcq_collector::MediaKind;
use vtcq_reporter::{CallIdentity, CloudService, QualityRequest};

use crate::cli::{AnalyzeArgs, Format};
use crate::table;

/// Files smaller than this finish before a progress line would help.
const PROGRESS_MIN_BYTES: u64 = 32 << 20;

/// Runs `vtcq analyze`.
pub fn run(args: &AnalyzeArgs) -> Result<ExitCode> {
    let path = &args.capture;
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    // The reader buffers by itself (64 KiB chunks); a second buffer only costs cache.
    let mut reader = match CaptureReader::new(file) {
        Ok(reader) => reader,
        Err(CaptureError::NotACapture) => {
            bail!("{} is not a pcap or pcapng capture file", path.display())
        }
        Err(err) => {
            return Err(err).with_context(|| format!("cannot read {}", path.display()));
        }
    };

    let mut clock_rates = ClockRateMap::new();
    for rate in &args.clock_rates {
        clock_rates.insert(rate.port, rate.payload_type, rate.hz);
    }
    let mut analyzer = Analyzer::new(AnalyzerConfig {
        clock_rates,
        local_addrs: args.local.clone(),
        max_sessions: args.max_flows as usize,
        ..AnalyzerConfig::default()
    });

    let mut progress = Progress::new(size);
    let summary = analyze_capture(&mut reader, &mut analyzer, |bytes, frames| {
        progress.update(bytes, frames)
    })
    .with_context(|| format!("cannot read {}", path.display()))?;
    progress.clear();
    warn_about_end(path.display(), &summary);
    if let Some(end) = summary.last_timestamp {
        analyzer.finish(end);
    }
    warn_about_flow_bound(&analyzer, args.max_flows);

    if args.streams {
        print!("{}", table::streams(&analyzer.stream_rows()));
        return Ok(ExitCode::SUCCESS);
    }

    let local = resolve_local(args, &analyzer)?;
    let declared: Vec<(u16, MediaKind)> = args.kinds.iter().map(|k| (k.port, k.kind)).collect();
    let link_speed = args.link_speed.or(summary.link_speed_bytes_per_sec);
    let channels = analyzer.channel_qualities(&local, &declared, link_speed);
    if channels.is_empty() {
        bail!(
            "no RTP stream of {} has an endpoint on {} (the RTP flows are between {})",
            path.display(),
            join(&local),
            join(&rtp_addresses(&analyzer))
        );
    }
    for (port, kind) in &declared {
        if !channels.iter().any(|c| c.local.port() == *port) {
            tracing::warn!(port, kind = %kind, "--kind names a local port that carried no RTP");
        }
    }
    note_counters(&analyzer);

    let identity = CallIdentity {
        call_chain_id: args.call_chain_id,
        participant_id: args.participant_id,
        media_leg_id: args.media_leg_id,
        device_name: args.device_name.clone(),
        device_description: args.device_description.clone(),
    };
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            let body = QualityRequest::new(&identity, &CloudService::default(), &channels);
            writeln!(out, "{}", body.to_json_pretty())?;
        }
        Format::Table => {
            write!(
                out,
                "{}",
                table::channels(&path.display().to_string(), &summary, &local, &channels)
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn resolve_local(args: &AnalyzeArgs, analyzer: &Analyzer) -> Result<Vec<IpAddr>> {
    if !args.local.is_empty() {
        return Ok(args.local.clone());
    }
    match analyzer.infer_local() {
        LocalInference::Unique { addr, flows } => {
            eprintln!(
                "note: --local not given; using {addr}, the only address that is an endpoint of every RTP flow ({flows} flows)"
            );
            Ok(vec![addr])
        }
        LocalInference::Ambiguous { candidates } => {
            let example = candidates
                .first()
                .map(ToString::to_string)
                .unwrap_or_default();
            bail!(
                "cannot tell which side of the capture is the bot: the RTP flows are between {}; pass --local with the bot's address (e.g. --local {example})",
                join(&candidates)
            )
        }
        LocalInference::NoRtp => bail!(
            "no RTP found in {} (no UDP flow passed RFC 3550's sequence check); nothing to report",
            args.capture.display()
        ),
    }
}

fn rtp_addresses(analyzer: &Analyzer) -> Vec<IpAddr> {
    let mut all: Vec<IpAddr> = analyzer
        .sessions()
        .iter()
        .filter(|s| s.has_rtp())
        .flat_map(|s| s.endpoints().map(|e| e.ip()))
        .collect();
    all.sort();
    all.dedup();
    all
}

fn join(addrs: &[IpAddr]) -> String {
    let parts: Vec<String> = addrs.iter().map(ToString::to_string).collect();
    match parts.len() {
        0 => "no address".to_owned(),
        _ => parts.join(", "),
    }
}

fn warn_about_end(path: impl std::fmt::Display, summary: &CaptureSummary) {
    match summary.end {
        CaptureEnd::Complete => {}
        CaptureEnd::CutShort { offset } => tracing::warn!(
            "{path} is cut short at byte {offset} (a capture stopped mid-write?); analysed the {} frames before the cut",
            summary.frames
        ),
        CaptureEnd::Damaged { offset, reason } => tracing::warn!(
            "{path} is damaged at byte {offset} ({reason}); analysed the {} frames before it",
            summary.frames
        ),
    }
}

fn warn_about_flow_bound(analyzer: &Analyzer, max_flows: u32) {
    let c = analyzer.counters();
    if c.sessions_refused > 0 {
        tracing::warn!(
            refused_datagrams = c.sessions_refused,
            max_flows,
            "more flows carried RTP at once than --max-flows allows; datagrams of the flows past it were not analysed (raise --max-flows)"
        );
    }
    if c.sessions_evicted > 0 {
        tracing::warn!(
            evicted = c.sessions_evicted,
            max_flows,
            "flows that never carried valid RTP were evicted to stay within --max-flows"
        );
    }
}

fn note_counters(analyzer: &Analyzer) {
    let c = analyzer.counters();
    if c.srtcp > 0 {
        tracing::warn!(
            srtcp = c.srtcp,
            "encrypted RTCP (SRTCP) was counted but not read; inbound values fall back to the agent's own RTP analysis"
        );
    }
    tracing::info!(
        frames = c.frames,
        udp = c.udp,
        rtp = c.rtp_packets,
        rtcp = c.rtcp_compounds,
        rtcp_malformed = c.rtcp_malformed,
        rtcp_bad_subpackets = c.rtcp_bad_subpackets,
        malformed_frames = c.malformed_frames,
        stun = c.stun,
        dtls = c.dtls,
        blocks_unknown_ssrc = c.blocks_unknown_ssrc,
        rtt_rejected = c.rtt_rejected,
        "analysis counters"
    );
}

/// A progress line on stderr, only on a terminal and only for large files.
struct Progress {
    total: u64,
    enabled: bool,
    started: Instant,
    shown: bool,
}

impl Progress {
    fn new(total: u64) -> Self {
        Progress {
            total,
            enabled: total >= PROGRESS_MIN_BYTES && std::io::stderr().is_terminal(),
            started: Instant::now(),
            shown: false,
        }
    }

    fn update(&mut self, bytes: u64, frames: u64) {
        if !self.enabled || self.started.elapsed().as_millis() < 300 {
            return;
        }
        let percent = bytes as f64 / self.total.max(1) as f64 * 100.0;
        eprint!(
            "\ranalyzing: {percent:5.1}% ({} of {} MB, {frames} frames)",
            bytes >> 20,
            self.total >> 20
        );
        self.shown = true;
    }

    fn clear(&mut self) {
        if self.shown {
            eprint!("\r{:70}\r", "");
        }
    }
}
