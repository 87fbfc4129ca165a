//! Settings of the measurement core and their defaults. The defaults are written here once;
//! the agent's configuration takes them from these constants.

use std::net::IpAddr;
use std::time::Duration;

use crate::clock::ClockRateMap;

/// Default of [`AnalyzerConfig::max_flows`]: 100 times a busy CVI host's 600 channels
/// would be far more than real traffic, while a flood of unvalidated flows stays at a few
/// MiB (flows without valid RTP hold no histograms).
pub const DEFAULT_MAX_FLOWS: usize = 8192;

/// Default of [`AnalyzerConfig::idle_gap`] (SEMANTICS.md `mediaDuration`).
pub const DEFAULT_IDLE_GAP: Duration = Duration::from_secs(5);

/// Default of [`AnalyzerConfig::sample_interval`] (SEMANTICS.md, the inbound fallback).
pub const DEFAULT_SAMPLE_INTERVAL: Duration = Duration::from_secs(5);

/// Settings of the measurement core. Defaults follow SEMANTICS.md.
#[derive(Clone, Debug)]
pub struct AnalyzerConfig {
    /// Clock rates per (local port, PT) and per PT.
    pub clock_rates: ClockRateMap,
    /// The bot's addresses, when known while packets flow (they scope port-bound clock
    /// rates to the local port; orientation itself is decided when results are read).
    pub local_addrs: Vec<IpAddr>,
    /// A gap longer than this ends an active period (default [`DEFAULT_IDLE_GAP`]).
    pub idle_gap: Duration,
    /// Period of the agent's own loss and jitter samples (default
    /// [`DEFAULT_SAMPLE_INTERVAL`]).
    pub sample_interval: Duration,
    /// Keep every RTT computation (for conformance tests and `--trace`).
    pub record_rtt_observations: bool,
    /// Most flows (endpoint pairs) held at once (default [`DEFAULT_MAX_FLOWS`]). A new
    /// one past it evicts the oldest flow that never carried valid RTP, preferring those
    /// on no protected port ([`Analyzer::set_protected_ports`](super::Analyzer::set_protected_ports));
    /// when every flow carries valid RTP, the new one is refused. Both are counted.
    pub max_flows: usize,
}

impl Default for AnalyzerConfig {
    fn default() -> Self {
        AnalyzerConfig {
            clock_rates: ClockRateMap::new(),
            local_addrs: Vec::new(),
            idle_gap: DEFAULT_IDLE_GAP,
            sample_interval: DEFAULT_SAMPLE_INTERVAL,
            record_rtt_observations: false,
            max_flows: DEFAULT_MAX_FLOWS,
        }
    }
}
