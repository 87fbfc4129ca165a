//! The control API: how the bot registers calls with the agent and ends them, plus the
//! probes and metrics an orchestrator scrapes. `deploy/openapi/control-api.yaml` is its
//! contract.
//!
//! This module is the HTTP layer only: it authenticates, validates and translates, and
//! leaves every decision about calls to a [`CallControl`] the daemon implements. Request
//! bodies are parsed into `serde_json::Value` and checked by hand (`validate`) before
//! they become a [`Registration`], because serde's errors cannot name the offending JSON
//! path and the bot's developers need that path to fix a request.
//!
//! Routes:
//! - `PUT /v1/calls/{mediaLegId}`: register or update a call (201 / 200).
//! - `DELETE /v1/calls/{mediaLegId}`: end a call; answers with its Graph request body.
//! - `GET /v1/calls`: active calls with live packet counts.
//! - `GET /livez`, `GET /readyz`, `GET /metrics`: unauthenticated probes and scrape.

mod validate;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};
use uuid::Uuid;
use vtcq_collector::MediaKind;
use vtcq_reporter::secret::Secret;

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

/// The body of `PUT /v1/calls/{mediaLegId}`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Registration {
    /// The Teams call's `callChainId`.
    pub call_chain_id: Uuid,
    /// The Teams call's `myParticipantId`.
    pub participant_id: Uuid,
    /// The device's user agent name, such as "Cisco SX80" (1..=256 characters).
    pub device_name: String,
    /// A free description, such as "VTC Bldg 30/21" (1..=256 characters).
    pub device_description: String,
    /// The call's media sessions (at least one; local ports distinct).
    pub media_sessions: Vec<MediaSession>,
}

/// One media session of a [`Registration`].
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MediaSession {
    /// `audio`, `video` or `screenSharing`.
    #[serde(deserialize_with = "media_kind")]
    pub kind: MediaKind,
    /// The bot's RTP port (1..=65535).
    pub local_port: u16,
    /// The device's address, when the bot knows it.
    pub remote_address: Option<IpAddr>,
    /// The device's RTP port, when the bot knows it.
    pub remote_port: Option<u16>,
    /// The payload types negotiated on this session, with their clock rates.
    #[serde(default)]
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

/// Parses a kind with the collector's own spelling rules, so the two cannot disagree.
fn media_kind<'de, D: Deserializer<'de>>(deserializer: D) -> Result<MediaKind, D::Error> {
    let name = String::deserialize(deserializer)?;
    name.parse().map_err(serde::de::Error::custom)
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

/// Route paths, spelled as in the OpenAPI document (axum 0.8 uses the same `{param}`
/// syntax), so a test can check that the document describes every route.
const ROUTE_CALLS: &str = "/v1/calls";
const ROUTE_CALL: &str = "/v1/calls/{mediaLegId}";
const ROUTE_LIVEZ: &str = "/livez";
const ROUTE_READYZ: &str = "/readyz";
const ROUTE_METRICS: &str = "/metrics";
#[cfg(test)]
const ROUTES: [&str; 5] = [
    ROUTE_CALLS,
    ROUTE_CALL,
    ROUTE_LIVEZ,
    ROUTE_READYZ,
    ROUTE_METRICS,
];

/// 408 when a request (mostly: its body, trickled in) takes longer than
/// [`ApiConfig::request_timeout`]. Outside authentication, so a slow unauthenticated
/// client is cut off too. Handlers only await the body: cancelling one leaves no state
/// half-changed.
async fn request_timeout(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let limit = state.request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!("the request took longer than {limit:?}"),
        )
        .into_response(),
    }
}

/// The Prometheus text format's content type.
const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A bound control API, ready to [`serve`](ApiServer::serve).
pub struct ApiServer {
    listener: Bound,
    router: Router,
    limits: ConnectionLimits,
}

/// What bounds a client's hold on the server (see [`ApiConfig`]).
#[derive(Clone, Copy, Debug)]
struct ConnectionLimits {
    header_read_timeout: Duration,
    request_timeout: Duration,
    max_connections: usize,
}

enum Bound {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener, PathBuf),
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = f.debug_struct("ApiServer");
        match &self.listener {
            Bound::Tcp(l) => s.field("tcp", &l.local_addr().ok()),
            Bound::Unix(_, path) => s.field("unix", path),
        };
        s.finish_non_exhaustive()
    }
}

