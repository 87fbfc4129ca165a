//! A counting global allocator proves the packet path's allocation behaviour (ARCHITECTURE.md:
//! "the packet path is built not to allocate per packet in steady state") and measures the
//! heap an active channel costs.
//!
//! The counters are thread-local, so the tests of this binary (which the harness runs on
//! parallel threads) do not see each other's allocations.
#![deny(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use vtcq_benches::LoadSpec;
use vtcq_collector::analyzer::{Analyzer, AnalyzerConfig};
use vtcq_collector::capture::LinkType;
use vtcq_collector::wire::demux::{classify, PayloadClass};
use vtcq_collector::wire::link::decode_udp;
use vtcq_collector::Timestamp;
use vtcq_sim::{generate, CallSpec};

thread_local! {
    /// Allocations (alloc, alloc_zeroed, realloc) made by this thread.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    /// Bytes allocated minus bytes freed by this thread.
    static LIVE_BYTES: Cell<i64> = const { Cell::new(0) };
}

fn note(allocations: u64, bytes: i64) {
    // Const-initialised cells without destructors: no allocation, valid during teardown.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + allocations));
    let _ = LIVE_BYTES.try_with(|c| c.set(c.get() + bytes));
}

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

fn live_bytes() -> i64 {
    LIVE_BYTES.with(Cell::get)
}

/// `System`, counting.
struct Counting;

// SAFETY: every method forwards its arguments unchanged to `System`, which implements
// `GlobalAlloc` correctly, and returns what `System` returned; the bookkeeping only touches
// const-initialised thread-local `Cell`s, which neither allocate nor unwind.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(1, layout.size() as i64);
        // SAFETY: the caller's `layout` is passed on as is (non-zero size, per the contract).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(1, layout.size() as i64);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(0, -(layout.size() as i64));
        // SAFETY: `ptr` was allocated by this allocator, i.e. by `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(1, new_size as i64 - layout.size() as i64);
        // SAFETY: `ptr` came from `System` with `layout`; `new_size` is the caller's, valid
        // per the contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[derive(Debug, Default)]
struct PathCount {
    packets: u64,
    allocations: u64,
    /// The first few packets that allocated: (frame number, capture time, allocations, bytes).
    offenders: Vec<(usize, Timestamp, u64, i64)>,
}

/// Warms an analyzer on `frames` captured before `split`, then feeds the rest one by one
/// and counts the allocations each RTP and each RTCP datagram caused.
fn steady_state(frames: &[(Timestamp, Vec<u8>)], split: Timestamp) -> (PathCount, PathCount) {
    let mut analyzer = Analyzer::new(AnalyzerConfig::default());
    let (mut rtp, mut rtcp) = (PathCount::default(), PathCount::default());
    let mut warm_flows = 0;
    for (i, (at, frame)) in frames.iter().enumerate() {
        if *at < split {
            analyzer.process_frame(*at, LinkType::Ethernet, frame);
            warm_flows = analyzer.flows().len();
            continue;
        }
        let class = decode_udp(LinkType::Ethernet, frame).map(|u| classify(u.payload));
        let (count, bytes) = (allocations(), live_bytes());
        analyzer.process_frame(*at, LinkType::Ethernet, frame);
        let (count, bytes) = (allocations() - count, live_bytes() - bytes);
        let path = match class {
            Ok(PayloadClass::Rtp) => &mut rtp,
            Ok(PayloadClass::Rtcp) => &mut rtcp,
            _ => continue,
        };
        path.packets += 1;
        path.allocations += count;
        if count > 0 && path.offenders.len() < 8 {
            path.offenders.push((i + 1, *at, count, bytes));
        }
    }
    // Steady state: no flow was created after the warm-up.
    assert_eq!(
        analyzer.flows().len(),
        warm_flows,
        "a flow appeared after warm-up"
    );
    (rtp, rtcp)
}

#[test]
fn rtp_and_rtcp_allocate_nothing_in_steady_state_on_the_sample_call() {
    let mut spec = CallSpec::sample();
    spec.duration = Duration::from_secs(40);
    let call = generate(&spec);
    let (rtp, rtcp) = steady_state(&call.frames, spec.start.after(Duration::from_secs(20)));
    eprintln!("sample call, steady state: RTP {rtp:?}; RTCP {rtcp:?}");
    assert!(rtp.packets > 3_000 && rtcp.packets > 20, "{rtp:?} {rtcp:?}");
    assert_eq!(rtp.allocations, 0, "RTP packets allocated: {rtp:?}");
    assert_eq!(rtcp.allocations, 0, "RTCP packets allocated: {rtcp:?}");
}

