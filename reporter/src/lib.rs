//! vtcq-reporter: the only crate that knows Microsoft Graph.
//!
//! - [`graph`]: the collector's call-end results as the exact request body of
//!   `POST /communications/calls/logTeleconferenceDeviceQuality`.
//! - [`cloud`]: national clouds, API versions and where the action is offered.
//! - [`secret`]: values that never reach a log.
#![forbid(unsafe_code)]

pub mod cloud;
pub mod graph;
pub mod secret;

pub use graph::{CallIdentity, CloudService, QualityRequest};
