#![allow(clippy::unwrap_used)]

use super::*;
use crate::signalling::testing::{dialog_message, Rng, OFFER};

const CLIENT: &str = "192.0.2.10:40001";
const SERVER: &str = "198.51.100.20:5060";

fn seg(seq: u32, flags: u8, payload: &[u8]) -> TcpSegment<'_> {
    TcpSegment {
        src: CLIENT.parse().unwrap(),
        dst: SERVER.parse().unwrap(),
        seq,
        flags: TcpFlags(flags),
        payload,
        payload_len: payload.len(),
    }
}

/// Feeds segments and returns the Call-ID/CSeq of each message delivered.
#[derive(Default)]
struct Rig {
    reassembler: TcpReassembler,
    counters: TcpCounters,
    errors: SipErrorCounts,
    delivered: Vec<(Vec<u8>, u32, usize)>,
}

impl Rig {
    fn new() -> Self {
        Rig {
            reassembler: TcpReassembler::new(TcpConfig::default()),
            ..Rig::default()
        }
    }

    fn feed(&mut self, segment: TcpSegment<'_>) {
        let delivered = &mut self.delivered;
        self.reassembler.on_segment(
            Timestamp::from_nanos(1),
            &segment,
            &mut self.counters,
            &mut self.errors,
            |m| delivered.push((m.call_id().to_vec(), m.cseq().number, m.body().len())),
        );
    }
}

fn invite(cseq: u32) -> Vec<u8> {
    dialog_message(
        "INVITE sip:room30@vtc.example.com SIP/2.0",
        &format!("{cseq} INVITE"),
        None,
        false,
        OFFER,
    )
}

#[test]
fn a_message_split_across_segments_at_every_point() {
    let message = invite(1);
    for split in 1..message.len() {
        let mut rig = Rig::new();
        rig.feed(seg(999, TcpFlags::SYN, b""));
        rig.feed(seg(1000, 0, &message[..split]));
        assert!(rig.delivered.is_empty(), "split {split}");
        rig.feed(seg(1000 + split as u32, 0, &message[split..]));
        assert_eq!(
            rig.delivered,
            vec![(b"call-1@bot.example.com".to_vec(), 1, OFFER.len())],
            "split {split}"
        );
        assert_eq!(rig.counters.bytes_skipped, 0);
    }
}

#[test]
fn two_messages_in_one_segment_and_keepalives_between() {
    let mut rig = Rig::new();
    let mut bytes = invite(1);
    bytes.extend_from_slice(b"\r\n\r\n"); // RFC 5626 keep-alive
    bytes.extend_from_slice(&invite(2));
    rig.feed(seg(0, TcpFlags::SYN, b""));
    rig.feed(seg(1, 0, &bytes));
    let cseqs: Vec<u32> = rig.delivered.iter().map(|d| d.1).collect();
    assert_eq!(cseqs, vec![1, 2]);
}

#[test]
fn a_gap_resynchronises_at_the_next_message() {
    let mut rig = Rig::new();
    let first = invite(1);
    let second = invite(2);
    rig.feed(seg(0, TcpFlags::SYN, b""));
    // The first 100 bytes of message 1 arrive, the next segment is lost, then the rest
    // of message 1 and message 2 arrive together.
    rig.feed(seg(1, 0, &first[..100]));
    let lost = 50;
    let rest = [&first[100 + lost..], &second[..]].concat();
    rig.feed(seg(1 + 100 + lost as u32, 0, &rest));
    assert_eq!(rig.counters.gaps, 1);
    assert_eq!(
        rig.delivered.iter().map(|d| d.1).collect::<Vec<_>>(),
        vec![2]
    );
    // The partial message and the orphaned tail were skipped, and counted.
    assert_eq!(rig.counters.bytes_skipped, (100 + first.len() - 150) as u64);
}

#[test]
fn retransmissions_and_overlaps_are_not_read_twice() {
    let mut rig = Rig::new();
    let message = invite(1);
    rig.feed(seg(0, TcpFlags::SYN, b""));
    rig.feed(seg(1, 0, &message[..200]));
    rig.feed(seg(1, 0, &message[..200])); // the same segment again
    assert_eq!(rig.counters.retransmissions, 1);
    // An overlapping segment: 100 old bytes and the rest.
    rig.feed(seg(101, 0, &message[100..]));
    assert_eq!(rig.delivered.len(), 1);
    assert_eq!(rig.counters.gaps, 0);
}

#[test]
fn joining_mid_stream_starts_at_the_first_message_start() {
    let mut rig = Rig::new();
    let message = invite(1);
    // No SYN: the capture began in the middle of a body.
    let bytes = [&b"a=sendrecv\r\nm=video 5 RTP/AVP 31\r\n"[..], &message].concat();
    rig.feed(seg(77_777, 0, &bytes));
    assert_eq!(rig.delivered.len(), 1);
    assert_eq!(rig.counters.bytes_skipped, 34);
    assert_eq!(rig.counters.connections, 1);
}

