//! The API over real sockets (TCP on 127.0.0.1:0, Unix in the temp directory) against a
//! recording mock of the daemon.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{ALLOW, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::*;

const LEG: &str = "2c1b1e2a-7d3f-4b8e-9a60-1f0e5d4c3b2a";
const CHAIN: &str = "0622673d-9f69-49b3-9d4f-5ec64f42ecce";
const PARTICIPANT: &str = "ea078c64-5b6b-4ce0-8bd1-8e4b6a1c2f37";
const TOKEN: &str = "s3cret-control-token";

/// What the mock was asked, in order.
#[derive(Debug, Clone, PartialEq)]
enum Called {
    Register(Uuid, Registration),
    End(Uuid),
}

#[derive(Default)]
struct MockState {
    active: BTreeMap<Uuid, Registration>,
    ended: BTreeMap<Uuid, Value>,
    calls: Vec<Called>,
    register_error: Option<ControlError>,
    end_error: Option<ControlError>,
    not_ready: bool,
}

/// A daemon stand-in: registers, ends with a fake Graph body, remembers ended calls.
#[derive(Default)]
struct Mock(Mutex<MockState>);

impl Mock {
    fn calls(&self) -> Vec<Called> {
        self.0.lock().unwrap().calls.clone()
    }
    fn set(&self, f: impl FnOnce(&mut MockState)) {
        f(&mut self.0.lock().unwrap());
    }
}

impl CallControl for Mock {
    fn register(&self, id: Uuid, registration: Registration) -> Result<bool, ControlError> {
        let mut s = self.0.lock().unwrap();
        s.calls.push(Called::Register(id, registration.clone()));
        if let Some(e) = s.register_error.clone() {
            return Err(e);
        }
        Ok(s.active.insert(id, registration).is_none())
    }

    fn end(&self, id: Uuid) -> Result<Option<Value>, ControlError> {
        let mut s = self.0.lock().unwrap();
        s.calls.push(Called::End(id));
        if let Some(e) = s.end_error.clone() {
            return Err(e);
        }
        if let Some(call) = s.active.remove(&id) {
            let body = json!({ "quality": {
                "mediaLegId": id,
                "callChainId": call.call_chain_id,
                "deviceName": call.device_name,
                "mediaQualityList": [],
            }});
            s.ended.insert(id, body);
        }
        Ok(s.ended.get(&id).cloned())
    }

    fn list(&self) -> Vec<ActiveCall> {
        let s = self.0.lock().unwrap();
        s.active
            .iter()
            .map(|(id, r)| ActiveCall {
                media_leg_id: *id,
                call_chain_id: r.call_chain_id,
                device_name: r.device_name.clone(),
                registered_at: "2025-01-02T03:04:05Z".to_owned(),
                media_sessions: r
                    .media_sessions
                    .iter()
                    .map(|m| ActiveSession {
                        kind: m.kind.as_str().to_owned(),
                        local_port: m.local_port,
                        inbound_packets: 10,
                        outbound_packets: 20,
                    })
                    .collect(),
            })
            .collect()
    }

    fn ready(&self) -> bool {
        !self.0.lock().unwrap().not_ready
    }

    fn metrics(&self) -> String {
        let n = self.0.lock().unwrap().active.len();
        format!("# TYPE vtcq_calls_active gauge\nvtcq_calls_active {n}\n")
    }
}