impl ApiServer {
    /// Binds the listening socket. Binding is separate from serving so that the daemon
    /// fails start-up on a busy port before it reports itself ready.
    ///
    /// For a Unix socket, an existing socket file nobody listens on (left by a crash) is
    /// removed; a socket someone still listens on is `AddrInUse`, and a path that is not a
    /// socket is `AlreadyExists` and left alone. The new socket is made 0660 so that the
    /// bot's group can connect and nobody else can.
    pub async fn bind(
        config: ApiConfig,
        control: Arc<dyn CallControl>,
    ) -> std::io::Result<ApiServer> {
        if config.bearer_token.as_ref().is_some_and(Secret::is_empty) {
            // An empty token would make `Authorization: Bearer ` a valid credential.
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the control API bearer token is empty",
            ));
        }
        let listener = match &config.listen {
            Listen::Tcp(addr) => {
                let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                    std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}"))
                })?;
                Bound::Tcp(listener)
            }
            Listen::Unix(path) => Bound::Unix(bind_unix(path).await?, path.clone()),
        };
        let limits = ConnectionLimits {
            header_read_timeout: config.header_read_timeout,
            request_timeout: config.request_timeout,
            max_connections: config.max_connections.max(1),
        };
        Ok(ApiServer {
            listener,
            router: service(config, control),
            limits,
        })
    }

    /// The bound TCP address (the real port when 0 was asked); `None` for a Unix socket.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match &self.listener {
            Bound::Tcp(l) => l.local_addr().ok(),
            Bound::Unix(..) => None,
        }
    }

    /// Serves until `shutdown` completes, then stops accepting, lets in-flight requests
    /// finish, closes idle connections and returns. A Unix socket file is removed at the
    /// end. The wait for in-flight requests is bounded by the request timeout.
    ///
    /// A client cannot hold the API hostage: it has [`ApiConfig::header_read_timeout`] to
    /// send a request's head and [`ApiConfig::request_timeout`] for the whole request (408
    /// after), and at most [`ApiConfig::max_connections`] connections are served at once
    /// (past it a new connection is closed at once and counted in the log).
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let connections = Connections::new(self.limits);
        let mut shutdown = std::pin::pin!(shutdown);
        let ApiServer {
            listener,
            router,
            limits,
        } = self;
        let socket_file = match listener {
            Bound::Tcp(listener) => {
                let listener = &listener;
                let accept = move || async move { listener.accept().await.map(|(s, _)| s) };
                accept_until(accept, &connections, &router, shutdown.as_mut()).await;
                None
            }
            Bound::Unix(listener, path) => {
                let listener = &listener;
                let accept = move || async move { listener.accept().await.map(|(s, _)| s) };
                accept_until(accept, &connections, &router, shutdown.as_mut()).await;
                Some(path)
            }
        };
        // The listener is closed by now: no new connections while the open ones finish.
        connections.close(limits.request_timeout).await;
        if let Some(path) = socket_file {
            // Best effort: a leftover file is harmless, the next bind replaces it.
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::debug!(path = %path.display(), error = %e, "control socket not removed");
            }
        }
        Ok(())
    }
}

/// Hands each accepted connection to `connections` until `shutdown` completes; the caller
/// then drops the listener.
async fn accept_until<Io, Accepted>(
    mut accept: impl FnMut() -> Accepted,
    connections: &Connections,
    router: &Router,
    mut shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
) where
    Accepted: Future<Output = std::io::Result<Io>>,
    Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    loop {
        tokio::select! {
            accepted = accept() => match accepted {
                Ok(io) => connections.serve(io, router),
                Err(e) => accept_failed(e).await,
            },
            () = &mut shutdown => return,
        }
    }
}

