//! The router: the routes of the OpenAPI document, their handlers, and the layers around
//! them (request log, request timeout, bearer authentication, body limit). Every error is
//! an [`ApiError`]: `{"error": {"code", "message", "field"?}}`.

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
use serde_json::{json, Value};
use uuid::Uuid;
use vtcq_reporter::secret::Secret;

use super::auth::require_bearer;
use super::{validate, ApiConfig, CallControl, ControlError};

/// Route paths, spelled as in the OpenAPI document (axum 0.8 uses the same `{param}`
/// syntax), so a test can check that the document describes every route.
const ROUTE_CALLS: &str = "/v1/calls";
const ROUTE_CALL: &str = "/v1/calls/{mediaLegId}";
const ROUTE_LIVEZ: &str = "/livez";
const ROUTE_READYZ: &str = "/readyz";
const ROUTE_METRICS: &str = "/metrics";
#[cfg(test)]
pub(super) const ROUTES: [&str; 5] = [
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

/// What every handler and layer reads.
pub(super) struct AppState {
    pub(super) control: Arc<dyn CallControl>,
    /// `/v1/*` needs `Authorization: Bearer <this>` when set.
    pub(super) bearer_token: Option<Secret>,
    pub(super) max_body_bytes: usize,
    pub(super) request_timeout: Duration,
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
        .merge(call_routes())
        .merge(probe_routes())
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

/// `/v1/*`: the bot's calls (behind the bearer token when one is configured).
fn call_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(ROUTE_CALLS, get(list_calls))
        .route(ROUTE_CALL, put(register_call).delete(end_call))
}

/// The probes and the scrape: unauthenticated and cheap, for an orchestrator.
fn probe_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(ROUTE_LIVEZ, get(livez))
        .route(ROUTE_READYZ, get(readyz))
        .route(ROUTE_METRICS, get(metrics))
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
    pub(super) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
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
