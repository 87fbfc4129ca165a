//! Access tokens for Graph: the OAuth2 client-credentials grant against the Microsoft
//! identity platform v2.0 token endpoint, with a client secret or a certificate (a signed
//! JWT client assertion).
//!
//! [`TokenProvider`] caches one token, refreshes it ahead of expiry and makes concurrent
//! callers share one refresh. Every secret involved (client secret, private key, client
//! assertion, access token) stays out of `Debug`, `Display`, logs and error messages.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use reqwest::header::{ACCEPT, RETRY_AFTER};
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::cloud::Endpoints;
use crate::retry::parse_retry_after;
use crate::secret::Secret;

mod credential;

pub use credential::{CertificateCredential, Credential, CredentialError, JwtAlgorithm};

/// Refresh this long before expiry (or after half the lifetime, if that is sooner), so a
/// token never expires between being handed out and reaching Graph.
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// When a refresh fails, a cached token is still handed out if it is valid at least this
/// much longer (it may be on the wire for a while).
const FALLBACK_MIN_VALIDITY: Duration = Duration::from_secs(30);

/// The `client_assertion_type` of a JWT client assertion (RFC 7523).
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Longest token lifetime believed: an absurd `expires_in` must not overflow `Instant`
/// arithmetic (Entra ID tokens live at most a day).
const MAX_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// Error bodies quoted in messages are cut to this many characters.
const MAX_QUOTED_BODY: usize = 300;

/// An access token and when it expires. `Debug` shows only the remaining lifetime.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    value: Secret,
    expires_at: Instant,
    refresh_at: Instant,
}

impl AccessToken {
    /// A token valid until `expires_at`; it is due for refresh 5 minutes before that, or
    /// after half its remaining lifetime if that is sooner.
    pub fn new(value: Secret, expires_at: Instant) -> Self {
        let now = Instant::now();
        let lifetime = expires_at.saturating_duration_since(now);
        Self::issued(value, now, lifetime)
    }

    fn issued(value: Secret, now: Instant, lifetime: Duration) -> Self {
        let lifetime = lifetime.min(MAX_LIFETIME);
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        let expires_at = now + lifetime;
        AccessToken {
            value,
            expires_at,
            refresh_at: expires_at - margin,
        }
    }

    /// The bearer token, for the `Authorization` header.
    pub fn value(&self) -> &Secret {
        &self.value
    }

    /// When the token expires (tokio time).
    pub fn expires_at(&self) -> Instant {
        self.expires_at
    }

    /// Whether the token is due for refresh at `now`.
    pub fn needs_refresh(&self, now: Instant) -> bool {
        now >= self.refresh_at
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &self.value)
            .field(
                "expires_in",
                &self.expires_at.saturating_duration_since(Instant::now()),
            )
            .finish()
    }
}

/// What the token endpoint said when it refused: Entra ID's (AAD's) error fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AadError {
    /// OAuth2 `error`, e.g. `invalid_client`.
    pub error: Option<String>,
    /// First line of `error_description`, e.g. `AADSTS7000215: Invalid client secret
    /// provided. ...` (or the start of a non-JSON body).
    pub description: Option<String>,
    /// `trace_id`, for Microsoft support.
    pub trace_id: Option<String>,
    /// `correlation_id`, for Microsoft support.
    pub correlation_id: Option<String>,
}

impl fmt::Display for AadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.error, &self.description) {
            (Some(error), Some(description)) => write!(f, "{error}: {description}")?,
            (Some(one), None) | (None, Some(one)) => f.write_str(one)?,
            (None, None) => f.write_str("no error details")?,
        }
        if let Some(trace_id) = &self.trace_id {
            write!(f, " (trace_id {trace_id}")?;
            if let Some(correlation_id) = &self.correlation_id {
                write!(f, ", correlation_id {correlation_id}")?;
            }
            f.write_str(")")?;
        } else if let Some(correlation_id) = &self.correlation_id {
            write!(f, " (correlation_id {correlation_id})")?;
        }
        Ok(())
    }
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