/// An accept error (out of file descriptors, mostly): log, pause, go on.
async fn accept_failed(e: std::io::Error) {
    tracing::warn!(error = %e, "control API accept failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// The open connections: bounded, and closed gracefully on shutdown.
struct Connections {
    limits: ConnectionLimits,
    slots: Arc<tokio::sync::Semaphore>,
    /// Dropped to ask every connection to finish its request and close.
    closing: tokio::sync::watch::Sender<()>,
    refused: std::sync::atomic::AtomicU64,
}

impl Connections {
    fn new(limits: ConnectionLimits) -> Self {
        Connections {
            limits,
            slots: Arc::new(tokio::sync::Semaphore::new(limits.max_connections)),
            closing: tokio::sync::watch::channel(()).0,
            refused: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn serve<Io>(&self, io: Io, router: &Router)
    where
        Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        use hyper_util::rt::{TokioIo, TokioTimer};
        use std::sync::atomic::Ordering;

        let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() else {
            let refused = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
            if refused.is_power_of_two() {
                tracing::warn!(
                    refused,
                    max = self.limits.max_connections,
                    "control API connection refused: too many open connections"
                );
            }
            return; // dropping `io` closes it
        };
        // The router takes any body type, hyper's `Incoming` included.
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let mut closing = self.closing.subscribe();
        let header_read_timeout = self.limits.header_read_timeout;
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout);
            let mut conn = std::pin::pin!(builder.serve_connection(TokioIo::new(io), service));
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "control API connection ended");
                    }
                }
                _ = closing.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop(slot);
        });
    }

    /// Asks every connection to close after its current request; waits up to `limit`.
    async fn close(self, limit: Duration) {
        let Connections {
            slots,
            closing,
            limits,
            ..
        } = self;
        drop(closing);
        let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(limit, slots.acquire_many(all)).await;
    }
}

async fn bind_unix(path: &Path) -> std::io::Result<tokio::net::UnixListener> {
    use std::io::{Error, ErrorKind};
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};

    let context = |e: Error| {
        Error::new(
            e.kind(),
            format!("cannot listen on {}: {e}", path.display()),
        )
    };
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!(
                    "cannot listen on {}: it exists and is not a socket",
                    path.display()
                ),
            ));
        }
        Ok(_) => match tokio::net::UnixStream::connect(path).await {
            // Someone answers: another agent owns it; taking the path would orphan it.
            Ok(_) => {
                return Err(Error::new(
                    ErrorKind::AddrInUse,
                    format!(
                        "cannot listen on {}: another process is listening",
                        path.display()
                    ),
                ));
            }
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                std::fs::remove_file(path).map_err(context)?;
            }
            Err(e) => return Err(context(e)),
        },
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(context(e)),
    }
    let listener = tokio::net::UnixListener::bind(path).map_err(context)?;
    // Between bind and chmod the socket has the umask's mode; the usual 022 umask leaves
    // it unwritable (so unconnectable) by others, so the window grants nobody extra.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(context)?;
    Ok(listener)
}

struct AppState {
    control: Arc<dyn CallControl>,
    bearer_token: Option<Secret>,
    max_body_bytes: usize,
    request_timeout: Duration,
}

/// The control API as a service without a socket: the same routes, authentication, body
/// limit and validation [`ApiServer::bind`] serves. For the fuzz targets, which drive it
/// with `tower::ServiceExt::oneshot`. `config.listen` is not used.
pub fn service(config: ApiConfig, control: Arc<dyn CallControl>) -> Router {
    router(Arc::new(AppState {
        control,
        bearer_token: config.bearer_token,
        max_body_bytes: config.max_body_bytes,
        request_timeout: config.request_timeout,
    }))
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(ROUTE_CALLS, get(list_calls))
        .route(ROUTE_CALL, put(register_call).delete(end_call))
        .route(ROUTE_LIVEZ, get(livez))
        .route(ROUTE_READYZ, get(readyz))
        .route(ROUTE_METRICS, get(metrics))
        // Must follow the routes: it is installed on the routes that exist. Axum still
        // adds the `Allow` header to what it returns.
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        // The body extractor reads this limit; `register_call` also checks
        // Content-Length first so an announced oversize body is refused unread.
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        // Authentication wraps routing so that nothing under /v1 (not even whether a
        // path or method exists) is answered to an unauthenticated client.
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            require_bearer,
        ))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            request_timeout,
        ))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

/// An error response: `{"error": {"code", "message", "field"?}}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    field: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    /// A 400 naming the offending JSON path.
    pub(crate) fn field(
        code: &'static str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
            field: Some(field.into()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let (Some(field), Some(map)) = (self.field, error.as_object_mut()) {
            map.insert("field".to_owned(), Value::String(field));
        }
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> Self {
        match e {
            ControlError::Conflict(message) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", message)
            }
            ControlError::Unavailable(message) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            }
            ControlError::Invalid { field, message } => {
                ApiError::field("invalid_value", field, message)
            }
        }
    }
}

