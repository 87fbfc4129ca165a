//! The whole measurement core: `Analyzer::process_frame` over a sequence of frames, then
//! every read-out (`stream_rows`, `infer_local`, `channel_qualities` for each candidate
//! local address) and the Graph request body built from it.
//!
//! Input: one byte choosing the link type, then records of
//! `[len: u16 LE][time step: i32 LE, microseconds, may go backwards][len bytes]`.
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use vtcq_collector::capture::LinkType;
use vtcq_collector::{Analyzer, AnalyzerConfig, LocalInference, MediaKind, Timestamp};
use vtcq_reporter::{CallIdentity, CloudService, QualityRequest};

const LINKTYPES: [u32; 10] = [1, 0, 101, 108, 113, 228, 229, 276, 12, 147];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, mut rest)) = data.split_first() else {
        return;
    };
    let link_type = LinkType::from_linktype(LINKTYPES[usize::from(selector) % LINKTYPES.len()]);
    let mut config = AnalyzerConfig::default();
    // Exercise the per-port and per-PT clock-rate lookups too.
    config.clock_rates.insert(None, 96, 90_000);
    config.clock_rates.insert(Some(5004), 111, 48_000);
    config.record_rtt_observations = selector & 0x80 != 0;
    let mut analyzer = Analyzer::new(config);
    // Start near a real capture time; steps may cross the epoch or go backwards.
    let mut now: i64 = 1_700_000_000_000_000_000;
    let mut frames = 0u64;
    while rest.len() >= 6 {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        let step = i32::from_le_bytes([rest[2], rest[3], rest[4], rest[5]]);
        rest = &rest[6..];
        let frame = &rest[..len.min(rest.len())];
        rest = &rest[frame.len()..];
        now = now.saturating_add(i64::from(step) * 1_000);
        analyzer.process_frame(Timestamp::from_nanos(now), link_type, frame);
        frames += 1;
    }
    let c = analyzer.counters().clone();
    assert_eq!(c.frames, frames);
    assert_eq!(
        c.frames,
        c.not_udp + c.fragments + c.unsupported_link + c.malformed_frames + c.udp,
        "every frame is counted once: {c:?}"
    );
    assert!(c.udp >= c.stun + c.dtls + c.turn_channel + c.zrtp + c.other_udp + c.rtp_malformed);
    if let Some((first, last)) = analyzer.time_span() {
        assert!(first <= last);
    }

    for row in analyzer.stream_rows() {
        assert!(row.first <= row.last, "stream span reversed: {row:?}");
        if let Some((max, mean)) = row.jitter_ms {
            assert!(max.is_finite() && mean.is_finite() && mean >= 0.0, "{row:?}");
            assert!(mean <= max + 1e-9, "{row:?}");
        }
    }
    for flow in analyzer.flows() {
        let _ = (flow.endpoints(), flow.has_rtp(), flow.last_rtp());
        let _ = (flow.first_packet(), flow.last_packet(), flow.packets_by_endpoint());
        let _ = (flow.all_streams_said_bye(), flow.active(), flow.rtcp_mux());
    }

    let mut locals: Vec<IpAddr> = match analyzer.infer_local() {
        LocalInference::Unique { addr, .. } => vec![addr],
        LocalInference::Ambiguous { candidates } => candidates,
        LocalInference::NoRtp => Vec::new(),
    };
    locals.truncate(4);
    let declared = [(5004, MediaKind::Audio), (5006, MediaKind::Video)];
    let identity = CallIdentity::default();
    let cloud = CloudService::default();
    analyzer.finish(Timestamp::from_nanos(now));
    for local in locals {
        let channels = analyzer.channel_qualities(&[local], &declared, Some(125_000_000));
        for channel in &channels {
            assert_eq!(channel.local.ip(), local);
            assert!(channel.channel_index >= 1);
        }
        let body = serde_json::to_vec(&QualityRequest::new(&identity, &cloud, &channels))
            .expect("the Graph body serializes");
        let _: serde_json::Value = serde_json::from_slice(&body).expect("and is JSON");
    }
});