#[test]
fn rtp_and_rtcp_allocate_nothing_in_steady_state_under_load() {
    // Three load calls: Opus (rate inferred) or PCMU, reordering jitter, XR, mux and not.
    let spec = LoadSpec::new(3, 30);
    let mut frames = Vec::new();
    for (at, frame) in vtcq_benches::load_frames(&spec).0.iter() {
        frames.push((at, frame.to_vec()));
    }
    let split = spec.call(0).start.after(Duration::from_secs(15));
    let (rtp, rtcp) = steady_state(&frames, split);
    eprintln!("3 load calls, steady state: RTP {rtp:?}; RTCP {rtcp:?}");
    assert!(
        rtp.packets > 10_000 && rtcp.packets > 30,
        "{rtp:?} {rtcp:?}"
    );
    assert_eq!(rtp.allocations, 0, "RTP packets allocated: {rtp:?}");
    assert_eq!(rtcp.allocations, 0, "RTCP packets allocated: {rtcp:?}");
}

/// Most heap an active channel may hold (the agent's memory budget).
const CHANNEL_BUDGET_BYTES: i64 = 64 * 1024;

#[test]
fn an_active_channel_costs_less_than_64_kib() {
    // 1 002 channels (334 calls), each warm: every stream validated, every own sample
    // (5 s) taken, RTCP every second so report blocks, capture-time RTT, NTP chains and
    // XR DLRR have all produced samples. Packet rates are lowered (the state per channel
    // does not depend on them) to keep the test fast.
    let mut spec = LoadSpec::new(334, 7);
    spec.stagger = Duration::ZERO;
    let before = live_bytes();
    let mut analyzer = Analyzer::new(AnalyzerConfig::default());
    let mut frames_fed = 0usize;
    for i in 0..spec.calls {
        let mut call = spec.call(i);
        call.rtcp_interval = Duration::from_secs(1);
        for (n, ch) in call.channels.iter_mut().enumerate() {
            ch.frame_interval = Duration::from_millis([60, 100, 200][n]);
            ch.packets_per_frame = 1;
            ch.payload_bytes = 40;
        }
        let generated = generate(&call);
        for (at, frame) in &generated.frames {
            analyzer.process_frame(*at, LinkType::Ethernet, frame);
        }
        frames_fed += generated.frames.len();
    }
    let bytes = live_bytes() - before;
    let flows = analyzer.flows().len() as i64;
    let per_channel = bytes / flows.max(1);
    eprintln!(
        "{flows} flows (one channel each) warm after {frames_fed} frames: analyzer heap {bytes} B, {per_channel} B per channel (budget {CHANNEL_BUDGET_BYTES} B; a Flow is {} B inline, an RtpStream {} B)",
        std::mem::size_of::<vtcq_collector::analyzer::Flow>(),
        std::mem::size_of::<vtcq_collector::stream::RtpStream>(),
    );
    assert_eq!(flows, 1_002);
    assert!(
        per_channel <= CHANNEL_BUDGET_BYTES,
        "{per_channel} B per channel is over the {CHANNEL_BUDGET_BYTES} B budget"
    );
}

#[test]
fn srtcp_unprotect_and_srtp_protect_allocate_nothing() {
    use vtcq_collector::srtp::{
        KeyRing, KeyRingConfig, MasterKey, SrtcpContext, SrtpContext, Suite, MAX_PACKET_LEN,
    };
    let compound = vtcq_benches::typical_rtcp_compound();
    let mut rtp = vec![0x80, 96, 0, 1, 0, 0, 0x10, 0, 0xDE, 0xCA, 0xFB, 0xAD];
    rtp.extend_from_slice(&[0x55; 160]);
    for suite in Suite::ALL {
        // Set-up allocates (keys, contexts, the ring's fixed storage, buffers) ...
        let material: Vec<u8> = (0..suite.master_key_len() + suite.master_salt_len())
            .map(|i| i as u8)
            .collect();
        let other: Vec<u8> = material.iter().map(|b| b ^ 0xFF).collect();
        let master = MasterKey::from_key_and_salt(suite, &material).expect("suite lengths");
        let sender = SrtcpContext::new(&master);
        let srtp = SrtpContext::new(&master);
        let mut ring = KeyRing::new(KeyRingConfig::default());
        ring.add(master);
        ring.add(MasterKey::from_key_and_salt(suite, &other).expect("suite lengths"));
        let mut packets = Vec::new();
        let mut buf = vec![0u8; MAX_PACKET_LEN];
        for index in 0..64 {
            let len = sender
                .protect(&compound, index, index % 8 != 0, &mut buf)
                .expect("protect");
            packets.push(buf[..len].to_vec());
        }
        let mut out = vec![0u8; MAX_PACKET_LEN];
        // ... the per-datagram path does not: the ring tries the newer (wrong) key first,
        // then authenticates and decrypts with the right one; a forged datagram fails.
        let before = allocations();
        for (n, packet) in packets.iter().enumerate() {
            let at = Timestamp::from_nanos(n as i64 * 1_000_000_000);
            let matched = ring.unprotect(at, packet, &mut out).expect("authentic");
            assert_eq!(out[..matched.unprotected.len], compound[..]);
            assert!(ring
                .unprotect(at, &packet[..packet.len() - 1], &mut out)
                .is_err());
            sender
                .protect(&compound, n as u32, true, &mut buf)
                .expect("protect");
            srtp.protect(&rtp, 0, &mut buf).expect("protect");
        }
        assert_eq!(
            allocations() - before,
            0,
            "{suite}: the SRTP/SRTCP packet path allocated"
        );
    }
}
