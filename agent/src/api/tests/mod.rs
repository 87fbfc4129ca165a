//! The API over real sockets (TCP on 127.0.0.1:0, Unix in the temp directory) against a
//! recording mock of the daemon: the harness here, the tests by subject in the files
//! beside it.
#![allow(clippy::unwrap_used)]

mod auth;
mod contract;
mod listeners;
mod routes;
mod validation;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{ALLOW, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use super::routes::ROUTES;
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
