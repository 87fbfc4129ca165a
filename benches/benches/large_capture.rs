//! The full analysis on a sample of the large load capture: 200 concurrent three-channel
//! calls (600 channels, about 1 000 RTP streams live at once) for 8 s, merged in capture
//! order and held in one in-memory arena (`cargo bench -p vtcq-benches --bench
//! large_capture`). Two ways to feed it: straight from the 200 MB arena (every frame is a
//! cache miss first), and the daemon's way (a batch copied into a small reused arena,
//! then analysed). The input is built only when this binary runs: under `cargo test`
//! (criterion's test mode, one iteration) it is 4 calls of 6 s, so the test stays fast.
#![deny(unsafe_code)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vtcq_benches::{load_frames, LoadSpec};
use vtcq_collector::analyzer::{Analyzer, AnalyzerConfig};
use vtcq_collector::capture::LinkType;
use vtcq_collector::Timestamp;

fn large_capture(c: &mut Criterion) {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let spec = if benchmarking {
        LoadSpec::new(200, 8)
    } else {
        LoadSpec::new(4, 6)
    };
    let built = Instant::now();
    let (frames, totals) = load_frames(&spec);
    if benchmarking {
        eprintln!(
            "large capture sample: {} calls x {} s, {} channels, {} frames, {} MB, built in {:.1} s",
            spec.calls,
            spec.seconds,
            totals.channels,
            frames.len(),
            frames.bytes() >> 20,
            built.elapsed().as_secs_f64()
        );
    }
    let mut group = c.benchmark_group("large_capture");
    group.sample_size(10);
    group.throughput(Throughput::Elements(frames.len() as u64));
    group.bench_function("full_analysis_200_calls", |b| {
        b.iter(|| {
            let mut analyzer = Analyzer::new(AnalyzerConfig::default());
            for (ts, frame) in frames.iter() {
                analyzer.process_frame(ts, LinkType::Ethernet, frame);
            }
            black_box(analyzer.counters().rtp_packets)
        })
    });
    // The daemon's way: each ring batch is copied into one reused arena, then analysed,
    // so a frame is in cache when the analyzer reads it (the copy streams, the cold reads
    // above wait for memory once per frame).
    group.bench_function("full_analysis_200_calls_batched", |b| {
        let mut arena: Vec<u8> = Vec::with_capacity(1 << 20);
        let mut batch: Vec<(Timestamp, usize, usize)> = Vec::with_capacity(BATCH);
        b.iter(|| {
            let mut analyzer = Analyzer::new(AnalyzerConfig::default());
            let mut it = frames.iter().peekable();
            while it.peek().is_some() {
                arena.clear();
                batch.clear();
                for (ts, frame) in it.by_ref().take(BATCH) {
                    batch.push((ts, arena.len(), frame.len()));
                    arena.extend_from_slice(frame);
                }
                for &(ts, start, len) in &batch {
                    if let Some(frame) = arena.get(start..start + len) {
                        analyzer.process_frame(ts, LinkType::Ethernet, frame);
                    }
                }
            }
            black_box(analyzer.counters().rtp_packets)
        })
    });
    group.finish();
}

/// Frames per batch in the daemon-style variant (a 1 MiB ring block holds about this many
/// media frames; the daemon's default blocks are 256 KiB now, about 450 such frames, but
/// the batch stays 1024 so that the numbers compare with earlier ones).
const BATCH: usize = 1024;

criterion_group!(benches, large_capture);
criterion_main!(benches);
