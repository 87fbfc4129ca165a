//! Delivery to Graph, by stage (after Vector's HTTP sink): [`GraphPoster`] makes one
//! attempt and classifies the answer; [`Delivery`] drains the spool oldest first, waiting
//! between attempts as [`RetryPolicy`] says, and acknowledges or dead-letters each record.
//!
//! A record is removed from the spool only after a 2xx. A permanent rejection (a 4xx other
//! than 401) moves it to the dead-letter folder with Graph's answer. A failure that is not
//! the record's fault (the token endpoint refuses our credentials, or Graph keeps answering
//! 401 after a fresh token) stops delivery and leaves every record in the spool.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, AUTHORIZATION, CONTENT_TYPE};
use uuid::Uuid;

use crate::retry::{is_retryable_status, parse_retry_after, RetryPolicy};
use crate::settings::GraphSettings;
use crate::spool::{RecordId, Spool, SpoolError};
use crate::token::{AccessToken, TokenError, TokenProvider};

/// Delivery counters, exported as metrics by the daemon.
#[derive(Debug, Default)]
pub struct DeliveryMetrics {
    /// Records acknowledged by Graph.
    pub posted_total: AtomicU64,
    /// Attempts that failed and will be retried.
    pub failed_attempts_total: AtomicU64,
    /// Records rejected permanently (dead-lettered).
    pub dead_lettered_total: AtomicU64,
}

/// What one attempt came to.
#[derive(Debug)]
pub enum Attempt {
    /// 2xx.
    Delivered {
        /// HTTP status.
        status: u16,
        /// Graph's `request-id`.
        request_id: Option<String>,
    },
    /// Try again later.
    Transient {
        /// Why, for the log.
        reason: String,
        /// The server's `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// The record itself was refused: dead-letter it.
    Rejected {
        /// HTTP status.
        status: u16,
        /// Response headers worth keeping.
        headers: Vec<(String, String)>,
        /// Response body.
        body: String,
    },
    /// Not the record's fault and not transient (credentials): stop, keep the records.
    Blocked {
        /// Why.
        reason: String,
    },
}

/// Errors building the HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// reqwest could not build a client.
    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),
}

/// Posts request bodies to Graph's `logTeleconferenceDeviceQuality`.
#[derive(Debug)]
pub struct GraphPoster {
    http: reqwest::Client,
    action_url: String,
    tokens: TokenProvider,
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

impl GraphPoster {
    /// A poster for `settings`, with one HTTP client shared with its token provider.
    pub fn new(
        settings: GraphSettings,
        user_agent: &str,
        request_timeout: Duration,
    ) -> Result<Self, DeliveryError> {
        let http = reqwest::Client::builder()
            .timeout(request_timeout)
            .connect_timeout(request_timeout.min(Duration::from_secs(10)))
            .user_agent(user_agent)
            .build()
            .map_err(DeliveryError::Client)?;
        Ok(Self::with_client(http, settings))
    }

    /// A poster on a given HTTP client (tests on tokio's paused clock pass one without
    /// timers; the client should set the `User-Agent`).
    pub fn with_client(http: reqwest::Client, settings: GraphSettings) -> Self {
        let tokens = TokenProvider::new(
            http.clone(),
            &settings.endpoints,
            &settings.tenant_id,
            &settings.client_id,
            settings.credential,
        );
        GraphPoster {
            http,
            action_url: settings.endpoints.action_url(),
            tokens,
        }
    }

    /// The token provider (for its refresh counter).
    pub fn tokens(&self) -> &TokenProvider {
        &self.tokens
    }

    /// One attempt (plus one immediate retry after a 401 with a fresh token).
    pub async fn attempt(&self, record: &str, body: &[u8]) -> Attempt {
        let token = match self.tokens.token().await {
            Ok(token) => token,
            Err(e) => return token_failure(&e),
        };
        match self.send(record, body, &token).await {
            Attempt::Rejected { status: 401, .. } => {
                tracing::info!(record, "graph answered 401; refreshing the token once");
                let fresh = match self.tokens.refresh_after_unauthorized(&token).await {
                    Ok(fresh) => fresh,
                    Err(e) => return token_failure(&e),
                };
                match self.send(record, body, &fresh).await {
                    Attempt::Rejected {
                        status: 401, body, ..
                    } => Attempt::Blocked {
                        reason: format!(
                            "graph answered 401 with a fresh token: {}",
                            truncate(&body, 300)
                        ),
                    },
                    other => other,
                }
            }
            other => other,
        }
    }

