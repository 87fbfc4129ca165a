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

/// Files at least this large are read on a second thread (see [`Prefetch`]).
const PREFETCH_MIN_BYTES: u64 = 8 << 20;
/// Size of one chunk the prefetch thread reads, and how many may wait.
const PREFETCH_CHUNK: usize = 1 << 20;
const PREFETCH_DEPTH: usize = 4;

/// The capture file, read ahead on a second thread for large files: copying a file out of
/// the page cache costs the kernel about as much as analysing it costs us, and the two
/// overlap (the analysis itself stays on one thread). Small files are read directly.
/// At most `PREFETCH_DEPTH + 2` chunks exist at once; they are recycled, not reallocated.
enum Prefetch {
    Direct(File),
    Threaded {
        chunks: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
        recycle: std::sync::mpsc::Sender<Vec<u8>>,
        current: Vec<u8>,
        at: usize,
    },
}

impl Prefetch {
    fn new(file: File, size: u64) -> Prefetch {
        if size < PREFETCH_MIN_BYTES {
            return Prefetch::Direct(file);
        }
        // A second handle for the thread, so that if it cannot start the file is still ours.
        let Ok(handle) = file.try_clone() else {
            return Prefetch::Direct(file);
        };
        let (chunk_tx, chunks) = std::sync::mpsc::sync_channel(PREFETCH_DEPTH);
        let (recycle, recycled) = std::sync::mpsc::channel::<Vec<u8>>();
        let spawned = std::thread::Builder::new()
            .name("capture-read".to_owned())
            .spawn(move || read_ahead(handle, &chunk_tx, &recycled));
        match spawned {
            Ok(_) => Prefetch::Threaded {
                chunks,
                recycle,
                current: Vec::new(),
                at: 0,
            },
            Err(_) => Prefetch::Direct(file),
        }
    }
}

/// The prefetch thread: fills recycled chunks until end of file or an error (sent on).
fn read_ahead(
    mut file: File,
    chunks: &std::sync::mpsc::SyncSender<std::io::Result<Vec<u8>>>,
    recycled: &std::sync::mpsc::Receiver<Vec<u8>>,
) {
    use std::io::Read;
    loop {
        let mut chunk = recycled.try_recv().unwrap_or_default();
        chunk.resize(PREFETCH_CHUNK, 0);
        let mut filled = 0;
        while filled < chunk.len() {
            match file.read(&mut chunk[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = chunks.send(Err(e));
                    return;
                }
            }
        }
        if filled == 0 {
            return; // end of file: dropping the sender says so
        }
        chunk.truncate(filled);
        if chunks.send(Ok(chunk)).is_err() {
            return; // the analysis stopped early
        }
    }
}

impl std::io::Read for Prefetch {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Prefetch::Direct(file) => file.read(buf),
            Prefetch::Threaded {
                chunks,
                recycle,
                current,
                at,
            } => {
                if *at == current.len() {
                    match chunks.recv() {
                        Ok(Ok(next)) => {
                            let done = std::mem::replace(current, next);
                            let _ = recycle.send(done);
                            *at = 0;
                        }
                        Ok(Err(e)) => return Err(e),
                        Err(_) => return Ok(0), // end of file
                    }
                }
                let n = buf.len().min(current.len() - *at);
                buf[..n].copy_from_slice(&current[*at..*at + n]);
                *at += n;
                Ok(n)
            }
        }
    }
}

/// Files smaller than this finish before a progress line would help.
const PROGRESS_MIN_BYTES: u64 = 32 << 20;

/// Runs `vtcq analyze`.
pub fn run(args: &AnalyzeArgs) -> Result<ExitCode> {
    let path = &args.capture;
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    // The reader buffers by itself (64 KiB chunks); a second buffer only costs cache.
    let mut reader = match CaptureReader::new(Prefetch::new(file, size)) {
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
        max_flows: args.max_flows as usize,
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
        .flows()
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
    if c.flows_refused > 0 {
        tracing::warn!(
            refused_datagrams = c.flows_refused,
            max_flows,
            "more flows carried RTP at once than --max-flows allows; datagrams of the flows past it were not analysed (raise --max-flows)"
        );
    }
    if c.flows_evicted > 0 {
        tracing::warn!(
            evicted = c.flows_evicted,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn prefetch_reads_exactly_the_file_across_chunk_boundaries() {
        let path = std::env::temp_dir().join(format!("vtcq-prefetch-{}", std::process::id()));
        // Not a multiple of the chunk size, so the last chunk is short.
        let len = PREFETCH_MIN_BYTES as usize + 3 * PREFETCH_CHUNK + 12_345;
        let mut state = 0x9E37_79B9_u32;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect();
        std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{e}"));
        let file = File::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let mut reader = Prefetch::new(file, len as u64);
        assert!(matches!(reader, Prefetch::Threaded { .. }));
        // Odd read sizes, as a parser asks for them.
        let mut read = Vec::with_capacity(len);
        let mut buf = vec![0u8; 70_001];
        for size in [1usize, 16, 65_536, 70_001, 3].iter().cycle() {
            let n = reader
                .read(&mut buf[..*size])
                .unwrap_or_else(|e| panic!("{e}"));
            if n == 0 {
                break;
            }
            read.extend_from_slice(&buf[..n]);
        }
        assert_eq!(read.len(), bytes.len());
        assert!(read == bytes, "the bytes differ");
        // Small files are read directly.
        let file = File::open(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(Prefetch::new(file, 1_000), Prefetch::Direct(_)));
        let _ = std::fs::remove_file(&path);
    }
}
