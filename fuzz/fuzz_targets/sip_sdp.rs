//! The signalling path: SIP messages (datagrams and TCP segments) -> SIP view -> body ->
//! SDP view -> dialog tracker -> media plans.
//!
//! Input: records `[len u16 le][op u8][bytes]`. `op & 3` picks the transport: 0 a UDP
//! datagram, 1 and 2 a TCP segment in order from either end of one connection, 3 a TCP
//! segment with the sequence number and flags taken from its first 5 bytes (gaps,
//! retransmissions, SYN/FIN/RST). `op >> 4` advances the capture clock by that many
//! seconds; `op & 8` runs the timeouts.
#![no_main]

use std::net::SocketAddr;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use vtcq_collector::signalling::dialog::{DialogConfig, DialogEvent, DialogTracker};
use vtcq_collector::signalling::multipart::find_sdp;
use vtcq_collector::signalling::plan::{MAX_ENDPOINTS_PER_SIDE, MAX_PAYLOAD_TYPES};
use vtcq_collector::signalling::sdp::{Sdp, MAX_MEDIA};
use vtcq_collector::signalling::sip::{Framing, SipError, SipMessage, MAX_MESSAGE_LEN};
use vtcq_collector::signalling::tcp::{TcpConfig, TcpReassembler};
use vtcq_collector::signalling::{MediaPlan, Side, SipErrorCounts, TcpCounters};
use vtcq_collector::wire::tcp::{TcpFlags, TcpSegment};
use vtcq_collector::Timestamp;

const MAX_DIALOGS: usize = 8;
const MAX_CONNECTIONS: usize = 2;

/// Checks a parsed message and everything reachable from it.
fn check_message(message: &SipMessage<'_>, input: &[u8]) {
    let bytes = message.as_bytes();
    assert!(bytes.len() <= input.len() && bytes.len() <= MAX_MESSAGE_LEN);
    assert_eq!(bytes, &input[..bytes.len()], "the message is a prefix of its input");
    let body = message.body();
    assert!(body.len() <= bytes.len());
    assert_eq!(body, &bytes[bytes.len() - body.len()..], "the body ends the message");
    assert!(!message.call_id().is_empty());
    assert_eq!(message.method().is_some(), message.status().is_none());
    for header in message.headers() {
        assert!(!header.raw_name.is_empty());
    }
    let _ = (message.from(), message.to(), message.vias().count(), message.cseq());
    if let Ok(Some(sdp)) = find_sdp(message.content_type(), body) {
        if let Ok(sdp) = Sdp::parse(sdp) {
            check_sdp(&sdp);
        }
    }
}

fn check_sdp(sdp: &Sdp<'_>) {
    let _ = (sdp.connection(), sdp.direction());
    assert!(sdp.media().count() <= MAX_MEDIA);
    for m in sdp.media() {
        let _ = (m.connection(), m.direction(), m.rtcp(), m.rtcp_mux(), m.label(), m.mid());
        let _ = (m.floorctrl(), m.has_content(b"slides"), m.is_bfcp(), m.is_rtp());
        for pt in m.payload_types() {
            assert!(pt <= 127);
        }
        for map in m.rtpmaps().flatten() {
            assert!(map.payload_type <= 127 && map.clock_rate > 0);
        }
        for crypto in m.cryptos().flatten() {
            // Debug shows the tag and suite, never the key parameters.
            let expected = format!(
                "Crypto {{ tag: {}, suite: {:?}, key_params: \"<redacted>\" }}",
                crypto.tag,
                String::from_utf8_lossy(crypto.suite)
            );
            assert_eq!(format!("{crypto:?}"), expected);
        }
        let _ = (m.ssrcs().count(), m.floor_ids().map(|f| f.streams().count()).sum::<usize>());
    }
}

