//! The signalling path on the real third-party captures that carry SIP.
//!
//! Every frame of every capture in `VTCQ_PCAP_DIR` (default `../shared/testdata/pcap`
//! beside the repository) goes through the capture reader and
//! `signalling::Signalling` (UDP and TCP, SIP ports 5060 and 5061). The test then checks:
//! - for `nrusso-collab__rtp_sip_g722_h264.pcapng`, the media plan against what its SDP
//!   says and against the RTP streams of its `.tshark.txt` (the ports G.722 and H.264 use);
//! - for every capture, when `tshark` is installed, the plan against tshark's own SIP/SDP
//!   dissection run live: the endpoints of every negotiated plan are exactly the `m=`
//!   ports at the `c=` addresses tshark read in the SDPs of the same Call-ID, every
//!   dynamic payload type's rtpmap rate in the plan is one tshark read, and every Call-ID
//!   for which tshark saw SDP in a request and in a response has a negotiated plan.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use vtcq_collector::capture::CaptureReader;
use vtcq_collector::signalling::{
    DialogEvent, MediaPlan, Side, Signalling, SignallingConfig, SignallingCounters,
};
use vtcq_collector::MediaKind;

fn pcap_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("VTCQ_PCAP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/pcap")
        });
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: no capture folder at {} (set VTCQ_PCAP_DIR)",
            dir.display()
        );
        None
    }
}

