//! The deployment's privilege model end to end (root only; elsewhere the tests print why
//! they skip): `vtcq run` as an unprivileged user (uid 65534) holding CAP_NET_RAW and
//! nothing else, the way deploy/systemd/vtcq.service and deploy/container/Dockerfile run
//! it, started with util-linux `setpriv`.
//!
//! - systemd (`DynamicUser=`, `AmbientCapabilities=CAP_NET_RAW`,
//!   `CapabilityBoundingSet=CAP_NET_RAW`, `NoNewPrivileges=yes`, `Type=notify`,
//!   `WatchdogSec=`): ambient NET_RAW on the plain binary under no_new_privs. The daemon
//!   becomes ready, notifies READY=1, WATCHDOG=1 and STOPPING=1, measures a live call
//!   across a veth pair, and writes the record into a sink folder owned by the user.
//! - No capability at all: `vtcq run` exits non-zero naming CAP_NET_RAW.
//! - The container image (non-root user, `setcap cap_net_raw+ep` on the binary, NET_RAW
//!   in the bounding set, an empty permitted set before the exec as container runtimes
//!   leave it for a non-root user): capture works without no_new_privs, fails with it
//!   (Kubernetes `allowPrivilegeEscalation: false`), and the exec itself is refused when
//!   NET_RAW is not in the bounding set. The documented alternative, uid 0 with only
//!   NET_RAW in the bounding set and no_new_privs, works.
//!
//! Topology of the live call (addresses exist only on this veth pair, inside this sandbox):
//!   root ns: vtcq run (uid 65534, capture on vtdA<pid>), bot peer 10.214.<x>.1:50000
//!   test ns: device peer 10.214.<x>.2:40000

use std::net::SocketAddr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{http, sh, Net};

/// The unprivileged user (nobody); the container image's 65532 behaves the same.
const UID: u32 = 65534;
const LEG: &str = "5c7de0c4-3f0b-4d55-9a43-2d3c1f0e8b61";
/// CapEff/CapPrm/CapBnd with CAP_NET_RAW (bit 13) alone.
const NET_RAW_ONLY: &str = "0000000000002000";

fn skip_reason() -> Option<String> {
    if !Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
    {
        return Some("needs root (network namespaces, setpriv to another user)".into());
    }
    for (tool, arg) in [("ip", "-V"), ("setpriv", "--version")] {
        if !Command::new(tool)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Some(format!("needs {tool}"));
        }
    }
    None
}

/// A scratch folder under /tmp that uid 65534 can traverse; removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        // Not $TMPDIR: every folder above the scratch folder must be traversable by uid
        // 65534, as /tmp (1777) is.
        let dir = Path::new("/tmp").join(format!("vtcq-deploy-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        set_mode(&dir, 0o755);
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// A folder owned by the unprivileged user (spool, sink).
    fn owned_dir(&self, name: &str) -> PathBuf {
        let dir = self.path(name);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        std::os::unix::fs::chown(&dir, Some(UID), Some(UID))
            .unwrap_or_else(|e| panic!("chown {}: {e}", dir.display()));
        set_mode(&dir, 0o700);
        dir
    }

    /// The test's vtcq binary copied here, where uid 65534 can execute it (the cargo
    /// target folder may not be reachable for it).
    fn binary(&self, name: &str) -> PathBuf {
        let bin = self.path("bin");
        std::fs::create_dir_all(&bin).unwrap_or_else(|e| panic!("{e}"));
        set_mode(&bin, 0o755);
        let copy = bin.join(name);
        std::fs::copy(env!("CARGO_BIN_EXE_vtcq"), &copy).unwrap_or_else(|e| panic!("{e}"));
        set_mode(&copy, 0o755);
        copy
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A production-like config (deploy/systemd/vtcq.toml's shape) without Graph
/// credentials: records go to the file sink.
fn write_config(
    scratch: &Scratch,
    interface: &str,
    local: Option<&str>,
    api: SocketAddr,
) -> PathBuf {
    let local =
        local.map(|a| format!("local_addresses = [\"{a}\"]\nport_ranges = [\"50000-50010\"]\n"));
    let config = format!(
        r#"[spool]
dir = "{spool}"

[sink]
kind = "file"
dir = "{records}"

[capture]
interface = "{interface}"
{local}
[api]
listen = "{api}"

[log]
format = "json"

[daemon]
shutdown_grace = "3s"
"#,
        spool = scratch.owned_dir("spool").display(),
        records = scratch.owned_dir("records").display(),
        local = local.unwrap_or_default(),
    );
    let path = scratch.path("vtcq.toml");
    std::fs::write(&path, config).unwrap_or_else(|e| panic!("{e}"));
    set_mode(&path, 0o644);
    path
}

/// `setpriv ARGS...` with an environment free of configuration overrides and of any
/// service manager's notification socket.
fn setpriv(args: &[&str]) -> Command {
    let mut command = Command::new("setpriv");
    command.args(args);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("VTCQ_") {
            command.env_remove(name);
        }
    }
    for name in [
        "NOTIFY_SOCKET",
        "WATCHDOG_USEC",
        "WATCHDOG_PID",
        "LISTEN_FDS",
        "LISTEN_PID",
    ] {
        command.env_remove(name);
    }
    command
}

/// uid/gid 65534, no supplementary groups, and the given capability sets.
fn as_unprivileged(inh: &str, ambient: &str, bounding: &str) -> Command {
    let uid = UID.to_string();
    setpriv(&[
        &format!("--reuid={uid}"),
        &format!("--regid={uid}"),
        "--clear-groups",
        &format!("--inh-caps={inh}"),
        &format!("--ambient-caps={ambient}"),
        &format!("--bounding-set={bounding}"),
    ])
}

fn spawn(mut command: Command, log: &Path) -> Child {
    let log = std::fs::File::create(log).unwrap_or_else(|e| panic!("{e}"));
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Waits for the child to exit, killing it after `limit`.
fn wait_exit(child: &mut Child, limit: Duration, log: &Path) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("still running after {limit:?}:\n{}", read(log));
            }
            Err(e) => panic!("{e}"),
        }
    }
}

