//! Property tests of RFC 3550 A.1 sequence extension, loss and duplicate counting against
//! a model that knows the truth: a sender's packets numbered from a random start (often
//! just below the 16-bit wrap), some lost, some duplicated, some delivered out of order
//! (within A.1's misorder window), then fed to one [`RtpStream`].

use proptest::prelude::*;
use vtcq_collector::stream::{RtpStream, SeqVerdict};
use vtcq_collector::wire::rtp::RtpHeader;
use vtcq_collector::Timestamp;

/// What the network did to the sender's packets.
#[derive(Clone, Debug)]
struct Scenario {
    start: u16,
    sent: usize,
    /// Per sent packet after the first two: lost?
    lost: Vec<bool>,
    /// Per delivered packet after the first two: a copy arrives this many positions later.
    copy_after: Vec<Option<usize>>,
    /// Swaps of the arrival order: (position, distance), positions after the first two.
    swaps: Vec<(usize, usize)>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (3usize..4000)
        .prop_flat_map(|sent| {
            let start = prop_oneof![
                any::<u16>(),
                // Near the wrap, so that most cases cross it.
                (0..(sent as u16).saturating_mul(2).max(1)).prop_map(|back| u16::MAX - back),
            ];
            let loss = 0.0f64..0.3;
            let dup = 0.0f64..0.1;
            (Just(sent), start, loss, dup, any::<u64>())
        })
        .prop_map(|(sent, start, loss, dup, seed)| {
            let mut rng = Rng(seed | 1);
            let lost = (0..sent).map(|i| i >= 2 && rng.unit() < loss).collect();
            let copy_after = (0..sent)
                .map(|i| (i >= 2 && rng.unit() < dup).then(|| 1 + rng.below(20)))
                .collect();
            let swaps = (0..sent / 10)
                .map(|_| (2 + rng.below(sent), 1 + rng.below(20)))
                .collect();
            Scenario {
                start,
                sent,
                lost,
                copy_after,
                swaps,
            }
        })
}

/// splitmix64, enough for shaping scenarios (proptest supplies the seed and shrinks it).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The arrival order, as indexes into the sent packets (copies included).
fn arrivals(s: &Scenario) -> Vec<usize> {
    let mut order: Vec<usize> = (0..s.sent).filter(|&i| !s.lost[i]).collect();
    let originals = order.clone();
    for &i in &originals {
        if let Some(after) = s.copy_after[i] {
            let at = order.iter().position(|&x| x == i).unwrap_or(0) + after;
            order.insert(at.min(order.len()), i);
        }
    }
    // The first two arrive first and in order: they validate the source (A.1 probation).
    // Each packet moves once at most, so none ends up more than 40 places from its own:
    // inside A.1's misorder window (100), where a late packet is not a sequence jump.
    let mut moved = vec![false; order.len()];
    for &(position, distance) in &s.swaps {
        let (a, b) = (position, position + distance);
        if a >= 2 && b < order.len() && !moved[a] && !moved[b] {
            order.swap(a, b);
            moved[a] = true;
            moved[b] = true;
        }
    }
    order
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn counts_match_the_model(s in scenario()) {
        let order = arrivals(&s);
        let mut stream: Option<RtpStream> = None;
        for (n, &i) in order.iter().enumerate() {
            let header = RtpHeader {
                ssrc: 0x1234_5678,
                sequence_number: s.start.wrapping_add(i as u16),
                timestamp: (i as u32).wrapping_mul(160),
                payload_type: 0,
                marker: false,
            };
            let now = Timestamp::from_nanos(n as i64 * 20_000_000);
            let stream = stream.get_or_insert_with(|| RtpStream::new(now, &header));
            let verdict = stream.on_packet(now, &header, 172, Some((8000, vtcq_collector::clock::ClockRateSource::Rfc3551)), 5_000_000_000);
            prop_assert!(!matches!(verdict, SeqVerdict::Jump | SeqVerdict::Restarted), "{verdict:?} at arrival {n}");
        }
        let stream = stream.ok_or_else(|| TestCaseError::fail("no packets"))?;
        let copies = order.len() - (0..s.sent).filter(|&i| !s.lost[i]).count();
        let highest = order.iter().copied().max().unwrap_or(0);
        let lost_below_highest = (0..=highest).filter(|&i| s.lost[i]).count();

        prop_assert!(stream.is_valid());
        prop_assert_eq!(stream.packets(), order.len() as u64);
        prop_assert_eq!(stream.duplicates(), copies as u64);
        // Extension across the wrap: the highest extended number is start + highest.
        prop_assert_eq!(
            stream.sequence().extended_max() - stream.sequence().extended_max() % 65_536
                + u64::from(s.start.wrapping_add(highest as u16)),
            stream.sequence().extended_max()
        );
        prop_assert_eq!(stream.expected_total(), highest as i64 + 1);
        prop_assert_eq!(stream.lost_signed(), highest as i64 + 1 - order.len() as i64);
        prop_assert_eq!(
            stream.expected_total() - stream.received_unique_total(),
            lost_below_highest as i64
        );
        // Cycles: as many wraps as the numbers crossed from A.1's base, the packet that
        // ended probation (the second one), to the highest.
        let base = u64::from(s.start.wrapping_add(1));
        let wraps = (base + highest as u64 - 1) / 65_536;
        prop_assert_eq!(stream.sequence().extended_max() / 65_536, wraps);
    }
}
