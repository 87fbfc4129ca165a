//! End-to-end tests of `vtcq analyze` and `vtcq generate`: the real binary, the shipped
//! sample, its known truth, and Graph's schema.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

mod common;
use common::{repo, secs};
use vtcq_sim::{generate, CallSpec, ChannelTruth};

fn sample() -> PathBuf {
    repo().join("samples/three-channel-call.pcap")
}

fn vtcq(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vtcq"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run vtcq: {e}"))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn schema_validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(
        repo().join("reporter/schema/logTeleconferenceDeviceQuality.schema.json"),
    )
    .unwrap_or_else(|e| panic!("schema: {e}"));
    let schema: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("schema json: {e}"));
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("schema compile: {e}"))
}

fn assert_valid(body: &Value, what: &str) {
    let validator = schema_validator();
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: body violates Graph's schema:\n{}",
        errors.join("\n")
    );
}

fn sample_json() -> Value {
    let path = sample();
    let out = vtcq(&[
        "analyze",
        path.to_str().unwrap_or_default(),
        "--local",
        "192.0.2.10",
        "--kind",
        "50004=screenSharing",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("json: {e}\n{}", stdout(&out)))
}

fn item<'a>(body: &'a Value, odata_type: &str) -> &'a Value {
    body["quality"]["mediaQualityList"]
        .as_array()
        .and_then(|l| l.iter().find(|i| i["@odata.type"] == odata_type))
        .unwrap_or_else(|| panic!("no {odata_type} item"))
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn close(what: &str, got: f64, want: f64, tolerance: f64) {
    assert!(
        (got - want).abs() <= tolerance,
        "{what}: got {got}, want {want} ± {tolerance}"
    );
}

#[test]
fn shipped_sample_is_the_generator_output() {
    let mut bytes = Vec::new();
    generate(&CallSpec::sample())
        .write_pcap(&mut bytes)
        .unwrap_or_else(|e| panic!("{e}"));
    let shipped = std::fs::read(sample()).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        shipped == bytes,
        "samples/three-channel-call.pcap differs from the generator's output; regenerate it with `cargo run -- generate --out samples/three-channel-call.pcap`"
    );
}

/// The audio or video record of the sample against its channel's truth: exact counts,
/// loss and jitter within their tolerance, the RTT exact up to DLSR's unit.
fn assert_channel_matches_truth(i: &Value, t: &ChannelTruth, odata_type: &str) {
    assert_eq!(i["channelIndex"], 1);
    assert_eq!(i["localIPAddress"], t.local.ip().to_string());
    assert_eq!(i["localPort"], t.local.port());
    assert_eq!(i["remotePort"], t.remote.port());
    // Counts are exact: every captured RTP packet, RTCP excluded.
    assert_eq!(i["inboundPackets"], t.inbound_delivered, "{odata_type}");
    assert_eq!(i["outboundPackets"], t.outbound_sent, "{odata_type}");
    // Loss from the reports' 2 s intervals: the first second of the call precedes the
    // first report and counts for the maximum only, so allow 1 percentage point.
    close(
        "inbound loss",
        num(&i["averageInboundPacketLossRateInPercentage"]),
        t.inbound_loss_percent(),
        1.0,
    );
    close(
        "outbound loss",
        num(&i["averageOutboundPacketLossRateInPercentage"]),
        t.outbound_loss_percent(),
        1.0,
    );
    assert!(
        num(&i["maximumInboundPacketLossRateInPercentage"])
            >= num(&i["averageInboundPacketLossRateInPercentage"])
    );
    // RTCP is neither jittered nor lost in the simulation: the RTT is exact up to
    // DLSR's 15 µs unit.
    let rtt = t.round_trip.as_secs_f64();
    for field in [
        "averageOutboundRoundTripDelay",
        "maximumOutboundRoundTripDelay",
        "averageInboundRoundTripDelay",
        "maximumInboundRoundTripDelay",
    ] {
        close(field, secs(&i[field]), rtt, 0.000_1);
    }
    // Uniform extra delay in [0, J] gives an RFC 3550 jitter near J/3.
    close(
        "inbound jitter",
        secs(&i["averageInboundJitter"]),
        0.012 / 3.0,
        0.0015,
    );
    close(
        "outbound jitter",
        secs(&i["averageOutboundJitter"]),
        0.008 / 3.0,
        0.0015,
    );
    close("media duration", secs(&i["mediaDuration"]), 20.0, 0.2);
}