/// Waits until GET /readyz answers 200; fails early if the daemon exited.
fn wait_ready(api: SocketAddr, daemon: &mut Child, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while http(api, "GET", "/readyz", None).0 != 200 {
        if let Ok(Some(status)) = daemon.try_wait() {
            panic!(
                "the daemon exited ({status}) before it was ready:\n{}",
                read(log)
            );
        }
        assert!(
            Instant::now() < deadline,
            "not ready after 10 s:\n{}",
            read(log)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The process's ids and capability sets, from /proc/PID/status.
fn status_field(pid: u32, field: &str) -> String {
    let text = read(Path::new(&format!("/proc/{pid}/status")));
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

fn assert_only_net_raw(pid: u32, uid: u32) {
    assert_eq!(status_field(pid, "Uid"), format!("{uid} {uid} {uid} {uid}"));
    for set in ["CapEff", "CapPrm", "CapBnd"] {
        assert_eq!(status_field(pid, set), NET_RAW_ONLY, "{set} of the daemon");
    }
}

fn sigterm(child: &Child) {
    sh(&["kill", "-TERM", &child.id().to_string()]);
}

/// Stops a ready daemon and expects a clean exit.
fn stop(daemon: &mut Child, log: &Path) {
    sigterm(daemon);
    let status = wait_exit(daemon, Duration::from_secs(10), log);
    assert!(status.success(), "exit {status}:\n{}", read(log));
}

fn peer(bind: &str, to: &str, ssrc: &str, report: &Path) -> Vec<String> {
    [
        "peer",
        "--bind",
        bind,
        "--peer",
        to,
        "--ssrc",
        ssrc,
        "--duration-secs",
        "3",
        "--report",
        report.to_str().unwrap_or_default(),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

/// Collects the sd_notify datagrams sent to a socket in the scratch folder.
fn notify_socket(scratch: &Scratch) -> (PathBuf, std::sync::mpsc::Receiver<String>) {
    let path = scratch.path("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap_or_else(|e| panic!("{e}"));
    // The daemon runs as another user: it needs write permission on the socket.
    set_mode(&path, 0o777);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = socket.set_read_timeout(Some(Duration::from_secs(30)));
        let mut buf = [0u8; 4096];
        while let Ok(n) = socket.recv(&mut buf) {
            if tx
                .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                .is_err()
            {
                break;
            }
        }
    });
    (path, rx)
}

/// Runs a 3 s call between a peer on the bot's side and one in the test namespace (test
/// equipment, `vtcq-testbench`, as root); what each sent (`rtpSent`).
fn exchange_media(net: &Net, scratch: &Scratch) -> (Value, Value) {
    let testbench = common::testbench();
    let exe = testbench.to_str().unwrap_or_default();
    let bot_report = scratch.path("bot.json");
    let device_report = scratch.path("device.json");
    let mut bot = Command::new(exe)
        .args(peer(
            &format!("{}:50000", net.bot),
            &format!("{}:40000", net.device),
            "0x11110001",
            &bot_report,
        ))
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut device = Command::new("ip")
        .args(["netns", "exec", &net.ns, exe])
        .args(peer(
            &format!("{}:40000", net.device),
            &format!("{}:50000", net.bot),
            "0x22220001",
            &device_report,
        ))
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let peer_log = scratch.path("peers.log");
    assert!(wait_exit(&mut bot, Duration::from_secs(15), &peer_log).success());
    assert!(wait_exit(&mut device, Duration::from_secs(15), &peer_log).success());
    std::thread::sleep(Duration::from_millis(300));
    let bot_sent =
        serde_json::from_str::<Value>(&read(&bot_report)).unwrap_or_default()["rtpSent"].clone();
    let device_sent =
        serde_json::from_str::<Value>(&read(&device_report)).unwrap_or_default()["rtpSent"].clone();
    (bot_sent, device_sent)
}

/// The record files in the sink folder, waiting up to 3 s for the first.
fn records_in(records: &Path) -> Vec<PathBuf> {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let files: Vec<PathBuf> = std::fs::read_dir(records)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect()
            })
            .unwrap_or_default();
        if !files.is_empty() || Instant::now() > deadline {
            break files;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn as_vtcq_service_runs_it_unprivileged_with_ambient_net_raw() {
    if let Some(reason) = skip_reason() {
        eprintln!("skipped: {reason}");
        return;
    }
    let scratch = Scratch::new("ambient");
    let net = Net::new("vtd", 0, &format!("10.214.{}", std::process::id() % 256));
    let vtcq = scratch.binary("vtcq");
    let api = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let config = write_config(&scratch, &net.veth, Some(&net.bot), api);
    let (notify, notifications) = notify_socket(&scratch);
    let log = scratch.path("daemon.log");

    // vtcq.service: AmbientCapabilities= and CapabilityBoundingSet=CAP_NET_RAW,
    // NoNewPrivileges=yes, WatchdogSec= (WATCHDOG_USEC 2 s: a ping every second).
    let mut command = as_unprivileged("-all,+net_raw", "-all,+net_raw", "-all,+net_raw");
    command
        .arg("--no-new-privs")
        .arg(&vtcq)
        .args(["run", "--config"])
        .arg(&config)
        .env("NOTIFY_SOCKET", &notify)
        .env("WATCHDOG_USEC", "2000000")
        .env("VTCQ_IDENTITY__CLOUD_SERVICE_INSTANCE_NAME", "deploy-test");
    let mut daemon = spawn(command, &log);
    wait_ready(api, &mut daemon, &log);
    assert_only_net_raw(daemon.id(), UID);
    assert_eq!(status_field(daemon.id(), "NoNewPrivs"), "1");
    let ready = notifications
        .recv_timeout(Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("no sd_notify message: {e}\n{}", read(&log)));
    assert_eq!(ready, "READY=1");

    let registration = serde_json::json!({
        "callChainId": "0622673d-9f69-49b3-9d4f-5ec64f42ecce",
        "participantId": "ea078406-b5d4-4d3c-b85e-90103dcec7f6",
        "deviceName": "Test VTC",
        "deviceDescription": "deployment test device",
        "mediaSessions": [{
            "kind": "audio",
            "localPort": 50000,
            "remoteAddress": net.device,
            "remotePort": 40000,
            "payloadTypes": [{"payloadType": 0, "clockRate": 8000}]
        }]
    });
    let (status, text) = http(api, "PUT", &format!("/v1/calls/{LEG}"), Some(&registration));
    assert_eq!(status, 201, "{text}");

    // A 3 s call across the veth pair: the bot in the root namespace, the device in the
    // test namespace.
    let (bot_sent, device_sent) = exchange_media(&net, &scratch);
    let (status, text) = http(api, "DELETE", &format!("/v1/calls/{LEG}"), None);
    assert_eq!(status, 200, "{text}\n{}", read(&log));
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(body["quality"]["mediaLegId"], LEG);
    assert_eq!(
        body["quality"]["cloudServiceInstanceName"], "deploy-test",
        "{body}"
    );
    let audio = &body["quality"]["mediaQualityList"][0];
    assert!(
        audio["outboundPackets"].as_u64().unwrap_or(0) > 0,
        "{audio}"
    );
    assert_eq!(audio["outboundPackets"], bot_sent, "{audio}");
    assert_eq!(audio["inboundPackets"], device_sent, "{audio}");

    // The record is in the sink folder, written by the unprivileged user.
    let files = records_in(&scratch.path("records"));
    assert_eq!(files.len(), 1, "records: {files:?}\n{}", read(&log));
    let meta = std::fs::metadata(&files[0]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(meta.uid(), UID, "the record's owner");
    let written: Value = serde_json::from_str(&read(&files[0])).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        written, body,
        "the sink holds the record the DELETE answered"
    );
    let (_, metrics) = http(api, "GET", "/metrics", None);
    assert!(
        metrics.contains("vtcq_records_spooled_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("vtcq_kernel_drops_total 0"), "{metrics}");

    // The watchdog pings kept coming while the call ran; SIGTERM says STOPPING=1.
    stop(&mut daemon, &log);
    let mut rest = Vec::new();
    while let Ok(message) = notifications.recv_timeout(Duration::from_secs(2)) {
        let stopping = message == "STOPPING=1";
        rest.push(message);
        if stopping {
            break;
        }
    }
    assert!(rest.iter().any(|m| m == "WATCHDOG=1"), "{rest:?}");
    assert_eq!(
        rest.last().map(String::as_str),
        Some("STOPPING=1"),
        "{rest:?}"
    );
    let lines: Vec<Value> = read(&log)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("log.format json: {e}: {l}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["fields"]["message"] == "stopped"),
        "{lines:?}"
    );
}

#[test]
fn without_net_raw_the_daemon_stops_naming_the_capability() {
    if let Some(reason) = skip_reason() {
        eprintln!("skipped: {reason}");
        return;
    }
    let scratch = Scratch::new("nocap");
    let vtcq = scratch.binary("vtcq");
    let api = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let config = write_config(&scratch, "lo", None, api);
    let log = scratch.path("daemon.log");
    let mut command = as_unprivileged("-all", "-all", "-all");
    command.arg(&vtcq).args(["run", "--config"]).arg(&config);
    let mut daemon = spawn(command, &log);
    let status = wait_exit(&mut daemon, Duration::from_secs(10), &log);
    let text = read(&log);
    assert!(!status.success(), "{text}");
    assert!(text.contains("CAP_NET_RAW"), "{text}");
}

/// The container image's model: the binary carries cap_net_raw+ep and the user is not
/// root, so (as container runtimes do for a non-root user) the permitted set is empty
/// when the container's entrypoint is executed: the inner `env` or `setpriv` stands for
/// that exec.
fn as_container(bounding: &str, no_new_privs: bool, exe: &Path, config: &Path) -> Command {
    let mut command = as_unprivileged("-all", "-all", bounding);
    if no_new_privs {
        command.args(["setpriv", "--no-new-privs"]);
    } else {
        command.arg("env");
    }
    command.arg(exe).args(["run", "--config"]).arg(config);
    command
}

#[test]
fn as_the_container_image_runs_it_file_capability_and_its_limits() {
    if let Some(reason) = skip_reason() {
        eprintln!("skipped: {reason}");
        return;
    }
    let scratch = Scratch::new("filecap");
    let plain = scratch.binary("vtcq");
    let filecap = scratch.binary("vtcq-filecap");
    match Command::new("setcap")
        .arg("cap_net_raw+ep")
        .arg(&filecap)
        .output()
    {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            eprintln!(
                "skipped: setcap failed (no xattrs here?): {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return;
        }
        Err(e) => {
            eprintln!("skipped: needs setcap (libcap2-bin): {e}");
            return;
        }
    }
    let api = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let config = write_config(&scratch, "lo", None, api);
    let log = scratch.path("daemon.log");

    // Kubernetes: capabilities drop ALL, add NET_RAW; allowPrivilegeEscalation: true.
    let mut daemon = spawn(
        as_container("-all,+net_raw", false, &filecap, &config),
        &log,
    );
    wait_ready(api, &mut daemon, &log);
    assert_only_net_raw(daemon.id(), UID);
    stop(&mut daemon, &log);

    // allowPrivilegeEscalation: false sets no_new_privs: the file capability is ignored.
    let mut daemon = spawn(as_container("-all,+net_raw", true, &filecap, &config), &log);
    let status = wait_exit(&mut daemon, Duration::from_secs(10), &log);
    let text = read(&log);
    assert!(
        !status.success() && text.contains("CAP_NET_RAW"),
        "{status}: {text}"
    );

    // drop ALL without add NET_RAW: the kernel refuses to execute the binary at all.
    let mut daemon = spawn(as_container("-all", false, &filecap, &config), &log);
    let status = wait_exit(&mut daemon, Duration::from_secs(10), &log);
    let text = read(&log);
    // env's 126: found but could not be executed; vtcq itself never ran.
    assert!(
        status.code() == Some(126)
            && text.contains("Operation not permitted")
            && !text.contains("CAP_NET_RAW"),
        "{status}: {text}"
    );

    // The alternative: uid 0, only NET_RAW in the bounding set, no_new_privs, plain binary.
    let mut command = setpriv(&[
        "--inh-caps=-all",
        "--ambient-caps=-all",
        "--bounding-set=-all,+net_raw",
        "--no-new-privs",
    ]);
    command.arg(&plain).args(["run", "--config"]).arg(&config);
    let mut daemon = spawn(command, &log);
    wait_ready(api, &mut daemon, &log);
    assert_only_net_raw(daemon.id(), 0);
    stop(&mut daemon, &log);
}
