//! The control API: how the bot registers calls with the agent and ends them, plus the
//! probes and metrics an orchestrator scrapes. `deploy/openapi/control-api.yaml` is its
//! contract.
//!
//! This module is the HTTP layer only: it authenticates, validates and translates, and
//! leaves every decision about calls to a [`CallControl`] the daemon implements. Request
//! bodies are checked (`validate.rs`) into a [`Registration`] with errors that name the
//! offending JSON path, because the bot's developers need that path to fix a request.
//!
//! Files: this one holds the contract's types; `server.rs` binds and serves (timeouts,
//! connection bound, graceful shutdown); `routes.rs` is the router and its handlers;
//! `auth.rs` the bearer token; `validate.rs` the registration body.
//!
//! Routes:
//! - `PUT /v1/calls/{mediaLegId}`: register or update a call (201 / 200).
//! - `DELETE /v1/calls/{mediaLegId}`: end a call; answers with its Graph request body.
//! - `GET /v1/calls`: active calls with live packet counts.
//! - `GET /livez`, `GET /readyz`, `GET /metrics`: unauthenticated probes and scrape.

mod auth;
mod routes;
mod server;
mod validate;

#[cfg(test)]
mod tests;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;
use vtcq_collector::MediaKind;
use vtcq_reporter::secret::Secret;

pub use routes::service;
pub use server::ApiServer;

/// What the API needs from the daemon. Implementations are cheap to call (they lock briefly).
pub trait CallControl: Send + Sync + 'static {
    /// PUT: register or update. Ok(true) = created, Ok(false) = updated.
    fn register(
        &self,
        media_leg_id: Uuid,
        registration: Registration,
    ) -> Result<bool, ControlError>;
    /// DELETE: end (idempotent). Ok(Some(body)) = the Graph request body
    /// (`{"quality": {...}}`) of the ended call; Ok(None) = unknown call.
    fn end(&self, media_leg_id: Uuid) -> Result<Option<Value>, ControlError>;
    /// GET: active calls with live numbers.
    fn list(&self) -> Vec<ActiveCall>;
    /// Readiness (capture running, spool writable).
    fn ready(&self) -> bool;
    /// Prometheus text exposition of all metrics.
    fn metrics(&self) -> String;
}

/// Why the daemon refused a request; each variant picks the HTTP status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ControlError {
    /// 409: the request contradicts the daemon's state (port in use, call already ended).
    Conflict(String),
    /// 503: the daemon cannot take it now (e.g. the spool is not writable).
    Unavailable(String),
    /// 400: a value the API's own checks let through but the daemon refuses.
    // Part of the contract even while the daemon has no check of its own to report.
    Invalid {
        /// JSON path of the offending value, e.g. `mediaSessions[1].localPort`.
        field: String,
        /// What is wrong with it.
        message: String,
    },
}

/// The body of `PUT /v1/calls/{mediaLegId}`. Deserializing it checks the shape; the
/// API also checks the ranges (`validate.rs`) before a daemon sees one.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Registration {
    /// The Teams call's `callChainId`.
    #[serde(deserialize_with = "validate::guid")]
    pub call_chain_id: Uuid,
    /// The Teams call's `myParticipantId`.
    #[serde(deserialize_with = "validate::guid")]
    pub participant_id: Uuid,
    /// The device's user agent name, such as "Cisco SX80" (1..=256 characters).
    pub device_name: String,
    /// A free description, such as "VTC Bldg 30/21" (1..=256 characters).
    pub device_description: String,
    /// The call's media sessions (at least one; local ports distinct).
    #[serde(deserialize_with = "validate::objects")]
    pub media_sessions: Vec<MediaSession>,
}

/// One media session of a [`Registration`].
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MediaSession {
    /// `audio`, `video` or `screenSharing`.
    #[serde(deserialize_with = "validate::media_kind")]
    pub kind: MediaKind,
    /// The bot's RTP port (1..=65535).
    pub local_port: u16,
    /// The device's address, when the bot knows it.
    #[serde(default, deserialize_with = "validate::ip_address")]
    pub remote_address: Option<IpAddr>,
    /// The device's RTP port, when the bot knows it.
    pub remote_port: Option<u16>,
    /// The payload types negotiated on this session, with their clock rates.
    #[serde(default, deserialize_with = "validate::objects")]
    pub payload_types: Vec<PayloadType>,
}

/// A negotiated RTP payload type and its clock rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PayloadType {
    /// 0..=127.
    pub payload_type: u8,
    /// Hz, > 0.
    pub clock_rate: u32,
}

/// One item of `GET /v1/calls`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveCall {
    /// The id the call was registered under.
    pub media_leg_id: Uuid,
    /// The Teams call's `callChainId`.
    pub call_chain_id: Uuid,
    /// The device's name.
    pub device_name: String,
    /// When the call was first registered, RFC 3339.
    pub registered_at: String,
    /// Live numbers per media session.
    pub media_sessions: Vec<ActiveSession>,
}

/// Live numbers of one media session of an [`ActiveCall`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveSession {
    /// `audio`, `video` or `screenSharing`.
    pub kind: String,
    /// The bot's RTP port.
    pub local_port: u16,
    /// RTP packets device -> bot so far.
    pub inbound_packets: u64,
    /// RTP packets bot -> device so far.
    pub outbound_packets: u64,
}

/// Where and how the API listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiConfig {
    /// The listening socket.
    pub listen: Listen,
    /// When set, `/v1/*` requires `Authorization: Bearer <token>`. Must not be empty.
    pub bearer_token: Option<Secret>,
    /// Largest accepted request body (default 64 KiB); larger ones get 413.
    pub max_body_bytes: usize,
    /// Time a client has to send a request's head (default 10 s); the connection is
    /// closed after it.
    pub header_read_timeout: Duration,
    /// Time a request may take from its head to its response (default 30 s; a body
    /// trickled in slowly ends with 408). Also bounds the wait for in-flight requests at
    /// shutdown.
    pub request_timeout: Duration,
    /// Connections served at once (default 64); past it a new one is closed at once.
    pub max_connections: usize,
}

/// Default port of the control API.
pub const DEFAULT_PORT: u16 = 9477;

/// Default body limit: a registration is well under 4 KiB, so 64 KiB leaves room for
/// many sessions and payload types while bounding what one request can make us buffer.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: Listen::default(),
            bearer_token: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            // The bot needs one or two; the rest is headroom for probes and scrapes.
            max_connections: 64,
        }
    }
}

/// The listening socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listen {
    /// A TCP address (default `127.0.0.1:9477`: the bot runs next to the agent).
    Tcp(SocketAddr),
    /// A Unix socket path (created 0660; a stale socket file is replaced).
    Unix(PathBuf),
}

impl Default for Listen {
    fn default() -> Self {
        Listen::Tcp(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            DEFAULT_PORT,
        ))
    }
}
