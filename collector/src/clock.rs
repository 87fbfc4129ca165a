//! RTP clock rates: what turns RTP timestamp units into time.
//!
//! A clock rate belongs to a payload type *within a channel*: dynamic PT 96 can be Opus at
//! 48 kHz on the audio channel and VP8 at 90 kHz on the video channel of the same call.
//! Resolution order (SEMANTICS.md): the bot's registration or the command line (per local
//! port, then global), then the static table of RFC 3551, then inference from the RTP
//! timestamp advance against capture time, snapped to a known rate. Without a rate there is
//! no jitter: a guess in the wrong unit would be worse than `null`.

use rustc_hash::FxHashMap;

use crate::Timestamp;

/// Where a stream's clock rate came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockRateSource {
    /// Configured for this payload type on this channel's local port.
    ConfiguredForPort,
    /// Configured for this payload type on every channel.
    Configured,
    /// The static payload-type table of RFC 3551 §6.
    Rfc3551,
    /// Inferred from RTP timestamp advance against capture time.
    Inferred,
}

/// The clock rates of RFC 3551 §6 (Table 4 and 5) for the static payload types.
pub fn static_clock_rate(payload_type: u8) -> Option<u32> {
    Some(match payload_type {
        // PCMU, GSM, G723, DVI4/8000, LPC, PCMA, G722 (8000 by RFC 3551's historical error), QCELP, CN, G728, G729
        0 | 3 | 4 | 5 | 7 | 8 | 9 | 12 | 13 | 15 | 18 => 8_000,
        6 => 16_000,                                     // DVI4/16000
        10 | 11 => 44_100,                               // L16 stereo / mono
        16 => 11_025,                                    // DVI4/11025
        17 => 22_050,                                    // DVI4/22050
        14 | 25 | 26 | 28 | 31 | 32 | 33 | 34 => 90_000, // MPA, CelB, JPEG, nv, H261, MPV, MP2T, H263
        _ => return None,
    })
}

/// Clock rates given by the user or the bot: per (local RTP port, PT) and per PT.
#[derive(Clone, Debug, Default)]
pub struct ClockRateMap {
    per_port: FxHashMap<(u16, u8), u32>,
    global: FxHashMap<u8, u32>,
}

impl ClockRateMap {
    /// An empty map: only the static table and inference apply.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the rate of `payload_type`, on the channel whose local RTP port is `port` when
    /// given, else on every channel.
    pub fn insert(&mut self, port: Option<u16>, payload_type: u8, hz: u32) {
        match port {
            Some(port) => {
                self.per_port.insert((port, payload_type), hz);
            }
            None => {
                self.global.insert(payload_type, hz);
            }
        }
    }

    /// True when nothing is configured.
    pub fn is_empty(&self) -> bool {
        self.per_port.is_empty() && self.global.is_empty()
    }

    /// The configured or static rate of `payload_type` on a channel with the given local
    /// ports (one port when the local side is known, both ends of the flow otherwise).
    pub fn lookup(&self, ports: &[u16], payload_type: u8) -> Option<(u32, ClockRateSource)> {
        // Every packet asks, and most configurations are empty: no hashing then.
        if !self.per_port.is_empty() {
            for port in ports {
                if let Some(&hz) = self.per_port.get(&(*port, payload_type)) {
                    return Some((hz, ClockRateSource::ConfiguredForPort));
                }
            }
        }
        if !self.global.is_empty() {
            if let Some(&hz) = self.global.get(&payload_type) {
                return Some((hz, ClockRateSource::Configured));
            }
        }
        static_clock_rate(payload_type).map(|hz| (hz, ClockRateSource::Rfc3551))
    }
}

/// The rates inference may snap to (SEMANTICS.md).
pub const INFERABLE_RATES: [u32; 6] = [8_000, 16_000, 32_000, 44_100, 48_000, 90_000];

/// Capture time a stream must span before its rate is inferred: long enough that capture
/// jitter of a few tens of milliseconds cannot move the estimate by the 10 % tolerance.
const INFERENCE_MIN_SPAN_NS: i64 = 1_000_000_000;
/// Relative distance to the nearest known rate that inference still accepts.
const INFERENCE_TOLERANCE: f64 = 0.10;

/// Infers a stream's clock rate from how fast its RTP timestamp advances against capture
/// time. Fed every in-order packet; answers once the stream spans a second.
///
/// `repr(C)` with the verdict first: once decided, the verdict is all a packet reads, and
/// [`RtpStream`](crate::stream::RtpStream) keeps it on a cache line it touches anyway.
#[derive(Clone, Debug, Default)]
#[repr(C)]
pub struct RateInference {
    decided: Option<Option<u32>>,
    first_arrival: Option<Timestamp>,
    last_timestamp: u32,
    /// RTP timestamp units advanced since the first packet, with wrap handled.
    advance: i64,
}