fn captures(dir: &Path) -> Vec<PathBuf> {
    let mut list: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    matches!(
                        p.extension().and_then(|e| e.to_str()),
                        Some("pcap") | Some("pcapng")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    list.sort();
    list
}

/// Every plan of a capture (ended ones from the events, open ones at the end) and the
/// counters.
fn plans_of(path: &Path) -> (Vec<MediaPlan>, SignallingCounters) {
    let file = File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = CaptureReader::new(file).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut signalling = Signalling::new(SignallingConfig {
        sip_ports: vec![5060, 5061],
        ..SignallingConfig::default()
    });
    let mut events = Vec::new();
    let mut plans = Vec::new();
    // A cut or damaged tail ends the pass, as in `vtcq analyze`.
    while let Ok(Some(frame)) = reader.next_frame() {
        signalling.process_frame(frame.timestamp, frame.link_type, frame.data, &mut events);
        for event in events.drain(..) {
            if let DialogEvent::Ended(plan) = event {
                plans.push(plan);
            }
        }
    }
    plans.extend(signalling.finish());
    (plans, signalling.counters())
}

fn payload_rate(plan: &MediaPlan, channel: usize, side: Side, pt: u8) -> Option<u32> {
    plan.channels.get(channel)?.side(side).clock_rate(pt)
}

#[test]
fn the_g722_h264_call_has_the_plan_its_sdp_declares() {
    let Some(dir) = pcap_dir() else { return };
    let path = dir.join("nrusso-collab__rtp_sip_g722_h264.pcapng");
    if !path.is_file() {
        eprintln!("skipped: {} is absent", path.display());
        return;
    }
    let (plans, counters) = plans_of(&path);
    assert_eq!(plans.len(), 1, "{plans:#?}");
    let plan = &plans[0];
    assert_eq!(
        plan.call_id,
        "F58314CE-6DCE11E9-8F22994E-3DE0939@10.10.217.101"
    );
    // The INVITE had no SDP: the 200 offered, the ACK answered.
    assert_eq!(plan.first_offer, Some(Side::Callee));
    assert_eq!(plan.negotiations, 1);
    // BYE at the end of the capture.
    let (_, reason) = plan.ended.expect("the BYE ends the call");
    assert_eq!(reason, vtcq_collector::signalling::EndReason::Bye);
    assert_eq!(plan.channels.len(), 2);
    let (audio, video) = (&plan.channels[0], &plan.channels[1]);
    assert_eq!(audio.kind, Some(MediaKind::Audio));
    assert_eq!(video.kind, Some(MediaKind::Video));
    // SDP addresses are the (anonymised) ones the SDP carries; the ports are those the
    // RTP streams use per the .tshark.txt: G.722 25726 <-> 8072, H.264 20248 <-> 8074.
    let addr = |s: &str| s.parse::<SocketAddr>().expect("address");
    assert_eq!(audio.callee.endpoints, vec![addr("10.10.217.205:25726")]);
    assert_eq!(audio.caller.endpoints, vec![addr("10.10.217.101:8072")]);
    assert_eq!(video.callee.endpoints, vec![addr("10.10.217.205:20248")]);
    assert_eq!(video.caller.endpoints, vec![addr("10.10.217.101:8074")]);
    let reference =
        std::fs::read_to_string(dir.join("nrusso-collab__rtp_sip_g722_h264.pcapng.tshark.txt"))
            .expect("reference");
    for (a, b) in [(25726, 8072), (8072, 25726), (20248, 8074), (8074, 20248)] {
        let row = reference.lines().find(|l| {
            let t: Vec<&str> = l.split_whitespace().collect();
            t.len() > 6 && t[3] == a.to_string() && t[5] == b.to_string()
        });
        assert!(row.is_some(), "no RTP stream {a} -> {b} in the reference");
    }
    // G.722 is PT 9 at 8 kHz (RFC 3551's clock) on both sides, H.264 PT 100 at 90 kHz.
    for side in [Side::Caller, Side::Callee] {
        assert_eq!(payload_rate(plan, 0, side, 9), Some(8_000));
        assert_eq!(payload_rate(plan, 1, side, 100), Some(90_000));
    }
    assert_eq!(audio.clock_rate_for_sender(Side::Caller, 101), Some(8_000));
    // The answer (ACK) kept only G.722 and telephone-event.
    let answered: Vec<u8> = audio
        .caller
        .payload_types
        .iter()
        .map(|p| p.payload_type)
        .collect();
    assert_eq!(answered, vec![9, 101]);
    assert_eq!(counters.messages.udp_messages, 7);
    assert_eq!(counters.sip_errors.total(), 0);
    assert_eq!(counters.dialogs.outside_dialog, 0);
}

#[test]
fn every_capture_with_sip_gives_plans_without_errors() {
    let Some(dir) = pcap_dir() else { return };
    let mut with_sip = 0;
    for path in captures(&dir) {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_string();
        let (plans, counters) = plans_of(&path);
        if counters.messages.udp_messages + counters.messages.tcp_messages == 0 {
            assert!(plans.is_empty(), "{name}");
            continue;
        }
        with_sip += 1;
        assert_eq!(counters.sip_errors.total(), 0, "{name}: {counters:?}");
        for plan in &plans {
            for channel in &plan.channels {
                if channel.kind.is_some() && channel.active {
                    assert!(!channel.caller.endpoints.is_empty(), "{name}: {plan:#?}");
                    assert!(!channel.callee.endpoints.is_empty(), "{name}: {plan:#?}");
                }
            }
        }
        eprintln!(
            "{name}: {} SIP messages, {} plans, {} negotiated, {} outside any dialog",
            counters.messages.udp_messages + counters.messages.tcp_messages,
            plans.len(),
            plans.iter().filter(|p| p.negotiations > 0).count(),
            counters.dialogs.outside_dialog
        );
    }
    assert!(
        with_sip >= 5,
        "expected the SIP captures of the shared set, found {with_sip}"
    );
}

/// What tshark read in the SDPs of each Call-ID.
#[derive(Default, Debug)]
struct TsharkView {
    /// (media type, address:port) of every `m=` line with a port.
    endpoints: BTreeSet<(String, SocketAddr)>,
    /// (encoding name, rate) of every rtpmap.
    rtpmaps: BTreeSet<(String, u32)>,
    /// SDPs in requests and in responses seen.
    in_request: bool,
    in_response: bool,
}

/// Runs tshark on the capture; `None` (with the reason printed) when it cannot run.
fn tshark_sdp(path: &Path) -> Option<BTreeMap<String, TsharkView>> {
    let output = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args([
            "-d",
            "udp.port==5061,sip",
            "-Y",
            "sip && sdp",
            "-T",
            "fields",
        ])
        .args([
            "-E",
            "separator=|",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=;",
        ])
        .args([
            "-e",
            "sip.Call-ID",
            "-e",
            "sip.Method",
            "-e",
            "sdp.connection_info.address",
        ])
        .args([
            "-e",
            "sdp.media.media",
            "-e",
            "sdp.media.port",
            "-e",
            "sdp.mime.type",
            "-e",
            "sdp.sample_rate",
        ])
        .output();
    let output = match output {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            eprintln!(
                "skipped: tshark failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            return None;
        }
        Err(e) => {
            eprintln!("skipped: tshark is not installed ({e}); apt-get install tshark");
            return None;
        }
    };
    let mut calls: BTreeMap<String, TsharkView> = BTreeMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let cells: Vec<&str> = line.split('|').collect();
        let [call_id, method, address, media, ports, mimes, rates] = cells[..] else {
            continue;
        };
        let view = calls.entry(call_id.to_string()).or_default();
        if method.is_empty() {
            view.in_response = true;
        } else {
            view.in_request = true;
        }
        // One c= per SDP here (session level): every m= port goes with it.
        let Ok(ip) = address.split(';').next().unwrap_or("").parse() else {
            continue;
        };
        for (m, port) in media.split(';').zip(ports.split(';')) {
            if let Ok(port) = port.parse::<u16>() {
                if port != 0 {
                    view.endpoints
                        .insert((m.to_string(), SocketAddr::new(ip, port)));
                }
            }
        }
        for (mime, rate) in mimes.split(';').zip(rates.split(';')) {
            if let Ok(rate) = rate.parse() {
                view.rtpmaps.insert((mime.to_ascii_lowercase(), rate));
            }
        }
    }
    Some(calls)
}