#[test]
fn sample_records_match_known_truth() {
    let body = sample_json();
    assert_valid(&body, "sample");
    let call = generate(&CallSpec::sample());
    let truth = |i: usize| -> &ChannelTruth { &call.truth[i] };
    let q = &body["quality"];
    assert_eq!(q["callChainId"], "00000000-0000-0000-0000-000000000000");
    assert_eq!(q["mediaQualityList"].as_array().map(Vec::len), Some(3));

    for (odata_type, t) in [
        (
            "#microsoft.graph.teleconferenceDeviceAudioQuality",
            truth(0),
        ),
        (
            "#microsoft.graph.teleconferenceDeviceVideoQuality",
            truth(1),
        ),
    ] {
        assert_channel_matches_truth(item(&body, odata_type), t, odata_type);
    }

    let video = item(&body, "#microsoft.graph.teleconferenceDeviceVideoQuality");
    let t = truth(1);
    close(
        "inbound frame rate",
        num(&video["averageInboundFrameRate"]),
        30.0,
        0.5,
    );
    close(
        "outbound frame rate",
        num(&video["averageOutboundFrameRate"]),
        30.0,
        0.5,
    );
    close(
        "outbound bit rate",
        num(&video["averageOutboundBitRate"]),
        t.outbound_bytes as f64 * 8.0 / 20.0,
        1_500.0,
    );
    close(
        "inbound bit rate",
        num(&video["averageInboundBitRate"]),
        t.inbound_bytes as f64 * 8.0 / 20.0,
        1_500.0,
    );
    assert!(
        item(&body, "#microsoft.graph.teleconferenceDeviceAudioQuality")
            .get("averageInboundBitRate")
            .is_none()
    );

    // Screen sharing comes from the device only: the outbound side has no sample at all,
    // and the inbound RTT comes from XR RRTR/DLRR (the bot sends no SR on that channel).
    let screen = item(
        &body,
        "#microsoft.graph.teleconferenceDeviceScreenSharingQuality",
    );
    let t = truth(2);
    assert_eq!(screen["channelIndex"], 1);
    assert_eq!(screen["inboundPackets"], t.inbound_delivered);
    assert_eq!(screen["outboundPackets"], 0);
    for field in [
        "averageOutboundPacketLossRateInPercentage",
        "maximumOutboundPacketLossRateInPercentage",
        "averageOutboundJitter",
        "averageOutboundRoundTripDelay",
        "averageOutboundBitRate",
        "averageOutboundFrameRate",
    ] {
        assert_eq!(screen[field], Value::Null, "{field}");
    }
    close(
        "XR RTT",
        secs(&screen["averageInboundRoundTripDelay"]),
        t.round_trip.as_secs_f64(),
        0.000_1,
    );
    assert_eq!(screen["networkLinkSpeedInBytes"], Value::Null);
}