impl RateInference {
    /// Feeds one packet that arrived in sequence order. Returns the inferred rate once known.
    pub fn observe(&mut self, now: Timestamp, rtp_timestamp: u32) -> Option<u32> {
        if let Some(decided) = self.decided {
            return decided;
        }
        let Some(first) = self.first_arrival else {
            self.first_arrival = Some(now);
            self.last_timestamp = rtp_timestamp;
            return None;
        };
        // A signed 32-bit difference follows the timestamp across its wrap.
        self.advance += i64::from(rtp_timestamp.wrapping_sub(self.last_timestamp) as i32);
        self.last_timestamp = rtp_timestamp;
        let span = now.nanos_since(first);
        if span < INFERENCE_MIN_SPAN_NS {
            return None;
        }
        let estimate = self.advance as f64 * 1e9 / span as f64;
        let decided = snap_rate(estimate);
        self.decided = Some(decided);
        decided
    }

    /// The inferred rate, if decided.
    pub fn rate(&self) -> Option<u32> {
        self.decided.flatten()
    }
}

/// Snaps an estimated rate to the nearest of [`INFERABLE_RATES`] when it is close enough.
pub fn snap_rate(estimate: f64) -> Option<u32> {
    if !estimate.is_finite() || estimate <= 0.0 {
        return None;
    }
    INFERABLE_RATES
        .iter()
        .copied()
        .min_by(|a, b| {
            let da = (estimate / f64::from(*a)).ln().abs();
            let db = (estimate / f64::from(*b)).ln().abs();
            da.total_cmp(&db)
        })
        .filter(|hz| (estimate / f64::from(*hz) - 1.0).abs() <= INFERENCE_TOLERANCE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_table_covers_rfc3551() {
        assert_eq!(static_clock_rate(0), Some(8_000));
        assert_eq!(static_clock_rate(9), Some(8_000));
        assert_eq!(static_clock_rate(6), Some(16_000));
        assert_eq!(static_clock_rate(34), Some(90_000));
        assert_eq!(static_clock_rate(96), None);
        assert_eq!(static_clock_rate(2), None); // unassigned
    }

    #[test]
    fn port_scoped_rate_wins_over_global_and_static() {
        let mut map = ClockRateMap::new();
        map.insert(None, 96, 48_000);
        map.insert(Some(5004), 96, 90_000);
        map.insert(Some(5004), 0, 16_000);
        assert_eq!(
            map.lookup(&[5004], 96),
            Some((90_000, ClockRateSource::ConfiguredForPort))
        );
        assert_eq!(
            map.lookup(&[6000], 96),
            Some((48_000, ClockRateSource::Configured))
        );
        assert_eq!(
            map.lookup(&[5004], 0),
            Some((16_000, ClockRateSource::ConfiguredForPort))
        );
        assert_eq!(
            map.lookup(&[6000], 0),
            Some((8_000, ClockRateSource::Rfc3551))
        );
        assert_eq!(map.lookup(&[6000], 97), None);
    }

    #[test]
    fn snapping_accepts_near_rates_only() {
        assert_eq!(snap_rate(47_100.0), Some(48_000));
        assert_eq!(snap_rate(88_000.0), Some(90_000));
        assert_eq!(snap_rate(8_300.0), Some(8_000));
        assert_eq!(snap_rate(60_000.0), None);
        assert_eq!(snap_rate(f64::NAN), None);
        assert_eq!(snap_rate(-1.0), None);
    }

    #[test]
    fn inference_follows_timestamp_wrap() {
        let mut inference = RateInference::default();
        // 20 ms Opus frames (960 units at 48 kHz) starting just below the wrap.
        let mut ts = u32::MAX - 5_000;
        let mut result = None;
        for i in 0..60 {
            result = inference.observe(Timestamp::from_nanos(i * 20_000_000), ts);
            ts = ts.wrapping_add(960);
        }
        assert_eq!(result, Some(48_000));
        assert_eq!(inference.rate(), Some(48_000));
    }

    #[test]
    fn inference_waits_for_a_second_of_media() {
        let mut inference = RateInference::default();
        for i in 0..40 {
            assert_eq!(
                inference.observe(Timestamp::from_nanos(i * 20_000_000), (i * 160) as u32),
                None
            );
        }
    }
}
