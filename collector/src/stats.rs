//! Sample accumulators: HdrHistograms plus the exact figures a record needs.
//!
//! A record's `average*` and `maximum*` fields must be exact, while HdrHistogram keeps
//! values only to a few significant digits. So each accumulator keeps the histogram (for
//! percentiles and the shape of the distribution) next to an exact count, sum and maximum.
//! Histograms are allocated on the first sample: most accumulators of most flows never
//! see one (the inbound fallback, for instance), and a flow must stay small.

use std::time::Duration;

use hdrhistogram::Histogram;

use crate::Timestamp;

/// Significant digits kept by every histogram: 1 % resolution is plenty for percentiles.
///
/// Counts are 16-bit and saturate: a flow keeps up to a dozen histograms, and 16-bit
/// counts keep a duration histogram at 4.5 KiB (a flow within its 64 KiB budget). A
/// bucket saturates only after 65 535 samples of one value bucket (18 hours of one RTCP
/// report a second landing in the same 1 % bucket), and then only the percentiles bend:
/// the record's count, mean and maximum are kept exactly beside the histogram.
const SIGNIFICANT_DIGITS: u8 = 2;

/// A histogram of samples with the exact count, sum, minimum and maximum beside it.
#[derive(Clone, Debug)]
pub struct SampleHistogram {
    highest: u64,
    histogram: Option<Box<Histogram<u16>>>,
    count: u64,
    sum: u128,
    max: u64,
}

impl SampleHistogram {
    /// An empty accumulator whose histogram covers `1..=highest` (larger values are
    /// clamped in the histogram, never in the exact figures).
    pub fn new(highest: u64) -> Self {
        SampleHistogram {
            highest: highest.max(2),
            histogram: None,
            count: 0,
            sum: 0,
            max: 0,
        }
    }

    /// Records one sample.
    pub fn record(&mut self, value: u64) {
        self.count += 1;
        self.sum += u128::from(value);
        self.max = self.max.max(value);
        if self.histogram.is_none() {
            // The bounds are within hdrhistogram's limits (highest ≥ 2, two digits), so this
            // does not fail; should it ever, the exact figures above still hold.
            self.histogram = Histogram::new_with_bounds(1, self.highest, SIGNIFICANT_DIGITS)
                .ok()
                .map(Box::new);
        }
        if let Some(histogram) = &mut self.histogram {
            histogram.saturating_record(value.min(self.highest));
        }
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Exact mean, `None` without samples.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum as f64 / self.count as f64)
    }

    /// Exact maximum, `None` without samples.
    pub fn max(&self) -> Option<u64> {
        (self.count > 0).then_some(self.max)
    }

    /// The value at `quantile` (0..=1) from the histogram, `None` without samples.
    pub fn quantile(&self, quantile: f64) -> Option<u64> {
        self.histogram
            .as_ref()
            .filter(|_| self.count > 0)
            .map(|h| h.value_at_quantile(quantile))
    }

    /// Adds every sample of `other` to `self`.
    pub fn merge(&mut self, other: &SampleHistogram) {
        if other.count == 0 {
            return;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.max = self.max.max(other.max);
        if let Some(theirs) = &other.histogram {
            let highest = self.highest;
            match &mut self.histogram {
                Some(ours) => {
                    for value in theirs.iter_recorded() {
                        ours.saturating_record_n(
                            value.value_iterated_to().min(highest),
                            value.count_at_value(),
                        );
                    }
                }
                None => self.histogram = Some(theirs.clone()),
            }
        }
    }

    /// Approximate heap bytes held (for the memory budget per channel).
    pub fn heap_bytes(&self) -> usize {
        self.histogram
            .as_ref()
            .map_or(0, |h| h.distinct_values() * std::mem::size_of::<u16>())
    }
}

/// Largest duration sample: RTT and jitter above 10 s are rejected or meaningless.
pub const DURATION_HIGHEST_MICROS: u64 = 10_000_000;
/// Loss samples are kept in hundredths of a percent: 0..=10 000.
pub const LOSS_HIGHEST_HUNDREDTHS: u64 = 10_000;

/// Duration samples in microseconds.
#[derive(Clone, Debug)]
pub struct DurationSamples(SampleHistogram);