impl AadError {
    /// Reads an error body (already scrubbed of our secrets).
    fn parse(body: &str) -> AadError {
        let field = |v: &Value, name: &str| v.get(name).and_then(Value::as_str).map(str::to_owned);
        match serde_json::from_str::<Value>(body) {
            Ok(v) if v.is_object() => AadError {
                error: field(&v, "error"),
                // AAD appends "Trace ID: ... Correlation ID: ... Timestamp: ..." on further
                // lines; the ids are kept separately.
                description: field(&v, "error_description").and_then(|d| {
                    d.lines()
                        .next()
                        .map(|l| truncate(l.trim(), MAX_QUOTED_BODY).to_owned())
                }),
                trace_id: field(&v, "trace_id"),
                correlation_id: field(&v, "correlation_id"),
            },
            _ => {
                let text = truncate(body.trim(), MAX_QUOTED_BODY);
                AadError {
                    description: (!text.is_empty()).then(|| text.to_owned()),
                    ..AadError::default()
                }
            }
        }
    }
}

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// No answer: connection refused or reset, DNS, TLS, timeout.
    #[error("cannot reach the token endpoint: {detail}")]
    Transport {
        /// The error and its causes.
        detail: String,
        /// True when the request could not even be built (a bad URL): not retryable.
        invalid_request: bool,
    },
    /// The endpoint cannot answer now: 408, 429 or 5xx.
    #[error("token endpoint answered {status}: {aad}")]
    Unavailable {
        /// HTTP status.
        status: u16,
        /// Error details, if any.
        aad: AadError,
        /// The server's `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// The endpoint refused the request (400 and 401 with `invalid_client`,
    /// `unauthorized_client`, `invalid_scope`, AADSTS codes ...); retrying cannot help.
    #[error("token endpoint refused the request with {status}: {aad}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// AAD's error fields.
        aad: AadError,
    },
    /// A 2xx answer that is not a usable token response (a proxy in the way?).
    #[error("token endpoint answer is not a usable token response: {0}")]
    Malformed(&'static str),
    /// The client assertion could not be made.
    #[error(transparent)]
    Credential(#[from] CredentialError),
}

impl TokenError {
    /// Whether trying again later may succeed: connection errors, timeouts, 408, 429, 5xx
    /// and malformed answers are transient; refusals and credential errors are not.
    pub fn is_retryable(&self) -> bool {
        match self {
            TokenError::Transport {
                invalid_request, ..
            } => !invalid_request,
            TokenError::Unavailable { .. } | TokenError::Malformed(_) => true,
            TokenError::Rejected { .. } | TokenError::Credential(_) => false,
        }
    }

    /// How long the token endpoint asked us to wait (`Retry-After`, seconds or HTTP date).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            TokenError::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// AAD's error fields, when the endpoint answered with an error.
    pub fn aad(&self) -> Option<&AadError> {
        match self {
            TokenError::Unavailable { aad, .. } | TokenError::Rejected { aad, .. } => Some(aad),
            _ => None,
        }
    }
}

/// A value as `application/x-www-form-urlencoded` spells it: the encoder reqwest's
/// `.form()` uses, so the result is exactly what the request body carries.
fn form_encoded(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Replaces every occurrence of the secrets (raw and form-encoded) in a server's answer,
/// in case something in the way echoes the request.
fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut text = text.to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        text = text
            .replace(secret, "[redacted]")
            .replace(&form_encoded(secret), "[redacted]");
    }
    text
}

fn parse_expires_in(value: Option<&Value>) -> Option<Duration> {
    let seconds = match value? {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().map(|f| f.max(0.0) as u64))?,
        // Some endpoints (ADFS, older AAD) send it as a string.
        Value::String(s) => s.trim().parse::<u64>().ok()?,
        _ => return None,
    };
    Some(Duration::from_secs(seconds))
}

