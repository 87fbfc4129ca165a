//! The routes: create, update, list, end, probes, the daemon's refusals, and the HTTP
//! errors (413, 405, 404, 415).

#![allow(clippy::unwrap_used)]

use super::*;

#[tokio::test]
async fn put_creates_then_updates() {
    let h = Harness::start(None).await;
    let r = h.put(LEG, &registration_body()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        r.headers().get(LOCATION).unwrap(),
        &format!("/v1/calls/{LEG}")
    );
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({ "mediaLegId": LEG })
    );

    let r = h.put(LEG, &registration_body()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get(LOCATION).is_none());
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({ "mediaLegId": LEG })
    );

    let expected = Registration {
        call_chain_id: id(CHAIN),
        participant_id: id(PARTICIPANT),
        device_name: "Cisco SX80".to_owned(),
        device_description: "VTC Bldg 30/21".to_owned(),
        media_sessions: vec![
            MediaSession {
                kind: MediaKind::Audio,
                local_port: 50000,
                remote_address: Some("192.0.2.10".parse().unwrap()),
                remote_port: Some(6000),
                payload_types: vec![PayloadType {
                    payload_type: 111,
                    clock_rate: 48000,
                }],
            },
            MediaSession {
                kind: MediaKind::Video,
                local_port: 50002,
                remote_address: None,
                remote_port: None,
                payload_types: vec![],
            },
            MediaSession {
                kind: MediaKind::ScreenSharing,
                local_port: 50004,
                remote_address: None,
                remote_port: None,
                payload_types: vec![],
            },
        ],
    };
    assert_eq!(
        h.mock.calls(),
        vec![
            Called::Register(id(LEG), expected.clone()),
            Called::Register(id(LEG), expected)
        ]
    );
    h.shutdown().await;
}

#[tokio::test]
async fn path_guid_is_echoed_canonically() {
    let h = Harness::start(None).await;
    let r = h.put(&LEG.to_uppercase(), &registration_body()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({ "mediaLegId": LEG })
    );
    h.shutdown().await;
}

#[tokio::test]
async fn get_lists_active_calls() {
    let h = Harness::start(None).await;
    let r = h.send(Method::GET, "/v1/calls").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({ "calls": [] }));

    h.put(LEG, &registration_body()).await;
    let r = h.send(Method::GET, "/v1/calls").await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "calls": [{
            "mediaLegId": LEG,
            "callChainId": CHAIN,
            "deviceName": "Cisco SX80",
            "registeredAt": "2025-01-02T03:04:05Z",
            "mediaSessions": [
                { "kind": "audio", "localPort": 50000, "inboundPackets": 10, "outboundPackets": 20 },
                { "kind": "video", "localPort": 50002, "inboundPackets": 10, "outboundPackets": 20 },
                { "kind": "screenSharing", "localPort": 50004, "inboundPackets": 10, "outboundPackets": 20 },
            ],
        }]})
    );
    h.shutdown().await;
}

