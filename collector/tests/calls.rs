//! The call lifecycle (`calls::CallTracker`) driven by simulated calls: ends by BYE, idle
//! timeout, maximum duration and shutdown; late registration; unregistered flows; the
//! registration rules. An integration test because the simulator (`vtcq-sim`) is a crate
//! of its own that depends on this one.

use std::net::IpAddr;
use std::time::Duration;

use vtcq_collector::analyzer::AnalyzerConfig;
use vtcq_collector::calls::{
    CallTracker, EndReason, Event, LifecycleConfig, MediaSessionSpec, RegisterError,
};
use vtcq_collector::capture::LinkType;
use vtcq_collector::{MediaKind, Timestamp};
use vtcq_sim::{generate, CallSpec, SynthCall};

fn specs() -> Vec<MediaSessionSpec> {
    let spec = |kind, local_port| MediaSessionSpec {
        kind,
        local_port,
        remote_addr: None,
        remote_port: None,
        clock_rates: vec![],
    };
    vec![
        spec(MediaKind::Audio, 50_000),
        spec(MediaKind::Video, 50_002),
        spec(MediaKind::ScreenSharing, 50_004),
    ]
}

fn tracker() -> CallTracker {
    CallTracker::new(
        AnalyzerConfig::default(),
        vec!["192.0.2.10".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))],
        LifecycleConfig::default(),
    )
}

fn call(send_bye: bool) -> SynthCall {
    generate(&CallSpec {
        send_bye,
        ..CallSpec::sample()
    })
}

fn feed(t: &mut CallTracker, frames: &[(Timestamp, Vec<u8>)]) {
    for (ts, frame) in frames {
        t.process_frame(*ts, LinkType::Ethernet, frame);
    }
}

fn secs(base: Timestamp, s: u64) -> Timestamp {
    base.after(Duration::from_secs(s))
}

#[test]
fn bye_on_every_stream_ends_the_call_once() {
    let synth = call(true);
    let mut t = tracker();
    let start = synth.frames[0].0;
    t.register(start, "leg-1", specs())
        .unwrap_or_else(|e| panic!("{e}"));
    feed(&mut t, &synth.frames);
    let end = synth.frames.last().map_or(start, |f| f.0);
    let events = t.poll(end);
    let ended: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Ended(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].reason, EndReason::Bye);
    assert_eq!(ended[0].channels.len(), 3);
    assert_eq!(
        ended[0].channels[0].inbound.packets,
        synth.truth[0].inbound_delivered
    );
    // Ending again (the bot's DELETE) answers with the same record, and nothing is
    // ended twice.
    let again = t.end(end, "leg-1", EndReason::Api).cloned();
    assert_eq!(again.as_ref(), Some(ended[0]));
    assert!(t
        .poll(secs(end, 60))
        .iter()
        .all(|e| !matches!(e, Event::Ended(_))));
    assert_eq!(t.counters().ended_by(EndReason::Bye), 1);
    assert_eq!(t.counters().ended_by(EndReason::Api), 0);
}

#[test]
fn late_registration_covers_packets_since_the_flow_began() {
    let synth = call(false);
    let mut t = tracker();
    let half = synth.frames.len() / 2;
    feed(&mut t, &synth.frames[..half]);
    let mid = synth.frames[half].0;
    t.register(mid, "late", specs())
        .unwrap_or_else(|e| panic!("{e}"));
    feed(&mut t, &synth.frames[half..]);
    let end = synth.frames.last().map_or(mid, |f| f.0);
    let record = t
        .end(end, "late", EndReason::Api)
        .cloned()
        .unwrap_or_else(|| panic!("no record"));
    assert_eq!(
        record.channels[0].outbound.packets,
        synth.truth[0].outbound_sent
    );
    assert_eq!(
        record.channels[1].inbound.packets,
        synth.truth[1].inbound_delivered
    );
}

#[test]
fn idle_timeout_ends_a_silent_call() {
    let synth = call(false);
    let mut t = tracker();
    let start = synth.frames[0].0;
    t.register(start, "quiet", specs())
        .unwrap_or_else(|e| panic!("{e}"));
    feed(&mut t, &synth.frames);
    let last = synth.frames.last().map_or(start, |f| f.0);
    assert!(t.poll(secs(last, 29)).is_empty(), "not idle yet");
    let events = t.poll(secs(last, 30));
    assert!(matches!(&events[..], [Event::Ended(c)] if c.reason == EndReason::Idle));
    // A registered call that never saw a packet ends too.
    t.register(secs(last, 30), "never", specs())
        .unwrap_or_else(|e| panic!("{e}"));
    let events = t.poll(secs(last, 61));
    assert!(
        matches!(&events[..], [Event::Ended(c)] if c.reason == EndReason::Idle && c.channels.is_empty())
    );
}

