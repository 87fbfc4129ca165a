//! A local stand-in for Microsoft Graph and its token endpoint, for tests (feature
//! `test-support`).
//!
//! [`FakeGraph::start`] serves on `127.0.0.1` on a free port. Use [`FakeGraph::url`] as
//! both `graph_root` and `login_root` (`cloud = "custom"`), or [`FakeGraph::endpoints`].
//!
//! - `POST /{tenant}/oauth2/v2.0/token` is the Microsoft identity platform v2.0 token
//!   endpoint for the client-credentials grant. It checks the tenant, `client_id`,
//!   `grant_type`, `scope` (must end in `/.default`) and the credential: the client
//!   secret, or a JWT client assertion (signature against
//!   [`FakeGraphConfig::public_key_der`], the `x5t#S256` (PS256) or `x5t` (RS256)
//!   thumbprint against [`FakeGraphConfig::certificate_der`], `aud` = the token URL,
//!   `iss` = `sub` = `client_id`, `exp` in the future, `nbf` at most 5 minutes ahead, `jti`
//!   never seen before). A wrong credential gets 401 `invalid_client` (AADSTS7000215 for a
//!   secret), other problems 400 with an AAD-style error; success issues
//!   `fake-token-<n>-<random>` valid for [`FakeGraphConfig::token_lifetime`] (real time).
//! - `POST /v1.0/communications/calls/logTeleconferenceDeviceQuality` (and `/beta/...`) is
//!   Graph: it wants `Authorization: Bearer <a token it issued, unexpired>` (else 401
//!   `InvalidAuthenticationToken`), `Content-Type: application/json` and a JSON body with a
//!   `quality` object (else 400 `BadRequest`), and answers 200 with an empty body.
//!   Every answer carries a new `request-id` and echoes `client-request-id`.
//! - Scripted answers ([`FakeGraph::script_graph`], [`FakeGraph::script_token`]) are
//!   returned as they are, in order, before any check, after their delay.
//!
//! The server runs on its own thread with its own tokio runtime, so it keeps real time
//! even when the test's runtime has a paused clock (scripted delays are real delays), and
//! works under any test runtime flavour. Dropping the [`FakeGraph`] stops it and aborts
//! requests in flight.
//!
//! On a paused clock (tokio's `test-util` feature), a client must have no timers that
//! tokio could auto-advance while it waits for the real server: use [`paused_clock_client`].

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::future::IntoFuture as _;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::cloud::{ApiVersion, Endpoints};

mod endpoints;

use endpoints::handle;

/// The path of the Graph action after the version segment.
const ACTION_PATH: &str = "/communications/calls/logTeleconferenceDeviceQuality";

/// Request bodies larger than this are refused (Graph's own limit is far lower).
const MAX_BODY: usize = 16 << 20;

/// What the fake accepts.
#[derive(Clone, Debug)]
pub struct FakeGraphConfig {
    /// The tenant in the token URL.
    pub tenant_id: String,
    /// The application id.
    pub client_id: String,
    /// The client secret accepted; `None` refuses every secret.
    pub client_secret: Option<String>,
    /// The PKCS#1 `RSAPublicKey` (DER) that client assertions must verify against; `None`
    /// refuses every assertion.
    pub public_key_der: Option<Vec<u8>>,
    /// The certificate (DER) the assertion's `x5t` / `x5t#S256` must name; `None` skips
    /// the thumbprint check.
    pub certificate_der: Option<Vec<u8>>,
    /// `expires_in` of issued tokens; Graph refuses them after this (real time).
    pub token_lifetime: Duration,
}

impl Default for FakeGraphConfig {
    fn default() -> Self {
        FakeGraphConfig {
            tenant_id: "fake-tenant".to_owned(),
            client_id: "fake-client".to_owned(),
            client_secret: None,
            public_key_der: None,
            certificate_der: None,
            token_lifetime: Duration::from_secs(3600),
        }
    }
}