#[test]
fn the_media_plans_agree_with_tshark_run_live() {
    let Some(dir) = pcap_dir() else { return };
    let mut compared = 0;
    for path in captures(&dir) {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_string();
        let (plans, _) = plans_of(&path);
        let Some(tshark) = tshark_sdp(&path) else {
            return;
        };
        for plan in &plans {
            let Some(view) = tshark.get(&plan.call_id) else {
                assert_eq!(
                    plan.negotiations, 0,
                    "{name}: tshark saw no SDP for {}",
                    plan.call_id
                );
                continue;
            };
            for channel in &plan.channels {
                for side in [Side::Caller, Side::Callee] {
                    let declared = channel.side(side);
                    for endpoint in &declared.endpoints {
                        assert!(
                            view.endpoints.contains(&(channel.media.clone(), *endpoint)),
                            "{name}: {} {} {endpoint} not in tshark's SDPs {:?}",
                            plan.call_id,
                            channel.media,
                            view.endpoints
                        );
                        compared += 1;
                    }
                    for pt in declared
                        .payload_types
                        .iter()
                        .filter(|p| p.payload_type >= 96)
                    {
                        let (Some(encoding), Some(rate)) = (&pt.encoding, pt.clock_rate) else {
                            continue;
                        };
                        assert!(
                            view.rtpmaps
                                .contains(&(encoding.to_ascii_lowercase(), rate)),
                            "{name}: {encoding}/{rate} not in tshark's rtpmaps {:?}",
                            view.rtpmaps
                        );
                    }
                }
            }
        }
        for plan in &plans {
            let ours: BTreeSet<(String, SocketAddr)> = plan
                .channels
                .iter()
                .flat_map(|c| {
                    [Side::Caller, Side::Callee].into_iter().flat_map(move |s| {
                        c.side(s)
                            .endpoints
                            .iter()
                            .map(move |e| (c.media.clone(), *e))
                    })
                })
                .collect();
            // Both ways for a call that negotiated: every address tshark read in its
            // SDPs is in the plan. (An offer never answered adds nothing to a plan, and
            // no capture here rejects a stream with port 0.)
            if let (Some(view), true) = (tshark.get(&plan.call_id), plan.negotiations > 0) {
                assert_eq!(view.endpoints, ours, "{name}: {}", plan.call_id);
            }
        }
        // Every Call-ID tshark saw with SDP in a request and in a response negotiated.
        for (call_id, view) in &tshark {
            if view.in_request && view.in_response && !call_id.is_empty() {
                assert!(
                    plans
                        .iter()
                        .any(|p| &p.call_id == call_id && p.negotiations > 0),
                    "{name}: tshark saw an offer and an answer for {call_id}, we have no plan"
                );
            }
        }
    }
    eprintln!("tshark: {compared} plan endpoints found in tshark's SDP view");
}
