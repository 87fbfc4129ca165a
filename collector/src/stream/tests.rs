use super::*;

#[test]
fn per_packet_fields_fill_the_first_three_cache_lines() {
    use std::mem::{align_of, offset_of, size_of};
    assert_eq!(align_of::<RtpStream>(), 64);
    assert_eq!(size_of::<SequenceState>(), 64);
    assert_eq!(offset_of!(RtpStream, ssrc), 64);
    assert!(offset_of!(RtpStream, interval_start) + 8 <= 128);
    assert_eq!(offset_of!(RtpStream, jitter), 128);
    // The inference's verdict (its first field, 8 bytes) still ends line 2.
    assert!(offset_of!(RtpStream, inference) + 8 <= 192);
}

fn hdr(seq: u16, ts: u32) -> RtpHeader {
    RtpHeader {
        ssrc: 1,
        sequence_number: seq,
        timestamp: ts,
        payload_type: 0,
        marker: false,
    }
}

fn feed(stream: &mut RtpStream, seqs: &[u16]) {
    for (i, &seq) in seqs.iter().enumerate() {
        let now = Timestamp::from_nanos(i as i64 * 20_000_000);
        stream.on_packet(
            now,
            &hdr(seq, u32::from(seq) * 160),
            172,
            Some((8_000, ClockRateSource::Rfc3551)),
            5_000_000_000,
        );
    }
}

#[test]
fn probation_needs_two_sequential_packets() {
    let mut s = SequenceState::new(10);
    assert_eq!(s.update(10), SeqVerdict::Probation);
    assert_eq!(s.update(11), SeqVerdict::Validated);
    assert!(s.is_valid());
    assert_eq!(s.expected(), 1);
    assert_eq!(s.received(), 1);
}

#[test]
fn probation_restarts_on_a_gap() {
    let mut s = SequenceState::new(10);
    assert_eq!(s.update(10), SeqVerdict::Probation);
    assert_eq!(s.update(20), SeqVerdict::Probation);
    assert_eq!(s.update(21), SeqVerdict::Validated);
}

#[test]
fn sequence_wrap_extends_the_counter() {
    let mut s = SequenceState::new(65_534);
    for seq in [65_534u16, 65_535, 0, 1, 2] {
        s.update(seq);
    }
    assert_eq!(s.extended_max(), 65_536 + 2);
    assert_eq!(s.expected(), 4); // base 65535 .. 65538
    assert_eq!(s.received(), 4);
}

#[test]
fn duplicates_are_detected_even_after_reordering() {
    let mut s = SequenceState::new(100);
    for seq in [100u16, 101, 103, 102, 102, 103, 101] {
        s.update(seq);
    }
    assert_eq!(s.duplicates(), 3);
    assert_eq!(s.received_unique(), 3); // 101 (validating), 102, 103
    assert_eq!(s.expected(), 3);
}

#[test]
fn large_jump_needs_confirmation_then_restarts() {
    let mut s = SequenceState::new(100);
    s.update(100);
    s.update(101);
    assert_eq!(s.update(40_000), SeqVerdict::Jump);
    assert_eq!(s.update(40_001), SeqVerdict::Restarted);
    assert_eq!(s.resyncs(), 1);
    assert_eq!(s.expected(), 1);
}

#[test]
fn stream_table_lost_matches_tshark_counting() {
    // 10..=19 with 13 and 17 missing and 15 duplicated.
    let mut stream = RtpStream::new(Timestamp::default(), &hdr(10, 0));
    feed(&mut stream, &[10, 11, 12, 14, 15, 15, 16, 18, 19]);
    assert_eq!(stream.packets(), 9);
    assert_eq!(stream.lost_signed(), 1); // 10 expected - 9 captured (duplicate hides one)
    assert_eq!(stream.sequence().duplicates(), 1);
}

#[test]
fn stream_counts_survive_the_wrap() {
    let seqs: Vec<u16> = (0..10)
        .map(|i| 65_530u16.wrapping_add(i))
        .filter(|s| *s != 1)
        .collect();
    let mut stream = RtpStream::new(Timestamp::default(), &hdr(seqs[0], 0));
    feed(&mut stream, &seqs);
    assert_eq!(stream.packets(), 9);
    assert_eq!(stream.lost_signed(), 1);
}

#[test]
fn jitter_is_zero_for_a_perfect_clock_and_grows_with_delay_variation() {
    let mut j = JitterEstimator::default();
    for i in 0..50i64 {
        j.update(
            Timestamp::from_nanos(i * 20_000_000),
            (i * 160) as u32,
            8_000,
        );
    }
    assert!(j.value() < 1e-9);
    // One packet 10 ms late: D = 80 units, jitter += 80/16.
    j.update(
        Timestamp::from_nanos(50 * 20_000_000 + 10_000_000),
        50 * 160,
        8_000,
    );
    assert!((j.value() - 5.0).abs() < 1e-9, "{}", j.value());
}

#[test]
fn own_interval_samples_measure_loss() {
    let mut stream = RtpStream::new(Timestamp::default(), &hdr(0, 0));
    // 20 ms packets for 12 s, every 10th lost -> 10 % loss.
    let mut seq = 0u16;
    for i in 0..600i64 {
        if i % 10 != 5 {
            stream.on_packet(
                Timestamp::from_nanos(i * 20_000_000),
                &hdr(seq, u32::from(seq) * 160),
                172,
                Some((8_000, ClockRateSource::Rfc3551)),
                5_000_000_000,
            );
        }
        seq = seq.wrapping_add(1);
    }
    stream.finish(Timestamp::from_nanos(600 * 20_000_000), 5_000_000_000);
    let avg = stream.own_loss().average_percent().unwrap_or_default();
    assert!((avg - 10.0).abs() < 0.2, "{avg}");
    assert!(stream.own_loss().count() >= 2);
}

/// Found by the `analyzer` fuzz target: a packet still in probation that was captured
/// before the stream's first packet (capture clocks step back: NTP corrections, merged
/// multi-queue captures) moved `last_seen` before `first_seen`, so the stream's span,
/// and the stream table's duration, ran backwards.
#[test]
fn a_probation_packet_captured_earlier_does_not_reverse_the_span() {
    let start = Timestamp::from_nanos(10_000_000_000);
    let mut stream = RtpStream::new(start, &hdr(100, 0));
    let rate = Some((8_000, ClockRateSource::Rfc3551));
    stream.on_packet(start, &hdr(100, 0), 172, rate, 5_000_000_000);
    // Not the next sequence number: probation restarts, the packet is held.
    let earlier = Timestamp::from_nanos(4_000_000_000);
    stream.on_packet(earlier, &hdr(200, 160), 172, rate, 5_000_000_000);
    let (first, last) = stream.span();
    assert_eq!(first, start);
    assert_eq!(
        last, start,
        "the latest capture time seen, as for valid packets"
    );
}
