//! The daemon end to end (root only): a veth pair between the root namespace and a test
//! namespace, a real RTP/RTCP endpoint on each side (`vtcq-testbench peer`, with injected
//! loss and delay), the daemon capturing on the root side's veth, the call registered and
//! ended through the control API, and the record received by a local fake Graph. Elsewhere
//! the tests print why they skip.
//!
//! Topology (addresses exist only on this veth pair, inside this sandbox):
//!   root ns: vtcq run (capture on vtqA<n>), bot peer 10.213.<n>.1:50000, fake Graph on 127.0.0.1
//!   test ns: device peer 10.213.<n>.2:40000
//! The kernel here has no netem, so the device peer adds the delay itself: it handles what
//! it receives 20 ms late and sends 10 ms late, 30 ms of round trip as seen at the bot.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
mod common;
use common::{http, secs, sh, Net, Scratch};
use vtcq_reporter::testing::{FakeGraph, FakeGraphConfig, ScriptedResponse};

const TENANT: &str = "contoso.onmicrosoft.com";
const CLIENT: &str = "6731de76-14a6-49ae-97bc-6eba6914391e";
const SECRET: &str = "daemon-test-secret";
const LEG: &str = "bd9ee398-4b9d-42c7-8b8d-4e8efad9435f";

fn skip_reason() -> Option<String> {
    if !Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"))
    {
        return Some("needs root for network namespaces and AF_PACKET".into());
    }
    if !Command::new("ip")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Some("needs iproute2 (ip)".into());
    }
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

fn write_config(scratch: &Scratch, net: &Net, graph_url: &str, api: SocketAddr) -> PathBuf {
    let secret = scratch.path("secret");
    std::fs::write(&secret, SECRET).unwrap_or_else(|e| panic!("{e}"));
    let config = format!(
        r#"[graph]
cloud = "custom"
graph_root = "{graph_url}"
login_root = "{graph_url}"
tenant_id = "{TENANT}"
client_id = "{CLIENT}"
client_secret_file = "{secret}"

[spool]
dir = "{spool}"

[retry]
initial_backoff = "50ms"
max_backoff = "1s"
request_timeout = "5s"

[capture]
interface = "{iface}"
local_addresses = ["{bot}"]
port_ranges = ["50000-50010"]

[api]
listen = "{api}"

[daemon]
shutdown_grace = "3s"
"#,
        secret = secret.display(),
        spool = scratch.path("spool").display(),
        iface = net.veth,
        bot = net.bot,
    );
    let path = scratch.path("vtcq.toml");
    std::fs::write(&path, config).unwrap_or_else(|e| panic!("{e}"));
    path
}

/// The daemon's process; killed if a test fails before stopping it (it would outlive the
/// test otherwise, capturing on a veth that no longer exists).
struct Daemon(Child);

