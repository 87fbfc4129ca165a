//! Conformance against Wireshark on real third-party captures.
//!
//! Every capture in the folder named by `VTCQ_PCAP_DIR` (default: `../shared/testdata/pcap`
//! beside the repository) comes with `NAME.tshark.txt`, TShark 4.0's own view of it. For
//! each capture this test compares, per RTP stream, the packet and lost counts with
//! `tshark -z rtp,streams`, and every round-trip delay TShark computed
//! (`rtcp.roundtrip-delay`) with ours for the same frame and block.
//!
//! Differences that are understood are listed in [`accepted_stream_difference`] with the
//! reason; anything else fails the test.

use std::collections::BTreeMap;
use std::fs::File;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use vtcq_collector::analyzer::{Analyzer, AnalyzerConfig, RttMethod, StreamRow};
use vtcq_collector::capture::CaptureReader;
use vtcq_collector::offline::analyze_capture;

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

/// One row of `tshark -q -z rtp,streams`.
#[derive(Debug, Clone, PartialEq)]
struct TsharkStream {
    src: SocketAddr,
    dst: SocketAddr,
    ssrc: u32,
    payload: String,
    packets: u64,
    lost: i64,
}

/// One RTT TShark computed: frame, reporter address, value in ms.
#[derive(Debug, Clone, PartialEq)]
struct TsharkRtt {
    frame: u64,
    src: SocketAddr,
    ms: f64,
}

struct Reference {
    streams: Vec<TsharkStream>,
    rtts: Vec<TsharkRtt>,
}

fn parse_reference(text: &str) -> Reference {
    let mut streams = Vec::new();
    let mut rtts = Vec::new();
    let mut section = "";
    let mut rtcp_columns: Vec<&str> = Vec::new();
    for line in text.lines() {
        if line.starts_with("## ") {
            section = line;
            continue;
        }
        if section.starts_with("## RTP streams") {
            let tokens: Vec<&str> = line.split_whitespace().collect();
            // start end src sport dst dport ssrc PAYLOAD... pkts lost (pct) 6 numbers [X]
            if tokens.len() < 17 || !tokens[6].starts_with("0x") {
                continue;
            }
            let mut end = tokens.len();
            if tokens[end - 1] == "X" {
                end -= 1;
            }
            let packets = tokens[end - 9].parse().unwrap_or(u64::MAX);
            let lost = tokens[end - 8].parse().unwrap_or(i64::MAX);
            let addr = |ip: &str, port: &str| {
                SocketAddr::new(
                    ip.parse::<IpAddr>().unwrap_or_else(|_| panic!("ip {ip}")),
                    port.parse().unwrap_or_else(|_| panic!("port {port}")),
                )
            };
            streams.push(TsharkStream {
                src: addr(tokens[2], tokens[3]),
                dst: addr(tokens[4], tokens[5]),
                ssrc: u32::from_str_radix(&tokens[6][2..], 16).unwrap_or_else(|_| panic!("ssrc")),
                payload: tokens[7..end - 9].join(" "),
                packets,
                lost,
            });
        } else if section.starts_with("## Per-RTCP-packet table") {
            let cells: Vec<&str> = line.split('\t').collect();
            if cells.first() == Some(&"frame.number") {
                rtcp_columns = cells;
                continue;
            }
            let col = |name: &str| {
                rtcp_columns
                    .iter()
                    .position(|c| *c == name)
                    .and_then(|i| cells.get(i).copied())
                    .unwrap_or("")
            };
            let rtt = col("rtcp.roundtrip-delay");
            if rtt.is_empty() {
                continue;
            }
            let ip = if col("ip.src").is_empty() {
                col("ipv6.src")
            } else {
                col("ip.src")
            };
            let src = SocketAddr::new(
                ip.parse().unwrap_or_else(|_| panic!("ip {ip}")),
                col("udp.srcport").parse().unwrap_or(0),
            );
            let frame = col("frame.number").parse().unwrap_or(0);
            for value in rtt.split(',') {
                rtts.push(TsharkRtt {
                    frame,
                    src,
                    ms: value.parse().unwrap_or(f64::NAN),
                });
            }
        }
    }
    Reference { streams, rtts }
}