struct Harness {
    base: String,
    addr: SocketAddr,
    mock: Arc<Mock>,
    client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Harness {
    async fn start(token: Option<&str>) -> Harness {
        Harness::start_with(ApiConfig {
            listen: Listen::Tcp("127.0.0.1:0".parse().unwrap()),
            bearer_token: token.map(Secret::new),
            ..ApiConfig::default()
        })
        .await
    }

    async fn start_with(config: ApiConfig) -> Harness {
        let mock = Arc::new(Mock::default());
        let server = ApiServer::bind(config, mock.clone()).await.unwrap();
        let addr = server.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.serve(async {
            let _ = stopped.await;
        }));
        Harness {
            base: format!("http://{addr}"),
            addr,
            mock,
            client: reqwest::Client::new(),
            stop: Some(stop),
            task,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn put(&self, id: &str, body: &Value) -> reqwest::Response {
        self.client
            .put(self.url(&format!("/v1/calls/{id}")))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn send(&self, method: Method, path: &str) -> reqwest::Response {
        self.client
            .request(method, self.url(path))
            .send()
            .await
            .unwrap()
    }

    async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .unwrap();
        assert!(result.unwrap().is_ok());
    }
}

fn registration_body() -> Value {
    json!({
        "callChainId": CHAIN,
        "participantId": PARTICIPANT,
        "deviceName": "Cisco SX80",
        "deviceDescription": "VTC Bldg 30/21",
        "mediaSessions": [
            {
                "kind": "audio",
                "localPort": 50000,
                "remoteAddress": "192.0.2.10",
                "remotePort": 6000,
                "payloadTypes": [{ "payloadType": 111, "clockRate": 48000 }],
            },
            { "kind": "video", "localPort": 50002 },
            { "kind": "screenSharing", "localPort": 50004, "remoteAddress": null, "remotePort": null },
        ],
    })
}

/// The registration body with the value at a JSON pointer replaced (or removed: `None`).
fn edited(pointer: &str, value: Option<Value>) -> Value {
    let mut body = registration_body();
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    match body.pointer_mut(parent).unwrap() {
        Value::Object(map) => {
            match value {
                Some(v) => map.insert(key.to_owned(), v),
                None => map.remove(key),
            };
        }
        Value::Array(items) => {
            let i: usize = key.parse().unwrap();
            match value {
                Some(v) if i == items.len() => items.push(v),
                Some(v) => items[i] = v,
                None => {
                    items.remove(i);
                }
            }
        }
        _ => panic!("{pointer} does not address a container"),
    }
    body
}

async fn error_of(response: reqwest::Response) -> Value {
    assert_eq!(
        response.headers().get(CONTENT_TYPE).unwrap(),
        "application/json"
    );
    let body: Value = response.json().await.unwrap();
    body["error"].clone()
}

fn id(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap()
}

// ---- routes -------------------------------------------------------------------------

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

// ---- validation ---------------------------------------------------------------------

#[tokio::test]
async fn every_validation_error_names_its_field() {
    let long = "x".repeat(validate::MAX_TEXT_CHARS + 1);
    let cases: Vec<(Value, &str, &str)> = vec![
        // Missing and unknown fields, at every level.
        (edited("/callChainId", None), "missing_field", "callChainId"),
        (
            edited("/participantId", None),
            "missing_field",
            "participantId",
        ),
        (edited("/deviceName", None), "missing_field", "deviceName"),
        (
            edited("/deviceDescription", None),
            "missing_field",
            "deviceDescription",
        ),
        (
            edited("/mediaSessions", None),
            "missing_field",
            "mediaSessions",
        ),
        (
            edited("/mediaSessions/1/kind", None),
            "missing_field",
            "mediaSessions[1].kind",
        ),
        (
            edited("/mediaSessions/1/localPort", None),
            "missing_field",
            "mediaSessions[1].localPort",
        ),
        (
            edited("/mediaSessions/0/payloadTypes/0/clockRate", None),
            "missing_field",
            "mediaSessions[0].payloadTypes[0].clockRate",
        ),
        (edited("/extra", Some(json!(1))), "unknown_field", "extra"),
        (
            edited("/mediaLegId", Some(json!(LEG))),
            "unknown_field",
            "mediaLegId",
        ),
        (
            edited("/mediaSessions/2/codec", Some(json!("H264"))),
            "unknown_field",
            "mediaSessions[2].codec",
        ),
        (
            edited("/mediaSessions/0/payloadTypes/0/name", Some(json!("opus"))),
            "unknown_field",
            "mediaSessions[0].payloadTypes[0].name",
        ),
        // Wrong types.
        (json!([registration_body()]), "wrong_type", "$"),
        (
            edited("/participantId", Some(json!(5))),
            "wrong_type",
            "participantId",
        ),
        (
            edited("/deviceName", Some(Value::Null)),
            "wrong_type",
            "deviceName",
        ),
        (
            edited("/mediaSessions", Some(json!({}))),
            "wrong_type",
            "mediaSessions",
        ),
        (
            edited("/mediaSessions/1", Some(json!("audio"))),
            "wrong_type",
            "mediaSessions[1]",
        ),
        (
            edited("/mediaSessions/1/kind", Some(json!(1))),
            "wrong_type",
            "mediaSessions[1].kind",
        ),
        (
            edited("/mediaSessions/1/localPort", Some(json!("50002"))),
            "wrong_type",
            "mediaSessions[1].localPort",
        ),
        (
            edited("/mediaSessions/1/localPort", Some(json!(50002.5))),
            "wrong_type",
            "mediaSessions[1].localPort",
        ),
        (
            edited("/mediaSessions/0/remoteAddress", Some(json!(1))),
            "wrong_type",
            "mediaSessions[0].remoteAddress",
        ),
        (
            edited("/mediaSessions/0/payloadTypes", Some(Value::Null)),
            "wrong_type",
            "mediaSessions[0].payloadTypes",
        ),
        (
            edited("/mediaSessions/0/payloadTypes/0", Some(json!([111, 48000]))),
            "wrong_type",
            "mediaSessions[0].payloadTypes[0]",
        ),
        // Wrong values.
        (
            edited("/callChainId", Some(json!("nope"))),
            "invalid_value",
            "callChainId",
        ),
        (
            edited("/participantId", Some(json!(format!("{{{PARTICIPANT}}}")))),
            "invalid_value",
            "participantId",
        ),
        (
            edited("/callChainId", Some(json!(CHAIN.replace('-', "")))),
            "invalid_value",
            "callChainId",
        ),
        (
            edited("/deviceName", Some(json!(""))),
            "invalid_value",
            "deviceName",
        ),
        (
            edited("/deviceName", Some(json!("   "))),
            "invalid_value",
            "deviceName",
        ),
        (
            edited("/deviceDescription", Some(json!(long))),
            "invalid_value",
            "deviceDescription",
        ),
        (
            edited("/mediaSessions", Some(json!([]))),
            "invalid_value",
            "mediaSessions",
        ),
        (
            edited("/mediaSessions/1/kind", Some(json!("screensharing"))),
            "invalid_value",
            "mediaSessions[1].kind",
        ),
        (
            edited("/mediaSessions/1/kind", Some(json!("data"))),
            "invalid_value",
            "mediaSessions[1].kind",
        ),
        (
            edited("/mediaSessions/1/localPort", Some(json!(0))),
            "invalid_value",
            "mediaSessions[1].localPort",
        ),
        (
            edited("/mediaSessions/1/localPort", Some(json!(-1))),
            "invalid_value",
            "mediaSessions[1].localPort",
        ),
        (
            edited("/mediaSessions/1/localPort", Some(json!(65536))),
            "invalid_value",
            "mediaSessions[1].localPort",
        ),
        (
            edited("/mediaSessions/2/localPort", Some(json!(50000))),
            "invalid_value",
            "mediaSessions[2].localPort",
        ),
        (
            edited(
                "/mediaSessions/0/remoteAddress",
                Some(json!("vtc.example.com")),
            ),
            "invalid_value",
            "mediaSessions[0].remoteAddress",
        ),
        (
            edited("/mediaSessions/0/remotePort", Some(json!(0))),
            "invalid_value",
            "mediaSessions[0].remotePort",
        ),
        (
            edited(
                "/mediaSessions/0/payloadTypes/0/payloadType",
                Some(json!(128)),
            ),
            "invalid_value",
            "mediaSessions[0].payloadTypes[0].payloadType",
        ),
        (
            edited("/mediaSessions/0/payloadTypes/0/clockRate", Some(json!(0))),
            "invalid_value",
            "mediaSessions[0].payloadTypes[0].clockRate",
        ),
        (
            edited(
                "/mediaSessions/0/payloadTypes/0/clockRate",
                Some(json!(4_294_967_296_u64)),
            ),
            "invalid_value",
            "mediaSessions[0].payloadTypes[0].clockRate",
        ),
        (
            edited(
                "/mediaSessions/0/payloadTypes/1",
                Some(json!({ "payloadType": 111, "clockRate": 16000 })),
            ),
            "invalid_value",
            "mediaSessions[0].payloadTypes[1].payloadType",
        ),
    ];
    let h = Harness::start(None).await;
    for (body, code, field) in &cases {
        let r = h.put(LEG, body).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{field}: {body}");
        let e = error_of(r).await;
        assert_eq!(e["code"], *code, "{field}: {e}");
        assert_eq!(e["field"], *field, "{e}");
        assert!(!e["message"].as_str().unwrap().is_empty());
    }
    assert!(
        h.mock.calls().is_empty(),
        "nothing invalid reaches the daemon"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn limits_count_characters_and_optional_fields_may_be_absent() {
    let h = Harness::start(None).await;
    let mut body = registration_body();
    body["deviceName"] = json!("é".repeat(validate::MAX_TEXT_CHARS));
    body["mediaSessions"] = json!([
        { "kind": "audio", "localPort": 1, "remoteAddress": "2001:db8::1", "remotePort": 65535,
          "payloadTypes": [{ "payloadType": 0, "clockRate": 8000 }, { "payloadType": 127, "clockRate": 4_294_967_295_u64 }] },
    ]);
    let r = h.put(LEG, &body).await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    h.shutdown().await;
}

#[tokio::test]
async fn malformed_json_is_400_at_the_root() {
    let h = Harness::start(None).await;
    for raw in ["", "{", "not json", "{\"callChainId\": }"] {
        let r = h
            .client
            .put(h.url(&format!("/v1/calls/{LEG}")))
            .header(CONTENT_TYPE, "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{raw:?}");
        let e = error_of(r).await;
        assert_eq!(e["code"], "invalid_json");
        assert_eq!(e["field"], "$");
    }
    h.shutdown().await;
}

#[tokio::test]
async fn bad_guid_in_path_is_400_naming_media_leg_id() {
    let h = Harness::start(None).await;
    let braced = format!("%7B{LEG}%7D");
    for bad in ["not-a-guid", "1234", braced.as_str(), &LEG[1..], "%FF"] {
        for method in [Method::PUT, Method::DELETE] {
            let r = h
                .client
                .request(method.clone(), h.url(&format!("/v1/calls/{bad}")))
                .json(&registration_body())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{method} {bad}");
            let e = error_of(r).await;
            assert_eq!(e["field"], "mediaLegId", "{e}");
            assert_eq!(e["code"], "invalid_value");
        }
    }
    assert!(h.mock.calls().is_empty());
    h.shutdown().await;
}

// ---- protocol errors ----------------------------------------------------------------

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

// ---- authentication -----------------------------------------------------------------

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

// ---- listeners and lifecycle --------------------------------------------------------

/// Sends a raw HTTP/1.1 request (which should say `Connection: close`) and reads the
/// whole answer. A server that answers before reading all of a body may reset the
/// connection after its response; what arrived before the reset is kept.
async fn raw_http<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, request: &str) -> String {
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// A fresh socket path in the temp directory (short: Unix paths are limited to 108 bytes).
fn socket_path() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("vtcq-api-{}-{n}.sock", std::process::id()))
}

#[tokio::test]
async fn unix_socket_listener_serves_http() {
    use std::os::unix::fs::PermissionsExt;

    let path = socket_path();
    let mock = Arc::new(Mock::default());
    let config = ApiConfig {
        listen: Listen::Unix(path.clone()),
        bearer_token: Some(Secret::new(TOKEN)),
        ..ApiConfig::default()
    };
    let server = ApiServer::bind(config, mock.clone()).await.unwrap();
    assert_eq!(server.local_addr(), None);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(async {
        let _ = stopped.await;
    }));

    let connect = || tokio::net::UnixStream::connect(&path);
    let response = raw_http(
        connect().await.unwrap(),
        "GET /livez HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with("\r\n\r\nok"), "{response}");

    let body = serde_json::to_string(&registration_body()).unwrap();
    let request = format!(
        "PUT /v1/calls/{LEG} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let response = raw_http(connect().await.unwrap(), &request).await;
    assert!(
        response.starts_with("HTTP/1.1 201 Created\r\n"),
        "{response}"
    );
    assert_eq!(mock.calls().len(), 1);

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(!path.exists(), "the socket file is removed on exit");
}

#[tokio::test]
async fn unix_bind_replaces_stale_sockets_only() {
    let path = socket_path();

    // A socket file nobody listens on (a crashed agent's) is replaced.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let config = ApiConfig {
        listen: Listen::Unix(path.clone()),
        ..ApiConfig::default()
    };
    let live = ApiServer::bind(config.clone(), Arc::new(Mock::default()))
        .await
        .unwrap();

    // A socket someone listens on is not taken over.
    let e = ApiServer::bind(config.clone(), Arc::new(Mock::default()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    assert!(e.to_string().contains(&path.display().to_string()), "{e}");
    drop(live);
    std::fs::remove_file(&path).unwrap();

    // Anything else at the path is left alone.
    std::fs::write(&path, b"not a socket").unwrap();
    let e = ApiServer::bind(config, Arc::new(Mock::default()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
    assert_eq!(std::fs::read(&path).unwrap(), b"not a socket");
    std::fs::remove_file(&path).unwrap();
}

#[tokio::test]
async fn a_busy_tcp_port_fails_bind() {
    let h = Harness::start(None).await;
    let config = ApiConfig {
        listen: Listen::Tcp(h.addr),
        ..ApiConfig::default()
    };
    let e = ApiServer::bind(config, Arc::new(Mock::default()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    assert!(e.to_string().contains(&h.addr.to_string()), "{e}");
    h.shutdown().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let mut h = Harness::start(None).await;
    let mut stream = tokio::net::TcpStream::connect(h.addr).await.unwrap();

    // A first exchange proves the server has accepted this connection.
    stream
        .write_all(b"GET /livez HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    while !seen.ends_with(b"\r\n\r\nok") {
        let mut buf = [0u8; 1024];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }

    // A request whose body is half sent is in flight when shutdown begins.
    let body = serde_json::to_string(&registration_body()).unwrap();
    let (head, tail) = body.split_at(body.len() / 2);
    let request = format!(
        "PUT /v1/calls/{LEG} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{head}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = h.stop.take().unwrap().send(());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !h.task.is_finished(),
        "serve waits for the in-flight request"
    );
    assert!(
        tokio::net::TcpStream::connect(h.addr).await.is_err(),
        "no new connections after shutdown"
    );

    stream.write_all(tail.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response);
    assert!(
        response.starts_with("HTTP/1.1 201 Created\r\n"),
        "{response}"
    );
    assert_eq!(h.mock.calls().len(), 1);
    tokio::time::timeout(Duration::from_secs(5), h.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

// ---- logging and the contract ---------------------------------------------------------

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

const OPENAPI: &str = include_str!("../../../deploy/openapi/control-api.yaml");

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

#[test]
fn accepted_registration_converts_exactly() {
    let registration = validate::registration(registration_body()).unwrap();
    assert_eq!(registration.media_sessions.len(), 3);
    assert_eq!(
        registration.media_sessions[2].kind,
        MediaKind::ScreenSharing
    );
    assert_eq!(
        registration.media_sessions[0].remote_address,
        Some("192.0.2.10".parse().unwrap())
    );
}

#[test]
fn guid_shape() {
    assert!(validate::parse_guid(LEG).is_some());
    assert!(validate::parse_guid(&LEG.to_uppercase()).is_some());
    assert!(validate::parse_guid(&LEG.replace('-', "")).is_none());
    assert!(validate::parse_guid(&format!("urn:uuid:{LEG}")).is_none());
    assert!(validate::parse_guid("2c1b1e2a-7d3f-4b8e-9a60-1f0e5d4c3b2g").is_none());
    assert!(validate::parse_guid("2c1b1e2a-7d3f-4b8e-9a601-f0e5d4c3b2a").is_none());
}

// ---- clients that hold on ----------------------------------------------------------------

async fn start_bounded(max_connections: usize) -> Harness {
    Harness::start_with(ApiConfig {
        listen: Listen::Tcp("127.0.0.1:0".parse().unwrap()),
        header_read_timeout: Duration::from_millis(300),
        request_timeout: Duration::from_millis(600),
        max_connections,
        ..ApiConfig::default()
    })
    .await
}

/// Reads until the server closes; what it said.
async fn read_until_closed(stream: &mut tokio::net::TcpStream, limit: Duration) -> String {
    let mut seen = Vec::new();
    let _ = tokio::time::timeout(limit, stream.read_to_end(&mut seen)).await;
    String::from_utf8_lossy(&seen).into_owned()
}

#[tokio::test]
async fn a_request_head_never_finished_is_cut_off() {
    let h = start_bounded(64).await;
    let mut stream = tokio::net::TcpStream::connect(h.addr).await.unwrap();
    stream
        .write_all(b"GET /livez HTTP/1.1\r\nHost: te")
        .await
        .unwrap();
    let started = Instant::now();
    let said = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(3),
        "closed after {waited:?}: {said:?}"
    );
    // The server is still there for everyone else.
    assert_eq!(h.send(Method::GET, "/livez").await.status(), 200);
}

#[tokio::test]
async fn a_body_trickled_in_ends_with_408() {
    let h = start_bounded(64).await;
    let body = serde_json::to_string(&registration_body()).unwrap();
    let mut stream = tokio::net::TcpStream::connect(h.addr).await.unwrap();
    let head = format!(
        "PUT /v1/calls/{LEG} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // One byte every 100 ms: it would take minutes.
    let mut said = String::new();
    for byte in body.as_bytes() {
        if stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut buf = [0u8; 1024];
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(1), stream.read(&mut buf)).await
        {
            said.push_str(&String::from_utf8_lossy(&buf[..n]));
            if n == 0 || said.contains("\r\n\r\n") {
                break;
            }
        }
    }
    said.push_str(&read_until_closed(&mut stream, Duration::from_secs(2)).await);
    assert!(said.starts_with("HTTP/1.1 408 "), "{said}");
    assert!(said.contains("\"request_timeout\""), "{said}");
    assert!(h.mock.calls().is_empty(), "nothing was registered");
}

#[tokio::test]
async fn connections_past_the_bound_are_closed_and_the_bound_frees_up() {
    let h = start_bounded(4).await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(tokio::net::TcpStream::connect(h.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    // A fifth connection is accepted by the kernel and closed by the server unanswered.
    let mut fifth = tokio::net::TcpStream::connect(h.addr).await.unwrap();
    let _ = fifth
        .write_all(b"GET /livez HTTP/1.1\r\nHost: test\r\n\r\n")
        .await;
    let said = read_until_closed(&mut fifth, Duration::from_secs(2)).await;
    assert_eq!(said, "", "refused past the bound");
    // The idle ones are cut off at the header timeout; then the server answers again.
    for stream in &mut idle {
        let _ = read_until_closed(stream, Duration::from_secs(3)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(h.send(Method::GET, "/livez").await.status(), 200);
}
