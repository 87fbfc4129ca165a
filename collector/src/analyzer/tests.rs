use std::net::{IpAddr, SocketAddr};

use super::*;
use crate::wire::rtp::RtpHeader;

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap_or_else(|_| unreachable!("{text}"))
}

fn rtp(
    analyzer: &mut Analyzer,
    at_micros: i64,
    src: SocketAddr,
    dst: SocketAddr,
    seq: u16,
    ssrc: u32,
) {
    let mut payload = Vec::new();
    RtpHeader {
        marker: false,
        payload_type: 0,
        sequence_number: seq,
        timestamp: u32::from(seq) * 160,
        ssrc,
    }
    .write(&mut payload);
    payload.extend_from_slice(&[0u8; 20]);
    analyzer.process_udp(
        Timestamp::from_nanos(at_micros * 1_000),
        src,
        dst,
        &payload,
        payload.len(),
    );
}

/// One datagram from a new random-looking port each time: never validates.
fn flood(analyzer: &mut Analyzer, from: u32, count: u32) {
    let dst = addr("192.0.2.2:6000");
    for i in from..from + count {
        let src = SocketAddr::new(
            IpAddr::from([198, 51, (i >> 16) as u8, (i >> 8) as u8]),
            (i & 0xffff) as u16 | 1024,
        );
        rtp(
            analyzer,
            i64::from(i),
            src,
            dst,
            i as u16,
            i.wrapping_mul(2_654_435_761),
        );
    }
}

fn bounded(max_flows: usize) -> Analyzer {
    Analyzer::new(AnalyzerConfig {
        max_flows,
        ..AnalyzerConfig::default()
    })
}

#[test]
fn random_ssrcs_on_one_flow_stay_bounded() {
    let mut analyzer = Analyzer::new(AnalyzerConfig::default());
    let src = addr("192.0.2.1:5000");
    let dst = addr("192.0.2.2:6000");
    for i in 0..10_000u32 {
        rtp(
            &mut analyzer,
            i64::from(i),
            src,
            dst,
            i as u16,
            i.wrapping_mul(2_654_435_761),
        );
    }
    let flow = &analyzer.flows()[0];
    let streams: usize = Side::BOTH.map(|s| flow.side(s).streams.len()).iter().sum();
    assert!(streams <= MAX_STREAMS_PER_SIDE, "{streams}");
    assert_eq!(
        analyzer.counters().streams_evicted,
        10_000 - MAX_STREAMS_PER_SIDE as u64
    );
}

#[test]
fn a_flood_of_new_flows_evicts_unvalidated_flows_only() {
    let mut analyzer = bounded(64);
    let (a, b) = (addr("192.0.2.1:5000"), addr("192.0.2.9:7000"));
    // An established flow: validated before the flood.
    for seq in 0..5u16 {
        rtp(&mut analyzer, i64::from(seq), a, b, seq, 7);
    }
    flood(&mut analyzer, 100, 10_000);
    assert_eq!(analyzer.flows().len(), 64);
    assert_eq!(analyzer.counters().flows_evicted, 10_000 - 63);
    assert_eq!(analyzer.counters().flows_refused, 0);
    // Index and flows agree after all the swap-removes.
    for (i, s) in analyzer.flows().iter().enumerate() {
        let [x, y] = s.endpoints();
        assert_eq!(analyzer.table.find(x, y), Some((i, Side::Low)));
    }
    // The established flow is intact and still counts.
    rtp(&mut analyzer, 20_000, a, b, 5, 7);
    let rows = analyzer.stream_rows();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].ssrc, rows[0].packets, rows[0].lost), (7, 6, 0));
    // The queue of candidates does not outgrow the flows.
    let queued = analyzer.table.admission_queue_len();
    assert!(queued <= 64, "{queued}");
}

#[test]
fn a_registered_port_starting_under_a_flood_still_validates() {
    let mut analyzer = bounded(64);
    analyzer.set_protected_ports([5000]);
    let (a, b) = (addr("192.0.2.1:5000"), addr("192.0.2.9:7000"));
    // Its first packet, then enough new flows to rotate the bound 3 times over,
    // then its second packet: with protection it is still there and validates.
    rtp(&mut analyzer, 0, a, b, 0, 7);
    flood(&mut analyzer, 100, 200);
    rtp(&mut analyzer, 300, a, b, 1, 7);
    let rows = analyzer.stream_rows();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].packets, 2);

    // Unprotected, the same sequence loses the first packet's flow.
    let mut analyzer = bounded(64);
    rtp(&mut analyzer, 0, a, b, 0, 7);
    flood(&mut analyzer, 100, 200);
    rtp(&mut analyzer, 300, a, b, 1, 7);
    assert!(analyzer.stream_rows().is_empty());
}

#[test]
fn a_flood_at_a_protected_port_still_stays_bounded() {
    let mut analyzer = bounded(32);
    analyzer.set_protected_ports([6000]); // the flood's destination port
    flood(&mut analyzer, 100, 5_000);
    assert_eq!(analyzer.flows().len(), 32);
    assert_eq!(analyzer.counters().flows_evicted, 5_000 - 32);
}

#[test]
fn when_every_flow_carries_rtp_new_flows_are_refused_and_counted() {
    let mut analyzer = bounded(4);
    for n in 0..4u16 {
        let a = SocketAddr::new(IpAddr::from([192, 0, 2, 1]), 5000 + 2 * n);
        for seq in 0..3u16 {
            rtp(
                &mut analyzer,
                i64::from(seq),
                a,
                addr("192.0.2.9:7000"),
                seq,
                1,
            );
        }
    }
    flood(&mut analyzer, 100, 10);
    assert_eq!(analyzer.flows().len(), 4);
    assert_eq!(analyzer.counters().flows_refused, 10);
    assert_eq!(analyzer.counters().flows_evicted, 0);
    assert_eq!(analyzer.stream_rows().len(), 4);
    // Once one is taken (its call ended), a new flow is admitted again.
    let first = analyzer.flows()[0].endpoints();
    analyzer.take_flows(|s| s.endpoints() == first);
    flood(&mut analyzer, 200, 1);
    assert_eq!(analyzer.flows().len(), 4);
    assert_eq!(analyzer.counters().flows_refused, 10);
}
