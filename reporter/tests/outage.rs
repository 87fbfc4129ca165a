//! Graph unreachable for an hour, on tokio's paused clock: records keep arriving (one call
//! ends every minute), every delivery attempt fails at the transport, the spool fills to
//! its bound, and only then are the oldest records dropped, each one logged and counted.
//! When Graph is reachable again, everything still spooled is delivered, in order.
//!
//! "Unreachable" is a proxy in front of the fake Graph that, while down, accepts each
//! connection and closes it at once (what a dead route or a reset looks like to the
//! client); while up it forwards bytes both ways.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use vtcq_reporter::cloud::{ApiVersion, Endpoints};
use vtcq_reporter::delivery::{Delivery, DeliveryMetrics, GraphPoster};
use vtcq_reporter::retry::RetryPolicy;
use vtcq_reporter::secret::Secret;
use vtcq_reporter::settings::GraphSettings;
use vtcq_reporter::spool::{Spool, SpoolLimits};
use vtcq_reporter::testing::{paused_clock_client, FakeGraph, FakeGraphConfig, LogBuffer};
use vtcq_reporter::token::Credential;

const TENANT: &str = "t";
const CLIENT: &str = "6731de76-14a6-49ae-97bc-6eba6914391e";
const SECRET: &str = "outage-secret";

/// A TCP proxy that can play an unreachable network.
struct Proxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
}

impl Proxy {
    fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let up = Arc::new(AtomicBool::new(false));
        let state = Arc::clone(&up);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if !state.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                let pipe = |mut from: TcpStream, mut to: TcpStream| {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16 * 1024];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 || to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(Shutdown::Write);
                    });
                };
                if let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) {
                    pipe(client, server);
                    pipe(s2, c2);
                }
            }
        });
        Proxy { addr, up }
    }
}

fn body(n: usize) -> String {
    // About 1 KB, like a real three-channel record.
    format!(
        "{{\"quality\":{{\"n\":\"{n:04}\",\"pad\":\"{}\"}}}}",
        "x".repeat(1000)
    )
}

#[tokio::test(start_paused = true)]
async fn an_hour_without_graph_drops_only_the_oldest_and_only_at_the_bound() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish(),
    );

    let fake = FakeGraph::start(FakeGraphConfig::with_secret(TENANT, CLIENT, SECRET))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let target: SocketAddr = fake
        .url()
        .trim_start_matches("http://")
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let proxy = Proxy::start(target);
    let url = format!("http://{}", proxy.addr);

    let dir = std::env::temp_dir().join(format!("vtcq-outage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t0 = SystemTime::now();
    // Room for 20 records of this size (and half of one, for a header's few bytes of
    // difference): the bound bites from the 21st minute on.
    let record_size = {
        let probe = dir.join("probe");
        let (mut spool, _) =
            Spool::open(&probe, limits(u64::MAX), t0).unwrap_or_else(|e| panic!("{e}"));
        spool
            .enqueue(body(0).as_bytes(), t0)
            .unwrap_or_else(|e| panic!("{e}"));
        spool.stats().bytes
    };
    let keep = 20;
    let (spool, _) = Spool::open(
        &dir.join("spool"),
        limits(record_size * keep + record_size / 2),
        t0,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let spool = Mutex::new(spool);

    let metrics = Arc::new(DeliveryMetrics::default());
    let mut delivery = delivery_through(url, Arc::clone(&metrics));

    // One hour: a record a minute, delivery attempted in between.
    let minutes = 60;
    let start = tokio::time::Instant::now();
    for minute in 0..minutes {
        let now = t0 + Duration::from_secs(60 * minute as u64);
        spool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .enqueue(body(minute).as_bytes(), now)
            .unwrap_or_else(|e| panic!("{e}"));
        let held = spool.lock().unwrap_or_else(|e| e.into_inner()).stats();
        // Nothing is dropped before the bound is reached.
        assert_eq!(
            held.dropped_total,
            (minute + 1).saturating_sub(keep as usize) as u64
        );
        let deadline = start + Duration::from_secs(60 * (minute as u64 + 1));
        let report = delivery
            .drain(&spool, Some(deadline))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(report.delivered, 0);
        // The drain returns when its next attempt would be past the deadline.
        tokio::time::sleep_until(deadline).await;
    }
    assert!(
        start.elapsed() >= Duration::from_secs(3600),
        "{:?}",
        start.elapsed()
    );
    assert!(fake.graph_requests().is_empty() && fake.token_requests().is_empty());
    let failed = metrics.failed_attempts_total.load(Ordering::Relaxed);
    assert!(
        failed >= 12,
        "attempts kept being made with backoff: {failed}"
    );

    let stats = spool.lock().unwrap_or_else(|e| e.into_inner()).stats();
    assert_eq!(stats.records, keep as usize);
    assert_eq!(stats.dropped_total, minutes as u64 - keep);
    assert_eq!(stats.dropped_size_total, minutes as u64 - keep);
    let log = logs.text();
    let drops = log.matches("spool full: dropped the oldest record").count();
    assert_eq!(drops as u64, minutes as u64 - keep, "{log}");
    assert!(!log.contains(SECRET));

    // Graph is back: the newest 20 records arrive, oldest first.
    proxy.up.store(true, Ordering::SeqCst);
    let report = delivery
        .drain(&spool, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.delivered, keep as usize, "{report:?}");
    let expected: Vec<String> = (minutes - keep as usize..minutes).map(body).collect();
    assert_eq!(fake.acknowledged_bodies(), expected);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Delivery to Graph through the proxy at `url` (retrying 1 s to 5 min), on the paused
/// clock.
fn delivery_through(url: String, metrics: Arc<DeliveryMetrics>) -> Delivery {
    let settings = GraphSettings {
        endpoints: Endpoints {
            graph_root: url.clone(),
            login_root: url,
            api_version: ApiVersion::V1,
        },
        tenant_id: TENANT.to_owned(),
        client_id: CLIENT.to_owned(),
        credential: Credential::Secret(Secret::new(SECRET)),
    };
    let poster = GraphPoster::with_client(
        paused_clock_client().unwrap_or_else(|e| panic!("{e}")),
        settings,
    );
    Delivery::new(
        poster,
        RetryPolicy {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            request_timeout: Duration::from_secs(30),
        },
        metrics,
    )
}

fn limits(max_bytes: u64) -> SpoolLimits {
    SpoolLimits {
        max_bytes,
        max_age: Duration::from_secs(7 * 86_400),
    }
}
