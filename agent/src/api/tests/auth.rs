//! The bearer token on `/v1/*` (not on the probes), its comparison, and request logs that
//! never show it.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::api::auth::{bearer_token, constant_time_eq};

#[tokio::test]
async fn bearer_token_guards_v1_only() {
    let h = Harness::start(Some(TOKEN)).await;
    let call = format!("/v1/calls/{LEG}");

    // Missing credentials: a bare challenge.
    for (method, path) in [
        (Method::GET, "/v1/calls"),
        (Method::PUT, call.as_str()),
        (Method::DELETE, call.as_str()),
        (Method::GET, "/v1/nothing-here"),
        (Method::POST, "/v1/calls"),
    ] {
        let r = h.send(method.clone(), path).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(
            r.headers().get(WWW_AUTHENTICATE).unwrap(),
            "Bearer realm=\"vtcq\""
        );
        assert_eq!(error_of(r).await["code"], "unauthorized");
    }

    // Wrong credentials, including a prefix, an extension and another scheme.
    let longer = format!("{TOKEN}x");
    let wrong = [
        "Bearer nope".to_owned(),
        format!("Bearer {}", &TOKEN[..TOKEN.len() - 1]),
        format!("Bearer {longer}"),
        format!("Basic {TOKEN}"),
        format!("Bearer {}", TOKEN.to_uppercase()),
        TOKEN.to_owned(),
        "Bearer ".to_owned(),
    ];
    for authorization in &wrong {
        let r = h
            .client
            .put(h.url(&call))
            .header(reqwest::header::AUTHORIZATION, authorization)
            .json(&registration_body())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{authorization}");
        assert!(r
            .headers()
            .get(WWW_AUTHENTICATE)
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("Bearer realm=\"vtcq\""));
    }
    assert!(
        h.mock.calls().is_empty(),
        "nothing unauthenticated reaches the daemon"
    );

    // The right token, with either spelling of the scheme.
    let r = h
        .client
        .put(h.url(&call))
        .bearer_auth(TOKEN)
        .json(&registration_body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = h
        .client
        .get(h.url("/v1/calls"))
        .header(reqwest::header::AUTHORIZATION, format!("bearer {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = h
        .client
        .delete(h.url(&call))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // Probes and scrapes need none.
    for path in ["/livez", "/readyz", "/metrics"] {
        assert_eq!(
            h.send(Method::GET, path).await.status(),
            StatusCode::OK,
            "{path}"
        );
    }
    h.shutdown().await;
}

#[tokio::test]
async fn an_empty_token_is_refused_at_bind() {
    let config = ApiConfig {
        listen: Listen::Tcp("127.0.0.1:0".parse().unwrap()),
        bearer_token: Some(Secret::new("")),
        ..ApiConfig::default()
    };
    let e = ApiServer::bind(config, Arc::new(Mock::default()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn constant_time_compare() {
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abd", b"abc"));
    assert!(!constant_time_eq(b"ab", b"abc"));
    assert!(
        !constant_time_eq(b"abcabc", b"abc"),
        "cycling must not fake a match"
    );
    assert!(!constant_time_eq(b"", b"abc"));
    assert!(!constant_time_eq(b"", b""));
    assert!(!constant_time_eq(b"x", b""));
}

#[test]
fn bearer_header_parsing() {
    assert_eq!(bearer_token("Bearer abc"), Some("abc"));
    assert_eq!(bearer_token("bearer  abc"), Some("abc"));
    assert_eq!(bearer_token("BEARER abc "), Some("abc"));
    assert_eq!(bearer_token("Bearer"), None);
    assert_eq!(bearer_token("Bearer "), None);
    assert_eq!(bearer_token("Basic abc"), None);
    assert_eq!(bearer_token("abc"), None);
}

// The default `#[tokio::test]` runtime is single-threaded, so the server's tasks log
// through this thread's default subscriber.
#[tokio::test]
async fn requests_are_logged_without_the_token() {
    let captured = vtcq_reporter::testing::LogBuffer::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // Callsite interest is cached globally. With exactly one dispatcher registered,
    // tracing-core computes the interest of a callsite first hit on another thread (a test
    // running beside this one, with no subscriber) from that thread's default alone, and
    // caches "never" for everyone. A second registered dispatcher makes it ask every
    // registered dispatcher, this one included.
    let _second = tracing::Dispatch::new(tracing_subscriber::registry());
    let _guard = tracing::subscriber::set_default(subscriber);

    let h = Harness::start(Some(TOKEN)).await;
    let r = h
        .client
        .put(h.url(&format!("/v1/calls/{LEG}")))
        .bearer_auth(TOKEN)
        .json(&registration_body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = h
        .client
        .get(h.url("/v1/calls"))
        .bearer_auth("wrong-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    h.shutdown().await;

    let log = captured.text();
    let put_line = log
        .lines()
        .find(|l| l.contains("method=PUT"))
        .unwrap_or_else(|| panic!("no PUT line in {log}"));
    assert!(
        put_line.contains(&format!("path=/v1/calls/{LEG}")),
        "{put_line}"
    );
    assert!(put_line.contains("status=201"), "{put_line}");
    assert!(put_line.contains("latency_ms="), "{put_line}");
    assert!(log.contains("status=401"), "{log}");
    assert!(!log.contains(TOKEN), "{log}");
    assert!(!log.contains("wrong-token"), "{log}");
}
