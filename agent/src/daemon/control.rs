//! The daemon's side of the control API ([`CallControl`]): registrations into the call
//! book, ends handed off through the outbox, live numbers, readiness and metrics. The API
//! authenticates and validates; every decision about a call is made here.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use uuid::Uuid;
use vtcq_collector::calls::{MediaSessionSpec, RegisterError};
use vtcq_reporter::errors;
use vtcq_reporter::CallIdentity;

use super::{lock, metrics, now, Daemon};
use crate::api::{ActiveCall, ActiveSession, CallControl, ControlError, Registration};

/// The [`CallControl`] the API server is given.
#[derive(Debug)]
pub(super) struct Control(pub(super) Arc<Daemon>);

impl CallControl for Control {
    fn register(
        &self,
        media_leg_id: Uuid,
        registration: Registration,
    ) -> Result<bool, ControlError> {
        let specs: Vec<MediaSessionSpec> = registration
            .media_sessions
            .iter()
            .map(|m| MediaSessionSpec {
                kind: m.kind,
                local_port: m.local_port,
                remote_addr: m.remote_address,
                remote_port: m.remote_port,
                clock_rates: m
                    .payload_types
                    .iter()
                    .map(|p| (p.payload_type, p.clock_rate))
                    .collect(),
            })
            .collect();
        let identity = CallIdentity {
            call_chain_id: registration.call_chain_id,
            participant_id: registration.participant_id,
            media_leg_id,
            device_name: registration.device_name,
            device_description: registration.device_description,
        };
        let created = lock(&self.0.calls)
            .register(now(), identity, specs)
            .map_err(refusal)?;
        tracing::info!(call = %media_leg_id, created, "call registered");
        Ok(created)
    }

    fn end(&self, media_leg_id: Uuid) -> Result<Option<serde_json::Value>, ControlError> {
        let id = media_leg_id.to_string();
        // The book's lock is released before the hand-off (lock order: never the book
        // while storing).
        let ended = lock(&self.0.calls).end(now(), &id);
        let Some((ended, identity)) = ended else {
            return Ok(None);
        };
        let body = self
            .0
            .outbox
            .hand_off(&ended, &identity)
            .map_err(|e| ControlError::Unavailable(errors::chain(&e)))?;
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| ControlError::Unavailable(e.to_string()))
    }

    fn list(&self) -> Vec<ActiveCall> {
        let calls = lock(&self.0.calls).active_calls();
        calls
            .into_iter()
            .map(|(status, identity)| {
                let registered = SystemTime::UNIX_EPOCH
                    + Duration::from_nanos(status.registered_at.as_nanos().max(0) as u64);
                ActiveCall {
                    media_leg_id: identity.media_leg_id,
                    call_chain_id: identity.call_chain_id,
                    device_name: identity.device_name,
                    registered_at: humantime::format_rfc3339_millis(registered).to_string(),
                    media_sessions: status
                        .media_sessions
                        .iter()
                        .map(|(port, kind, inbound, outbound)| ActiveSession {
                            kind: kind.as_str().to_owned(),
                            local_port: *port,
                            inbound_packets: *inbound,
                            outbound_packets: *outbound,
                        })
                        .collect(),
                }
            })
            .collect()
    }

    fn ready(&self) -> bool {
        self.0.capture.is_running() && self.0.outbox.pending() == 0
    }

    fn metrics(&self) -> String {
        metrics::render(&metrics::Snapshot::of(&self.0))
    }
}

/// A registration the tracker refused, as the API answers it.
fn refusal(e: RegisterError) -> ControlError {
    match e {
        RegisterError::DuplicatePort(_) | RegisterError::NoSessions => ControlError::Invalid {
            field: "mediaSessions".to_owned(),
            message: e.to_string(),
        },
        RegisterError::PortInUse { .. } | RegisterError::AlreadyEnded(_) => {
            ControlError::Conflict(e.to_string())
        }
        RegisterError::TooManyCalls(_) => {
            ControlError::Unavailable(format!("{e} (calls.max_active_calls)"))
        }
    }
}
