//! Per-packet costs of the measurement path (run with `cargo bench -p vtcq-benches`).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vtcq_collector::analyzer::{Analyzer, AnalyzerConfig};
use vtcq_collector::capture::LinkType;
use vtcq_collector::wire::demux::classify;
use vtcq_collector::wire::link::decode_udp;
use vtcq_collector::wire::rtcp::Compound;
use vtcq_reporter::{CallIdentity, CloudService, QualityRequest};

fn packet_path(c: &mut Criterion) {
    let frames = vtcq_benches::sample_frames();
    let mut group = c.benchmark_group("packet_path");
    group.throughput(Throughput::Elements(frames.len() as u64));

    group.bench_function("decode_and_classify", |b| {
        b.iter(|| {
            let mut rtp = 0u32;
            for (_, frame) in &frames {
                if let Ok(udp) = decode_udp(LinkType::Ethernet, frame) {
                    rtp += classify(udp.payload) as u32;
                }
            }
            black_box(rtp)
        })
    });

    let rtcp: Vec<&[u8]> = frames
        .iter()
        .filter_map(|(_, f)| decode_udp(LinkType::Ethernet, f).ok())
        .map(|u| u.payload)
        .filter(|p| p.len() > 1 && (200..=207).contains(&p[1]))
        .collect();
    group.throughput(Throughput::Elements(rtcp.len() as u64));
    group.bench_function("rtcp_compound_parse", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for p in &rtcp {
                n += Compound::parse(p).packets().filter(|r| r.is_ok()).count();
            }
            black_box(n)
        })
    });

    group.throughput(Throughput::Elements(frames.len() as u64));
    group.bench_function("full_analysis_in_memory", |b| {
        b.iter(|| {
            let mut analyzer = Analyzer::new(AnalyzerConfig::default());
            for (ts, frame) in &frames {
                analyzer.process_frame(*ts, LinkType::Ethernet, frame);
            }
            black_box(analyzer.counters().rtp_packets)
        })
    });
    group.finish();

    let mut analyzer = Analyzer::new(AnalyzerConfig::default());
    for (ts, frame) in &frames {
        analyzer.process_frame(*ts, LinkType::Ethernet, frame);
    }
    let local = ["192.0.2.10"
        .parse()
        .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]))];
    c.bench_function("record_build_and_serialise", |b| {
        b.iter(|| {
            let channels = analyzer.channel_qualities(&local, &[], None);
            let body = QualityRequest::new(
                &CallIdentity::default(),
                &CloudService::default(),
                &channels,
            );
            black_box(body.to_json_pretty().len())
        })
    });
}

criterion_group!(benches, packet_path);
criterion_main!(benches);