#[tokio::test]
async fn delete_returns_the_graph_body_idempotently() {
    let h = Harness::start(None).await;
    h.put(LEG, &registration_body()).await;
    let first = h.send(Method::DELETE, &format!("/v1/calls/{LEG}")).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(
        first.headers().get(CONTENT_TYPE).unwrap(),
        "application/json"
    );
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["quality"]["mediaLegId"], LEG);

    let second = h.send(Method::DELETE, &format!("/v1/calls/{LEG}")).await;
    assert_eq!(second.status(), StatusCode::OK);
    assert_eq!(second.json::<Value>().await.unwrap(), first);
    assert_eq!(
        h.mock.calls().last(),
        Some(&Called::End(id(LEG))),
        "the second DELETE still asks the daemon"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn delete_of_an_unknown_call_is_404() {
    let h = Harness::start(None).await;
    let r = h.send(Method::DELETE, &format!("/v1/calls/{LEG}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let e = error_of(r).await;
    assert_eq!(e["code"], "call_not_found");
    assert!(e["message"].as_str().unwrap().contains(LEG));
    assert!(e.get("field").is_none());
    h.shutdown().await;
}

#[tokio::test]
async fn probes_and_metrics() {
    let h = Harness::start(None).await;
    let r = h.send(Method::GET, "/livez").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), "ok");

    let r = h.send(Method::GET, "/readyz").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), "ready");
    h.mock.set(|s| s.not_ready = true);
    let r = h.send(Method::GET, "/readyz").await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.text().await.unwrap(), "not ready");
    let r = h.send(Method::GET, "/livez").await;
    assert_eq!(r.status(), StatusCode::OK, "not ready is still alive");

    let r = h.send(Method::GET, "/metrics").await;
    assert_eq!(r.status(), StatusCode::OK);
    let content_type = r.headers().get(CONTENT_TYPE).unwrap().to_str().unwrap();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    assert_eq!(
        r.text().await.unwrap(),
        "# TYPE vtcq_calls_active gauge\nvtcq_calls_active 0\n"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn control_errors_map_to_statuses() {
    let h = Harness::start(None).await;
    let cases = [
        (
            ControlError::Conflict("local port 50000 already belongs to call x".to_owned()),
            StatusCode::CONFLICT,
            "conflict",
        ),
        (
            ControlError::Unavailable("spool not writable".to_owned()),
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
        ),
        (
            ControlError::Invalid {
                field: "mediaSessions[0].payloadTypes[0].clockRate".to_owned(),
                message: "conflicts with the configured rate".to_owned(),
            },
            StatusCode::BAD_REQUEST,
            "invalid_value",
        ),
    ];
    for (error, status, code) in cases {
        let message = match &error {
            ControlError::Conflict(m) | ControlError::Unavailable(m) => m.clone(),
            ControlError::Invalid { message, .. } => message.clone(),
        };
        let field = match &error {
            ControlError::Invalid { field, .. } => Some(field.clone()),
            _ => None,
        };

        h.mock.set(|s| s.register_error = Some(error.clone()));
        let r = h.put(LEG, &registration_body()).await;
        assert_eq!(r.status(), status);
        let e = error_of(r).await;
        assert_eq!(e["code"], code);
        assert_eq!(e["message"], message.as_str());
        assert_eq!(e.get("field").and_then(Value::as_str), field.as_deref());

        h.mock.set(|s| s.end_error = Some(error.clone()));
        let r = h.send(Method::DELETE, &format!("/v1/calls/{LEG}")).await;
        assert_eq!(r.status(), status);
        assert_eq!(error_of(r).await["code"], code);
    }
    h.shutdown().await;
}

#[tokio::test]
async fn oversize_bodies_are_413() {
    let h = Harness::start(None).await;
    // Exactly the limit is accepted: pad a valid body with trailing whitespace.
    let mut exact = serde_json::to_string(&registration_body()).unwrap();
    exact.push_str(&" ".repeat(DEFAULT_MAX_BODY_BYTES - exact.len()));
    let r = h
        .client
        .put(h.url(&format!("/v1/calls/{LEG}")))
        .header(CONTENT_TYPE, "application/json")
        .body(exact.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);

    exact.push(' ');
    let r = h
        .client
        .put(h.url(&format!("/v1/calls/{LEG}")))
        .header(CONTENT_TYPE, "application/json")
        .body(exact)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_of(r).await["code"], "payload_too_large");

    // Without Content-Length the limit is enforced while reading.
    let chunk = " ".repeat(66 * 1024);
    let request = format!(
        "PUT /v1/calls/{LEG} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    let response = raw_http(
        tokio::net::TcpStream::connect(h.addr).await.unwrap(),
        &request,
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("payload_too_large"), "{response}");
    assert_eq!(
        h.mock.calls().len(),
        1,
        "only the in-limit body reached the daemon"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn body_limit_is_configurable() {
    let h = Harness::start_with(ApiConfig {
        listen: Listen::Tcp("127.0.0.1:0".parse().unwrap()),
        max_body_bytes: 100,
        ..ApiConfig::default()
    })
    .await;
    let r = h.put(LEG, &registration_body()).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    h.shutdown().await;
}

#[tokio::test]
async fn wrong_methods_are_405_with_allow() {
    let h = Harness::start(None).await;
    let call = format!("/v1/calls/{LEG}");
    let cases = [
        (Method::POST, "/v1/calls", "GET,HEAD"),
        (Method::DELETE, "/v1/calls", "GET,HEAD"),
        (Method::GET, call.as_str(), "PUT,DELETE"),
        (Method::POST, call.as_str(), "PUT,DELETE"),
        (Method::POST, "/livez", "GET,HEAD"),
        (Method::PUT, "/readyz", "GET,HEAD"),
        (Method::DELETE, "/metrics", "GET,HEAD"),
    ];
    for (method, path, allow) in cases {
        let r = h.send(method.clone(), path).await;
        assert_eq!(
            r.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(r.headers().get(ALLOW).unwrap(), allow, "{method} {path}");
        assert_eq!(error_of(r).await["code"], "method_not_allowed");
    }
    h.shutdown().await;
}

#[tokio::test]
async fn unknown_paths_are_404() {
    let h = Harness::start(None).await;
    for path in [
        "/",
        "/v1",
        "/v1/calls/",
        "/v2/calls",
        &format!("/v1/calls/{LEG}/end"),
    ] {
        let r = h.send(Method::GET, path).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(error_of(r).await["code"], "not_found");
    }
    h.shutdown().await;
}

#[tokio::test]
async fn put_needs_a_json_content_type() {
    let h = Harness::start(None).await;
    let body = serde_json::to_string(&registration_body()).unwrap();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = h
            .client
            .put(h.url(&format!("/v1/calls/{LEG}")))
            .body(body.clone());
        if let Some(ct) = content_type {
            request = request.header(CONTENT_TYPE, ct);
        }
        let r = request.send().await.unwrap();
        assert_eq!(
            r.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
        assert_eq!(error_of(r).await["code"], "unsupported_media_type");
    }
    for content_type in [
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/merge+json",
    ] {
        let r = h
            .client
            .put(h.url(&format!("/v1/calls/{LEG}")))
            .header(CONTENT_TYPE, content_type)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{content_type}: {}", r.status());
    }
    h.shutdown().await;
}
