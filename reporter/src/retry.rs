//! When to try again, and how long to wait.
//!
//! Graph's throttling guidance: honour `Retry-After` on 429 and 503; otherwise back off
//! exponentially. 408, 429, 500, 502, 503 and 504, connection errors and timeouts are
//! transient; every other 4xx is the request's fault and retrying it cannot help (the
//! record goes to the dead-letter folder instead).

use std::time::{Duration, SystemTime};

use serde::Deserialize;

/// Whether an HTTP status is worth retrying.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
/// A date in the past means "now".
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Backoff bounds (config section `[retry]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// First wait after a failure (default 1 s).
    #[serde(with = "humantime_serde", default = "default_initial")]
    pub initial_backoff: Duration,
    /// Longest wait between attempts (default 5 min); also caps `Retry-After`.
    #[serde(with = "humantime_serde", default = "default_max")]
    pub max_backoff: Duration,
    /// Time allowed for one HTTP request (default 30 s).
    #[serde(with = "humantime_serde", default = "default_timeout")]
    pub request_timeout: Duration,
}

fn default_initial() -> Duration {
    Duration::from_secs(1)
}
fn default_max() -> Duration {
    Duration::from_secs(300)
}
fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_backoff: default_initial(),
            max_backoff: default_max(),
            request_timeout: default_timeout(),
        }
    }
}

impl RetryPolicy {
    /// Checks the bounds; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.initial_backoff.is_zero() {
            return Err("retry.initial_backoff must be greater than zero".to_owned());
        }
        if self.max_backoff < self.initial_backoff {
            return Err(
                "retry.max_backoff must not be shorter than retry.initial_backoff".to_owned(),
            );
        }
        if self.request_timeout.is_zero() {
            return Err("retry.request_timeout must be greater than zero".to_owned());
        }
        Ok(())
    }

    /// The wait after the `failures`-th failure in a row: the server's `Retry-After` when
    /// it gave one (capped at `max_backoff`, so a broken server cannot park a record for a
    /// day), else exponential backoff with jitter, uniform in [base/2, base] with
    /// base = initial × 2^(failures-1) capped at `max_backoff` (the jitter keeps many
    /// agents from retrying in lockstep after a Graph outage).
    pub fn delay(
        &self,
        failures: u32,
        retry_after: Option<Duration>,
        rng: &mut fastrand::Rng,
    ) -> Duration {
        if let Some(asked) = retry_after {
            // The server knows best, but a broken one must not park a record for a day.
            return asked.min(self.max_backoff.max(Duration::from_secs(1)));
        }
        let exponent = failures.saturating_sub(1).min(30);
        let base = self
            .initial_backoff
            .saturating_mul(1u32 << exponent)
            .min(self.max_backoff);
        let half = base / 2;
        let spread = base.saturating_sub(half).as_nanos() as u64;
        half + Duration::from_nanos(if spread == 0 { 0 } else { rng.u64(0..=spread) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_statuses() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable_status(s), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 409, 413, 422, 501] {
            assert!(!is_retryable_status(s), "{s}");
        }
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(42));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(42))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(42));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let policy = RetryPolicy {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
        };
        let mut rng = fastrand::Rng::with_seed(7);
        for failures in 1..40 {
            let d = policy.delay(failures, None, &mut rng);
            let base =
                Duration::from_secs(1u64 << (failures - 1).min(20)).min(Duration::from_secs(60));
            assert!(d >= base / 2 && d <= base, "{failures}: {d:?} vs {base:?}");
        }
        assert_eq!(
            policy.delay(3, Some(Duration::from_secs(5)), &mut rng),
            Duration::from_secs(5)
        );
        assert_eq!(
            policy.delay(3, Some(Duration::from_secs(86_400)), &mut rng),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn validation_names_the_key() {
        let p = RetryPolicy {
            max_backoff: Duration::from_millis(1),
            ..RetryPolicy::default()
        };
        assert!(p
            .validate()
            .err()
            .unwrap_or_default()
            .contains("retry.max_backoff"));
    }
}
