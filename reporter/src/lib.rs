//! vtcq-reporter: the only crate that knows Microsoft Graph.
//!
//! [`graph`] turns the collector's call-end results into the exact request body of
//! `POST /communications/calls/logTeleconferenceDeviceQuality`. Delivery (token, retries,
//! spool) builds on it.
#![forbid(unsafe_code)]

pub mod graph;

pub use graph::{CallIdentity, CloudService, QualityRequest};