    async fn send(&self, record: &str, body: &[u8], token: &AccessToken) -> Attempt {
        let client_request_id = Uuid::new_v4();
        let result = self
            .http
            .post(&self.action_url)
            .header(AUTHORIZATION, format!("Bearer {}", token.value().expose()))
            .header(CONTENT_TYPE, "application/json")
            .header("client-request-id", client_request_id.to_string())
            .body(body.to_vec())
            .send()
            .await;
        let response = match result {
            Ok(r) => r,
            Err(e) => {
                let kind = if e.is_timeout() {
                    "timed out"
                } else if e.is_connect() {
                    "cannot connect"
                } else {
                    "request failed"
                };
                tracing::warn!(record, %client_request_id, error = %e, "graph {kind}");
                return Attempt::Transient {
                    reason: format!("graph {kind}: {e}"),
                    retry_after: None,
                };
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let request_id = header_str(&headers, "request-id");
        let retry_after = header_str(&headers, "retry-after")
            .and_then(|v| parse_retry_after(&v, SystemTime::now()));
        let text = response.text().await.unwrap_or_default();
        tracing::info!(
            record,
            %client_request_id,
            request_id = request_id.as_deref().unwrap_or("-"),
            status,
            "graph answered"
        );
        if (200..300).contains(&status) {
            return Attempt::Delivered { status, request_id };
        }
        if is_retryable_status(status) {
            return Attempt::Transient {
                reason: format!("graph answered {status}: {}", truncate(&text, 300)),
                retry_after,
            };
        }
        let keep = ["request-id", "client-request-id", "date", "content-type"];
        Attempt::Rejected {
            status,
            headers: keep
                .iter()
                .filter_map(|name| header_str(&headers, name).map(|v| ((*name).to_owned(), v)))
                .collect(),
            body: text,
        }
    }
}

/// A token that could not be had: retried later, or delivery is blocked (credentials).
fn token_failure(e: &TokenError) -> Attempt {
    let cause = crate::errors::chain(e);
    if e.is_retryable() {
        Attempt::Transient {
            reason: format!("token endpoint: {cause}"),
            retry_after: e.retry_after(),
        }
    } else {
        Attempt::Blocked {
            reason: format!("token endpoint refused the credentials: {cause}"),
        }
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// What a drain came to.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Records acknowledged by Graph.
    pub delivered: usize,
    /// Records dead-lettered.
    pub dead_lettered: usize,
    /// Records still in the spool.
    pub remaining: usize,
    /// Set when delivery stopped on a failure that retrying cannot fix.
    pub blocked: Option<String>,
    /// Set when the deadline passed with records left.
    pub timed_out: bool,
}

/// Drains the spool to Graph.
#[derive(Debug)]
pub struct Delivery {
    poster: GraphPoster,
    policy: RetryPolicy,
    rng: fastrand::Rng,
    metrics: Arc<DeliveryMetrics>,
}

impl Delivery {
    /// A new delivery stage.
    pub fn new(poster: GraphPoster, policy: RetryPolicy, metrics: Arc<DeliveryMetrics>) -> Self {
        Delivery {
            poster,
            policy,
            rng: fastrand::Rng::new(),
            metrics,
        }
    }

    /// The poster.
    pub fn poster(&self) -> &GraphPoster {
        &self.poster
    }

    /// Delivers every pending record, oldest first, until the spool is empty, `deadline`
    /// passes (tokio time), or delivery is blocked. Transient failures are retried with
    /// backoff; the record at the head waits, so records arrive in order.
    pub async fn drain(
        &mut self,
        spool: &Mutex<Spool>,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<DrainReport, SpoolError> {
        // The spool is locked only around its own (synchronous) operations, never across
        // an HTTP request or a wait: the daemon enqueues new records meanwhile, and a
        // task aborted at an await point leaves the spool consistent.
        let lock = || {
            spool
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        let mut report = DrainReport::default();
        let mut failures = 0u32;
        loop {
            let (id, body) = {
                let mut spool = lock();
                spool.expire(SystemTime::now());
                let Some(next) = spool.pending().into_iter().next() else {
                    break;
                };
                let id: RecordId = next.id.clone();
                match spool.read(&id) {
                    Ok(body) => (id, body),
                    // A corrupt record was moved aside (and logged) by the spool: go on.
                    Err(SpoolError::Corrupt { .. }) => continue,
                    Err(e) => return Err(e),
                }
            };
            let name = id.to_string();
            match self.poster.attempt(&name, &body).await {
                Attempt::Delivered { .. } => {
                    lock().acknowledge(&id)?;
                    self.metrics.posted_total.fetch_add(1, Ordering::Relaxed);
                    report.delivered += 1;
                    failures = 0;
                }
                Attempt::Rejected {
                    status,
                    headers,
                    body,
                } => {
                    tracing::error!(record = %name, status, response = truncate(&body, 500), "graph rejected the record; moved to the dead-letter folder");
                    lock().dead_letter(&id, status, &headers, &body, SystemTime::now())?;
                    self.metrics
                        .dead_lettered_total
                        .fetch_add(1, Ordering::Relaxed);
                    report.dead_lettered += 1;
                    failures = 0;
                }
                Attempt::Blocked { reason } => {
                    tracing::error!(record = %name, %reason, "delivery stopped; records stay in the spool");
                    report.blocked = Some(reason);
                    break;
                }
                Attempt::Transient {
                    reason,
                    retry_after,
                } => {
                    failures += 1;
                    self.metrics
                        .failed_attempts_total
                        .fetch_add(1, Ordering::Relaxed);
                    let wait = self.policy.delay(failures, retry_after, &mut self.rng);
                    tracing::warn!(record = %name, %reason, attempt = failures, wait_ms = wait.as_millis() as u64, "delivery failed; will retry");
                    let wake = tokio::time::Instant::now() + wait;
                    if deadline.is_some_and(|d| wake > d) {
                        report.timed_out = true;
                        break;
                    }
                    tokio::time::sleep_until(wake).await;
                }
            }
        }
        report.remaining = lock().pending().len();
        Ok(report)
    }

    /// The delivery counters.
    pub fn metrics(&self) -> &Arc<DeliveryMetrics> {
        &self.metrics
    }
}

/// Writes one record into the file sink durably: a temporary file, fsync, rename, fsync of
/// the folder. Returns the file's path.
pub fn write_record_file(
    dir: &std::path::Path,
    body: &[u8],
    now: SystemTime,
) -> std::io::Result<std::path::PathBuf> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let millis = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let name = format!("{millis:015}-{}.json", Uuid::new_v4());
    let tmp = dir.join(format!(".{name}.tmp"));
    let path = dir.join(&name);
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(body)?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(path)
}
