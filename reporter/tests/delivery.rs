//! The drain loop on tokio's paused clock: backoff, `Retry-After` and deadlines are timer
//! driven, so these tests advance virtual time instead of sleeping. The fake Graph runs on
//! its own thread and real time; the client has no timers of its own
//! (`testing::paused_clock_client`), so only the drain's waits move the clock.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use vtcq_reporter::cloud::ApiVersion;
use vtcq_reporter::delivery::{Delivery, DeliveryMetrics, GraphPoster};
use vtcq_reporter::retry::RetryPolicy;
use vtcq_reporter::secret::Secret;
use vtcq_reporter::settings::GraphSettings;
use vtcq_reporter::spool::{Spool, SpoolLimits};
use vtcq_reporter::testing::{paused_clock_client, FakeGraph, FakeGraphConfig, ScriptedResponse};
use vtcq_reporter::token::Credential;

const TENANT: &str = "t";
const CLIENT: &str = "6731de76-14a6-49ae-97bc-6eba6914391e";
const SECRET: &str = "paused-secret";

struct Harness {
    fake: FakeGraph,
    spool: std::sync::Mutex<Spool>,
    delivery: Delivery,
    metrics: Arc<DeliveryMetrics>,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn harness(name: &str, records: usize) -> Harness {
    let fake = FakeGraph::start(FakeGraphConfig::with_secret(TENANT, CLIENT, SECRET))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = std::env::temp_dir().join(format!("vtcq-delivery-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let limits = SpoolLimits {
        max_bytes: 1 << 20,
        max_age: Duration::from_secs(7 * 86_400),
    };
    let (mut spool, _) =
        Spool::open(&dir, limits, SystemTime::now()).unwrap_or_else(|e| panic!("{e}"));
    for i in 0..records {
        let body = format!("{{\"quality\":{{\"n\":{i}}}}}");
        spool
            .enqueue(body.as_bytes(), SystemTime::now())
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let settings = GraphSettings {
        endpoints: fake.endpoints(ApiVersion::V1),
        tenant_id: TENANT.to_owned(),
        client_id: CLIENT.to_owned(),
        credential: Credential::Secret(Secret::new(SECRET)),
    };
    let http = paused_clock_client().unwrap_or_else(|e| panic!("{e}"));
    let poster = GraphPoster::with_client(http, settings);
    let metrics = Arc::new(DeliveryMetrics::default());
    let policy = RetryPolicy {
        initial_backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(300),
        request_timeout: Duration::from_secs(30),
    };
    let delivery = Delivery::new(poster, policy, metrics.clone());
    Harness {
        fake,
        spool: std::sync::Mutex::new(spool),
        delivery,
        metrics,
        _dir: TempDir(dir),
    }
}

fn bodies(fake: &FakeGraph) -> Vec<String> {
    fake.acknowledged_bodies()
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_in_virtual_time() {
    let mut h = harness("retry-after", 2).await;
    h.fake
        .script_graph([ScriptedResponse::status(429).header("Retry-After", "120")]);
    let start = tokio::time::Instant::now();
    let report = h
        .delivery
        .drain(&h.spool, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let waited = start.elapsed();
    assert_eq!(report.delivered, 2);
    assert_eq!(report.remaining, 0);
    assert!(
        waited >= Duration::from_secs(120) && waited < Duration::from_secs(125),
        "{waited:?}"
    );
    assert_eq!(
        bodies(&h.fake),
        vec!["{\"quality\":{\"n\":0}}", "{\"quality\":{\"n\":1}}"]
    );
    assert_eq!(h.metrics.failed_attempts_total.load(Ordering::Relaxed), 1);
}

#[tokio::test(start_paused = true)]
async fn backoff_grows_exponentially_and_is_capped() {
    let mut h = harness("storm", 3).await;
    // Twelve 503s without Retry-After: 1, 2, 4, ... capped at 300 s (each with jitter in
    // [base/2, base]).
    h.fake
        .script_graph((0..12).map(|_| ScriptedResponse::status(503)));
    let start = tokio::time::Instant::now();
    let report = h
        .delivery
        .drain(&h.spool, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let waited = start.elapsed().as_secs_f64();
    let bases: Vec<f64> = (0..12).map(|i| f64::from(1u32 << i).min(300.0)).collect();
    let low: f64 = bases.iter().map(|b| b / 2.0).sum();
    let high: f64 = bases.iter().sum();
    assert!(
        waited >= low && waited <= high + 1.0,
        "{waited} not in [{low}, {high}]"
    );
    assert_eq!(report.delivered, 3, "nothing lost after the storm");
    assert_eq!(h.metrics.failed_attempts_total.load(Ordering::Relaxed), 12);
    assert_eq!(h.metrics.posted_total.load(Ordering::Relaxed), 3);
}

#[tokio::test(start_paused = true)]
async fn deadline_leaves_records_in_the_spool() {
    let mut h = harness("deadline", 2).await;
    h.fake
        .script_graph((0..1_000).map(|_| ScriptedResponse::status(503)));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3_600);
    let report = h
        .delivery
        .drain(&h.spool, Some(deadline))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(report.timed_out);
    assert_eq!(report.delivered, 0);
    assert_eq!(report.remaining, 2);
    assert_eq!(
        h.spool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pending()
            .len(),
        2,
        "undelivered records stay spooled"
    );
    assert!(tokio::time::Instant::now() <= deadline);
}

#[tokio::test(start_paused = true)]
async fn token_is_refreshed_ahead_of_expiry_between_posts() {
    let mut h = harness("refresh", 1).await;
    let report = h
        .delivery
        .drain(&h.spool, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.delivered, 1);
    assert_eq!(h.fake.token_requests().len(), 1);
    // The fake's tokens live an hour; 56 minutes later the cached one is inside the
    // 5-minute refresh margin.
    tokio::time::advance(Duration::from_secs(56 * 60)).await;
    h.spool
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .enqueue(b"{\"quality\":{\"n\":9}}", SystemTime::now())
        .unwrap_or_else(|e| panic!("{e}"));
    let report = h
        .delivery
        .drain(&h.spool, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.delivered, 1);
    assert_eq!(
        h.fake.token_requests().len(),
        2,
        "refreshed before it expired"
    );
    assert_eq!(h.delivery.poster().tokens().refresh_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn rejected_credentials_block_without_losing_records() {
    let mut h = harness("blocked", 2).await;
    h.fake.script_token([ScriptedResponse::json(
        401,
        &serde_json::json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."}),
    )]);
    let report = h
        .delivery
        .drain(&h.spool, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let reason = report.blocked.unwrap_or_default();
    assert!(reason.contains("invalid_client"), "{reason}");
    assert!(!reason.contains(SECRET));
    assert_eq!(report.remaining, 2);
    assert!(h.fake.graph_requests().is_empty());
}