fn analyze(path: &Path) -> Analyzer {
    let file = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut reader =
        CaptureReader::new(file).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut analyzer = Analyzer::new(AnalyzerConfig {
        record_rtt_observations: true,
        ..AnalyzerConfig::default()
    });
    let summary = analyze_capture(&mut reader, &mut analyzer, |_, _| {})
        .unwrap_or_else(|e| panic!("analyze {}: {e}", path.display()));
    if let Some(end) = summary.last_timestamp {
        analyzer.finish(end);
    }
    analyzer
}

/// Differences from TShark that are understood, per capture and stream. Returns the reason.
fn accepted_stream_difference(
    capture: &str,
    t: &TsharkStream,
    ours: Option<&StreamRow>,
) -> Option<&'static str> {
    let _ = (capture, t, ours);
    None
}

#[test]
fn streams_and_round_trips_match_wireshark() {
    let Some(dir) = pcap_dir() else { return };
    let list = captures(&dir);
    assert!(!list.is_empty(), "no captures in {}", dir.display());
    let mut failures = Vec::new();
    let mut checked_streams = 0;
    let mut checked_rtts = 0;
    for path in &list {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let reference_path = PathBuf::from(format!("{}.tshark.txt", path.display()));
        let Ok(text) = std::fs::read_to_string(&reference_path) else {
            failures.push(format!("{name}: no reference {}", reference_path.display()));
            continue;
        };
        let reference = parse_reference(&text);
        let analyzer = analyze(path);
        let rows = analyzer.stream_rows();
        let mut matched = vec![false; rows.len()];
        for t in &reference.streams {
            let found = rows
                .iter()
                .position(|r| r.src == t.src && r.dst == t.dst && r.ssrc == t.ssrc);
            if let Some(i) = found {
                matched[i] = true;
            }
            let ours = found.map(|i| &rows[i]);
            let same = ours.is_some_and(|r| r.packets == t.packets && r.lost == t.lost);
            if same {
                checked_streams += 1;
                continue;
            }
            if let Some(reason) = accepted_stream_difference(&name, t, ours) {
                eprintln!("{name}: accepted difference on {:?}: {reason}", t);
                continue;
            }
            failures.push(format!(
                "{name}: stream {} -> {} 0x{:08X} ({}): tshark {} pkts {} lost, ours {:?}",
                t.src,
                t.dst,
                t.ssrc,
                t.payload,
                t.packets,
                t.lost,
                ours.map(|r| (r.packets, r.lost))
            ));
        }
        for (row, seen) in rows.iter().zip(&matched) {
            if !seen {
                failures.push(format!(
                    "{name}: extra stream {} -> {} 0x{:08X}: {} pkts",
                    row.src, row.dst, row.ssrc, row.packets
                ));
            }
        }

        // Every RTT TShark gives must be among ours for the same frame and reporter.
        let mut ours_by_frame: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
        for o in analyzer
            .rtt_observations()
            .iter()
            .filter(|o| o.method == RttMethod::CaptureTime)
        {
            ours_by_frame
                .entry(o.frame)
                .or_default()
                .push(o.rtt_nanos as f64 / 1e6);
        }
        for t in &reference.rtts {
            let candidates = ours_by_frame.get(&t.frame).cloned().unwrap_or_default();
            // TShark computes in whole milliseconds (packet-rtcp.c): the capture gap as
            // seconds*1000 + nanoseconds/1e6 (each difference truncated toward zero, so off
            // by less than 1 ms either way) minus DLSR truncated to ms (0..1 ms low). So
            // tshark - exact lies in (-1, 2) ms; ours is exact.
            if candidates.iter().any(|ms| {
                let d = t.ms - ms;
                d > -1.0 && d < 2.0
            }) {
                checked_rtts += 1;
            } else {
                failures.push(format!(
                    "{name}: frame {} from {}: tshark RTT {} ms, ours {:?}",
                    t.frame, t.src, t.ms, candidates
                ));
            }
        }
    }
    eprintln!("conformance: {checked_streams} streams and {checked_rtts} RTT samples match tshark");
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn capture_path(name: &str) -> Option<PathBuf> {
    let path = pcap_dir()?.join(name);
    if path.is_file() {
        Some(path)
    } else {
        eprintln!("skipped: {} is missing", path.display());
        None
    }
}

/// TShark matches a report only against the latest SR, so it gives no RTT for frame 4 of
/// this capture, whose LSR names the SR of frame 1. SOURCES.md puts the true RTT near 8 ms;
/// the SR history finds it.
#[test]
fn rtt_matches_an_older_sender_report() {
    let Some(path) = capture_path("ndpi__rtcp_multiple_pkts_in_the_same_datagram.pcap") else {
        return;
    };
    let analyzer = analyze(&path);
    let samples: Vec<_> = analyzer
        .rtt_observations()
        .iter()
        .filter(|o| o.accepted && o.method == RttMethod::CaptureTime)
        .collect();
    assert_eq!(samples.len(), 1, "{samples:?}");
    assert_eq!(samples[0].frame, 4);
    let ms = samples[0].rtt_nanos as f64 / 1e6;
    assert!((7.0..10.0).contains(&ms), "{ms} ms");
}

/// Discord encrypts everything past the first 8 bytes of its RTCP: the report blocks
/// TShark shows are garbage. They must be counted as SRTCP, never read.
#[test]
fn encrypted_rtcp_is_counted_not_read() {
    let Some(path) = capture_path("ndpi__discord_mid_flow.pcap") else {
        return;
    };
    let analyzer = analyze(&path);
    let counters = analyzer.counters();
    assert!(counters.srtcp >= 25, "{counters:?}");
    assert!(analyzer.rtt_observations().iter().all(|o| !o.accepted));
    assert!(analyzer.stream_rows().is_empty());
}

/// Without RTCP the inbound loss comes from the agent's own RFC 3550 analysis; rtpproxy's
/// own expected output for this recording says 321 of 565 packets were lost (56.8 %).
#[test]
fn own_analysis_matches_rtpproxy_loss() {
    let Some(path) = capture_path("rtpproxy__lost.a.pcap") else {
        return;
    };
    let analyzer = analyze(&path);
    let local: IpAddr = "15.3.253.86".parse().unwrap_or_else(|_| unreachable!());
    let channels = analyzer.channel_qualities(&[local], &[], None);
    assert_eq!(channels.len(), 1);
    let inbound = &channels[0].inbound;
    assert_eq!(inbound.packets, 244);
    assert_eq!(inbound.loss.source, vtcq_collector::Source::RtpAnalysis);
    let average = inbound.loss.average.unwrap_or(f64::NAN);
    assert!((average - 321.0 / 565.0 * 100.0).abs() < 1.0, "{average}");
    // No remote reports: outbound loss has no sample.
    assert_eq!(channels[0].outbound.loss.average, None);
}

/// Duplicates are not loss for the agent's own analysis (rtpproxy: 383 sent, 383 received,
/// 1 duplicate), while the stream table shows -1 like TShark.
#[test]
fn duplicates_are_not_loss() {
    let Some(path) = capture_path("rtpproxy__dups.a.pcap") else {
        return;
    };
    let analyzer = analyze(&path);
    let local: IpAddr = "97.93.61.248".parse().unwrap_or_else(|_| unreachable!());
    let channels = analyzer.channel_qualities(&[local], &[], None);
    assert_eq!(channels[0].inbound.loss.average, Some(0.0));
    assert_eq!(analyzer.stream_rows()[0].duplicates, 1);
}
