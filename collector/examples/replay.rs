//! Replays a capture through the daemon's sans-IO path and prints the records it would hand
//! off, in a stable textual form (`scripts/same-output.sh` compares it across revisions).
//!
//! For each candidate bot address (`--local ADDR`, else every endpoint address of a valid
//! RTP stream in the capture), a first pass finds the local RTP ports of that address and
//! the kind `vtcq analyze` would guess for each. Then, as the daemon would: a
//! [`CallTracker`] with that address is fed every frame and polled once per second of
//! capture time, registers one call whose media sessions are those ports when the first
//! RTP packet of that address is captured (the bot registers as the media starts), and the call is ended by the bot (API) at the last frame if nothing ended it
//! before; a last poll reports the flows no call claimed.
//!
//! Usage: `replay CAPTURE [--local ADDR]`
use std::fs::File;
use std::net::IpAddr;
use std::time::Duration;

use vtcq_collector::calls::{CallTracker, EndReason, Event, LifecycleConfig, MediaSessionSpec};
use vtcq_collector::capture::CaptureReader;
use vtcq_collector::offline::analyze_capture;
use vtcq_collector::{Analyzer, AnalyzerConfig, Timestamp};

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: replay CAPTURE [--local ADDR]")?;
    let local = match (args.next().as_deref(), args.next()) {
        (Some("--local"), Some(addr)) => Some(addr.parse::<IpAddr>()?),
        (None, _) => None,
        _ => return Err("usage: replay CAPTURE [--local ADDR]".into()),
    };

    let mut reader = CaptureReader::new(File::open(&path)?)?;
    let mut analyzer = Analyzer::new(AnalyzerConfig::default());
    let summary = analyze_capture(&mut reader, &mut analyzer, |_, _| {})?;
    let candidates = match local {
        Some(addr) => vec![addr],
        None => {
            let mut all: Vec<IpAddr> = analyzer
                .stream_rows()
                .iter()
                .flat_map(|row| [row.src.ip(), row.dst.ip()])
                .collect();
            all.sort();
            all.dedup();
            all
        }
    };
    println!("== {path}: {:?}", summary.end);
    for addr in candidates {
        replay(&path, addr, &analyzer, summary.link_speed_bytes_per_sec)?;
    }
    Ok(())
}

/// One daemon run over the capture with `local` as the bot's address.
fn replay(
    path: &str,
    local: IpAddr,
    first_pass: &Analyzer,
    link_speed: Option<u64>,
) -> Result<(), Error> {
    // The media sessions the bot would register: each local port once, with the kind the
    // analysis guesses (the daemon takes kinds from the registration).
    let mut specs: Vec<MediaSessionSpec> = Vec::new();
    for channel in first_pass.channel_qualities(&[local], &[], None) {
        if specs.iter().all(|s| s.local_port != channel.local.port()) {
            specs.push(MediaSessionSpec {
                kind: channel.kind,
                local_port: channel.local.port(),
                remote_addr: None,
                remote_port: None,
                clock_rates: Vec::new(),
            });
        }
    }
    println!("-- local {local}: {} media sessions", specs.len());
    if specs.is_empty() {
        return Ok(());
    }

    let mut tracker = CallTracker::new(
        AnalyzerConfig::default(),
        vec![local],
        LifecycleConfig {
            link_speed_bytes_per_sec: link_speed,
            ..LifecycleConfig::default()
        },
    );
    // The bot registers when the media starts: at the first RTP packet of its address.
    let register_at = first_pass
        .stream_rows()
        .iter()
        .filter(|row| row.src.ip() == local || row.dst.ip() == local)
        .map(|row| row.first)
        .min()
        .unwrap_or_default();
    let mut reader = CaptureReader::new(File::open(path)?)?;
    let mut registered = false;
    let mut next_poll: Option<Timestamp> = None;
    let mut last = Timestamp::default();
    loop {
        let frame = match reader.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            // A cut or damaged tail ends the capture, as for `vtcq analyze`.
            Err(_) => break,
        };
        let now = frame.timestamp;
        if !registered && now >= register_at {
            tracker.register(now, "replay", specs.clone())?;
            registered = true;
        }
        if next_poll.is_some_and(|at| now >= at) {
            print_events(tracker.poll(now));
        }
        if next_poll.is_none_or(|at| now >= at) {
            next_poll = Some(now.after(Duration::from_secs(1)));
        }
        tracker.process_frame(now, frame.link_type, frame.data);
        last = last.max(now);
    }
    if tracker.is_active("replay") {
        if let Some(ended) = tracker.end(last, "replay", EndReason::Api) {
            println!("ended by the bot: {ended:#?}");
        }
    }
    // Long enough after the last frame for every unclaimed flow to be idle.
    print_events(tracker.poll(last.after(Duration::from_secs(3600))));
    let counters = tracker.counters();
    println!(
        "calls registered {}, ended by reason {:?}, unregistered flows {}",
        counters.registered, counters.ended, counters.unregistered_flows
    );
    Ok(())
}

fn print_events(events: Vec<Event>) {
    for event in events {
        match event {
            Event::Ended(ended) => println!("ended on its own: {ended:#?}"),
            Event::Unregistered { endpoints, packets } => {
                println!("unregistered flow {endpoints:?}: packets {packets:?}")
            }
        }
    }
}