#[test]
fn table_names_each_value_source() {
    let path = sample();
    let out = vtcq(&[
        "analyze",
        path.to_str().unwrap_or_default(),
        "--local",
        "192.0.2.10",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in [
        "audio #1",
        "video #1",
        "video #2",
        "RTCP from local",
        "RTCP from remote",
        "SR/RR capture time",
        "NTP chain",
    ] {
        assert!(text.contains(needle), "table lacks {needle:?}:\n{text}");
    }
}

#[test]
fn ids_and_device_fields_reach_the_body() {
    let path = sample();
    let out = vtcq(&[
        "analyze",
        path.to_str().unwrap_or_default(),
        "--local",
        "192.0.2.10",
        "--format",
        "json",
        "--call-chain-id",
        "0622673d-9f69-49b3-9d4f-5ec64f42ecce",
        "--participant-id",
        "ea078406-b5d4-4d3c-b85e-90103dcec7f6",
        "--media-leg-id",
        "bd9ee398-4b9d-42c7-8b8d-4e8efad9435f",
        "--device-name",
        "Cisco SX80",
        "--device-description",
        "VTC Bldg 30/21",
        "--link-speed",
        "125000000",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let body: Value = serde_json::from_str(&stdout(&out)).unwrap_or_default();
    assert_valid(&body, "ids");
    assert_eq!(
        body["quality"]["mediaLegId"],
        "bd9ee398-4b9d-42c7-8b8d-4e8efad9435f"
    );
    assert_eq!(body["quality"]["deviceName"], "Cisco SX80");
    assert_eq!(
        body["quality"]["mediaQualityList"][0]["networkLinkSpeedInBytes"],
        125_000_000
    );
    let bad = vtcq(&[
        "analyze",
        path.to_str().unwrap_or_default(),
        "--media-leg-id",
        "not-a-guid",
    ]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("--media-leg-id"), "{}", stderr(&bad));
}

#[test]
fn missing_file_is_a_one_line_error() {
    let out = vtcq(&[
        "analyze",
        "/nonexistent/capture.pcap",
        "--local",
        "10.0.0.1",
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: cannot open /nonexistent/capture.pcap"),
        "{err}"
    );
}

#[test]
fn non_capture_file_is_a_one_line_error() {
    let out = vtcq(&[
        "analyze",
        repo().join("Cargo.toml").to_str().unwrap_or_default(),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("is not a pcap or pcapng capture file"),
        "{err}"
    );
}

#[test]
fn cut_capture_is_analysed_up_to_the_cut_with_a_warning() {
    let bytes = std::fs::read(sample()).unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("vtcq-cut-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_default();
    let cut = dir.join("cut.pcap");
    // Cut in the middle of a record, as a stopped capture leaves it.
    std::fs::write(&cut, &bytes[..bytes.len() / 2 + 7]).unwrap_or_default();
    let out = vtcq(&[
        "analyze",
        cut.to_str().unwrap_or_default(),
        "--local",
        "192.0.2.10",
        "--format",
        "json",
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("cut short"), "{}", stderr(&out));
    let body: Value = serde_json::from_str(&stdout(&out)).unwrap_or_default();
    assert_valid(&body, "cut");
}

#[test]
fn ambiguous_local_tells_what_to_pass() {
    let out = vtcq(&["analyze", sample().to_str().unwrap_or_default()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("--local") && err.contains("192.0.2.10") && err.contains("198.51.100.20"),
        "{err}"
    );
}

#[test]
fn bad_flags_name_the_flag() {
    let out = vtcq(&["analyze", "x.pcap", "--kind", "5004=voice"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--kind"), "{}", stderr(&out));
    let out = vtcq(&["analyze", "x.pcap", "--clock-rate", "200=8000"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--clock-rate"), "{}", stderr(&out));
}

#[test]
fn stream_table_lists_every_stream() {
    let out = vtcq(&[
        "analyze",
        sample().to_str().unwrap_or_default(),
        "--streams",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1 + 5, "{text}");
    assert!(text.contains("0x22220002"), "{text}");
}

fn shared_captures() -> Vec<PathBuf> {
    let dir = std::env::var_os("VTCQ_PCAP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/testdata/pcap"));
    let mut list: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    matches!(
                        p.extension().and_then(|e| e.to_str()),
                        Some("pcap" | "pcapng")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if list.is_empty() {
        eprintln!(
            "skipped: no captures in {} (set VTCQ_PCAP_DIR)",
            dir.display()
        );
    }
    list.sort();
    list
}

/// Every body the tool emits, on every real capture, seen from each RTP endpoint in turn.
#[test]
fn every_emitted_body_validates_against_graph_schema() {
    let mut bodies = 0;
    for path in shared_captures() {
        let p = path.to_str().unwrap_or_default();
        let streams = vtcq(&["analyze", p, "--streams"]);
        assert!(streams.status.success(), "{p}: {}", stderr(&streams));
        let mut addrs: Vec<String> = stdout(&streams)
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
            .collect();
        addrs.sort();
        addrs.dedup();
        for addr in addrs {
            let out = vtcq(&["analyze", p, "--local", &addr, "--format", "json"]);
            assert!(out.status.success(), "{p} --local {addr}: {}", stderr(&out));
            let body: Value =
                serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{p}: {e}"));
            assert_valid(&body, &format!("{p} --local {addr}"));
            bodies += 1;
        }
    }
    eprintln!("validated {bodies} bodies from the shared captures");
}

#[test]
fn schema_copy_matches_shared() {
    let shared = repo().join("../shared/graph/logTeleconferenceDeviceQuality.schema.json");
    let Ok(shared) = std::fs::read(&shared) else {
        eprintln!("skipped: {} not present", shared.display());
        return;
    };
    let ours =
        std::fs::read(repo().join("reporter/schema/logTeleconferenceDeviceQuality.schema.json"))
            .unwrap_or_default();
    assert!(
        ours == shared,
        "reporter/schema copy differs from ../shared/graph"
    );
}

#[test]
fn generate_writes_a_capture_the_analyzer_reads() {
    let dir = std::env::temp_dir().join(format!("vtcq-gen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_default();
    let out_path = dir.join("g.pcap");
    let out = vtcq(&[
        "generate",
        "--out",
        out_path.to_str().unwrap_or_default(),
        "--seconds",
        "6",
        "--inbound-loss",
        "10",
        "--truth",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 3);
    let analysed = vtcq(&[
        "analyze",
        out_path.to_str().unwrap_or_default(),
        "--local",
        "192.0.2.10",
        "--format",
        "json",
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(analysed.status.success(), "{}", stderr(&analysed));
    let out = vtcq(&[
        "generate",
        "--out",
        "/tmp/never-written.pcap",
        "--inbound-loss",
        "101",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--inbound-loss"));
}