fn check_plan(plan: &MediaPlan) {
    assert!(plan.channels.len() <= MAX_MEDIA);
    for (i, channel) in plan.channels.iter().enumerate() {
        assert_eq!(channel.position, i);
        for side in [Side::Caller, Side::Callee] {
            let s = channel.side(side);
            assert!(s.endpoints.len() <= MAX_ENDPOINTS_PER_SIDE);
            assert!(s.payload_types.len() <= MAX_PAYLOAD_TYPES);
            if let Some(key) = &s.sdes {
                let expected = format!(
                    "SdesKey {{ tag: {}, suite: {:?}, key_params: \"<redacted>\" }}",
                    key.tag, key.suite
                );
                assert_eq!(format!("{key:?}"), expected);
            }
        }
    }
}

fn check_events(events: &mut Vec<DialogEvent>) {
    for event in events.drain(..) {
        match event {
            DialogEvent::Started { call_id } => assert!(!call_id.is_empty()),
            DialogEvent::Negotiated(plan) => {
                assert!(plan.negotiations >= 1 && plan.first_offer.is_some());
                check_plan(&plan);
            }
            DialogEvent::Ended(plan) => {
                let (at, _) = plan.ended.expect("an ended plan says when");
                assert!(at >= plan.started);
                check_plan(&plan);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut tracker = DialogTracker::new(DialogConfig {
        max_dialogs: MAX_DIALOGS,
        ..DialogConfig::default()
    });
    let mut tcp = TcpReassembler::new(TcpConfig {
        max_connections: MAX_CONNECTIONS,
        max_buffer: MAX_MESSAGE_LEN,
        idle_timeout: Duration::from_secs(60),
    });
    let mut tcp_counters = TcpCounters::default();
    let mut errors = SipErrorCounts::default();
    let mut events = Vec::new();
    let client: SocketAddr = "192.0.2.10:40001".parse().expect("address");
    let server: SocketAddr = "198.51.100.20:5060".parse().expect("address");
    let mut seq = [1u32, 1u32];
    let mut now = Timestamp::from_nanos(0);
    let mut rest = data;
    while let [l0, l1, op, tail @ ..] = rest {
        let len = usize::from(u16::from_le_bytes([*l0, *l1])).min(tail.len());
        let (chunk, next) = tail.split_at(len);
        rest = next;
        now = now.after(Duration::from_secs(u64::from(op >> 4)));
        match op & 3 {
            0 => match SipMessage::parse(chunk, Framing::Datagram) {
                Ok((message, consumed)) => {
                    assert_eq!(consumed, chunk.len());
                    check_message(&message, chunk);
                    tracker.on_message(now, &message, &mut events);
                }
                Err(e) => {
                    assert_ne!(e, SipError::Incomplete, "a datagram is never incomplete");
                    errors.add(e);
                }
            },
            dir => {
                let from_client = dir != 2;
                let (mut s, mut flags, mut payload) = (seq[usize::from(!from_client)], 0u8, chunk);
                if dir == 3 {
                    if let [a, b, c, d, f, body @ ..] = chunk {
                        s = u32::from_le_bytes([*a, *b, *c, *d]);
                        flags = *f & (TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST);
                        payload = body;
                    }
                }
                let (src, dst) = if from_client { (client, server) } else { (server, client) };
                let segment = TcpSegment { src, dst, seq: s, flags: TcpFlags(flags), payload, payload_len: payload.len() };
                let tracker = &mut tracker;
                let events_out = &mut events;
                tcp.on_segment(now, &segment, &mut tcp_counters, &mut errors, |message| {
                    assert!(message.as_bytes().len() <= MAX_MESSAGE_LEN);
                    check_message(message, message.as_bytes());
                    tracker.on_message(now, message, events_out);
                });
                seq[usize::from(!from_client)] = s.wrapping_add(payload.len() as u32);
            }
        }
        if op & 8 != 0 {
            tracker.poll(now, &mut events);
            tcp.expire(now, &mut tcp_counters);
        }
        check_events(&mut events);
        assert!(tracker.len() <= MAX_DIALOGS);
        assert!(tcp.len() <= MAX_CONNECTIONS);
    }
    for plan in tracker.finish() {
        assert!(plan.ended.is_none());
        check_plan(&plan);
    }
});
