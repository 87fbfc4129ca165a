//! What the bot registers: a call's media sessions, the rules a registration must follow,
//! and which flows a registered call claims.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::analyzer::{Flow, Side};
use crate::summary::MediaKind;
use crate::Timestamp;

/// One media session of a registered call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaSessionSpec {
    /// Its kind.
    pub kind: MediaKind,
    /// The bot's RTP port.
    pub local_port: u16,
    /// The device's address, when known.
    pub remote_addr: Option<IpAddr>,
    /// The device's RTP port, when known.
    pub remote_port: Option<u16>,
    /// Clock rates of the payload types negotiated on this media session.
    pub clock_rates: Vec<(u8, u32)>,
}

impl MediaSessionSpec {
    /// The side of `flow` that is this media session's local end, if the flow realises
    /// it: the local port matches, on one of `local_addrs` (any address when empty), and
    /// the remote address and port match when they were registered.
    pub(super) fn local_side_of(&self, flow: &Flow, local_addrs: &[IpAddr]) -> Option<Side> {
        Side::BOTH.into_iter().find(|&side| {
            let local = flow.endpoint(side);
            let remote = flow.endpoint(side.peer());
            local.port() == self.local_port
                && (local_addrs.is_empty() || local_addrs.contains(&local.ip()))
                && self.remote_addr.is_none_or(|ip| ip == remote.ip())
                && self.remote_port.is_none_or(|port| port == remote.port())
        })
    }
}

/// Why a registration was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// The call already ended; its record is kept, a new registration would double it.
    #[error("call {0} already ended")]
    AlreadyEnded(String),
    /// Another active call has a media session on this local port.
    #[error("local port {port} already belongs to call {other}")]
    PortInUse {
        /// The port.
        port: u16,
        /// The call holding it.
        other: String,
    },
    /// The same local port twice in one registration.
    #[error("local port {0} appears twice")]
    DuplicatePort(u16),
    /// A registration without media sessions.
    #[error("a call needs at least one media session")]
    NoSessions,
    /// As many calls as allowed are active already.
    #[error("{0} calls are active, the configured maximum")]
    TooManyCalls(usize),
}

/// An active call's live numbers (for `GET /v1/calls`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallStatus {
    /// Id.
    pub id: String,
    /// When it was registered.
    pub registered_at: Timestamp,
    /// Per media session: local port, kind, RTP packets in and out so far.
    pub media_sessions: Vec<(u16, MediaKind, u64, u64)>,
}

/// A registered call that has not ended.
#[derive(Clone, Debug)]
pub(super) struct ActiveCall {
    pub(super) specs: Vec<MediaSessionSpec>,
    pub(super) registered_at: Timestamp,
}

impl ActiveCall {
    /// True when one of the call's media sessions is realised by `flow`.
    pub(super) fn claims(&self, flow: &Flow, local_addrs: &[IpAddr]) -> bool {
        self.specs
            .iter()
            .any(|spec| spec.local_side_of(flow, local_addrs).is_some())
    }
}

/// Checks a registration of `specs` under `id` against itself and the other active
/// calls (not against the bound on active calls, which the caller applies after).
pub(super) fn check_media_sessions(
    id: &str,
    specs: &[MediaSessionSpec],
    active: &BTreeMap<String, ActiveCall>,
) -> Result<(), RegisterError> {
    if specs.is_empty() {
        return Err(RegisterError::NoSessions);
    }
    for (i, spec) in specs.iter().enumerate() {
        if specs[..i].iter().any(|s| s.local_port == spec.local_port) {
            return Err(RegisterError::DuplicatePort(spec.local_port));
        }
    }
    for spec in specs {
        if let Some((other, _)) = active.iter().find(|(other, call)| {
            other.as_str() != id && call.specs.iter().any(|s| s.local_port == spec.local_port)
        }) {
            return Err(RegisterError::PortInUse {
                port: spec.local_port,
                other: other.clone(),
            });
        }
    }
    Ok(())
}