#[test]
fn a_message_without_content_length_is_counted_and_skipped() {
    let mut rig = Rig::new();
    let no_length = b"OPTIONS sip:x SIP/2.0\r\ni: c\r\nf: <a>;tag=1\r\nt: <b>\r\nCSeq: 1 OPTIONS\r\n\r\nbody bytes\r\n";
    let bytes = [&no_length[..], &invite(5)].concat();
    rig.feed(seg(0, TcpFlags::SYN, b""));
    rig.feed(seg(1, 0, &bytes));
    assert_eq!(rig.errors.missing_content_length, 1);
    assert_eq!(
        rig.delivered.iter().map(|d| d.1).collect::<Vec<_>>(),
        vec![5]
    );
}

#[test]
fn hostile_streams_stay_bounded() {
    let mut rig = Rig::new();
    rig.feed(seg(0, TcpFlags::SYN, b""));
    // A giant Content-Length: refused at once, then resynchronised.
    let giant = b"INVITE sip:x SIP/2.0\r\ni: c\r\nf: <a>;tag=1\r\nt: <b>\r\nCSeq: 1 INVITE\r\nl: 999999999\r\n\r\n";
    rig.feed(seg(1, 0, giant));
    assert_eq!(rig.errors.oversize, 1);
    // A header block that never ends: the buffer never exceeds its bound.
    let mut seq = 1 + giant.len() as u32;
    rig.feed(seg(seq, 0, b"INVITE sip:x SIP/2.0\r\n"));
    seq += 22;
    let chunk = b"X-Long: "
        .iter()
        .chain(&[b'a'; 1000])
        .copied()
        .collect::<Vec<u8>>();
    for _ in 0..200 {
        rig.feed(seg(seq, 0, &chunk));
        seq += chunk.len() as u32;
        let buffered: usize = rig
            .reassembler
            .directions
            .values()
            .map(|d| d.buf.len())
            .sum();
        assert!(buffered <= TcpConfig::default().max_buffer);
    }
    assert!(rig.counters.buffer_overflows + rig.errors.total() >= 1);
    // Binary garbage: skipped, nothing delivered.
    let garbage: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    rig.feed(seg(seq, 0, &garbage));
    assert!(rig.delivered.is_empty());
}

#[test]
fn the_connection_table_evicts_the_oldest_and_forgets_idle_ones() {
    let config = TcpConfig {
        max_connections: 4,
        ..TcpConfig::default()
    };
    let mut reassembler = TcpReassembler::new(config);
    let mut counters = TcpCounters::default();
    let mut errors = SipErrorCounts::default();
    for port in 0..10u16 {
        let segment = TcpSegment {
            src: SocketAddr::new("192.0.2.1".parse().unwrap(), 10_000 + port),
            ..seg(0, TcpFlags::SYN, b"")
        };
        reassembler.on_segment(
            Timestamp::from_nanos(i64::from(port)),
            &segment,
            &mut counters,
            &mut errors,
            |_| {},
        );
    }
    assert_eq!(reassembler.len(), 4);
    assert_eq!(counters.connections_evicted, 6);
    // The four newest survive.
    assert!(reassembler
        .directions
        .keys()
        .all(|(src, _)| src.port() >= 10_006));
    // FIN and RST end a direction; idle ones expire.
    let fin = TcpSegment {
        src: SocketAddr::new("192.0.2.1".parse().unwrap(), 10_009),
        ..seg(1, TcpFlags::FIN, b"")
    };
    reassembler.on_segment(
        Timestamp::from_nanos(20),
        &fin,
        &mut counters,
        &mut errors,
        |_| {},
    );
    assert_eq!(reassembler.len(), 3);
    reassembler.expire(
        Timestamp::from_nanos(0).after(Duration::from_secs(3600)),
        &mut counters,
    );
    assert!(reassembler.is_empty());
    assert_eq!(counters.connections_expired, 3);
    assert!(reassembler.order.is_empty());
}

#[test]
fn random_segments_never_panic_and_buffers_stay_bounded() {
    let mut rng = Rng(0x5eed_0003);
    let mut rig = Rig::new();
    let message = invite(1);
    let mut seq = 0u32;
    for round in 0..5_000 {
        let piece = rng.mutate(&message[(round * 37) % 300..]);
        let flags = match rng.next() % 50 {
            0 => TcpFlags::SYN,
            1 => TcpFlags::FIN,
            2 => TcpFlags::RST,
            _ => 0,
        };
        // Mostly in order, sometimes a jump back or forward.
        seq = match rng.next() % 10 {
            0 => seq.wrapping_sub((rng.next() % 500) as u32),
            1 => seq.wrapping_add((rng.next() % 500) as u32),
            _ => seq,
        };
        let mut segment = seg(seq, flags, &piece);
        if rng.next().is_multiple_of(20) {
            segment.payload_len += 10; // cut by the snap length
        }
        rig.feed(segment);
        seq = seq.wrapping_add(piece.len() as u32);
        for d in rig.reassembler.directions.values() {
            assert!(d.buf.len() <= TcpConfig::default().max_buffer);
        }
    }
}
