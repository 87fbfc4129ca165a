//! vtcq-reporter: the only crate that knows Microsoft Graph.
//!
//! - [`graph`]: the collector's call-end results as the exact request body of
//!   `POST /communications/calls/logTeleconferenceDeviceQuality`.
//! - [`cloud`]: national clouds, API versions and where the action is offered.
//! - [`secret`]: values that never reach a log.
//! - [`settings`]: the `[graph]`, `[spool]`, `[retry]` and `[sink]` config sections,
//!   validated.
//! - [`token`]: OAuth2 client credentials (secret or certificate), cached and refreshed.
//! - [`retry`]: which failures are transient, `Retry-After`, backoff with jitter.
//! - [`spool`]: the crash-safe queue of records not yet acknowledged.
//! - [`delivery`]: one attempt ([`delivery::GraphPoster`]) and the drain loop.
//! - [`handoff`]: where a finished record goes (spool, file sink or stdout), opened from
//!   the configured destination; used by `vtcq post` and the daemon.
//! - [`errors`]: an error printed with its causes, each once.
//! - `testing` (feature `test-support`): a local server that behaves like Graph.
#![forbid(unsafe_code)]

pub mod cloud;
pub mod delivery;
pub mod errors;
pub mod graph;
pub mod handoff;
pub mod retry;
pub mod secret;
pub mod settings;
pub mod spool;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod token;

pub use graph::{CallIdentity, CloudService, QualityRequest};
