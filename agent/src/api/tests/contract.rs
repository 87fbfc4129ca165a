//! The OpenAPI document describes exactly the routes and every error code.

#![allow(clippy::unwrap_used)]

use super::*;

const OPENAPI: &str = include_str!("../../../../deploy/openapi/control-api.yaml");

/// The path keys of the OpenAPI document: the two-space-indented keys under `paths:`.
fn openapi_paths() -> Vec<&'static str> {
    let mut in_paths = false;
    let mut paths = Vec::new();
    for line in OPENAPI.lines() {
        if !line.starts_with(' ') && !line.is_empty() && !line.starts_with('#') {
            in_paths = line == "paths:";
            continue;
        }
        if in_paths {
            if let Some(key) = line.strip_prefix("  /").and_then(|l| l.strip_suffix(':')) {
                paths.push(&line[2..3 + key.len()]);
            }
        }
    }
    paths
}

#[test]
fn openapi_describes_exactly_the_routes() {
    assert!(OPENAPI.starts_with("openapi: 3.0.3\n"));
    let mut documented = openapi_paths();
    documented.sort_unstable();
    let mut routed = ROUTES.to_vec();
    routed.sort_unstable();
    assert_eq!(documented, routed);
}

#[test]
fn openapi_names_every_error_code_and_the_bearer_scheme() {
    for code in [
        "invalid_json",
        "missing_field",
        "unknown_field",
        "wrong_type",
        "invalid_value",
        "unauthorized",
        "not_found",
        "call_not_found",
        "method_not_allowed",
        "conflict",
        "payload_too_large",
        "unsupported_media_type",
        "request_timeout",
        "unavailable",
    ] {
        assert!(
            OPENAPI.contains(&format!("- {code}\n")),
            "{code} is not in the enum"
        );
    }
    assert!(OPENAPI.contains("scheme: bearer"));
    assert!(OPENAPI.contains("version=0.0.4"));
}

#[tokio::test]
async fn every_listed_route_is_routed() {
    let h = Harness::start(None).await;
    for route in ROUTES {
        let path = route.replace("{mediaLegId}", LEG);
        let r = h.send(Method::OPTIONS, &path).await;
        // OPTIONS is no route's method: a routed path answers 405, an unrouted one 404.
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "{route}");
    }
    h.shutdown().await;
}