impl Default for DurationSamples {
    fn default() -> Self {
        DurationSamples(SampleHistogram::new(DURATION_HIGHEST_MICROS))
    }
}

impl DurationSamples {
    /// Records one duration (rounded to the microsecond).
    pub fn record(&mut self, value: Duration) {
        self.0.record(duration_to_micros_rounded(value));
    }

    /// Records a sample given in (fractional) microseconds.
    pub fn record_micros(&mut self, micros: f64) {
        if micros.is_finite() && micros >= 0.0 {
            self.0.record(micros.round() as u64);
        }
    }

    /// Exact mean.
    pub fn mean(&self) -> Option<Duration> {
        self.0
            .mean()
            .map(|m| Duration::from_nanos((m * 1000.0).round() as u64))
    }

    /// Exact maximum.
    pub fn max(&self) -> Option<Duration> {
        self.0.max().map(Duration::from_micros)
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.0.count()
    }

    /// The underlying histogram (microseconds).
    pub fn histogram(&self) -> &SampleHistogram {
        &self.0
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &DurationSamples) {
        self.0.merge(&other.0);
    }
}

fn duration_to_micros_rounded(value: Duration) -> u64 {
    let nanos = value.as_nanos();
    u64::try_from((nanos + 500) / 1000).unwrap_or(u64::MAX)
}

/// Loss samples (SEMANTICS.md): one percentage sample per interval, plus the exact
/// Σ lost and Σ expected the average is computed from (an average of percentages would
/// weigh a 3-packet interval like a 3 000-packet one).
#[derive(Clone, Debug)]
pub struct LossSamples {
    samples: SampleHistogram,
    max_percent: f64,
    lost: u64,
    expected: u64,
}

impl Default for LossSamples {
    fn default() -> Self {
        LossSamples {
            samples: SampleHistogram::new(LOSS_HIGHEST_HUNDREDTHS),
            max_percent: 0.0,
            lost: 0,
            expected: 0,
        }
    }
}

impl LossSamples {
    /// Records an interval of `expected` packets of which `lost` did not arrive.
    /// `expected` must be positive; `lost` is clamped to `0..=expected`.
    pub fn record_interval(&mut self, lost: i64, expected: i64) {
        if expected <= 0 {
            return;
        }
        let lost = lost.clamp(0, expected);
        self.lost += lost as u64;
        self.expected += expected as u64;
        self.record_percent_only(lost as f64 / expected as f64 * 100.0);
    }

    /// Adds an interval to the sums behind the average without adding a sample.
    pub fn record_sums_only(&mut self, lost: i64, expected: i64) {
        if expected <= 0 {
            return;
        }
        self.lost += lost.clamp(0, expected) as u64;
        self.expected += expected as u64;
    }

    /// Records a sample that counts for the maximum and the histogram but not for the
    /// average (the first report block of a stream: only its fraction-lost is known).
    pub fn record_percent_only(&mut self, percent: f64) {
        if !percent.is_finite() {
            return;
        }
        let percent = percent.clamp(0.0, 100.0);
        self.max_percent = self.max_percent.max(percent);
        self.samples.record((percent * 100.0).round() as u64);
    }

    /// Σ lost / Σ expected × 100, `None` when no interval was recorded.
    pub fn average_percent(&self) -> Option<f64> {
        (self.expected > 0).then(|| self.lost as f64 / self.expected as f64 * 100.0)
    }

    /// The largest sample, `None` without samples.
    pub fn max_percent(&self) -> Option<f64> {
        (self.samples.count() > 0).then_some(self.max_percent)
    }

    /// Number of samples (intervals and first blocks).
    pub fn count(&self) -> u64 {
        self.samples.count()
    }

    /// Σ lost and Σ expected over all intervals.
    pub fn totals(&self) -> (u64, u64) {
        (self.lost, self.expected)
    }

    /// The underlying histogram (hundredths of a percent).
    pub fn histogram(&self) -> &SampleHistogram {
        &self.samples
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &LossSamples) {
        self.samples.merge(&other.samples);
        self.lost += other.lost;
        self.expected += other.expected;
        if other.samples.count() > 0 {
            self.max_percent = self.max_percent.max(other.max_percent);
        }
    }
}