/// Gets and caches access tokens for one application in one tenant.
pub struct TokenProvider {
    http: reqwest::Client,
    token_url: String,
    scope: String,
    client_id: String,
    credential: Credential,
    cache: Mutex<Option<AccessToken>>,
    refreshes: AtomicU64,
}

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenProvider")
            .field("token_url", &self.token_url)
            .field("scope", &self.scope)
            .field("client_id", &self.client_id)
            .field("credential", &self.credential)
            .field("refresh_count", &self.refresh_count())
            .finish_non_exhaustive()
    }
}

impl TokenProvider {
    /// A provider for `client_id` in `tenant_id`, asking the token endpoint of `endpoints`
    /// for the scope `{graph_root}/.default`. `http` should carry the request timeout.
    pub fn new(
        http: reqwest::Client,
        endpoints: &Endpoints,
        tenant_id: &str,
        client_id: &str,
        credential: Credential,
    ) -> Self {
        TokenProvider {
            http,
            token_url: endpoints.token_url(tenant_id),
            scope: endpoints.scope(),
            client_id: client_id.to_owned(),
            credential,
            cache: Mutex::new(None),
            refreshes: AtomicU64::new(0),
        }
    }

    /// The token endpoint.
    pub fn token_url(&self) -> &str {
        &self.token_url
    }

    /// A valid token: the cached one unless it is due for refresh (5 minutes before
    /// expiry, or after half its lifetime if that is sooner), else a new one. Concurrent
    /// callers share one refresh. If a refresh fails while the cached token is still valid
    /// for a while, the cached token is returned (and the next call tries again).
    pub async fn token(&self) -> Result<AccessToken, TokenError> {
        // Held across the fetch: whoever comes second finds the fresh token when it gets
        // the lock.
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.as_ref().filter(|t| !t.needs_refresh(Instant::now())) {
            return Ok(cached.clone());
        }
        match self.fetch().await {
            Ok(fresh) => {
                *cache = Some(fresh.clone());
                Ok(fresh)
            }
            Err(error) => {
                let still_valid = cache
                    .as_ref()
                    .filter(|t| t.expires_at > Instant::now() + FALLBACK_MIN_VALIDITY);
                if let Some(cached) = still_valid {
                    tracing::warn!(
                        error = %error,
                        expires_in_s = cached.expires_at.saturating_duration_since(Instant::now()).as_secs(),
                        "token refresh failed; using the cached token until it expires"
                    );
                    return Ok(cached.clone());
                }
                Err(error)
            }
        }
    }

    /// After Graph answered 401 for `rejected`: if the cache still holds that token, drop
    /// it and fetch a new one; if another task already replaced it, return the newer
    /// token. So N concurrent 401s cause one refresh.
    pub async fn refresh_after_unauthorized(
        &self,
        rejected: &AccessToken,
    ) -> Result<AccessToken, TokenError> {
        let mut cache = self.cache.lock().await;
        match cache.as_ref() {
            Some(current) if current.value == rejected.value => *cache = None,
            Some(current) if !current.needs_refresh(Instant::now()) => return Ok(current.clone()),
            _ => {}
        }
        let fresh = self.fetch().await?;
        *cache = Some(fresh.clone());
        Ok(fresh)
    }

    /// How many token requests succeeded (the token-refresh metric).
    pub fn refresh_count(&self) -> u64 {
        self.refreshes.load(Ordering::Relaxed)
    }

    async fn fetch(&self) -> Result<AccessToken, TokenError> {
        let result = self.request().await;
        match &result {
            Ok(token) => {
                let count = self.refreshes.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::info!(
                    token_url = %self.token_url,
                    client_id = %self.client_id,
                    credential = self.credential.kind(),
                    outcome = "ok",
                    expires_in_s = token.expires_at.saturating_duration_since(Instant::now()).as_secs(),
                    refreshes = count,
                    "access token fetched"
                );
            }
            Err(error) => {
                tracing::warn!(
                    token_url = %self.token_url,
                    client_id = %self.client_id,
                    credential = self.credential.kind(),
                    outcome = "error",
                    retryable = error.is_retryable(),
                    error = %crate::errors::chain(error),
                    "access token request failed"
                );
            }
        }
        result
    }

