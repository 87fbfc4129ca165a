//! The lifecycle's settings (with their defaults, written once: the agent's configuration
//! takes them from here), why a call ends, and what the tracker tells the daemon.

use std::net::SocketAddr;
use std::time::Duration;

use crate::summary::ChannelQuality;
use crate::Timestamp;

/// Default of [`LifecycleConfig::idle_timeout`] (SEMANTICS.md: 30 s).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default of [`LifecycleConfig::max_duration`]: 12 h.
pub const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(12 * 3600);
/// Default of [`LifecycleConfig::ended_retention`]: 10 min.
pub const DEFAULT_ENDED_RETENTION: Duration = Duration::from_secs(600);
/// Default of [`LifecycleConfig::max_unregistered_flows`].
pub const DEFAULT_MAX_UNREGISTERED_FLOWS: usize = 4096;
/// Default of [`LifecycleConfig::max_active_calls`].
pub const DEFAULT_MAX_ACTIVE_CALLS: usize = 1024;

/// Lifecycle settings. Defaults follow SEMANTICS.md.
#[derive(Clone, Debug)]
pub struct LifecycleConfig {
    /// A call with no packet for this long ends (default [`DEFAULT_IDLE_TIMEOUT`]).
    pub idle_timeout: Duration,
    /// A call ends at this age at the latest (default [`DEFAULT_MAX_DURATION`]).
    pub max_duration: Duration,
    /// How long an ended call's record answers repeated end requests (default
    /// [`DEFAULT_ENDED_RETENTION`]).
    pub ended_retention: Duration,
    /// Most unregistered flows kept at once; past it the oldest is reported early
    /// (default [`DEFAULT_MAX_UNREGISTERED_FLOWS`]).
    pub max_unregistered_flows: usize,
    /// Most calls registered at once; past it a registration is refused (default
    /// [`DEFAULT_MAX_ACTIVE_CALLS`]).
    pub max_active_calls: usize,
    /// Link speed of the capture interface, bytes per second.
    pub link_speed_bytes_per_sec: Option<u64>,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        LifecycleConfig {
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_duration: DEFAULT_MAX_DURATION,
            ended_retention: DEFAULT_ENDED_RETENTION,
            max_unregistered_flows: DEFAULT_MAX_UNREGISTERED_FLOWS,
            max_active_calls: DEFAULT_MAX_ACTIVE_CALLS,
            link_speed_bytes_per_sec: None,
        }
    }
}

/// Why a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The bot asked.
    Api,
    /// Every stream sent RTCP BYE.
    Bye,
    /// No packet for the idle timeout.
    Idle,
    /// The maximum duration passed.
    MaxDuration,
    /// The agent is stopping.
    Shutdown,
}

impl EndReason {
    /// Every reason, in the order of [`EndReason::index`] (metrics list them so).
    pub const ALL: [EndReason; 5] = [
        EndReason::Api,
        EndReason::Bye,
        EndReason::Idle,
        EndReason::MaxDuration,
        EndReason::Shutdown,
    ];

    /// Position in [`EndReason::ALL`], for arrays of per-reason numbers such as
    /// [`LifecycleCounters::ended`].
    pub const fn index(self) -> usize {
        match self {
            EndReason::Api => 0,
            EndReason::Bye => 1,
            EndReason::Idle => 2,
            EndReason::MaxDuration => 3,
            EndReason::Shutdown => 4,
        }
    }

    /// Lowercase name, for logs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Api => "api",
            EndReason::Bye => "bye",
            EndReason::Idle => "idle",
            EndReason::MaxDuration => "max_duration",
            EndReason::Shutdown => "shutdown",
        }
    }
}

/// A call that ended, with its channels.
#[derive(Clone, Debug, PartialEq)]
pub struct EndedCall {
    /// The id it was registered under (the media leg id).
    pub id: String,
    /// Why it ended.
    pub reason: EndReason,
    /// When.
    pub ended_at: Timestamp,
    /// Its channels, indexed.
    pub channels: Vec<ChannelQuality>,
}

/// Something the daemon must act on.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A call ended on its own (BYE, idle, maximum duration): deliver its record.
    Ended(EndedCall),
    /// A flow that no call claimed went idle: log and count it, never post it.
    Unregistered {
        /// Its two RTP endpoints.
        endpoints: [SocketAddr; 2],
        /// RTP packets each endpoint sent.
        packets: [(SocketAddr, u64); 2],
    },
}

/// Counters of the lifecycle.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LifecycleCounters {
    /// Calls registered.
    pub registered: u64,
    /// Calls ended, per [`EndReason::index`] (in the order of [`EndReason::ALL`]).
    pub ended: [u64; EndReason::ALL.len()],
    /// Flows reported as unregistered.
    pub unregistered_flows: u64,
}

impl LifecycleCounters {
    /// Calls ended for `reason`.
    pub fn ended_by(&self, reason: EndReason) -> u64 {
        self.ended[reason.index()]
    }
}