impl FakeGraphConfig {
    /// Accepts `client_secret` for `client_id` in `tenant_id`, tokens valid for an hour.
    pub fn with_secret(tenant_id: &str, client_id: &str, client_secret: &str) -> Self {
        FakeGraphConfig {
            tenant_id: tenant_id.to_owned(),
            client_id: client_id.to_owned(),
            client_secret: Some(client_secret.to_owned()),
            ..FakeGraphConfig::default()
        }
    }

    /// Accepts assertions signed by the key of `public_key_der` (PKCS#1) naming
    /// `certificate_der`, tokens valid for an hour.
    pub fn with_certificate(
        tenant_id: &str,
        client_id: &str,
        public_key_der: Vec<u8>,
        certificate_der: Vec<u8>,
    ) -> Self {
        FakeGraphConfig {
            tenant_id: tenant_id.to_owned(),
            client_id: client_id.to_owned(),
            public_key_der: Some(public_key_der),
            certificate_der: Some(certificate_der),
            ..FakeGraphConfig::default()
        }
    }
}

/// A canned answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptedResponse {
    /// HTTP status.
    pub status: u16,
    /// Extra headers (e.g. `Retry-After`); `request-id` and `client-request-id` are added.
    pub headers: Vec<(String, String)>,
    /// Body, sent as is.
    pub body: String,
    /// Wait this long (real time) before answering: a slow server.
    pub delay: Duration,
}

impl Default for ScriptedResponse {
    fn default() -> Self {
        ScriptedResponse {
            status: 200,
            headers: Vec::new(),
            body: String::new(),
            delay: Duration::ZERO,
        }
    }
}

impl ScriptedResponse {
    /// An answer with `status` and no body.
    pub fn status(status: u16) -> Self {
        ScriptedResponse {
            status,
            ..ScriptedResponse::default()
        }
    }

    /// An answer with `status` and a JSON body (with its `Content-Type`).
    pub fn json(status: u16, body: &Value) -> Self {
        ScriptedResponse {
            status,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the delay.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// A request to the Graph side (anything that is not a token request).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path, e.g. `/v1.0/communications/calls/logTeleconferenceDeviceQuality`.
    pub path: String,
    /// Headers, names in lower case, in arrival order.
    pub headers: Vec<(String, String)>,
    /// Body (lossy UTF-8).
    pub body: String,
    /// The status it was answered with. Recorded on arrival: a scripted answer that is
    /// still in its delay (or that the client gave up on) counts too.
    pub status: u16,
}

impl RecordedRequest {
    /// The first value of a header (name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A request to the token endpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedTokenRequest {
    /// Path, e.g. `/tenant/oauth2/v2.0/token`.
    pub path: String,
    /// The form fields, decoded (secrets included: this is a test server).
    pub fields: BTreeMap<String, String>,
    /// Whether the client secret or the client assertion checked out.
    pub credential_valid: bool,
    /// The assertion's JOSE header, when one was sent and decodes.
    pub assertion_header: Option<Value>,
    /// The assertion's claims, when one was sent and decodes.
    pub assertion_claims: Option<Value>,
    /// The status it was answered with.
    pub status: u16,
    /// `error: error_description` when the fake refused it (not for scripted answers).
    pub error: Option<String>,
}

impl RecordedTokenRequest {
    /// A form field.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

#[derive(Debug)]
struct Issued {
    at: Instant,
    revoked: bool,
}

#[derive(Debug, Default)]
struct Log {
    graph_script: VecDeque<ScriptedResponse>,
    token_script: VecDeque<ScriptedResponse>,
    token_delay: Duration,
    issued: HashMap<String, Issued>,
    issued_count: u64,
    seen_jti: HashSet<String>,
    graph_requests: Vec<RecordedRequest>,
    token_requests: Vec<RecordedTokenRequest>,
}

#[derive(Debug)]
struct Shared {
    config: FakeGraphConfig,
    url: String,
    log: Mutex<Log>,
}

impl Shared {
    fn log(&self) -> MutexGuard<'_, Log> {
        // A test that panicked while holding the lock must not hide its own failure
        // behind a poison error here.
        self.log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running fake Graph and token endpoint; see the [module docs](self).
#[derive(Debug)]
pub struct FakeGraph {
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for FakeGraph {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            // The server may already be gone; nothing to do then.
            let _ = shutdown.send(());
        }
    }
}

impl FakeGraph {
    /// Binds `127.0.0.1:0` and serves until dropped.
    pub async fn start(config: FakeGraphConfig) -> std::io::Result<FakeGraph> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let url = format!("http://{}", listener.local_addr()?);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let listener = {
            let _context = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let shared = Arc::new(Shared {
            config,
            url,
            log: Mutex::new(Log::default()),
        });
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let (shutdown, stop) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("fake-graph".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    tokio::select! {
                        result = axum::serve(listener, app).into_future() => {
                            if let Err(error) = result {
                                tracing::error!(%error, "fake graph server failed");
                            }
                        }
                        _ = stop => {}
                    }
                });
                // Dropping the runtime here (outside any async context) aborts what is in flight.
            })?;
        Ok(FakeGraph {
            shared,
            shutdown: Some(shutdown),
        })
    }