#[test]
fn maximum_duration_ends_a_call() {
    let synth = call(false);
    let mut t = CallTracker::new(
        AnalyzerConfig::default(),
        vec![],
        LifecycleConfig {
            max_duration: Duration::from_secs(10),
            ..LifecycleConfig::default()
        },
    );
    let start = synth.frames[0].0;
    t.register(start, "long", specs())
        .unwrap_or_else(|e| panic!("{e}"));
    let cut = synth
        .frames
        .iter()
        .position(|f| f.0 >= secs(start, 10))
        .unwrap_or(0);
    feed(&mut t, &synth.frames[..cut]);
    let events = t.poll(secs(start, 10));
    assert!(
        matches!(&events[..], [Event::Ended(c)] if c.reason == EndReason::MaxDuration && c.channels.len() == 3)
    );
}

#[test]
fn unregistered_flows_are_reported_not_posted() {
    let synth = call(false);
    let mut t = tracker();
    feed(&mut t, &synth.frames);
    let last = synth.frames.last().map_or(Timestamp::default(), |f| f.0);
    let events = t.poll(secs(last, 31));
    let flows = events
        .iter()
        .filter(|e| matches!(e, Event::Unregistered { .. }))
        .count();
    assert_eq!(flows, 3);
    assert!(events.iter().all(|e| !matches!(e, Event::Ended(_))));
    assert_eq!(t.counters().unregistered_flows, 3);
    assert!(t.analyzer().flows().is_empty(), "their state is freed");
}

#[test]
fn registration_rules() {
    let mut t = tracker();
    let now = Timestamp::default();
    t.register(now, "a", specs())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        t.register(now, "b", specs()),
        Err(RegisterError::PortInUse {
            port: 50_000,
            other: "a".into()
        })
    );
    let mut twice = specs();
    twice[1].local_port = 50_000;
    assert_eq!(
        t.register(now, "c", twice),
        Err(RegisterError::DuplicatePort(50_000))
    );
    assert_eq!(t.register(now, "d", vec![]), Err(RegisterError::NoSessions));
    // Updating an active call is allowed (idempotent PUT).
    assert_eq!(t.register(now, "a", specs()), Ok(()));
    assert_eq!(t.counters().registered, 1);
    t.end(now, "a", EndReason::Api);
    assert_eq!(
        t.register(now, "a", specs()),
        Err(RegisterError::AlreadyEnded("a".into()))
    );
    assert!(t.end(now, "unknown", EndReason::Api).is_none());
}

#[test]
fn shutdown_ends_every_active_call_and_records_are_retained_for_a_while() {
    let synth = call(false);
    let mut t = tracker();
    let start = synth.frames[0].0;
    t.register(start, "x", specs())
        .unwrap_or_else(|e| panic!("{e}"));
    feed(&mut t, &synth.frames[..500]);
    let ended = t.shutdown(secs(start, 5));
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].reason, EndReason::Shutdown);
    assert!(t.ended_call("x").is_some());
    t.poll(secs(start, 5 + 601));
    assert!(t.ended_call("x").is_none(), "forgotten after the retention");
}

#[test]
fn registrations_past_the_call_bound_are_refused_until_one_ends() {
    let mut t = CallTracker::new(
        AnalyzerConfig::default(),
        vec![],
        LifecycleConfig {
            max_active_calls: 2,
            ..LifecycleConfig::default()
        },
    );
    let now = Timestamp::from_nanos(0);
    let one = |port| {
        let mut s = specs();
        s.truncate(1);
        s[0].local_port = port;
        s
    };
    assert_eq!(t.register(now, "a", one(1000)), Ok(()));
    assert_eq!(t.register(now, "b", one(2000)), Ok(()));
    assert_eq!(
        t.register(now, "c", one(3000)),
        Err(RegisterError::TooManyCalls(2))
    );
    // Updating an active call is not a new call.
    assert_eq!(t.register(now, "b", one(2002)), Ok(()));
    assert!(t.end(now, "a", EndReason::Api).is_some());
    assert_eq!(t.register(now, "c", one(3000)), Ok(()));
    assert_eq!(t.counters().registered, 3);
}
