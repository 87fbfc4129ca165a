//! Bearer authentication of `/v1/*` (RFC 6750): the probes and `/metrics` need none, so
//! that an orchestrator can scrape them. The token is compared in constant time.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::routes::{ApiError, AppState};

/// True for the paths that need the bearer token.
fn is_protected(path: &str) -> bool {
    path == "/v1" || path.starts_with("/v1/")
}

pub(super) async fn require_bearer(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = state.bearer_token.as_ref() else {
        return next.run(request).await;
    };
    if !is_protected(request.uri().path()) {
        return next.run(request).await;
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token);
    match presented {
        Some(token) if constant_time_eq(token.as_bytes(), expected.expose().as_bytes()) => {
            next.run(request).await
        }
        // RFC 6750 §3: no credentials gets a bare challenge, bad ones say invalid_token.
        Some(_) => unauthorized(
            "the bearer token is not valid",
            "Bearer realm=\"vtcq\", error=\"invalid_token\"",
        ),
        None => unauthorized("a bearer token is required", "Bearer realm=\"vtcq\""),
    }
}

fn unauthorized(message: &str, challenge: &'static str) -> Response {
    let mut response =
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    response
}

/// The token of an `Authorization: Bearer <token>` value (the scheme is case-insensitive,
/// RFC 7235 §2.1).
pub(super) fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim_start();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Compares a presented credential with the expected one without a timing leak: both are
/// hashed (SHA-256) and the digests compared with `subtle`'s constant-time equality, so
/// the time depends only on the presented length, and neither a matching prefix nor the
/// expected length shows in it.
pub(super) fn constant_time_eq(presented: &[u8], expected: &[u8]) -> bool {
    if expected.is_empty() {
        // Unreachable through `bind` (empty tokens are refused); never a match.
        return false;
    }
    let digest = |bytes: &[u8]| ring::digest::digest(&ring::digest::SHA256, bytes);
    let (presented, expected) = (digest(presented), digest(expected));
    presented.as_ref().ct_eq(expected.as_ref()).into()
}