    async fn request(&self) -> Result<AccessToken, TokenError> {
        // Lifetime counts from before the request: a slow answer makes us refresh early,
        // never late.
        let started = Instant::now();
        let assertion;
        let mut fields = vec![
            ("client_id", self.client_id.as_str()),
            ("scope", self.scope.as_str()),
            ("grant_type", "client_credentials"),
        ];
        match &self.credential {
            Credential::Secret(secret) => fields.push(("client_secret", secret.expose())),
            Credential::Certificate(certificate) => {
                // Entra ID checks the assertion against its own clock, so wall time it is.
                let now_unix = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or_default();
                assertion = certificate.assertion(&self.client_id, &self.token_url, now_unix)?;
                fields.push(("client_assertion_type", JWT_BEARER));
                fields.push(("client_assertion", assertion.expose()));
            }
        }
        let secrets: Vec<&str> = fields
            .iter()
            .filter(|(name, _)| matches!(*name, "client_secret" | "client_assertion"))
            .map(|(_, value)| *value)
            .collect();
        let response = self
            .http
            .post(&self.token_url)
            .header(ACCEPT, "application/json")
            .form(&fields)
            .send()
            .await
            .map_err(|e| TokenError::Transport {
                detail: crate::errors::chain(&e),
                invalid_request: e.is_builder(),
            })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let text = response.text().await.map_err(|e| TokenError::Transport {
            detail: crate::errors::chain(&e),
            invalid_request: false,
        })?;
        if !(200..300).contains(&status) {
            let aad = AadError::parse(&scrub(&text, &secrets));
            return Err(if matches!(status, 408 | 429 | 500..=599) {
                TokenError::Unavailable {
                    status,
                    aad,
                    retry_after,
                }
            } else {
                TokenError::Rejected { status, aad }
            });
        }
        let body: Value =
            serde_json::from_str(&text).map_err(|_| TokenError::Malformed("not JSON"))?;
        if let Some(token_type) = body.get("token_type").and_then(Value::as_str) {
            if !token_type.eq_ignore_ascii_case("bearer") {
                return Err(TokenError::Malformed("token_type is not Bearer"));
            }
        }
        let value = body
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .ok_or(TokenError::Malformed("no access_token"))?;
        let lifetime = parse_expires_in(body.get("expires_in"))
            .ok_or(TokenError::Malformed("no valid expires_in"))?;
        Ok(AccessToken::issued(Secret::new(value), started, lifetime))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scrubbing_knows_the_form_encoding_the_request_uses() {
        // What `.form()` puts on the wire for a secret full of reserved characters is
        // exactly what `scrub` looks for, so an echoed request body is redacted too.
        let secret = "a+b=c&d%é ~/x";
        let request = reqwest::Client::new()
            .post("http://127.0.0.1/token")
            .form(&[("client_id", "c"), ("client_secret", secret)])
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            request
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some("application/x-www-form-urlencoded")
        );
        let body = request
            .body()
            .and_then(reqwest::Body::as_bytes)
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        assert_eq!(
            body,
            format!("client_id=c&client_secret={}", form_encoded(secret))
        );
        assert!(!body.contains(secret));
        assert_eq!(
            scrub(&format!("echo: {body}"), &[secret]),
            "echo: client_id=c&client_secret=[redacted]"
        );
    }

    #[test]
    fn scrub_removes_raw_and_encoded_secrets() {
        let text = scrub("echo: s3cr=t/x and s3cr%3Dt%2Fx", &["s3cr=t/x", ""]);
        assert_eq!(text, "echo: [redacted] and [redacted]");
    }

