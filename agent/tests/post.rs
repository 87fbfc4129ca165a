//! `vtcq post` and `vtcq spool` end to end: the real binary against a local server that
//! behaves like Graph and its token endpoint, over real HTTP on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

mod common;
use common::{repo, Scratch};
use vtcq_reporter::testing::{FakeGraph, FakeGraphConfig, ScriptedResponse};

const TENANT: &str = "contoso.onmicrosoft.com";
const CLIENT: &str = "6731de76-14a6-49ae-97bc-6eba6914391e";
const SECRET: &str = "s3cr3t-Value~with.special_chars";
const ACTION: &str = "/v1.0/communications/calls/logTeleconferenceDeviceQuality";

/// Distinct valid bodies: the documented example with its own mediaLegId.
fn records(scratch: &Scratch, n: usize) -> Vec<PathBuf> {
    let example = std::fs::read_to_string(repo().join("reporter/schema/example-request.json"))
        .unwrap_or_else(|e| panic!("{e}"));
    (0..n)
        .map(|i| {
            let body = example.replace(
                "bd9ee398-4b9d-42c7-8b8d-4e8efad9435f",
                &format!("bd9ee398-4b9d-42c7-8b8d-{:012x}", i + 1),
            );
            let path = scratch.path(&format!("record-{i}.json"));
            std::fs::write(&path, body).unwrap_or_else(|e| panic!("{e}"));
            path
        })
        .collect()
}

