//! Per-packet costs of the measurement path on the in-memory sample call (run with
//! `cargo bench -p vtcq-benches --bench packet_path`).
#![deny(unsafe_code)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vtcq_collector::analyzer::{Analyzer, AnalyzerConfig};
use vtcq_collector::capture::LinkType;
use vtcq_collector::clock::{static_clock_rate, ClockRateSource};
use vtcq_collector::stats::SampleHistogram;
use vtcq_collector::stream::RtpStream;
use vtcq_collector::wire::demux::classify;
use vtcq_collector::wire::link::decode_udp;
use vtcq_collector::wire::rtcp::Compound;
use vtcq_collector::wire::rtp::{RtpHeader, RtpPacket};
use vtcq_collector::Timestamp;
use vtcq_reporter::{CallIdentity, CloudService, QualityRequest};
use vtcq_sim::Rng;

/// Every RTP packet of the sample's busiest stream (the device's video: reordered by
/// jitter, with loss), as the analyzer hands them to `RtpStream::on_packet`.
fn busiest_stream(frames: &[(Timestamp, Vec<u8>)]) -> Vec<(Timestamp, RtpHeader, usize)> {
    let mut packets: Vec<(Timestamp, RtpHeader, usize)> = frames
        .iter()
        .filter_map(|(ts, f)| {
            let udp = decode_udp(LinkType::Ethernet, f).ok()?;
            let rtp = RtpPacket::new_checked(udp.payload).ok()?;
            (udp.payload.len() > 1 && !(200..=207).contains(&udp.payload[1])).then_some((
                *ts,
                rtp.header(),
                udp.payload_len,
            ))
        })
        .collect();
    let mut counts: Vec<(u32, usize)> = Vec::new();
    for (_, h, _) in &packets {
        match counts.iter_mut().find(|c| c.0 == h.ssrc) {
            Some(c) => c.1 += 1,
            None => counts.push((h.ssrc, 1)),
        }
    }
    let busiest = counts.iter().max_by_key(|c| c.1).map_or(0, |c| c.0);
    packets.retain(|p| p.1.ssrc == busiest);
    packets
}

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

    let stream = busiest_stream(&frames);
    group.throughput(Throughput::Elements(stream.len() as u64));
    group.bench_function("rtp_stream_update", |b| {
        b.iter(|| {
            let Some((first_at, first, _)) = stream.first() else {
                return 0;
            };
            let mut s = RtpStream::new(*first_at, first);
            for (at, header, len) in &stream {
                let rate =
                    static_clock_rate(header.payload_type).map(|hz| (hz, ClockRateSource::Rfc3551));
                s.on_packet(*at, header, *len, rate, 5_000_000_000);
            }
            black_box(s.packets())
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

    // Jitter- and RTT-like samples in microseconds, 1 µs .. 10 s, log-spread.
    let mut rng = Rng(7);
    let samples: Vec<u64> = (0..4096)
        .map(|_| 10f64.powf(rng.unit() * 7.0) as u64)
        .collect();
    let mut histogram = SampleHistogram::new(10_000_000);
    histogram.record(1); // allocated once, like any accumulator after its first sample
    group.throughput(Throughput::Elements(samples.len() as u64));
    group.bench_function("histogram_record", |b| {
        b.iter(|| {
            for &v in &samples {
                histogram.record(v);
            }
            black_box(histogram.count())
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