    #[test]
    fn expires_in_as_number_or_string() {
        assert_eq!(
            parse_expires_in(Some(&json!(3599))),
            Some(Duration::from_secs(3599))
        );
        assert_eq!(
            parse_expires_in(Some(&json!("3599"))),
            Some(Duration::from_secs(3599))
        );
        assert_eq!(
            parse_expires_in(Some(&json!(12.7))),
            Some(Duration::from_secs(12))
        );
        assert_eq!(parse_expires_in(Some(&json!("soon"))), None);
        assert_eq!(parse_expires_in(None), None);
        let huge = parse_expires_in(Some(&json!(u64::MAX))).unwrap_or_default();
        let token = AccessToken::issued(Secret::new("x"), Instant::now(), huge);
        assert!(token.expires_at() <= Instant::now() + MAX_LIFETIME);
    }

    #[test]
    fn refresh_margin_is_five_minutes_or_half_the_lifetime() {
        let now = Instant::now();
        let long = AccessToken::issued(Secret::new("a"), now, Duration::from_secs(3600));
        assert!(!long.needs_refresh(now + Duration::from_secs(3299)));
        assert!(long.needs_refresh(now + Duration::from_secs(3300)));
        let short = AccessToken::issued(Secret::new("b"), now, Duration::from_secs(120));
        assert!(!short.needs_refresh(now + Duration::from_secs(59)));
        assert!(short.needs_refresh(now + Duration::from_secs(60)));
        let via_new = AccessToken::new(Secret::new("c"), now + Duration::from_secs(3600));
        assert_eq!(via_new, long.clone_with_value("c"));
    }

    impl AccessToken {
        fn clone_with_value(&self, value: &str) -> AccessToken {
            AccessToken {
                value: Secret::new(value),
                ..self.clone()
            }
        }
    }

    fn closed_port_endpoints() -> Endpoints {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let url = format!(
            "http://{}",
            listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
        );
        drop(listener);
        Endpoints {
            graph_root: url.clone(),
            login_root: url,
            api_version: crate::cloud::ApiVersion::V1,
        }
    }

    #[tokio::test]
    async fn a_failed_refresh_hands_out_the_still_valid_token() {
        let provider = TokenProvider::new(
            reqwest::Client::new(),
            &closed_port_endpoints(),
            "t",
            "c",
            Credential::Secret(Secret::new("s")),
        );
        let now = Instant::now();
        let due = AccessToken {
            value: Secret::new("cached"),
            expires_at: now + Duration::from_secs(200),
            refresh_at: now,
        };
        *provider.cache.lock().await = Some(due.clone());
        assert_eq!(provider.token().await.ok(), Some(due.clone()));
        // Too close to expiry to be worth handing out.
        let nearly = AccessToken {
            expires_at: now + Duration::from_secs(10),
            ..due.clone()
        };
        *provider.cache.lock().await = Some(nearly);
        let error = provider.token().await.err();
        assert!(
            error.as_ref().is_some_and(TokenError::is_retryable),
            "{error:?}"
        );
        // A token Graph refused is never handed out again.
        *provider.cache.lock().await = Some(due.clone());
        assert!(provider.refresh_after_unauthorized(&due).await.is_err());
        assert_eq!(*provider.cache.lock().await, None);
        // Another task's fresh token is returned without a fetch.
        let other = AccessToken::issued(Secret::new("other"), now, Duration::from_secs(3600));
        *provider.cache.lock().await = Some(other.clone());
        assert_eq!(
            provider.refresh_after_unauthorized(&due).await.ok(),
            Some(other)
        );
        assert_eq!(provider.refresh_count(), 0);
    }

    #[test]
    fn aad_errors_keep_codes_and_ids() {
        let aad = AadError::parse(
            r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x\r\nCorrelation ID: y","trace_id":"t-1","correlation_id":"c-1"}"#,
        );
        assert_eq!(
            aad.to_string(),
            "invalid_client: AADSTS7000215: Invalid client secret provided. (trace_id t-1, correlation_id c-1)"
        );
        assert_eq!(
            AadError::parse("<html>bad gateway</html>").to_string(),
            "<html>bad gateway</html>"
        );
        assert_eq!(AadError::parse("").to_string(), "no error details");
    }
}