/// The path's `{mediaLegId}`, strictly a hyphenated GUID.
fn media_leg_id(
    path: Result<axum::extract::Path<String>, PathRejection>,
) -> Result<Uuid, ApiError> {
    let axum::extract::Path(raw) = path.map_err(|e| {
        ApiError::field(
            "invalid_value",
            "mediaLegId",
            format!("bad path segment: {e}"),
        )
    })?;
    validate::parse_guid(&raw).ok_or_else(|| {
        ApiError::field(
            "invalid_value",
            "mediaLegId",
            format!("{raw:?} is not a GUID (expected 8-4-4-4-12 hexadecimal digits)"),
        )
    })
}

async fn register_call(
    State(state): State<Arc<AppState>>,
    path: Result<axum::extract::Path<String>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let id = media_leg_id(path)?;
    if !is_json(request.headers()) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be JSON (Content-Type: application/json)",
        ));
    }
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body exceeds {} bytes", state.max_body_bytes),
        )
    };
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > u64::try_from(state.max_body_bytes).unwrap_or(u64::MAX)) {
        return Err(too_large());
    }
    let body = match Bytes::from_request(request, &()).await {
        Ok(body) => body,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
        Err(e) => {
            return Err(ApiError::field(
                "invalid_json",
                "$",
                format!("cannot read the body: {e}"),
            ))
        }
    };
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::field("invalid_json", "$", format!("not JSON: {e}")))?;
    let registration = validate::registration(value)?;
    let created = state.control.register(id, registration)?;
    let echo = Json(json!({ "mediaLegId": id }));
    if created {
        let location = HeaderValue::from_str(&format!("{ROUTE_CALLS}/{id}"))
            .unwrap_or_else(|_| HeaderValue::from_static(ROUTE_CALLS));
        Ok((StatusCode::CREATED, [(header::LOCATION, location)], echo).into_response())
    } else {
        Ok((StatusCode::OK, echo).into_response())
    }
}

/// True for `application/json` (any case, any parameters) and `application/*+json`.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

async fn end_call(
    State(state): State<Arc<AppState>>,
    path: Result<axum::extract::Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = media_leg_id(path)?;
    match state.control.end(id)? {
        Some(body) => Ok((StatusCode::OK, Json(body)).into_response()),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "call_not_found",
            format!("no call {id} is registered or recently ended"),
        )),
    }
}

async fn list_calls(State(state): State<Arc<AppState>>) -> Response {
    Json(json!({ "calls": state.control.list() })).into_response()
}

async fn livez() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<Arc<AppState>>) -> (StatusCode, &'static str) {
    if state.control.ready() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(METRICS_CONTENT_TYPE),
        )],
        state.control.metrics(),
    )
        .into_response()
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this path (see the Allow header)",
    )
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such path")
}

/// True for the paths that need the bearer token.
fn is_protected(path: &str) -> bool {
    path == "/v1" || path.starts_with("/v1/")
}

async fn require_bearer(
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
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim_start();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Compares a presented credential with the expected one in time that depends only on
/// the presented length: every presented byte is compared (against the expected bytes,
/// cycled) and the length difference is folded in, so neither a matching prefix nor the
/// expected length shows in the timing.
fn constant_time_eq(presented: &[u8], expected: &[u8]) -> bool {
    let mut diff = presented.len() ^ expected.len();
    if expected.is_empty() {
        // Unreachable through `bind` (empty tokens are refused); never a match.
        return false;
    }
    for (i, &byte) in presented.iter().enumerate() {
        let other = expected.get(i % expected.len()).copied().unwrap_or(0);
        diff |= usize::from(byte ^ other);
    }
    std::hint::black_box(diff) == 0
}

/// Logs one line per request. Probes and scrapes come every few seconds, so their
/// successes are logged at debug to keep the info log about calls. Only the method,
/// path, status and latency are logged: never headers, so never the token.
async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let routine =
        matches!(path.as_str(), ROUTE_LIVEZ | ROUTE_READYZ | ROUTE_METRICS) && status < 400;
    if routine {
        tracing::debug!(%method, %path, status, latency_ms, "control request");
    } else {
        tracing::info!(%method, %path, status, latency_ms, "control request");
    }
    response
}
