//! Token provider against the fake Graph/token endpoint, over real HTTP on 127.0.0.1.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::json;
use vtcq_reporter::cloud::ApiVersion;
use vtcq_reporter::secret::Secret;
use vtcq_reporter::testing::{FakeGraph, FakeGraphConfig, LogBuffer, ScriptedResponse};
use vtcq_reporter::token::{
    AccessToken, CertificateCredential, Credential, JwtAlgorithm, TokenError, TokenProvider,
};

const TENANT: &str = "contoso-tenant";
const CLIENT: &str = "11111111-2222-3333-4444-555555555555";
const SECRET: &str = "s3cret~value.with/odd+chars=&";

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn fixture(name: &str) -> Vec<u8> {
    let path = fixture_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn certificate(algorithm: JwtAlgorithm) -> CertificateCredential {
    CertificateCredential::from_pem_files(
        &fixture_path("test-cert.pem"),
        Some(&fixture_path("test-key.pem")),
        algorithm,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

async fn secret_server() -> FakeGraph {
    FakeGraph::start(FakeGraphConfig::with_secret(TENANT, CLIENT, SECRET))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn certificate_server() -> FakeGraph {
    let certificate_der = certificate(JwtAlgorithm::Ps256).certificate_der().to_vec();
    FakeGraph::start(FakeGraphConfig::with_certificate(
        TENANT,
        CLIENT,
        fixture("test-pubkey-pkcs1.der"),
        certificate_der,
    ))
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

fn provider_with(fake: &FakeGraph, http: reqwest::Client, credential: Credential) -> TokenProvider {
    TokenProvider::new(
        http,
        &fake.endpoints(ApiVersion::V1),
        TENANT,
        CLIENT,
        credential,
    )
}

fn secret_provider(fake: &FakeGraph, secret: &str) -> TokenProvider {
    provider_with(
        fake,
        reqwest::Client::new(),
        Credential::Secret(Secret::new(secret)),
    )
}

async fn must(provider: &TokenProvider) -> AccessToken {
    provider.token().await.unwrap_or_else(|e| panic!("{e}"))
}

async fn post_quality(fake: &FakeGraph, token: Option<&AccessToken>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(fake.endpoints(ApiVersion::V1).action_url())
        .header("content-type", "application/json")
        .header("client-request-id", "crid-1")
        .body(json!({"quality": {"callChainId": "x"}}).to_string());
    if let Some(token) = token {
        request = request.bearer_auth(token.value().expose());
    }
    request.send().await.unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn secret_flow_fetches_a_token_graph_accepts() {
    let fake = secret_server().await;
    let provider = secret_provider(&fake, SECRET);
    let token = must(&provider).await;
    assert!(token.value().expose().starts_with("fake-token-1-"));
    assert_eq!(provider.refresh_count(), 1);

    let requests = fake.token_requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.path, format!("/{TENANT}/oauth2/v2.0/token"));
    assert_eq!(request.field("grant_type"), Some("client_credentials"));
    assert_eq!(request.field("client_id"), Some(CLIENT));
    assert_eq!(
        request.field("scope"),
        Some(format!("{}/.default", fake.url()).as_str())
    );
    assert_eq!(
        request.field("client_secret"),
        Some(SECRET),
        "the percent-encoding round-trips"
    );
    assert_eq!(request.field("client_assertion"), None);
    assert!(request.credential_valid);

    let response = post_quality(&fake, Some(&token)).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("request-id"));
    assert_eq!(
        response
            .headers()
            .get("client-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("crid-1")
    );
    assert_eq!(fake.acknowledged_bodies().len(), 1);
    let graph = fake.graph_requests();
    assert_eq!(
        graph[0].header("Authorization"),
        Some(format!("Bearer {}", token.value().expose()).as_str())
    );
}

#[tokio::test]
async fn certificate_flows_sign_assertions_the_server_verifies() {
    let fake = certificate_server().await;
    let cases = [
        (
            JwtAlgorithm::Ps256,
            "test-cert.pem",
            Some("test-key.pem"),
            "x5t#S256",
        ),
        (
            JwtAlgorithm::Ps256,
            "test-cert.pem",
            Some("test-key-pkcs1.pem"),
            "x5t#S256",
        ),
        (JwtAlgorithm::Ps256, "test-combined.pem", None, "x5t#S256"),
        (
            JwtAlgorithm::Rs256,
            "test-cert.pem",
            Some("test-key.pem"),
            "x5t",
        ),
        (
            JwtAlgorithm::Rs256,
            "test-cert.pem",
            Some("test-key-pkcs1.pem"),
            "x5t",
        ),
        (JwtAlgorithm::Rs256, "test-combined.pem", None, "x5t"),
    ];
    for (i, (algorithm, cert, key, thumbprint)) in cases.into_iter().enumerate() {
        let key_path = key.map(fixture_path);
        let credential = CertificateCredential::from_pem_files(
            &fixture_path(cert),
            key_path.as_deref(),
            algorithm,
        )
        .unwrap_or_else(|e| panic!("{cert} {key:?}: {e}"));
        let provider = provider_with(
            &fake,
            reqwest::Client::new(),
            Credential::Certificate(credential),
        );
        let token = provider
            .token()
            .await
            .unwrap_or_else(|e| panic!("{algorithm:?} {cert} {key:?}: {e}"));
        assert_eq!(post_quality(&fake, Some(&token)).await.status(), 200);

        let requests = fake.token_requests();
        let request = &requests[i];
        assert!(request.credential_valid, "{request:?}");
        assert_eq!(
            request.field("client_assertion_type"),
            Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
        );
        assert_eq!(request.field("client_secret"), None);
        let header = request.assertion_header.clone().unwrap_or_default();
        assert_eq!(header["alg"], algorithm.as_str());
        assert!(header.get(thumbprint).is_some(), "{header}");
        let claims = request.assertion_claims.clone().unwrap_or_default();
        assert_eq!(claims["aud"], fake.token_url());
        assert_eq!(claims["iss"], CLIENT);
        assert_eq!(claims["sub"], CLIENT);
        let exp = claims["exp"].as_u64().unwrap_or_default();
        let nbf = claims["nbf"].as_u64().unwrap_or_default();
        assert_eq!(exp - nbf, 600);
    }
    assert_eq!(fake.tokens_issued(), 6);
}

#[tokio::test]
async fn an_assertion_for_another_certificate_is_refused() {
    let mut config = FakeGraphConfig::with_certificate(
        TENANT,
        CLIENT,
        fixture("test-pubkey-pkcs1.der"),
        b"other".to_vec(),
    );
    config.token_lifetime = Duration::from_secs(600);
    let fake = FakeGraph::start(config)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let provider = provider_with(
        &fake,
        reqwest::Client::new(),
        Credential::Certificate(certificate(JwtAlgorithm::Ps256)),
    );
    let error = provider
        .token()
        .await
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert!(!error.is_retryable());
    let message = error.to_string();
    assert!(
        message.contains("invalid_client") && message.contains("AADSTS700027"),
        "{message}"
    );
    let recorded = &fake.token_requests()[0];
    assert!(!recorded.credential_valid);
    let assertion = recorded.field("client_assertion").unwrap_or_default();
    assert!(!assertion.is_empty() && !message.contains(assertion));
}

#[tokio::test]
async fn a_token_is_cached_and_reused() {
    let fake = secret_server().await;
    let provider = secret_provider(&fake, SECRET);
    let first = must(&provider).await;
    for _ in 0..5 {
        assert_eq!(must(&provider).await, first);
    }
    assert_eq!(fake.token_requests().len(), 1);
    assert_eq!(provider.refresh_count(), 1);
}

// Real time, not tokio's paused clock: the workspace does not enable tokio's `test-util`.
// The margin arithmetic (5 minutes, or half the lifetime) has unit tests in token.rs.
#[tokio::test]
async fn refreshes_ahead_of_expiry() {
    let mut config = FakeGraphConfig::with_secret(TENANT, CLIENT, SECRET);
    config.token_lifetime = Duration::from_secs(2); // refresh after half of it: 1 s
    let fake = FakeGraph::start(config)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let provider = secret_provider(&fake, SECRET);

    let before = tokio::time::Instant::now();
    let first = must(&provider).await;
    // The lifetime counts from when the request was sent.
    let lifetime = first.expires_at() - before;
    assert!(
        lifetime >= Duration::from_secs(2) && lifetime < Duration::from_millis(2500),
        "{lifetime:?}"
    );
    let expires_at = first.expires_at();
    assert!(!first.needs_refresh(expires_at - Duration::from_millis(1001)));
    assert!(first.needs_refresh(expires_at - Duration::from_millis(1000)));
    assert_eq!(must(&provider).await, first);
    assert_eq!(fake.token_requests().len(), 1);

    tokio::time::sleep_until(expires_at - Duration::from_millis(950)).await;
    let second = must(&provider).await;
    assert_ne!(second, first);
    assert_eq!(provider.refresh_count(), 2);
    assert_eq!(must(&provider).await, second);
    assert_eq!(post_quality(&fake, Some(&second)).await.status(), 200);
    // The fake enforces the lifetime it announced.
    tokio::time::sleep_until(expires_at + Duration::from_millis(100)).await;
    assert_eq!(post_quality(&fake, Some(&first)).await.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_share_one_fetch() {
    let fake = secret_server().await;
    fake.set_token_delay(Duration::from_millis(200));
    let provider = Arc::new(secret_provider(&fake, SECRET));
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let provider = Arc::clone(&provider);
            tokio::spawn(async move { provider.token().await.map_err(|e| e.to_string()) })
        })
        .collect();
    let mut tokens = Vec::new();
    for task in tasks {
        tokens.push(
            task.await
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|e| panic!("{e}")),
        );
    }
    assert!(tokens.iter().all(|t| *t == tokens[0]));
    assert_eq!(fake.token_requests().len(), 1);
    assert_eq!(provider.refresh_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_unauthorized_refreshes_fetch_once() {
    let fake = secret_server().await;
    let provider = Arc::new(secret_provider(&fake, SECRET));
    let rejected = must(&provider).await;
    fake.expire_all_tokens();
    let response = post_quality(&fake, Some(&rejected)).await;
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");

    fake.set_token_delay(Duration::from_millis(200));
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let provider = Arc::clone(&provider);
            let rejected = rejected.clone();
            tokio::spawn(async move {
                provider
                    .refresh_after_unauthorized(&rejected)
                    .await
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    let mut fresh = Vec::new();
    for task in tasks {
        fresh.push(
            task.await
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|e| panic!("{e}")),
        );
    }
    assert!(fresh.iter().all(|t| *t == fresh[0]));
    assert_ne!(fresh[0], rejected);
    assert_eq!(fake.token_requests().len(), 2);
    assert_eq!(provider.refresh_count(), 2);
    assert_eq!(must(&provider).await, fresh[0]);
    assert_eq!(post_quality(&fake, Some(&fresh[0])).await.status(), 200);
}

#[tokio::test]
async fn a_wrong_secret_is_a_permanent_error_with_aad_details() {
    let fake = secret_server().await;
    let wrong = "not-the-secret-1234";
    let provider = secret_provider(&fake, wrong);
    let error = provider
        .token()
        .await
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert!(!error.is_retryable());
    assert_eq!(error.retry_after(), None);
    assert!(
        matches!(error, TokenError::Rejected { status: 401, .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("invalid_client"), "{message}");
    assert!(message.contains("AADSTS7000215"), "{message}");
    assert!(
        message.contains("trace_id") && message.contains("correlation_id"),
        "{message}"
    );
    assert!(!message.contains(wrong) && !format!("{error:?}").contains(wrong));
    assert_eq!(
        error.aad().and_then(|a| a.error.as_deref()),
        Some("invalid_client")
    );
    assert_eq!(provider.refresh_count(), 0);
    assert!(!fake.token_requests()[0].credential_valid);
}

#[tokio::test]
async fn other_refusals_are_permanent_too() {
    let fake = secret_server().await;
    // Wrong tenant.
    let other_tenant = TokenProvider::new(
        reqwest::Client::new(),
        &fake.endpoints(ApiVersion::V1),
        "other-tenant",
        CLIENT,
        Credential::Secret(Secret::new(SECRET)),
    );
    let error = other_tenant
        .token()
        .await
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert!(
        !error.is_retryable() && error.to_string().contains("AADSTS90002"),
        "{error}"
    );
    // Unknown application.
    let other_client = TokenProvider::new(
        reqwest::Client::new(),
        &fake.endpoints(ApiVersion::V1),
        TENANT,
        "someone-else",
        Credential::Secret(Secret::new(SECRET)),
    );
    let error = other_client
        .token()
        .await
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert!(
        !error.is_retryable() && error.to_string().contains("unauthorized_client"),
        "{error}"
    );
}

#[tokio::test]
async fn throttling_and_outages_are_retryable_with_retry_after() {
    let fake = secret_server().await;
    let provider = secret_provider(&fake, SECRET);
    let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
    fake.script_token([
        ScriptedResponse::json(
            503,
            &json!({"error": "temporarily_unavailable", "error_description": "AADSTS90033: A transient error has occurred."}),
        )
        .header("Retry-After", "7"),
        ScriptedResponse::status(429).header("Retry-After", &later),
        ScriptedResponse::status(500),
        ScriptedResponse::status(408),
    ]);

    let error = provider
        .token()
        .await
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert!(error.is_retryable(), "{error}");
    assert_eq!(error.retry_after(), Some(Duration::from_secs(7)));
    assert!(
        error.to_string().contains("503") && error.to_string().contains("AADSTS90033"),
        "{error}"
    );

    let error = provider
        .token()
        .await
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert!(error.is_retryable(), "{error}");
    let wait = error.retry_after().unwrap_or_default();
    assert!(
        wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
        "{wait:?}"
    );

    for status in [500, 408] {
        let error = provider
            .token()
            .await
            .err()
            .unwrap_or_else(|| panic!("accepted"));
        assert!(
            error.is_retryable() && error.retry_after().is_none(),
            "{status}: {error}"
        );
    }
    // The script is used up: the endpoint issues tokens again.
    must(&provider).await;
    assert_eq!(provider.refresh_count(), 1);
}

#[tokio::test]
async fn unusable_answers_and_unreachable_endpoints_are_retryable() {
    let fake = secret_server().await;
    let provider = secret_provider(&fake, SECRET);
    fake.script_token([
        ScriptedResponse::json(200, &json!({"token_type": "Bearer", "expires_in": 3600})),
        ScriptedResponse {
            body: "<html>captive portal</html>".to_owned(),
            ..ScriptedResponse::default()
        },
    ]);
    for _ in 0..2 {
        let error = provider
            .token()
            .await
            .err()
            .unwrap_or_else(|| panic!("accepted"));
        assert!(
            matches!(error, TokenError::Malformed(_)) && error.is_retryable(),
            "{error}"
        );
    }
    // expires_in as a string is accepted.
    fake.script_token([ScriptedResponse::json(
        200,
        &json!({"token_type": "Bearer", "expires_in": "3599", "access_token": "opaque-value"}),
    )]);
    let token = must(&provider).await;
    assert_eq!(token.value().expose(), "opaque-value");

    let url = fake.url();
    drop(fake);
    // Nothing listens there any more (or soon: the server thread stops asynchronously).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = closed.local_addr().map(|a| a.port()).unwrap_or_default();
    drop(closed);
    let endpoints = vtcq_reporter::cloud::Endpoints {
        graph_root: url.clone(),
        login_root: format!("http://127.0.0.1:{port}"),
        api_version: ApiVersion::V1,
    };
    let unreachable = TokenProvider::new(
        reqwest::Client::new(),
        &endpoints,
        TENANT,
        CLIENT,
        Credential::Secret(Secret::new(SECRET)),
    );
    let error = unreachable
        .token()
        .await
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert!(
        matches!(error, TokenError::Transport { .. }) && error.is_retryable(),
        "{error}"
    );
    assert!(!error.to_string().contains(SECRET));
}

#[tokio::test]
async fn nothing_prints_secrets() {
    let fake = secret_server().await;
    let provider = secret_provider(&fake, SECRET);
    let token = must(&provider).await;
    let token_value = token.value().expose().to_owned();
    let cert = certificate(JwtAlgorithm::Ps256);
    let assertion = cert
        .assertion(CLIENT, &fake.token_url(), 1_700_000_000)
        .unwrap_or_else(|e| panic!("{e}"));
    let key_pem = String::from_utf8(fixture("test-key.pem")).unwrap_or_default();
    let key_lines: Vec<&str> = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let secret_credential = Credential::Secret(Secret::new(SECRET));
    let cert_credential = Credential::Certificate(cert.clone());
    let errors = [
        TokenError::Rejected {
            status: 401,
            aad: Default::default(),
        },
        TokenError::Malformed("no access_token"),
        secret_provider(&fake, "wrong-secret-value")
            .token()
            .await
            .err()
            .unwrap_or_else(|| panic!("accepted")),
    ];

    let mut printed = vec![
        format!("{provider:?}"),
        format!("{token:?}"),
        format!("{assertion} {assertion:?}"),
        format!("{cert:?}"),
        format!("{secret_credential:?}"),
        format!("{cert_credential:?}"),
    ];
    for error in &errors {
        printed.push(format!("{error} {error:?}"));
    }
    let cert_provider = provider_with(&fake, reqwest::Client::new(), cert_credential);
    printed.push(format!("{cert_provider:?}"));
    for text in &printed {
        assert!(!text.contains(SECRET), "{text}");
        assert!(!text.contains("wrong-secret-value"), "{text}");
        assert!(!text.contains(&token_value), "{text}");
        assert!(!text.contains(assertion.expose()), "{text}");
        assert!(!text.contains("eyJ"), "{text}"); // no base64url JSON: no JWT parts
        for line in &key_lines {
            assert!(!text.contains(line), "{text}");
        }
    }
    assert!(format!("{token:?}").contains("[redacted]"));
    assert!(format!("{cert:?}").contains(&cert.thumbprint_sha1_hex()));
}

#[tokio::test]
async fn the_fake_graph_checks_auth_content_type_and_body() {
    let fake = secret_server().await;
    let provider = secret_provider(&fake, SECRET);
    let token = must(&provider).await;
    let http = reqwest::Client::new();
    let beta = fake.endpoints(ApiVersion::Beta).action_url();

    assert_eq!(post_quality(&fake, None).await.status(), 401);
    let unknown = AccessToken::new(
        Secret::new("forged"),
        tokio::time::Instant::now() + Duration::from_secs(60),
    );
    assert_eq!(post_quality(&fake, Some(&unknown)).await.status(), 401);

    let send = |content_type: &'static str, body: String| {
        http.post(&beta)
            .bearer_auth(token.value().expose())
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let response = send("text/plain", json!({"quality": {}}).to_string())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    assert_eq!(body["error"]["code"], "BadRequest");
    let response = send("application/json", json!({"other": 1}).to_string())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), 400);
    let response = send("application/json; charset=utf-8", "{not json".to_owned())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), 400);
    let response = send(
        "application/json; charset=utf-8",
        json!({"quality": {"a": 1}}).to_string(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap_or_default(), "");

    // Scripted answers come back as they are, before any check, after their delay.
    fake.script_graph([
        ScriptedResponse::json(
            401,
            &json!({"error": {"code": "InvalidAuthenticationToken"}}),
        ),
        ScriptedResponse::status(204).delay(Duration::from_millis(300)),
    ]);
    assert_eq!(post_quality(&fake, Some(&token)).await.status(), 401);
    let started = std::time::Instant::now();
    let response = post_quality(&fake, None).await;
    assert_eq!(response.status(), 204);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(response.headers().contains_key("request-id"));
    assert_eq!(post_quality(&fake, Some(&token)).await.status(), 200);

    let statuses: Vec<u16> = fake.graph_requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [401, 401, 400, 400, 400, 200, 401, 204, 200]);
    assert_eq!(fake.acknowledged_bodies().len(), 3);
    assert!(fake.graph_requests()[5].path.starts_with("/beta/"));

    let response = http
        .post(format!(
            "{}/v1.0/communications/calls/somethingElse",
            fake.url()
        ))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn the_fake_token_endpoint_refuses_replayed_and_foreign_assertions() {
    let fake = certificate_server().await;
    let cert = certificate(JwtAlgorithm::Ps256);
    let http = reqwest::Client::new();
    let post = |assertion: String| {
        let body = format!(
            "client_id={CLIENT}&scope={}%2F.default&grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&client_assertion={assertion}",
            fake.url().replace(':', "%3A").replace('/', "%2F")
        );
        http.post(fake.token_url())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let good = cert
        .assertion(CLIENT, &fake.token_url(), now)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        post(good.expose().to_owned())
            .await
            .map(|r| r.status().as_u16())
            .ok(),
        Some(200)
    );
    // The same jti again.
    assert_eq!(
        post(good.expose().to_owned())
            .await
            .map(|r| r.status().as_u16())
            .ok(),
        Some(401)
    );
    // Wrong audience, wrong issuer, expired.
    let wrong_aud = cert.assertion(
        CLIENT,
        "https://login.microsoftonline.com/x/oauth2/v2.0/token",
        now,
    );
    let wrong_iss = cert.assertion("someone-else", &fake.token_url(), now);
    let expired = cert.assertion(CLIENT, &fake.token_url(), now - 3600);
    let future = cert.assertion(CLIENT, &fake.token_url(), now + 3600);
    for assertion in [wrong_aud, wrong_iss, expired, future] {
        let assertion = assertion.unwrap_or_else(|e| panic!("{e}"));
        let status = post(assertion.expose().to_owned())
            .await
            .map(|r| r.status().as_u16())
            .ok();
        assert_eq!(status, Some(401));
    }
    // A tampered signature.
    let mut parts: Vec<String> = good.expose().split('.').map(str::to_owned).collect();
    let middle = parts[2].len() / 2;
    let replacement = if &parts[2][middle..=middle] == "A" {
        "B"
    } else {
        "A"
    };
    parts[2].replace_range(middle..=middle, replacement);
    let tampered = parts.join(".");
    let response = post(tampered).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), 401);
    let recorded = fake.token_requests();
    let verdicts: Vec<bool> = recorded.iter().map(|r| r.credential_valid).collect();
    assert_eq!(verdicts, [true, false, false, false, false, false, false]);
    assert!(recorded[1]
        .error
        .as_deref()
        .unwrap_or_default()
        .contains("replayed"));
}

/// The process-wide subscriber, writing into one buffer. Global, not per-thread: with
/// `set_default`, tests on other threads can leave a callsite's cached interest at "never"
/// and this test would miss its own events.
fn captured_logs() -> LogBuffer {
    static LOGS: std::sync::OnceLock<LogBuffer> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = LogBuffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        // Fails only if something else set one first; the assertions below would say so.
        let _ = tracing::subscriber::set_global_default(subscriber);
        buffer
    })
    .clone()
}

// Every test of this file that runs alongside logs into the same buffer: none may leak.
#[tokio::test]
async fn logs_name_outcomes_and_expiry_but_no_values() {
    let buffer = captured_logs();

    let fake = certificate_server().await;
    let cert = provider_with(
        &fake,
        reqwest::Client::new(),
        Credential::Certificate(certificate(JwtAlgorithm::Ps256)),
    );
    let token = must(&cert).await;
    let fake_secret = secret_server().await;
    let wrong = "wrong-secret-for-logs";
    assert!(secret_provider(&fake_secret, wrong).token().await.is_err());
    fake_secret.script_token([ScriptedResponse::status(503).header("Retry-After", "3")]);
    assert!(secret_provider(&fake_secret, SECRET).token().await.is_err());

    let logs = buffer.text();
    assert!(
        logs.contains("access token fetched") && logs.contains("expires_in_s="),
        "{logs}"
    );
    assert!(
        logs.contains("outcome=\"error\"") || logs.contains("outcome=error"),
        "{logs}"
    );
    assert!(
        logs.contains("invalid_client") && logs.contains("503"),
        "{logs}"
    );
    let assertion = fake.token_requests()[0]
        .field("client_assertion")
        .unwrap_or_default()
        .to_owned();
    for value in [
        token.value().expose(),
        assertion.as_str(),
        wrong,
        SECRET,
        "eyJ",
    ] {
        assert!(!logs.contains(value), "{value} in {logs}");
    }
}
