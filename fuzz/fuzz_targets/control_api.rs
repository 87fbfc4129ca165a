//! The control API as the daemon serves it: the real axum router (routes, bearer
//! authentication, body limit, JSON validation naming the field) driven with
//! `tower::ServiceExt::oneshot` on a current-thread runtime, with an arbitrary method,
//! path, headers and body. The daemon's side is a fake `CallControl` that checks every
//! registration the API lets through.
//!
//! Input: `[method][flags]` then, if the flags ask for a path from the input, the path up
//! to the first `\n`; the rest is the body.
#![no_main]

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use tower::ServiceExt;
use uuid::Uuid;
use vtcq::api::{self, ActiveCall, ApiConfig, CallControl, ControlError, Listen, Registration};
use vtcq_reporter::secret::Secret;

const TOKEN: &str = "fuzz-token";
const MAX_BODY: usize = 4096;
const CALL_PATH: &str = "/v1/calls/2c1b1e2a-7d3f-4b8e-9a60-1f0e5d4c3b2a";
const METHODS: [Method; 7] = [
    Method::PUT,
    Method::GET,
    Method::DELETE,
    Method::POST,
    Method::HEAD,
    Method::OPTIONS,
    Method::PATCH,
];

#[derive(Default)]
struct FakeControl {
    calls: Mutex<HashSet<Uuid>>,
}

impl CallControl for FakeControl {
    fn register(&self, id: Uuid, r: Registration) -> Result<bool, ControlError> {
        // Everything the API promises the daemon about a registration it let through.
        for text in [&r.device_name, &r.device_description] {
            assert!(!text.trim().is_empty() && text.chars().count() <= 256, "{text:?}");
        }
        assert!(!r.media_sessions.is_empty());
        let mut ports = HashSet::new();
        for session in &r.media_sessions {
            assert!(session.local_port != 0);
            assert!(ports.insert(session.local_port), "duplicate local port");
            assert!(session.remote_port != Some(0));
            let mut pts = HashSet::new();
            for pt in &session.payload_types {
                assert!(pt.payload_type <= 127 && pt.clock_rate > 0);
                assert!(pts.insert(pt.payload_type), "duplicate payload type");
            }
        }
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        Ok(calls.insert(id))
    }

    fn end(&self, id: Uuid) -> Result<Option<Value>, ControlError> {
        let calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        Ok(calls.contains(&id).then(|| json!({ "quality": {} })))
    }

    fn list(&self) -> Vec<ActiveCall> {
        Vec::new()
    }

    fn ready(&self) -> bool {
        true
    }

    fn metrics(&self) -> String {
        "vtcq_up 1\n".to_owned()
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        // Timers as in the daemon's runtime: the router bounds each request's time.
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let [method, flags, rest @ ..] = data else {
        return;
    };
    let method = METHODS[usize::from(*method) % METHODS.len()].clone();
    let (path, body): (String, &[u8]) = match flags >> 6 {
        0 => (CALL_PATH.to_owned(), rest),
        1 => {
            let cut = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            let Ok(path) = std::str::from_utf8(&rest[..cut]) else {
                return;
            };
            (path.to_owned(), rest.get(cut + 1..).unwrap_or(&[]))
        }
        2 => ("/v1/calls".to_owned(), rest),
        _ => (["/livez", "/readyz", "/metrics", "/v1"][usize::from(flags & 3)].to_owned(), rest),
    };
    let with_token = flags & 0x04 != 0;
    let mut request = Request::builder().method(method.clone()).uri(path.as_str());
    request = match flags & 0x03 {
        0 => request,
        1 => request.header(header::CONTENT_TYPE, "application/json"),
        2 => request.header(header::CONTENT_TYPE, "application/merge-patch+json; charset=utf-8"),
        _ => request.header(header::CONTENT_TYPE, "text/plain"),
    };
    let authorized = match (flags >> 3) & 0x03 {
        0 => false,
        1 => {
            request = request.header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
            true
        }
        2 => {
            request = request.header(header::AUTHORIZATION, "bearer fuzz-tokem");
            false
        }
        _ => {
            request = request.header(header::AUTHORIZATION, "Basic Zm9vOmJhcg==");
            false
        }
    };
    if flags & 0x20 != 0 {
        request = request.header(header::CONTENT_LENGTH, body.len().to_string());
    }
    // Paths the `http` crate refuses never reach the router (hyper answers 400 first).
    let Ok(request) = request.body(Body::from(body.to_vec())) else {
        return;
    };
    let protected = request.uri().path() == "/v1" || request.uri().path().starts_with("/v1/");

    let config = ApiConfig {
        listen: Listen::Tcp(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0)),
        bearer_token: with_token.then(|| Secret::new(TOKEN)),
        max_body_bytes: MAX_BODY,
        ..ApiConfig::default()
    };
    let control = Arc::new(FakeControl::default());
    let service = api::service(config, control);
    let (status, body) = runtime().block_on(async move {
        let response = service.oneshot(request).await.expect("the router is infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a response body is readable");
        (status, bytes)
    });

    assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "500 on {method} {path}: {body:?}");
    if with_token && protected && !authorized {
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path} without the token");
    }
    if status.is_client_error() && method != Method::HEAD {
        // Every refusal is the documented error object.
        let value: Value = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{status} body is not JSON ({e}): {body:?}"));
        let error = &value["error"];
        assert!(error["code"].is_string() && error["message"].is_string(), "{value}");
        // A body the hand-written checks let through but serde refused means the two
        // drifted apart (validate.rs says this cannot happen).
        assert!(
            !(error["field"] == "$"
                && error["message"].as_str().is_some_and(|m| m.starts_with("invalid registration"))),
            "validation and deserialization disagree: {value}"
        );
    }
});
