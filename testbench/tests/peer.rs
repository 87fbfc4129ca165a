//! End-to-end test of `vtcq-testbench peer`: two real processes exchange RTP and RTCP over
//! loopback UDP, one with injected send loss, the other with added inbound delay, and
//! their JSON reports must agree with each other and with the configuration.

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn testbench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vtcq-testbench"))
}

/// An even-ish RTP port whose RTCP port (+1) was free a moment ago on 127.0.0.1. The OS
/// hands out ephemeral ports at random, so a second call gets another pair.
fn free_port_pair(avoid: &[u16]) -> u16 {
    for _ in 0..200 {
        let Ok(rtp) = UdpSocket::bind("127.0.0.1:0") else {
            continue;
        };
        let Some(port) = rtp.local_addr().ok().map(|a| a.port()) else {
            continue;
        };
        if port == u16::MAX || avoid.iter().any(|p| port.abs_diff(*p) <= 1) {
            continue;
        }
        if UdpSocket::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no free pair of UDP ports on 127.0.0.1");
}

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vtcq-peer-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// Waits for the child, killing it after `limit`.
fn wait(mut child: Child, limit: Duration, what: &str) -> Output {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() < limit => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{what} did not finish within {limit:?}");
            }
            Err(e) => panic!("{what}: {e}"),
        }
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn read_report(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(text.lines().count(), 1, "one JSON line: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}: {text}", path.display()))
}

fn int(report: &Value, field: &str) -> i64 {
    report[field]
        .as_i64()
        .unwrap_or_else(|| panic!("{field} is not an integer in {report}"))
}

fn float(report: &Value, field: &str) -> f64 {
    report[field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field} is not a number in {report}"))
}

#[test]
fn two_peers_exchange_media_with_known_loss_and_delay() {
    let a_port = free_port_pair(&[]);
    let b_port = free_port_pair(&[a_port]);
    let dir = scratch_dir();
    let (a_report, b_report) = (dir.join("a.json"), dir.join("b.json"));
    let spawn = |bind: u16, peer: u16, report: &Path, extra: &[&str]| {
        let bind = format!("127.0.0.1:{bind}");
        let peer = format!("127.0.0.1:{peer}");
        let report = report.to_string_lossy().into_owned();
        let mut args = vec![
            "peer",
            "--bind",
            &bind,
            "--peer",
            &peer,
            "--payload-type",
            "0",
            "--clock-rate",
            "8000",
            "--packet-interval-ms",
            "20",
            "--payload-bytes",
            "160",
            "--duration-secs",
            "3",
            "--rtcp-interval-ms",
            "1000",
            "--start-delay-ms",
            "300",
            "--drain-ms",
            "250",
            "--bye",
            "--report",
            &report,
        ];
        args.extend_from_slice(extra);
        testbench()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run vtcq-testbench peer: {e}"))
    };
    let started = Instant::now();
    let a = spawn(
        a_port,
        b_port,
        &a_report,
        &["--ssrc", "0xA0A0A0A0", "--send-loss", "5", "--seed", "11"],
    );
    let b = spawn(
        b_port,
        a_port,
        &b_report,
        &[
            "--ssrc",
            "0xB0B0B0B0",
            "--added-delay-ms",
            "20",
            "--seed",
            "12",
        ],
    );
    for (child, what) in [(a, "peer A"), (b, "peer B")] {
        let out = wait(child, Duration::from_secs(15), what);
        assert!(
            out.status.success(),
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let elapsed = started.elapsed();
    let a = read_report(&a_report);
    let b = read_report(&b_report);
    let _ = std::fs::remove_dir_all(&dir);

    // 3 s of 20 ms packets, of which A skipped about 5 %.
    assert_eq!(int(&a, "rtpSent") + int(&a, "rtpSkipped"), 150, "{a}");
    assert_eq!((int(&b, "rtpSent"), int(&b, "rtpSkipped")), (150, 0), "{b}");
    assert!((1..=20).contains(&int(&a, "rtpSkipped")), "{a}");
    // Loopback loses nothing: each side got exactly what the other put on the wire, and
    // counted exactly the skipped packets it could notice as lost.
    assert_eq!(int(&b, "rtpReceived"), int(&a, "rtpSent"), "{a}\n{b}");
    assert_eq!(int(&a, "rtpReceived"), int(&b, "rtpSent"), "{a}\n{b}");
    assert_eq!(
        int(&b, "rtpLost"),
        int(&a, "rtpSkipped") - int(&a, "rtpSkippedTrailing"),
        "{a}\n{b}"
    );
    assert_eq!(int(&a, "rtpLost"), 0, "{a}");
    assert_eq!(int(&a, "peerSsrc"), 0xB0B0_B0B0);
    assert_eq!(int(&b, "peerSsrc"), 0xA0A0_A0A0);
    for (me, other) in [(&a, &b), (&b, &a)] {
        // Each side reported on the other's stream, and the last block it sent (in the
        // final report) is the last one the other received.
        assert!(int(me, "reportBlocksSent") >= 3, "{me}");
        assert_eq!(
            int(me, "reportBlocksSent"),
            int(other, "reportBlocksReceived"),
            "{me}\n{other}"
        );
        assert_eq!(me["lastBlockSent"], other["lastBlockReceived"]);
        assert_eq!(
            me["lastBlockSent"]["cumulativeLost"].as_i64(),
            Some(int(me, "rtpLost"))
        );
        assert_eq!(int(other, "srReceived"), int(me, "rtcpSent"), "{other}");
        assert!(other["byeReceived"].as_bool() == Some(true), "{other}");
        // B's 20 ms inbound delay is on both round trips; loopback adds little.
        assert!(int(me, "rttSamples") >= 2, "{me}");
        assert!(float(me, "rttMinMs") >= 19.9, "{me}");
        assert!(float(me, "rttMaxMs") < 60.0, "{me}");
        assert_eq!(
            int(me, "ignoredDatagrams") + int(me, "malformed"),
            0,
            "{me}"
        );
    }
    assert!(elapsed < Duration::from_secs(8), "took {elapsed:?}");
}

#[test]
fn bad_arguments_exit_with_a_message_naming_the_flag() {
    let out = testbench()
        .args([
            "peer",
            "--bind",
            "127.0.0.1:5000",
            "--peer",
            "127.0.0.1:5002",
            "--ssrc",
            "1",
            "--send-loss",
            "150",
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run vtcq-testbench: {e}"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--send-loss"));
}