fn leg_of(body: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    value["quality"]["mediaLegId"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn write_config(scratch: &Scratch, fake: &FakeGraph, extra: &str) -> PathBuf {
    let secret = scratch.path("client-secret");
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap_or_else(|e| panic!("{e}"));
    let config = format!(
        r#"[graph]
cloud = "custom"
graph_root = "{url}"
login_root = "{url}"
tenant_id = "{TENANT}"
client_id = "{CLIENT}"
client_secret_file = "{secret}"
{extra}

[spool]
dir = "{spool}"

[retry]
initial_backoff = "20ms"
max_backoff = "2s"
request_timeout = "5s"
"#,
        url = fake.url(),
        secret = secret.display(),
        spool = scratch.path("spool").display(),
    );
    let path = scratch.path("vtcq.toml");
    std::fs::write(&path, config).unwrap_or_else(|e| panic!("{e}"));
    path
}

async fn vtcq(args: &[&str]) -> Output {
    vtcq_env(args, &[]).await
}

async fn vtcq_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_vtcq"));
    cmd.args(args).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output()
        .await
        .unwrap_or_else(|e| panic!("cannot run vtcq: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn post_args<'a>(config: &'a Path, files: &'a [PathBuf]) -> Vec<&'a str> {
    let mut args = vec![
        "-vv",
        "post",
        "--config",
        config.to_str().unwrap_or_default(),
    ];
    args.extend(files.iter().map(|p| p.to_str().unwrap_or_default()));
    args
}

async fn fake() -> FakeGraph {
    FakeGraph::start(FakeGraphConfig::with_secret(TENANT, CLIENT, SECRET))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn assert_no_secrets(logs: &str, fake: &FakeGraph) {
    assert!(
        !logs.contains(SECRET),
        "the client secret leaked into the logs"
    );
    for request in fake.graph_requests() {
        if let Some(auth) = request.header("authorization") {
            let token = auth.trim_start_matches("Bearer ");
            assert!(
                !logs.contains(token),
                "an access token leaked into the logs"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_path_posts_exactly_what_graph_expects() {
    let scratch = Scratch::new("vtcq-post", "happy");
    let fake = fake().await;
    let config = write_config(&scratch, &fake, "");
    let files = records(&scratch, 3);
    let out = vtcq(&post_args(&config, &files)).await;
    let logs = text(&out.stderr);
    assert!(out.status.success(), "{logs}");
    let requests = fake.graph_requests();
    assert_eq!(requests.len(), 3);
    for (request, file) in requests.iter().zip(&files) {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, ACTION);
        assert_eq!(
            request.body,
            std::fs::read_to_string(file).unwrap_or_default(),
            "body byte for byte, in order"
        );
        assert!(request
            .header("authorization")
            .is_some_and(|a| a.starts_with("Bearer fake-token-")));
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(
            request.header("user-agent"),
            Some(concat!("vtcq/", env!("CARGO_PKG_VERSION")))
        );
        let id = request.header("client-request-id").unwrap_or_default();
        assert!(
            uuid::Uuid::parse_str(id).is_ok(),
            "client-request-id {id:?}"
        );
        assert!(logs.contains(id), "client-request-id is logged");
    }
    // One token for all three posts.
    assert_eq!(fake.token_requests().len(), 1);
    let token = &fake.token_requests()[0];
    assert_eq!(token.path, format!("/{TENANT}/oauth2/v2.0/token"));
    assert_eq!(
        token.field("scope"),
        Some(format!("{}/.default", fake.url()).as_str())
    );
    assert_eq!(token.field("grant_type"), Some("client_credentials"));
    assert!(token.credential_valid);
    assert_no_secrets(&logs, &fake);
    // Acknowledged records leave the spool.
    let list = vtcq(&[
        "spool",
        "list",
        "--config",
        config.to_str().unwrap_or_default(),
    ])
    .await;
    assert!(list.status.success(), "{}", text(&list.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_token_is_refreshed_once() {
    let scratch = Scratch::new("vtcq-post", "expired");
    let fake = fake().await;
    let config = write_config(&scratch, &fake, "");
    let files = records(&scratch, 1);
    fake.script_graph([ScriptedResponse::json(
        401,
        &serde_json::json!({"error": {"code": "InvalidAuthenticationToken", "message": "Access token has expired or is not yet valid."}}),
    )]);
    let out = vtcq(&post_args(&config, &files)).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(fake.token_requests().len(), 2, "one refresh after the 401");
    let statuses: Vec<u16> = fake.graph_requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![401, 200]);
    assert_no_secrets(&text(&out.stderr), &fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_outages_lose_nothing() {
    let scratch = Scratch::new("vtcq-post", "throttle");
    let fake = fake().await;
    let config = write_config(&scratch, &fake, "");
    let files = records(&scratch, 4);
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(1));
    let mut script = vec![
        ScriptedResponse::status(429).header("Retry-After", "1"),
        ScriptedResponse::status(429).header("Retry-After", &date),
    ];
    script.extend((0..6).map(|_| ScriptedResponse::status(503)));
    script.push(ScriptedResponse::status(504));
    fake.script_graph(script);
    let started = std::time::Instant::now();
    let out = vtcq(&post_args(&config, &files)).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Retry-After was honoured (1 s, then a date about 1 s ahead).
    assert!(
        started.elapsed() >= Duration::from_millis(1_500),
        "{:?}",
        started.elapsed()
    );
    let acked: Vec<String> = fake
        .acknowledged_bodies()
        .iter()
        .map(|b| leg_of(b))
        .collect();
    let sent: Vec<String> = files
        .iter()
        .map(|f| leg_of(&std::fs::read_to_string(f).unwrap_or_default()))
        .collect();
    assert_eq!(acked, sent, "every record delivered once, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_request_is_dead_lettered_and_the_rest_delivered() {
    let scratch = Scratch::new("vtcq-post", "dead");
    let fake = fake().await;
    let config = write_config(&scratch, &fake, "");
    let files = records(&scratch, 3);
    fake.script_graph([
        ScriptedResponse::status(200),
        ScriptedResponse::json(400, &serde_json::json!({"error": {"code": "BadRequest", "message": "Invalid channelIndex"}})),
    ]);
    let out = vtcq(&post_args(&config, &files)).await;
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("rejected 1 records"), "{err}");
    assert_eq!(fake.acknowledged_bodies().len(), 2);
    let dead: Vec<_> = std::fs::read_dir(scratch.path("spool").join("dead"))
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    let responses: Vec<String> = dead
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".response.json"))
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect();
    assert_eq!(responses.len(), 1, "{dead:?}");
    assert!(
        responses[0].contains("Invalid channelIndex"),
        "{}",
        responses[0]
    );
    let list = vtcq(&[
        "spool",
        "list",
        "--config",
        config.to_str().unwrap_or_default(),
    ])
    .await;
    assert!(
        text(&list.stdout).contains("dead"),
        "{}",
        text(&list.stdout)
    );
    // An operator fixes the cause and retries: delivered.
    let retry = vtcq(&[
        "spool",
        "retry",
        "--config",
        config.to_str().unwrap_or_default(),
    ])
    .await;
    assert!(retry.status.success(), "{}", text(&retry.stderr));
    let again = vtcq(&post_args(&config, &[])).await;
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(fake.acknowledged_bodies().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_mid_delivery_then_restart_delivers_everything_once() {
    let scratch = Scratch::new("vtcq-post", "kill");
    let fake = fake().await;
    let config = write_config(&scratch, &fake, "");
    let files = records(&scratch, 6);
    // A slow Graph: the kill lands while a request is in flight.
    fake.script_graph(
        (0..6).map(|_| ScriptedResponse::status(200).delay(Duration::from_millis(300))),
    );
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_vtcq"))
        .args(post_args(&config, &files))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    // Wait until the third request arrives, then SIGKILL (no chance to clean up).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while fake.graph_requests().len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the first requests never came"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.start_kill().unwrap_or_else(|e| panic!("{e}"));
    let _ = child.wait().await;
    let in_flight = leg_of(&fake.graph_requests()[2].body);
    // Let the in-flight answer go out to the dead client.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let acked_before_kill: Vec<String> = fake
        .acknowledged_bodies()
        .iter()
        .map(|b| leg_of(b))
        .filter(|l| *l != in_flight)
        .collect();
    assert_eq!(acked_before_kill.len(), 2);

    let out = vtcq(&post_args(&config, &[])).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let acked: Vec<String> = fake
        .acknowledged_bodies()
        .iter()
        .map(|b| leg_of(b))
        .collect();
    for file in &files {
        let leg = leg_of(&std::fs::read_to_string(file).unwrap_or_default());
        let times = acked.iter().filter(|l| **l == leg).count();
        if leg == in_flight {
            // Answered after the client died: the client never saw the 2xx, so it sends
            // the record again (at-least-once; Graph has no idempotency key).
            assert!((1..=2).contains(&times), "{leg}: {times}");
        } else {
            assert_eq!(times, 1, "{leg} acknowledged {times} times");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_spool_folder_is_a_clear_error_and_loses_nothing() {
    let scratch = Scratch::new("vtcq-post", "nospool");
    let fake = fake().await;
    let config = write_config(&scratch, &fake, "");
    // The spool path is a file: no user, root included, can create the folder there.
    std::fs::write(scratch.path("spool"), b"not a folder").unwrap_or_else(|e| panic!("{e}"));
    let files = records(&scratch, 1);
    let out = vtcq(&post_args(&config, &files)).await;
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("spool") && err.contains(&scratch.path("spool").display().to_string()),
        "{err}"
    );
    assert!(
        fake.graph_requests().is_empty(),
        "nothing is posted without a durable copy"
    );
    assert!(files[0].exists(), "the input is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_credential_end_to_end() {
    let scratch = Scratch::new("vtcq-post", "cert");
    let fixtures = repo().join("reporter/tests/fixtures");
    let public_key = std::fs::read(fixtures.join("test-pubkey-pkcs1.der")).unwrap_or_default();
    let cert_pem = std::fs::read_to_string(fixtures.join("test-cert.pem")).unwrap_or_default();
    let cert_der = {
        use base64::Engine;
        let b64: String = cert_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap_or_default()
    };
    let fake = FakeGraph::start(FakeGraphConfig::with_certificate(
        TENANT, CLIENT, public_key, cert_der,
    ))
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let config = scratch.path("vtcq.toml");
    std::fs::write(
        &config,
        format!(
            "[graph]\ncloud = \"custom\"\ngraph_root = \"{url}\"\nlogin_root = \"{url}\"\ntenant_id = \"{TENANT}\"\nclient_id = \"{CLIENT}\"\ncertificate_file = \"{cert}\"\nprivate_key_file = \"{key}\"\n[spool]\ndir = \"{spool}\"\n",
            url = fake.url(),
            cert = fixtures.join("test-cert.pem").display(),
            key = fixtures.join("test-key.pem").display(),
            spool = scratch.path("spool").display()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let files = records(&scratch, 1);
    let out = vtcq(&post_args(&config, &files)).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = &fake.token_requests()[0];
    assert!(token.credential_valid, "{:?}", token.error);
    assert_eq!(
        token.assertion_header.as_ref().map(|h| h["alg"].clone()),
        Some(serde_json::json!("PS256"))
    );
    assert_eq!(fake.acknowledged_bodies().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_credentials_records_go_to_the_file_sink() {
    let scratch = Scratch::new("vtcq-post", "sink");
    let config = scratch.path("vtcq.toml");
    std::fs::write(
        &config,
        format!("[sink]\ndir = \"{}\"\n", scratch.path("records").display()),
    )
    .unwrap_or_default();
    let files = records(&scratch, 2);
    let out = vtcq(&post_args(&config, &files)).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let written: Vec<_> = std::fs::read_dir(scratch.path("records"))
        .map(|rd| rd.count())
        .into_iter()
        .collect();
    assert_eq!(written, vec![2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stdout_sink_prints_one_record_per_line() {
    let scratch = Scratch::new("vtcq-post", "stdout");
    let config = scratch.path("vtcq.toml");
    std::fs::write(&config, "[sink]\nkind = \"stdout\"\n").unwrap_or_default();
    // The example is pretty-printed over many lines; each record comes out on one.
    let files = records(&scratch, 2);
    let out = vtcq(&post_args(&config, &files)).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 2, "{printed}");
    for (line, file) in lines.iter().zip(&files) {
        let written = std::fs::read_to_string(file).unwrap_or_default();
        let as_printed: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        let as_written: serde_json::Value = serde_json::from_str(&written).unwrap_or_default();
        assert_eq!(as_printed, as_written);
        assert_eq!(leg_of(line), leg_of(&written));
    }
    assert!(!scratch.path("spool").exists(), "no spool without Graph");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_config_and_bad_bodies_are_refused_before_anything_is_sent() {
    let scratch = Scratch::new("vtcq-post", "badcfg");
    let fake = fake().await;
    let config = write_config(&scratch, &fake, "api_version = \"v2\"");
    let files = records(&scratch, 1);
    let out = vtcq(&post_args(&config, &files)).await;
    assert_eq!(out.status.code(), Some(78), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("api_version"),
        "{}",
        text(&out.stderr)
    );

    let config = write_config(&scratch, &fake, "");
    let out = vtcq_env(
        &post_args(&config, &files),
        &[("VTCQ_GRAPH__CLOUD", "china")],
    )
    .await;
    assert_eq!(out.status.code(), Some(78), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("graph.cloud"),
        "{}",
        text(&out.stderr)
    );

    let bad = scratch.path("bad.json");
    std::fs::write(&bad, b"{\"quality\": {\"callChainId\": \"nope\"}}").unwrap_or_default();
    let out = vtcq(&post_args(&config, &[files[0].clone(), bad.clone()])).await;
    assert_eq!(out.status.code(), Some(65), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("bad.json"),
        "{}",
        text(&out.stderr)
    );
    assert!(fake.graph_requests().is_empty());
}