/// Sums the active periods of a flow: a gap longer than `idle_gap` between packets ends a
/// period (SEMANTICS.md `mediaDuration`). Capture timestamps that step backwards (merged
/// interfaces in one pcapng) are ignored rather than subtracted.
#[derive(Clone, Copy, Debug, Default)]
pub struct ActivityTracker {
    period_start: Option<Timestamp>,
    last: Timestamp,
    closed_nanos: i64,
}

impl ActivityTracker {
    /// Notes a packet at `now`.
    pub fn observe(&mut self, now: Timestamp, idle_gap_nanos: i64) {
        match self.period_start {
            None => {
                self.period_start = Some(now);
                self.last = now;
            }
            Some(start) => {
                let gap = now.nanos_since(self.last);
                if gap > idle_gap_nanos {
                    self.closed_nanos += self.last.nanos_since(start);
                    self.period_start = Some(now);
                    self.last = now;
                } else if gap > 0 {
                    self.last = now;
                }
            }
        }
    }

    /// Total active time so far.
    pub fn active(&self) -> Duration {
        let open = self
            .period_start
            .map_or(0, |start| self.last.nanos_since(start));
        Duration::from_nanos((self.closed_nanos + open).max(0) as u64)
    }

    /// Time of the last packet, if any.
    pub fn last_seen(&self) -> Option<Timestamp> {
        self.period_start.map(|_| self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_keeps_exact_mean_and_max() {
        let mut h = SampleHistogram::new(10_000_000);
        for v in [1_001, 2_003, 9_999_999, 0] {
            h.record(v);
        }
        assert_eq!(h.count(), 4);
        assert_eq!(h.max(), Some(9_999_999));
        assert_eq!(h.mean(), Some((1_001 + 2_003 + 9_999_999) as f64 / 4.0));
        // The histogram itself is approximate but close.
        let p50 = h.quantile(0.5).unwrap_or_default();
        assert!((990..=1_020).contains(&p50), "p50 {p50}");
    }

    #[test]
    fn empty_accumulators_are_none_not_zero() {
        let loss = LossSamples::default();
        assert_eq!(loss.average_percent(), None);
        assert_eq!(loss.max_percent(), None);
        let d = DurationSamples::default();
        assert_eq!(d.mean(), None);
        assert_eq!(d.max(), None);
    }

    #[test]
    fn loss_average_is_ratio_of_sums_not_mean_of_percentages() {
        let mut loss = LossSamples::default();
        loss.record_interval(1, 2); // 50 %
        loss.record_interval(0, 998); // 0 %
        assert_eq!(loss.average_percent(), Some(0.1));
        assert_eq!(loss.max_percent(), Some(50.0));
    }

    #[test]
    fn first_block_counts_for_maximum_only() {
        let mut loss = LossSamples::default();
        loss.record_percent_only(25.0);
        assert_eq!(loss.average_percent(), None);
        assert_eq!(loss.max_percent(), Some(25.0));
        loss.record_interval(5, 100);
        assert_eq!(loss.average_percent(), Some(5.0));
        assert_eq!(loss.max_percent(), Some(25.0));
    }

    #[test]
    fn loss_is_clamped() {
        let mut loss = LossSamples::default();
        loss.record_interval(150, 100);
        loss.record_interval(-3, 100);
        assert_eq!(loss.totals(), (100, 200));
        assert_eq!(loss.max_percent(), Some(100.0));
    }

    #[test]
    fn merge_adds_samples() {
        let mut a = LossSamples::default();
        a.record_interval(1, 100);
        let mut b = LossSamples::default();
        b.record_interval(3, 100);
        a.merge(&b);
        assert_eq!(a.average_percent(), Some(2.0));
        assert_eq!(a.max_percent(), Some(3.0));
        assert_eq!(a.count(), 2);
    }

    #[test]
    fn activity_splits_on_idle_gap() {
        let gap = 5_000_000_000;
        let mut a = ActivityTracker::default();
        let s = |secs: f64| Timestamp::from_nanos((secs * 1e9) as i64);
        for t in [0.0, 1.0, 2.0, 1.5 /* backwards: ignored */, 10.0, 12.0] {
            a.observe(s(t), gap);
        }
        // 0..2 and 10..12
        assert_eq!(a.active(), Duration::from_secs(4));
        assert_eq!(a.last_seen(), Some(s(12.0)));
    }
}