impl std::ops::Deref for Daemon {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Daemon {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn start_daemon(config: &Path, log: &Path) -> Daemon {
    let log = std::fs::File::create(log).unwrap_or_else(|e| panic!("{e}"));
    let child = Command::new(env!("CARGO_BIN_EXE_vtcq"))
        .args(["run", "--config", config.to_str().unwrap_or_default()])
        .env("VTCQ_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    Daemon(child)
}

fn wait_ready(api: SocketAddr, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while http(api, "GET", "/readyz", None).0 != 200 {
        assert!(
            Instant::now() < deadline,
            "daemon not ready: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn register(api: SocketAddr, net: &Net) {
    let body = serde_json::json!({
        "callChainId": "0622673d-9f69-49b3-9d4f-5ec64f42ecce",
        "participantId": "ea078406-b5d4-4d3c-b85e-90103dcec7f6",
        "deviceName": "Test VTC",
        "deviceDescription": "veth test device",
        "mediaSessions": [{
            "kind": "audio",
            "localPort": 50000,
            "remoteAddress": net.device,
            "remotePort": 40000,
            "payloadTypes": [{"payloadType": 0, "clockRate": 8000}]
        }]
    });
    let (status, text) = http(api, "PUT", &format!("/v1/calls/{LEG}"), Some(&body));
    assert_eq!(status, 201, "{text}");
}

/// What every live test starts from: a scratch folder, the veth pair `10.213.<tag>.0/30`,
/// a fake Graph, a free port for the API and a config file pointing at all of them.
struct Rig {
    scratch: Scratch,
    net: Net,
    fake: FakeGraph,
    api: SocketAddr,
    config: PathBuf,
    log: PathBuf,
}

async fn rig(name: &str, tag: u32) -> Rig {
    let scratch = Scratch::new("vtcq-daemon", name);
    let net = Net::new("vtq", tag, &format!("10.213.{tag}"));
    let fake = FakeGraph::start(FakeGraphConfig::with_secret(TENANT, CLIENT, SECRET))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let api = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let config = write_config(&scratch, &net, &fake.url(), api);
    let log = scratch.path("daemon.log");
    Rig {
        scratch,
        net,
        fake,
        api,
        config,
        log,
    }
}

/// Starts the daemon, waits until it is ready, and registers the test call.
fn start_registered(config: &Path, log: &Path, api: SocketAddr, net: &Net) -> Daemon {
    let daemon = start_daemon(config, log);
    wait_ready(api, log);
    register(api, net);
    daemon
}

struct Peers {
    bot: Child,
    device: Child,
}

fn start_peers(net: &Net, scratch: &Scratch, seconds: u64) -> Peers {
    let testbench = common::testbench();
    let exe = testbench.to_str().unwrap_or_default();
    let secs = seconds.to_string();
    let bot = Command::new(exe)
        .args([
            "peer",
            "--bind",
            &format!("{}:50000", net.bot),
            "--peer",
            &format!("{}:40000", net.device),
        ])
        .args([
            "--ssrc",
            "0x11110001",
            "--duration-secs",
            &secs,
            "--send-loss",
            "3",
            "--periodic-loss",
            "--seed",
            "1",
            "--bye",
        ])
        .args([
            "--report",
            scratch.path("bot.json").to_str().unwrap_or_default(),
        ])
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let device = Command::new("ip")
        .args(["netns", "exec", &net.ns, exe, "peer"])
        .args([
            "--bind",
            &format!("{}:40000", net.device),
            "--peer",
            &format!("{}:50000", net.bot),
        ])
        .args([
            "--ssrc",
            "0x22220001",
            "--duration-secs",
            &secs,
            "--send-loss",
            "5",
            "--periodic-loss",
            "--seed",
            "2",
            "--bye",
        ])
        .args(["--added-delay-ms", "20", "--added-send-delay-ms", "10"])
        .args([
            "--report",
            scratch.path("device.json").to_str().unwrap_or_default(),
        ])
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    Peers { bot, device }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_default()).unwrap_or_default()
}

fn sigterm(child: &Child) {
    sh(&["kill", "-TERM", &child.id().to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_call_over_veth_is_measured_and_delivered() {
    if let Some(reason) = skip_reason() {
        eprintln!("skipped: {reason}");
        return;
    }
    let Rig {
        scratch,
        net,
        fake,
        api,
        config,
        log,
    } = rig("live", 101).await;
    let mut daemon = start_registered(&config, &log, api, &net);

    let mut peers = start_peers(&net, &scratch, 8);
    let _ = peers.bot.wait();
    let _ = peers.device.wait();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (status, text) = http(api, "DELETE", &format!("/v1/calls/{LEG}"), None);
    assert_eq!(
        status,
        200,
        "{text}\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let body: Value = serde_json::from_str(&text).unwrap_or_default();
    let again = http(api, "DELETE", &format!("/v1/calls/{LEG}"), None);
    assert_eq!(again.0, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&again.1).unwrap_or_default(),
        body,
        "ending is idempotent"
    );

    let bot = read_json(&scratch.path("bot.json"));
    let device = read_json(&scratch.path("device.json"));
    let audio = &body["quality"]["mediaQualityList"][0];
    assert_eq!(
        audio["@odata.type"],
        "#microsoft.graph.teleconferenceDeviceAudioQuality"
    );
    // Every packet a peer sent crossed the veth and was captured: counts are exact.
    assert_eq!(audio["outboundPackets"], bot["rtpSent"], "{audio}");
    assert_eq!(audio["inboundPackets"], device["rtpSent"], "{audio}");
    // Injected loss: 5 % of the device's packets, 3 % of the bot's, spread evenly.
    let inbound = audio["averageInboundPacketLossRateInPercentage"]
        .as_f64()
        .unwrap_or(f64::NAN);
    let outbound = audio["averageOutboundPacketLossRateInPercentage"]
        .as_f64()
        .unwrap_or(f64::NAN);
    assert!((inbound - 5.0).abs() <= 0.5, "inbound loss {inbound}");
    assert!((outbound - 3.0).abs() <= 0.5, "outbound loss {outbound}");
    // Injected delay: 20 ms + 10 ms at the device.
    let rtt = secs(&audio["averageOutboundRoundTripDelay"]);
    assert!((rtt - 0.030).abs() <= 0.005, "outbound RTT {rtt}");

    // The same record reaches Graph.
    let deadline = Instant::now() + Duration::from_secs(10);
    while fake.acknowledged_bodies().is_empty() {
        assert!(
            Instant::now() < deadline,
            "never delivered: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let posted: Value = serde_json::from_str(&fake.acknowledged_bodies()[0]).unwrap_or_default();
    assert_eq!(posted, body);
    let (_, metrics) = http(api, "GET", "/metrics", None);
    assert!(metrics.contains("vtcq_records_posted_total 1"), "{metrics}");
    assert!(metrics.contains("vtcq_kernel_drops_total 0"), "{metrics}");

    sigterm(&daemon);
    let status = daemon.wait().unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "{text}");
    // A whole run's log (token fetch, posts, API) never shows the client secret.
    assert!(!text.contains(SECRET), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_call_spools_the_record_and_delivers_it_after_restart() {
    if let Some(reason) = skip_reason() {
        eprintln!("skipped: {reason}");
        return;
    }
    let Rig {
        scratch,
        net,
        fake: down,
        api,
        config,
        log,
    } = rig("sigterm", 102).await;
    // Graph is down during the first run.
    down.script_graph((0..10_000).map(|_| ScriptedResponse::status(503)));
    let mut daemon = start_registered(&config, &log, api, &net);
    let mut peers = start_peers(&net, &scratch, 6);
    tokio::time::sleep(Duration::from_secs(3)).await;
    sigterm(&daemon);
    let status = daemon.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let _ = peers.bot.kill();
    let _ = peers.device.kill();
    let _ = peers.bot.wait();
    let _ = peers.device.wait();
    let spooled = std::fs::read_dir(scratch.path("spool").join("ready"))
        .map(|rd| rd.count())
        .unwrap_or(0);
    assert_eq!(
        spooled,
        1,
        "the record is spooled: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );

    // Graph is back; the restarted daemon delivers the spooled record.
    let up = FakeGraph::start(FakeGraphConfig::with_secret(TENANT, CLIENT, SECRET))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let config = write_config(&scratch, &net, &up.url(), api);
    let mut daemon = start_daemon(&config, &log);
    let deadline = Instant::now() + Duration::from_secs(20);
    while up.acknowledged_bodies().is_empty() {
        assert!(
            Instant::now() < deadline,
            "not delivered after restart: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let posted: Value = serde_json::from_str(&up.acknowledged_bodies()[0]).unwrap_or_default();
    assert_eq!(posted["quality"]["mediaLegId"], LEG);
    assert!(
        posted["quality"]["mediaQualityList"][0]["outboundPackets"]
            .as_u64()
            .unwrap_or(0)
            > 0
    );
    sigterm(&daemon);
    let _ = daemon.wait();
}

#[test]
fn systemd_notifications_ready_watchdog_stopping() {
    if let Some(reason) = skip_reason() {
        eprintln!("skipped: {reason}");
        return;
    }
    use std::os::unix::net::UnixDatagram;
    let scratch = Scratch::new("vtcq-daemon", "notify");
    let socket_path = scratch.path("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap_or_else(|e| panic!("{e}"));
    socket
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap_or_else(|e| panic!("{e}"));
    let api = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let config = scratch.path("vtcq.toml");
    std::fs::write(
        &config,
        format!(
            "[capture]\ninterface = \"lo\"\nport_ranges = [\"50000-50010\"]\n[api]\nlisten = \"{api}\"\n[sink]\ndir = \"{}\"\n",
            scratch.path("records").display()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_vtcq"))
        .args(["run", "--config", config.to_str().unwrap_or_default()])
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "2000000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let receive = || {
        let mut buf = [0u8; 256];
        let n = socket.recv(&mut buf).unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    assert_eq!(receive(), "READY=1");
    // READY is sent once the API is bound.
    assert_eq!(http(api, "GET", "/livez", None).0, 200);
    assert_eq!(receive(), "WATCHDOG=1");
    sigterm(&daemon);
    assert_eq!(receive(), "STOPPING=1");
    assert!(daemon.wait().is_ok_and(|s| s.success()));
}

/// A memory figure of a process from /proc/PID/status (`VmRSS`, `RssAnon`...), KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

/// The growth of the daemon's heap (anonymous resident memory) a flood may cause:
/// `calls.max_flows` (8192) sessions that never validate, at about 1.5 KiB each with their
/// index and queue entries, plus the vectors' doubling and the allocator's slack; see
/// README "Hostile traffic". The capture ring is a separate, fixed mapping.
const FLOOD_HEAP_GROWTH_BOUND_KIB: u64 = 32 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_hostile_flows_keeps_memory_bounded_and_the_call_correct() {
    if let Some(reason) = skip_reason() {
        eprintln!("skipped: {reason}");
        return;
    }
    let Rig {
        scratch,
        net,
        fake: _graph,
        api,
        config,
        log,
    } = rig("flood", 103).await;
    let mut daemon = start_registered(&config, &log, api, &net);
    let mut peers = start_peers(&net, &scratch, 14);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let heap_before = status_kib(daemon.id(), "RssAnon");

    // 1 million frames: random sources and ports onto the call's port range, RTP with
    // random SSRCs, malformed RTCP, junk. 100 k/s: the debug build must keep up.
    let testbench = common::testbench();
    let mut flood = Command::new("ip")
        .args([
            "netns",
            "exec",
            &net.ns,
            testbench.to_str().unwrap_or_default(),
            "flood",
        ])
        .args(["--interface", &net.peer, "--dst", &net.bot])
        .args(["--dst-ports", "50000-50010", "--packets", "1000000"])
        .args(["--rate", "100000", "--seed", "7"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let (mut max_heap, mut max_rss, mut probes, mut slowest) = (heap_before, 0, 0, Duration::ZERO);
    while flood.try_wait().ok().flatten().is_none() {
        let asked = Instant::now();
        let (status, _) = http(api, "GET", "/readyz", None);
        assert_eq!(status, 200, "/readyz during the flood");
        slowest = slowest.max(asked.elapsed());
        probes += 1;
        max_heap = max_heap.max(status_kib(daemon.id(), "RssAnon"));
        max_rss = max_rss.max(status_kib(daemon.id(), "VmRSS"));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let out = flood.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.starts_with("sent 1000000 frames"),
        "{said}"
    );
    eprintln!(
        "flood: {}; /readyz answered {probes} probes, slowest {slowest:?}; heap {heap_before} -> max {max_heap} KiB, max RSS {max_rss} KiB (ring included)",
        said.trim()
    );
    assert!(probes >= 5, "the flood ended too soon to probe: {said}");
    assert!(
        max_heap.saturating_sub(heap_before) <= FLOOD_HEAP_GROWTH_BOUND_KIB,
        "the heap grew from {heap_before} to {max_heap} KiB"
    );

    let _ = peers.bot.wait();
    let _ = peers.device.wait();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, metrics) = http(api, "GET", "/metrics", None);
    assert_eq!(metric(&metrics, "vtcq_kernel_drops_total"), 0, "{metrics}");
    assert!(metric(&metrics, "vtcq_flows") <= 8192, "{metrics}");
    // Most of the flood's 850 k flows were evicted at the bound (the rest were reaped as
    // idle unregistered flows by the once-a-second poll).
    assert!(
        metric(&metrics, "vtcq_flows_evicted_total") > 500_000,
        "{metrics}"
    );
    assert!(metric(&metrics, "vtcq_parse_errors_total") > 0, "{metrics}");

    // The registered call's record is exactly what the peers sent.
    let (status, text) = http(api, "DELETE", &format!("/v1/calls/{LEG}"), None);
    assert_eq!(status, 200, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap_or_default();
    let bot = read_json(&scratch.path("bot.json"));
    let device = read_json(&scratch.path("device.json"));
    let audio = &body["quality"]["mediaQualityList"][0];
    assert_eq!(audio["outboundPackets"], bot["rtpSent"], "{audio}");
    assert_eq!(audio["inboundPackets"], device["rtpSent"], "{audio}");
    let inbound = audio["averageInboundPacketLossRateInPercentage"]
        .as_f64()
        .unwrap_or(f64::NAN);
    assert!((inbound - 5.0).abs() <= 0.5, "inbound loss {inbound}");
    let rtt = secs(&audio["averageOutboundRoundTripDelay"]);
    assert!((rtt - 0.030).abs() <= 0.005, "outbound RTT {rtt}");

    sigterm(&daemon);
    assert!(daemon.wait().is_ok_and(|s| s.success()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_recovers_when_the_interface_goes_down_and_comes_back() {
    if let Some(reason) = skip_reason() {
        eprintln!("skipped: {reason}");
        return;
    }
    let Rig {
        scratch,
        net,
        fake: _graph,
        api,
        config,
        log,
    } = rig("ifdown", 104).await;
    let mut daemon = start_registered(&config, &log, api, &net);
    let mut peers = start_peers(&net, &scratch, 10);

    tokio::time::sleep(Duration::from_secs(3)).await;
    sh(&["ip", "link", "set", &net.veth, "down"]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, metrics) = http(api, "GET", "/metrics", None);
    let captured_while_down = metric(&metrics, "vtcq_packets_captured_total");
    sh(&["ip", "link", "set", &net.veth, "up"]);
    let _ = peers.bot.wait();
    let _ = peers.device.wait();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (_, metrics) = http(api, "GET", "/metrics", None);
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        metric(&metrics, "vtcq_capture_errors_total") >= 1,
        "the capture noticed the interface going down: {}",
        log_text()
    );
    assert!(log_text().contains("capture reopened"), "{}", log_text());
    // The last 5 s of the call (about 500 packets both ways) were captured after the
    // interface came back, with no restart.
    let captured_after = metric(&metrics, "vtcq_packets_captured_total") - captured_while_down;
    assert!(
        captured_after >= 300,
        "{captured_after} packets after up: {}",
        log_text()
    );
    assert_eq!(http(api, "GET", "/readyz", None).0, 200, "{}", log_text());

    let (status, text) = http(api, "DELETE", &format!("/v1/calls/{LEG}"), None);
    assert_eq!(status, 200, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap_or_default();
    let bot = read_json(&scratch.path("bot.json"));
    let audio = &body["quality"]["mediaQualityList"][0];
    let sent = bot["rtpSent"].as_u64().unwrap_or(0);
    let counted = audio["outboundPackets"].as_u64().unwrap_or(u64::MAX);
    // Down for 2 s of 10: what was sent while up was captured (the peer's sends fail
    // while the link is down, so those packets never existed on the wire).
    assert!(
        counted <= sent && counted * 10 >= sent * 6,
        "{counted} of {sent} counted: {}",
        log_text()
    );
    sigterm(&daemon);
    assert!(daemon.wait().is_ok_and(|s| s.success()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_keeps_the_record_in_memory_until_there_is_room() {
    if let Some(reason) = skip_reason() {
        eprintln!("skipped: {reason}");
        return;
    }
    let Rig {
        scratch,
        net,
        fake,
        api,
        config,
        log,
    } = rig("fulldisk", 105).await;
    // The spool on a 256 KiB tmpfs of its own.
    let spool = scratch.path("spool");
    std::fs::create_dir_all(&spool).unwrap_or_else(|e| panic!("{e}"));
    sh(&[
        "mount",
        "-t",
        "tmpfs",
        "-o",
        "size=256k",
        "tmpfs",
        spool.to_str().unwrap_or_default(),
    ]);
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(spool.clone());
    // Graph is down, so the record has to stay spooled (or in memory).
    fake.script_graph((0..10_000).map(|_| ScriptedResponse::status(503)));
    let mut daemon = start_registered(&config, &log, api, &net);
    // The filesystem fills up during the call: its record cannot be written when it ends.
    let filler = spool.join("filler");
    let _ = std::fs::write(&filler, vec![0u8; 512 * 1024]);
    let mut peers = start_peers(&net, &scratch, 3);
    let _ = peers.bot.wait();
    let _ = peers.device.wait();

    // The peers' BYEs end the call; storing its record fails and is retried every second.
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, metrics) = http(api, "GET", "/metrics", None);
        if metric(&metrics, "vtcq_records_handoff_failures_total") >= 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no hand-off failure: {}",
            log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        http(api, "GET", "/readyz", None).0,
        503,
        "not ready with a record unstored"
    );
    assert!(
        log_text().contains("kept in memory and retried"),
        "{}",
        log_text()
    );

    // Room again: the next tick stores it; readiness comes back; nothing was lost.
    std::fs::remove_file(&filler).unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while http(api, "GET", "/readyz", None).0 != 200 {
        assert!(Instant::now() < deadline, "never stored: {}", log_text());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let spooled = std::fs::read_dir(spool.join("ready"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(spooled, 1, "{}", log_text());
    // A repeated DELETE answers with the record now.
    let (status, text) = http(api, "DELETE", &format!("/v1/calls/{LEG}"), None);
    assert_eq!(status, 200, "{text}");
    sigterm(&daemon);
    let _ = daemon.wait();
}