    /// `http://127.0.0.1:PORT`: both `graph_root` and `login_root`.
    pub fn url(&self) -> String {
        self.shared.url.clone()
    }

    /// Custom-cloud endpoints pointing here.
    pub fn endpoints(&self, api_version: ApiVersion) -> Endpoints {
        Endpoints {
            graph_root: self.url(),
            login_root: self.url(),
            api_version,
        }
    }

    /// The token URL of the configured tenant (the `aud` assertions must carry).
    pub fn token_url(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.shared.url, self.shared.config.tenant_id
        )
    }

    /// The configuration.
    pub fn config(&self) -> &FakeGraphConfig {
        &self.shared.config
    }

    /// Queues answers for the next Graph requests, used in order; with the queue empty
    /// the endpoint behaves normally.
    pub fn script_graph(&self, responses: impl IntoIterator<Item = ScriptedResponse>) {
        self.shared.log().graph_script.extend(responses);
    }

    /// Queues answers for the next token requests, used in order; with the queue empty
    /// the endpoint issues tokens normally.
    pub fn script_token(&self, responses: impl IntoIterator<Item = ScriptedResponse>) {
        self.shared.log().token_script.extend(responses);
    }

    /// Delays every unscripted token answer (a slow login endpoint).
    pub fn set_token_delay(&self, delay: Duration) {
        self.shared.log().token_delay = delay;
    }

    /// From now on, Graph refuses every token issued so far with 401.
    pub fn expire_all_tokens(&self) {
        for issued in self.shared.log().issued.values_mut() {
            issued.revoked = true;
        }
    }

    /// How many tokens the fake issued.
    pub fn tokens_issued(&self) -> u64 {
        self.shared.log().issued_count
    }

    /// Every request to the Graph side, in arrival order.
    pub fn graph_requests(&self) -> Vec<RecordedRequest> {
        self.shared.log().graph_requests.clone()
    }

    /// Every token request, in arrival order.
    pub fn token_requests(&self) -> Vec<RecordedTokenRequest> {
        self.shared.log().token_requests.clone()
    }

    /// Bodies of the Graph requests answered 2xx, in order.
    pub fn acknowledged_bodies(&self) -> Vec<String> {
        self.shared
            .log()
            .graph_requests
            .iter()
            .filter(|r| (200..300).contains(&r.status))
            .map(|r| r.body.clone())
            .collect()
    }
}

/// Collects what a tracing subscriber writes, for tests that check logs (e.g. that no
/// secret is in them): `fmt().with_writer(move || buffer.clone())`.
#[derive(Clone, Debug, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A reqwest client for tests on tokio's paused clock: no timeouts and no idle-pool
/// timer. tokio auto-advances a paused clock to the next timer whenever the runtime is
/// idle, which includes waiting for a real socket: any pending timer would fire at once
/// (a timeout) or make the clock race ahead (the pool's idle sweep) during a request.
pub fn paused_clock_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder().pool_idle_timeout(None).build()
}
