//! `vtcq peer` (hidden): a live RTP/RTCP endpoint with known truth, for end-to-end tests.
//!
//! Two peers, one per network namespace (or on loopback), exchange real RTP and RTCP over
//! UDP while the daemon captures on one side. The kernel of the test machines has no netem
//! qdisc, so each peer injects the impairments itself:
//!
//! - **Loss** on its outbound RTP: a packet is skipped (its sequence number used, nothing
//!   sent) with the configured probability, drawn from a seeded PRNG. Like a packet that a
//!   network drops after the sender, it still counts in the sender's SR packet and octet
//!   counts.
//! - **Delay** on its inbound path: every datagram is held and processed as if it had
//!   arrived `--added-delay-ms` later. The SR's arrival time for LSR/DLSR is that delayed
//!   time, so DLSR excludes the delay, exactly as if the network had carried the SR
//!   slower. Optionally `--added-send-delay-ms` holds every outgoing datagram after it was
//!   built (DLSR already computed). A capture-time RTT measured at the other peer's NIC
//!   therefore grows by exactly the sum of the two.
//!
//! The endpoint keeps RFC 3550 receiver state about the peer's stream
//! ([`ReceiverState`], shared with the generator), sends SR (or RR) + SDES CNAME every
//! RTCP interval and a final report (with BYE on request) after the media, and writes its
//! truth as one JSON line.
//!
//! The protocol logic is [`PeerState`], driven by explicit timestamps and free of sockets,
//! so that it is tested in simulated time; [`run`] is the thin socket shell around it.
//! Timestamps come from a monotonic clock anchored once to the system clock, so NTP
//! timestamps are wall-clock time and never step backwards during a run.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{ensure, Context, Result};
use clap::Args;
use serde::Serialize;
use tokio::net::UdpSocket;
use tokio::time::Instant;
use vtcq_collector::rtt::{dlsr_nanos, ntp_middle};
use vtcq_collector::wire::demux::{classify, PayloadClass};
use vtcq_collector::wire::rtcp::{self, Compound, Packet, ReportBlock};
use vtcq_collector::wire::rtp::{RtpHeader, RtpPacket};
use vtcq_collector::Timestamp;
use vtcq_sim::{self as synth, ReceiverState, Rng};

/// Largest RTP payload accepted: 1500-byte MTU minus IPv6, UDP and RTP headers, rounded
/// down, so that no datagram is fragmented.
const MAX_PAYLOAD_BYTES: usize = 1_400;
/// Largest added delay in either direction: far beyond any test, small enough that a typo
/// does not make a peer hang for hours.
const MAX_ADDED_DELAY_MS: u64 = 10_000;
/// Receive buffer per socket: any UDP datagram fits.
const RECV_BUFFER: usize = 65_535;
/// How long before a delayed send the peer stops trusting the timer and yields until the
/// send is due: more than tokio's 1 ms timer granularity.
const PRECISE_WAIT: Duration = Duration::from_micros(1_500);
/// RTCP intervals are spread uniformly by this fraction either way (RFC 3550 §6.3.1
/// randomises them so that endpoints do not synchronise).
const RTCP_SPREAD: f64 = 0.1;

/// `vtcq peer`: one endpoint of a live test call.
#[derive(Debug, Args)]
pub struct PeerArgs {
    /// Local RTP address; RTCP uses PORT+1 unless --rtcp-mux.
    #[arg(long, value_name = "IP:PORT")]
    pub bind: SocketAddr,
    /// The other peer's RTP address, the only destination this peer sends to.
    #[arg(long, value_name = "IP:PORT")]
    pub peer: SocketAddr,
    /// RTCP on the RTP port (RFC 5761) on both sides.
    #[arg(long)]
    pub rtcp_mux: bool,
    /// This peer's SSRC (decimal or 0x-prefixed hex).
    #[arg(long, value_parser = parse_u32)]
    pub ssrc: u32,
    /// RTP payload type (0..=127).
    #[arg(long, default_value_t = 0)]
    pub payload_type: u8,
    /// RTP clock rate in Hz, of this peer's stream and the peer's.
    #[arg(long, default_value_t = 8_000)]
    pub clock_rate: u32,
    /// Time between RTP packets.
    #[arg(long, default_value_t = 20)]
    pub packet_interval_ms: u64,
    /// RTP payload bytes per packet (after the 12-byte header).
    #[arg(long, default_value_t = 160)]
    pub payload_bytes: usize,
    /// How long to send media.
    #[arg(long, default_value_t = 10)]
    pub duration_secs: u64,
    /// Outbound RTP loss in percent: each packet is skipped with this probability.
    #[arg(long, default_value_t = 0.0)]
    pub send_loss: f64,
    /// Spread the loss evenly (exactly PERCENT of every run of packets) instead of at
    /// random: any window of reports then sees the configured rate, to within one packet.
    #[arg(long)]
    pub periodic_loss: bool,
    /// Added one-way delay on the inbound path (RTP and RTCP), in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub added_delay_ms: u64,
    /// Added one-way delay on the outbound path (RTP and RTCP), in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub added_send_delay_ms: u64,
    /// Mean time between RTCP reports (each interval is spread by ±10 %).
    #[arg(long, default_value_t = 1_000)]
    pub rtcp_interval_ms: u64,
    /// PRNG seed: first sequence number, RTP timestamp base, losses, RTCP spread.
    #[arg(long, default_value_t = 1, value_parser = parse_u64)]
    pub seed: u64,
    /// Send RTCP BYE with the final report.
    #[arg(long)]
    pub bye: bool,
    /// Send no RTP, only receiver reports.
    #[arg(long)]
    pub recv_only: bool,
    /// Wait this long after binding before the first packet, so that a peer started at
    /// about the same time is listening by then.
    #[arg(long, default_value_t = 300)]
    pub start_delay_ms: u64,
    /// After the media: wait this long (plus the added delays) for the peer's last
    /// packets before the final report, and as long again for the peer's final report
    /// before exiting. Must cover the difference in start time of the two peers.
    #[arg(long, default_value_t = 500)]
    pub drain_ms: u64,
    /// Write the JSON report to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

/// Decimal or `0x` hexadecimal.
fn parse_u32(s: &str) -> Result<u32, String> {
    parse_u64(s)?
        .try_into()
        .map_err(|_| format!("{s:?} does not fit in 32 bits"))
}

/// Decimal or `0x` hexadecimal.
fn parse_u64(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse::<u64>(),
    };
    parsed.map_err(|_| format!("{s:?} is not a decimal or 0x-hex number"))
}

/// Validated settings of one peer.
#[derive(Clone, Debug)]
struct PeerConfig {
    bind: SocketAddr,
    peer: SocketAddr,
    rtcp_mux: bool,
    ssrc: u32,
    payload_type: u8,
    clock_rate: u32,
    packet_interval: Duration,
    payload_bytes: usize,
    duration: Duration,
    /// Probability in [0, 1].
    send_loss: f64,
    /// Even spacing instead of random draws.
    periodic_loss: bool,
    added_delay: Duration,
    added_send_delay: Duration,
    rtcp_interval: Duration,
    seed: u64,
    bye: bool,
    sends_media: bool,
    start_delay: Duration,
    drain: Duration,
}

impl PeerConfig {
    /// Checks every flag; the error names it.
    fn from_args(args: &PeerArgs) -> Result<Self> {
        ensure!(
            args.bind.is_ipv4() == args.peer.is_ipv4(),
            "--bind {} and --peer {} are of different address families",
            args.bind,
            args.peer
        );
        ensure!(args.bind.port() != 0, "--bind needs a port other than 0");
        ensure!(args.peer.port() != 0, "--peer needs a port other than 0");
        ensure!(
            !args.peer.ip().is_unspecified(),
            "--peer {} is not an address one can send to",
            args.peer
        );
        ensure!(
            args.bind != args.peer,
            "--bind and --peer are the same address {}",
            args.bind
        );
        if !args.rtcp_mux {
            ensure!(
                args.bind.port() < u16::MAX && args.peer.port() < u16::MAX,
                "without --rtcp-mux RTCP uses PORT+1, so the RTP ports must be below 65535"
            );
        }
        ensure!(
            args.payload_type <= 127,
            "--payload-type must be 0..=127, not {}",
            args.payload_type
        );
        // RFC 5761 §4: with RTCP on the RTP port, PT 64..=95 would read as RTCP types.
        ensure!(
            !(args.rtcp_mux && (64..=95).contains(&args.payload_type)),
            "--payload-type {} collides with RTCP packet types under --rtcp-mux (RFC 5761)",
            args.payload_type
        );
        ensure!(args.clock_rate > 0, "--clock-rate must be above 0");
        ensure!(
            (1..=10_000).contains(&args.packet_interval_ms),
            "--packet-interval-ms must be between 1 and 10000"
        );
        ensure!(
            args.payload_bytes <= MAX_PAYLOAD_BYTES,
            "--payload-bytes must be at most {MAX_PAYLOAD_BYTES}"
        );
        ensure!(
            (1..=24 * 3_600).contains(&args.duration_secs),
            "--duration-secs must be between 1 and 86400"
        );
        ensure!(
            (0.0..=100.0).contains(&args.send_loss),
            "--send-loss must be a percentage between 0 and 100, not {}",
            args.send_loss
        );
        for (name, value) in [
            ("--added-delay-ms", args.added_delay_ms),
            ("--added-send-delay-ms", args.added_send_delay_ms),
        ] {
            ensure!(
                value <= MAX_ADDED_DELAY_MS,
                "{name} must be at most {MAX_ADDED_DELAY_MS}"
            );
        }
        ensure!(
            (10..=60_000).contains(&args.rtcp_interval_ms),
            "--rtcp-interval-ms must be between 10 and 60000"
        );
        ensure!(
            args.start_delay_ms <= 60_000 && args.drain_ms <= 60_000,
            "--start-delay-ms and --drain-ms must be at most 60000"
        );
        Ok(PeerConfig {
            bind: args.bind,
            peer: args.peer,
            rtcp_mux: args.rtcp_mux,
            ssrc: args.ssrc,
            payload_type: args.payload_type,
            clock_rate: args.clock_rate,
            packet_interval: Duration::from_millis(args.packet_interval_ms),
            payload_bytes: args.payload_bytes,
            duration: Duration::from_secs(args.duration_secs),
            send_loss: args.send_loss / 100.0,
            periodic_loss: args.periodic_loss,
            added_delay: Duration::from_millis(args.added_delay_ms),
            added_send_delay: Duration::from_millis(args.added_send_delay_ms),
            rtcp_interval: Duration::from_millis(args.rtcp_interval_ms),
            seed: args.seed,
            bye: args.bye,
            sends_media: !args.recv_only,
            start_delay: Duration::from_millis(args.start_delay_ms),
            drain: Duration::from_millis(args.drain_ms),
        })
    }

    /// The local RTCP socket's address, `None` with RTCP-mux (one socket for both).
    fn rtcp_bind(&self) -> Option<SocketAddr> {
        (!self.rtcp_mux).then(|| plus_one(self.bind))
    }

    /// Where RTCP goes.
    fn rtcp_peer(&self) -> SocketAddr {
        if self.rtcp_mux {
            self.peer
        } else {
            plus_one(self.peer)
        }
    }

    /// How long after the media the last packets of the exchange can still be under way
    /// because of this peer's own added delays.
    fn settle(&self) -> Duration {
        self.drain + self.added_delay + self.added_send_delay
    }
}

/// The address with the next port (validation keeps the port below 65535).
fn plus_one(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip(), addr.port().saturating_add(1))
}

/// Runs `vtcq peer` and writes its report.
pub fn run(args: &PeerArgs) -> Result<ExitCode> {
    let config = PeerConfig::from_args(args)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = runtime.block_on(serve(config))?;
    let line = serde_json::to_string(&report).context("cannot encode the report")?;
    match &args.report {
        Some(path) => std::fs::write(path, format!("{line}\n"))
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => println!("{line}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The socket shell: binds, then alternates between receiving and letting [`PeerState`]
/// act on the clock until it is finished.
async fn serve(config: PeerConfig) -> Result<PeerReport> {
    let rtp = UdpSocket::bind(config.bind)
        .await
        .with_context(|| format!("cannot bind {}", config.bind))?;
    let rtcp = match config.rtcp_bind() {
        Some(addr) => Some(
            UdpSocket::bind(addr)
                .await
                .with_context(|| format!("cannot bind {addr}"))?,
        ),
        None => None,
    };
    let clock = Clock::start()?;
    tracing::info!(bind = %config.bind, peer = %config.peer, "peer started");
    let mut state = PeerState::new(config, clock.now());
    let mut rtp_buf = vec![0u8; RECV_BUFFER];
    let mut rtcp_buf = vec![0u8; RECV_BUFFER];
    let mut out = Vec::new();
    loop {
        let now = clock.now();
        state.advance(now, &mut out);
        for datagram in out.drain(..) {
            let socket = match (&rtcp, datagram.rtcp) {
                (Some(socket), true) => socket,
                _ => &rtp,
            };
            if let Err(err) = socket.send_to(&datagram.bytes, datagram.to).await {
                // A test peer must outlive a transient error (the other peer not up
                // yet, a full buffer); the count in the report shows it happened.
                tracing::warn!(to = %datagram.to, "send failed: {err}");
                state.report.send_errors += 1;
            }
        }
        if state.is_finished(now) {
            break;
        }
        let wake = state.next_wake();
        // tokio's timer fires up to a millisecond late. For a send held back by
        // --added-send-delay-ms that lateness would add to the round trip the other side
        // measures, so the last stretch before one is waited out by yielding (receives
        // are still served) instead of by the timer.
        let (spin, sleep_until) = if state.outbound_due_first(wake) {
            let early = earlier(wake, PRECISE_WAIT);
            (clock.now() >= early, early)
        } else {
            (false, wake)
        };
        let timer = async {
            if spin {
                tokio::task::yield_now().await;
            } else {
                tokio::time::sleep_until(clock.instant(sleep_until)).await;
            }
        };
        tokio::select! {
            received = rtp.recv_from(&mut rtp_buf) => {
                on_received(&mut state, received, &rtp_buf, clock.now());
            }
            received = recv_optional(rtcp.as_ref(), &mut rtcp_buf) => {
                on_received(&mut state, received, &rtcp_buf, clock.now());
            }
            () = timer => {}
        }
    }
    let report = state.finish();
    tracing::info!(
        sent = report.rtp_sent,
        skipped = report.rtp_skipped,
        received = report.rtp_received,
        "peer done"
    );
    Ok(report)
}

/// Receives on the RTCP socket, or never when there is none (RTCP-mux).
async fn recv_optional(
    socket: Option<&UdpSocket>,
    buf: &mut [u8],
) -> io::Result<(usize, SocketAddr)> {
    match socket {
        Some(socket) => socket.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

fn on_received(
    state: &mut PeerState,
    received: io::Result<(usize, SocketAddr)>,
    buf: &[u8],
    arrival: Timestamp,
) {
    match received {
        Ok((len, from)) => state.receive(arrival, from, buf.get(..len).unwrap_or(&[])),
        Err(err) => {
            // ICMP errors surface here on some systems; they end nothing.
            tracing::debug!("receive failed: {err}");
            state.report.recv_errors += 1;
        }
    }
}

/// A monotonic clock in Unix time: the system clock read once at start, advanced by a
/// monotonic one, so NTP timestamps are wall-clock time yet never step during a run.
#[derive(Clone, Copy, Debug)]
struct Clock {
    origin: Instant,
    origin_unix: Timestamp,
}

impl Clock {
    fn start() -> Result<Self> {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .context("the system clock is before 1970")?;
        let nanos =
            i64::try_from(since_epoch.as_nanos()).context("the system clock is past 2262")?;
        Ok(Clock {
            origin: Instant::now(),
            origin_unix: Timestamp::from_nanos(nanos),
        })
    }

    fn now(&self) -> Timestamp {
        self.origin_unix
            .after(Instant::now().saturating_duration_since(self.origin))
    }

    /// The instant of `at`. Every time a peer uses lies within a day or so of the origin,
    /// so the overflow fallback (waking at once, which is harmless) is never taken.
    fn instant(&self, at: Timestamp) -> Instant {
        self.origin
            .checked_add(at.saturating_duration_since(self.origin_unix))
            .unwrap_or(self.origin)
    }
}

/// The time `d` before `t` (saturating).
fn earlier(t: Timestamp, d: Duration) -> Timestamp {
    let nanos = i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
    Timestamp::from_nanos(t.as_nanos().saturating_sub(nanos))
}

/// A Unix timestamp as a 64-bit NTP timestamp (32.32 fixed point since 1900).
fn ntp_of(t: Timestamp) -> u64 {
    synth::ntp_of(t, 0)
}

/// Items held back by a fixed delay: an item pushed at `t` comes out at `t + delay`,
/// stamped with that time, in order.
#[derive(Debug)]
struct DelayLine<T> {
    delay: Duration,
    items: VecDeque<(Timestamp, T)>,
}

impl<T> DelayLine<T> {
    fn new(delay: Duration) -> Self {
        DelayLine {
            delay,
            items: VecDeque::new(),
        }
    }

    /// Holds `item`, which arrived (or was made) at `at`.
    fn push(&mut self, at: Timestamp, item: T) {
        let due = at.after(self.delay);
        // Arrivals come in clock order, so this is the back in practice; a stable insert
        // keeps equal due times in arrival order all the same.
        let index = self.items.partition_point(|(d, _)| *d <= due);
        self.items.insert(index, (due, item));
    }

    /// When the next item is due.
    fn next_due(&self) -> Option<Timestamp> {
        self.items.front().map(|(due, _)| *due)
    }

    /// The next item due at or before `now`, with its due time (the delayed arrival).
    fn pop_due(&mut self, now: Timestamp) -> Option<(Timestamp, T)> {
        if self.next_due()? <= now {
            self.items.pop_front()
        } else {
            None
        }
    }

    fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Extends 16-bit sequence numbers and 32-bit RTP timestamps by their distance to the
/// highest seen, which handles wraps and mild reordering alike.
#[derive(Clone, Copy, Debug)]
struct Extender {
    highest: Option<(u16, i64, u32, i64)>,
}

impl Extender {
    /// The extended (sequence number, RTP timestamp) of a packet.
    fn extend(&mut self, seq: u16, ts: u32) -> (i64, i64) {
        let Some((max_seq, max_ext, last_ts, last_ts_ext)) = self.highest else {
            self.highest = Some((seq, i64::from(seq), ts, i64::from(ts)));
            return (i64::from(seq), i64::from(ts));
        };
        let ext = max_ext + i64::from(seq.wrapping_sub(max_seq) as i16);
        let ts_ext = last_ts_ext + i64::from(ts.wrapping_sub(last_ts) as i32);
        if ext > max_ext {
            self.highest = Some((seq, ext, ts, ts_ext));
        }
        (ext, ts_ext)
    }
}

/// A datagram to send.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Outgoing {
    /// From the RTCP socket (without RTCP-mux).
    rtcp: bool,
    to: SocketAddr,
    bytes: Vec<u8>,
}

/// One report block, as the JSON report shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockReport {
    /// The SSRC the block is about.
    pub ssrc: u32,
    /// Fraction lost in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost.
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub extended_highest_sequence: u32,
    /// Interarrival jitter in RTP timestamp units.
    pub jitter: u32,
    /// LSR (middle 32 bits of the NTP time of the last SR, 0 if none).
    pub last_sr: u32,
    /// DLSR in 1/65536 s.
    pub delay_since_last_sr: u32,
}

impl From<ReportBlock> for BlockReport {
    fn from(b: ReportBlock) -> Self {
        BlockReport {
            ssrc: b.ssrc,
            fraction_lost: b.fraction_lost,
            cumulative_lost: b.cumulative_lost,
            extended_highest_sequence: b.extended_highest_sequence,
            jitter: b.jitter,
            last_sr: b.last_sr,
            delay_since_last_sr: b.delay_since_last_sr,
        }
    }
}

/// What one peer did and saw: its truth, printed as one JSON line at the end.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerReport {
    /// This peer's SSRC.
    pub ssrc: u32,
    /// The SSRC of the peer's RTP stream (the first one heard), if any arrived.
    pub peer_ssrc: Option<u32>,
    /// Sequence number of this peer's first RTP packet.
    pub rtp_first_seq: u16,
    /// RTP packets put on the wire.
    pub rtp_sent: u64,
    /// RTP packets skipped: the injected loss.
    pub rtp_skipped: u64,
    /// Of those, the ones after the last packet sent: no receiver can count them lost.
    pub rtp_skipped_trailing: u64,
    /// RTP packets received from the peer.
    pub rtp_received: u64,
    /// RTP packets expected from the peer (RFC 3550 A.3).
    pub rtp_expected: i64,
    /// RTP packets of the peer counted lost (expected minus received).
    pub rtp_lost: i64,
    /// Final A.8 jitter of the peer's stream, in RTP timestamp units.
    pub jitter: f64,
    /// RTCP compound packets sent (the final one included).
    pub rtcp_sent: u64,
    /// RTCP compound packets received from the peer.
    pub rtcp_received: u64,
    /// SRs received from the peer.
    pub sr_received: u64,
    /// The peer said BYE.
    pub bye_received: bool,
    /// Report blocks this peer sent about the peer's stream.
    pub report_blocks_sent: u64,
    /// The last of them (what the final RR/SR reported).
    pub last_block_sent: Option<BlockReport>,
    /// Report blocks received from the peer about this peer's stream.
    pub report_blocks_received: u64,
    /// The last of them.
    pub last_block_received: Option<BlockReport>,
    /// Round-trip samples from received blocks with an LSR (RFC 3550 §6.4.1: arrival −
    /// LSR − DLSR, on this peer's delayed arrival time).
    pub rtt_samples: u64,
    /// Smallest sample, in milliseconds.
    pub rtt_min_ms: Option<f64>,
    /// Largest sample, in milliseconds.
    pub rtt_max_ms: Option<f64>,
    /// Last sample, in milliseconds.
    pub rtt_last_ms: Option<f64>,
    /// Datagrams ignored: from another address, or RTP of another SSRC.
    pub ignored_datagrams: u64,
    /// Datagrams (or RTCP sub-packets) that did not parse.
    pub malformed: u64,
    /// Sends that failed.
    pub send_errors: u64,
    /// Receives that failed.
    pub recv_errors: u64,
    /// The configured loss, in percent.
    pub send_loss_percent: f64,
    /// The configured inbound delay.
    pub added_delay_ms: u64,
    /// The configured outbound delay.
    pub added_send_delay_ms: u64,
}

/// The protocol state of one peer, driven by explicit timestamps.
#[derive(Debug)]
struct PeerState {
    config: PeerConfig,
    media_start: Timestamp,
    media_end: Timestamp,
    final_report_at: Timestamp,
    exit_at: Timestamp,
    loss_rng: Rng,
    timing_rng: Rng,
    ts_base: u32,
    /// Index (from 0) of the next RTP packet of this peer's stream.
    next_index: u64,
    /// The next regular RTCP report; `None` once the media is over.
    next_rtcp: Option<Timestamp>,
    final_sent: bool,
    extender: Extender,
    receiver: ReceiverState,
    inbound: DelayLine<Vec<u8>>,
    outbound: DelayLine<Outgoing>,
    report: PeerReport,
}

impl PeerState {
    fn new(config: PeerConfig, now: Timestamp) -> Self {
        let mut setup = Rng(config.seed);
        let first_seq = setup.next_u64() as u16;
        let ts_base = setup.next_u64() as u32;
        // Independent streams, so that the loss pattern does not depend on RTCP timing.
        let loss_rng = Rng(setup.next_u64());
        let mut timing_rng = Rng(setup.next_u64());
        let media_start = now.after(config.start_delay);
        let media_end = media_start.after(config.duration);
        let final_report_at = media_end.after(config.settle());
        let exit_at = final_report_at.after(config.settle());
        let first_rtcp = media_start.after(scaled(
            config.rtcp_interval,
            0.5 * spread(timing_rng.unit()),
        ));
        let report = PeerReport {
            ssrc: config.ssrc,
            rtp_first_seq: first_seq,
            send_loss_percent: config.send_loss * 100.0,
            added_delay_ms: config.added_delay.as_millis() as u64,
            added_send_delay_ms: config.added_send_delay.as_millis() as u64,
            ..PeerReport::default()
        };
        PeerState {
            inbound: DelayLine::new(config.added_delay),
            outbound: DelayLine::new(config.added_send_delay),
            config,
            media_start,
            media_end,
            final_report_at,
            exit_at,
            loss_rng,
            timing_rng,
            ts_base,
            next_index: 0,
            next_rtcp: Some(first_rtcp),
            final_sent: false,
            extender: Extender { highest: None },
            receiver: ReceiverState::default(),
            report,
        }
    }

    /// A datagram arrived at `arrival`: held for the added inbound delay.
    fn receive(&mut self, arrival: Timestamp, from: SocketAddr, bytes: &[u8]) {
        if from.ip() != self.config.peer.ip() {
            self.report.ignored_datagrams += 1;
            return;
        }
        self.inbound.push(arrival, bytes.to_vec());
    }

    /// Does everything due at `now`: processes delayed arrivals, makes RTP and RTCP, and
    /// appends the datagrams due for sending to `out`.
    fn advance(&mut self, now: Timestamp, out: &mut Vec<Outgoing>) {
        while let Some((arrival, bytes)) = self.inbound.pop_due(now) {
            self.process(arrival, &bytes);
        }
        if self.config.sends_media {
            while let Some(at) = self.next_rtp_at().filter(|at| *at <= now) {
                self.make_rtp(at);
            }
        }
        if let Some(at) = self.next_rtcp.filter(|at| *at <= now) {
            self.make_rtcp(now, false);
            let next = at.max(now).after(scaled(
                self.config.rtcp_interval,
                spread(self.timing_rng.unit()),
            ));
            self.next_rtcp = (next < self.media_end).then_some(next);
        }
        if !self.final_sent && now >= self.final_report_at {
            self.make_rtcp(now, true);
            self.final_sent = true;
        }
        while let Some((_, datagram)) = self.outbound.pop_due(now) {
            out.push(datagram);
        }
    }

    /// When [`PeerState::advance`] next has something to do.
    fn next_wake(&self) -> Timestamp {
        let final_report = (!self.final_sent).then_some(self.final_report_at);
        let rtp = self
            .config
            .sends_media
            .then(|| self.next_rtp_at())
            .flatten();
        [
            self.inbound.next_due(),
            self.outbound.next_due(),
            rtp,
            self.next_rtcp,
            final_report,
        ]
        .into_iter()
        .flatten()
        .fold(self.exit_at, Timestamp::min)
    }

    /// Whether the event at `wake` is a send held back by an added outbound delay.
    fn outbound_due_first(&self, wake: Timestamp) -> bool {
        !self.config.added_send_delay.is_zero() && self.outbound.next_due() == Some(wake)
    }

    /// Whether the run is over: the final report is out and the peer had its time to
    /// answer.
    fn is_finished(&self, now: Timestamp) -> bool {
        self.final_sent && now >= self.exit_at && self.outbound.is_empty()
    }

    /// Send time of the next RTP packet, `None` once the media is over.
    fn next_rtp_at(&self) -> Option<Timestamp> {
        let offset = self.config.packet_interval.as_nanos() * u128::from(self.next_index);
        let at = self
            .media_start
            .after(Duration::from_nanos(u64::try_from(offset).ok()?));
        (at < self.media_end).then_some(at)
    }

    /// RTP timestamp units in `nanos` (negative before the media start).
    fn rtp_units(&self, nanos: i64) -> i64 {
        (i128::from(nanos) * i128::from(self.config.clock_rate) / 1_000_000_000) as i64
    }

    fn make_rtp(&mut self, at: Timestamp) {
        let index = self.next_index;
        self.next_index += 1;
        let lost = if self.config.periodic_loss {
            // Packet i is lost when the running total of expected losses crosses an integer.
            let p = self.config.send_loss;
            ((index + 1) as f64 * p).floor() > (index as f64 * p).floor()
        } else {
            self.loss_rng.unit() < self.config.send_loss
        };
        if lost {
            self.report.rtp_skipped += 1;
            self.report.rtp_skipped_trailing += 1;
            return;
        }
        let units = self.rtp_units(at.nanos_since(self.media_start));
        let header = RtpHeader {
            marker: index == 0,
            payload_type: self.config.payload_type,
            sequence_number: self.report.rtp_first_seq.wrapping_add(index as u16),
            timestamp: self.ts_base.wrapping_add(units as u32),
            ssrc: self.config.ssrc,
        };
        let mut bytes = Vec::with_capacity(12 + self.config.payload_bytes);
        header.write(&mut bytes);
        bytes.extend((0..self.config.payload_bytes).map(|i| (i as u8) ^ (index as u8)));
        self.report.rtp_sent += 1;
        self.report.rtp_skipped_trailing = 0;
        self.outbound.push(
            at,
            Outgoing {
                rtcp: false,
                to: self.config.peer,
                bytes,
            },
        );
    }

    /// Processes a datagram at its (delayed) arrival time.
    fn process(&mut self, arrival: Timestamp, bytes: &[u8]) {
        match classify(bytes) {
            PayloadClass::Rtp => match RtpPacket::new_checked(bytes) {
                Ok(rtp) => self.on_rtp(arrival, &rtp),
                Err(_) => self.report.malformed += 1,
            },
            PayloadClass::Rtcp => self.on_rtcp(arrival, bytes),
            _ => self.report.malformed += 1,
        }
    }

    fn on_rtp(&mut self, arrival: Timestamp, rtp: &RtpPacket<'_>) {
        let peer_ssrc = *self.report.peer_ssrc.get_or_insert(rtp.ssrc());
        if rtp.ssrc() != peer_ssrc {
            self.report.ignored_datagrams += 1;
            return;
        }
        let (seq, ts) = self.extender.extend(rtp.sequence_number(), rtp.timestamp());
        self.receiver
            .on_rtp(seq, ts, arrival, self.config.clock_rate);
        self.report.rtp_received += 1;
    }

    fn on_rtcp(&mut self, arrival: Timestamp, bytes: &[u8]) {
        self.report.rtcp_received += 1;
        for packet in Compound::parse(bytes).packets() {
            match packet {
                Ok(Packet::SenderReport(sr)) => {
                    if self.is_peer(sr.ssrc()) {
                        self.report.sr_received += 1;
                        self.receiver.on_sr(ntp_middle(sr.ntp_timestamp()), arrival);
                    }
                    for block in sr.report_blocks() {
                        self.on_block(arrival, block);
                    }
                }
                Ok(Packet::ReceiverReport(rr)) => {
                    for block in rr.report_blocks() {
                        self.on_block(arrival, block);
                    }
                }
                Ok(Packet::Goodbye(_)) => self.report.bye_received = true,
                Ok(_) => {}
                Err(_) => self.report.malformed += 1,
            }
        }
    }

    /// Whether `ssrc` is the peer's (any SSRC but ours before its RTP was heard).
    fn is_peer(&self, ssrc: u32) -> bool {
        match self.report.peer_ssrc {
            Some(peer) => ssrc == peer,
            None => ssrc != self.config.ssrc,
        }
    }

    fn on_block(&mut self, arrival: Timestamp, block: ReportBlock) {
        if block.ssrc != self.config.ssrc {
            return;
        }
        self.report.report_blocks_received += 1;
        self.report.last_block_received = Some(block.into());
        if block.last_sr == 0 {
            return;
        }
        // RFC 3550 §6.4.1: A - LSR - DLSR, all in 1/65536 s, modulo 2^32.
        let units = ntp_middle(ntp_of(arrival))
            .wrapping_sub(block.last_sr)
            .wrapping_sub(block.delay_since_last_sr);
        if (units as i32) < 0 {
            return;
        }
        let ms = dlsr_nanos(units) as f64 / 1e6;
        let r = &mut self.report;
        r.rtt_samples += 1;
        r.rtt_min_ms = Some(r.rtt_min_ms.map_or(ms, |m| m.min(ms)));
        r.rtt_max_ms = Some(r.rtt_max_ms.map_or(ms, |m| m.max(ms)));
        r.rtt_last_ms = Some(ms);
    }

    /// Builds an SR (or RR) + SDES (+ BYE when final and asked for) made at `now`.
    fn make_rtcp(&mut self, now: Timestamp, last: bool) {
        let block = self
            .report
            .peer_ssrc
            .and_then(|peer| self.receiver.report_block(peer, now, 0));
        let blocks: Vec<ReportBlock> = block.into_iter().collect();
        let mut bytes = Vec::new();
        if self.config.sends_media {
            // Skipped packets count: to the sender they were sent and lost in the network.
            let packets = self.next_index;
            let octets = packets * self.config.payload_bytes as u64;
            let units = self.rtp_units(now.nanos_since(self.media_start));
            rtcp::write_sender_report(
                &mut bytes,
                self.config.ssrc,
                ntp_of(now),
                self.ts_base.wrapping_add(units as u32),
                packets as u32,
                octets as u32,
                &blocks,
            );
        } else {
            rtcp::write_receiver_report(&mut bytes, self.config.ssrc, &blocks);
        }
        rtcp::write_sdes_cname(
            &mut bytes,
            self.config.ssrc,
            &format!("peer-{:08x}@vtcq.invalid", self.config.ssrc),
        );
        if last && self.config.bye {
            rtcp::write_bye(&mut bytes, &[self.config.ssrc], Some("test call over"));
        }
        self.report.rtcp_sent += 1;
        if let Some(block) = block {
            self.report.report_blocks_sent += 1;
            self.report.last_block_sent = Some(block.into());
        }
        self.outbound.push(
            now,
            Outgoing {
                rtcp: !self.config.rtcp_mux,
                to: self.config.rtcp_peer(),
                bytes,
            },
        );
    }

    /// The report, with the receiver's final numbers.
    fn finish(mut self) -> PeerReport {
        self.report.rtp_expected = self.receiver.expected();
        self.report.rtp_lost = self.receiver.cumulative_lost();
        self.report.jitter = self.receiver.jitter();
        self.report
    }
}

/// `d` times `factor`; `d` itself should the product not be a duration (it always is for
/// the bounded intervals and factors used here).
fn scaled(d: Duration, factor: f64) -> Duration {
    Duration::try_from_secs_f64(d.as_secs_f64() * factor).unwrap_or(d)
}

/// A factor in `1 ± RTCP_SPREAD` from a uniform `u` in [0, 1).
fn spread(u: f64) -> f64 {
    1.0 - RTCP_SPREAD + 2.0 * RTCP_SPREAD * u
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct TestCli {
        #[command(flatten)]
        args: PeerArgs,
    }

    const BASE: [&str; 7] = [
        "peer",
        "--bind",
        "127.0.0.1:40000",
        "--peer",
        "127.0.0.1:40010",
        "--ssrc",
        "0x1234",
    ];

    fn parse(extra: &[&str]) -> Result<PeerConfig> {
        let cli = TestCli::try_parse_from(BASE.iter().chain(extra))?;
        PeerConfig::from_args(&cli.args)
    }

    fn error(extra: &[&str]) -> String {
        match parse(extra) {
            Ok(config) => panic!("{extra:?} accepted: {config:?}"),
            Err(err) => format!("{err:#}"),
        }
    }

    #[test]
    fn defaults_and_derived_addresses() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.ssrc, 0x1234);
        assert_eq!(c.packet_interval, Duration::from_millis(20));
        assert_eq!(c.rtcp_bind(), Some("127.0.0.1:40001".parse().unwrap()));
        assert_eq!(c.rtcp_peer(), "127.0.0.1:40011".parse().unwrap());
        assert!(c.sends_media);
        let c = parse(&["--rtcp-mux", "--send-loss", "5", "--payload-type", "111"]).unwrap();
        assert_eq!(c.rtcp_bind(), None);
        assert_eq!(c.rtcp_peer(), "127.0.0.1:40010".parse().unwrap());
        assert!((c.send_loss - 0.05).abs() < 1e-12);
    }

    #[test]
    fn bad_arguments_are_refused_by_name() {
        assert!(error(&["--send-loss", "101"]).contains("--send-loss"));
        assert!(error(&["--send-loss", "NaN"]).contains("--send-loss"));
        assert!(error(&["--payload-type", "128"]).contains("--payload-type"));
        assert!(error(&["--rtcp-mux", "--payload-type", "72"]).contains("RFC 5761"));
        assert!(error(&["--clock-rate", "0"]).contains("--clock-rate"));
        assert!(error(&["--packet-interval-ms", "0"]).contains("--packet-interval-ms"));
        assert!(error(&["--payload-bytes", "9000"]).contains("--payload-bytes"));
        assert!(error(&["--duration-secs", "0"]).contains("--duration-secs"));
        assert!(error(&["--added-delay-ms", "60000"]).contains("--added-delay-ms"));
        assert!(error(&["--added-send-delay-ms", "60000"]).contains("--added-send-delay-ms"));
        assert!(error(&["--rtcp-interval-ms", "1"]).contains("--rtcp-interval-ms"));
        // Clap refuses this before validation.
        assert!(parse(&["--seed", "x"]).is_err());
        let same = TestCli::try_parse_from([
            "peer",
            "--bind",
            "127.0.0.1:5000",
            "--peer",
            "127.0.0.1:5000",
            "--ssrc",
            "1",
        ])
        .unwrap();
        assert!(format!("{:#}", PeerConfig::from_args(&same.args).unwrap_err()).contains("same"));
        let families = TestCli::try_parse_from([
            "peer",
            "--bind",
            "127.0.0.1:5000",
            "--peer",
            "[::1]:5000",
            "--ssrc",
            "1",
        ])
        .unwrap();
        assert!(PeerConfig::from_args(&families.args).is_err());
        let top_port = TestCli::try_parse_from([
            "peer",
            "--bind",
            "127.0.0.1:65535",
            "--peer",
            "127.0.0.1:5000",
            "--ssrc",
            "1",
        ])
        .unwrap();
        assert!(
            format!("{:#}", PeerConfig::from_args(&top_port.args).unwrap_err()).contains("PORT+1")
        );
    }

    #[test]
    fn hex_and_decimal_numbers() {
        assert_eq!(parse_u32("0xDEADBEEF"), Ok(0xDEAD_BEEF));
        assert_eq!(parse_u32("42"), Ok(42));
        assert!(parse_u32("4294967296").is_err());
        assert_eq!(parse_u64("0X10"), Ok(16));
    }

    fn ms(n: i64) -> Timestamp {
        Timestamp::from_nanos(1_800_000_000_000_000_000 + n * 1_000_000)
    }

    #[test]
    fn delay_line_releases_each_item_at_arrival_plus_delay_in_order() {
        let mut line = DelayLine::new(Duration::from_millis(20));
        assert_eq!(line.next_due(), None);
        line.push(ms(0), "a");
        line.push(ms(5), "b");
        line.push(ms(5), "c");
        assert_eq!(line.next_due(), Some(ms(20)));
        assert_eq!(line.pop_due(ms(19)), None);
        assert_eq!(line.pop_due(ms(20)), Some((ms(20), "a")));
        // Late processing still stamps the delayed arrival, not the processing time.
        assert_eq!(line.pop_due(ms(40)), Some((ms(25), "b")));
        assert_eq!(line.pop_due(ms(40)), Some((ms(25), "c")));
        assert_eq!(line.pop_due(ms(40)), None);
        assert!(line.is_empty());
        // An out-of-order push lands in due order.
        line.push(ms(50), "late");
        line.push(ms(45), "early");
        assert_eq!(line.pop_due(ms(100)), Some((ms(65), "early")));
        assert_eq!(line.pop_due(ms(100)), Some((ms(70), "late")));
        let mut zero = DelayLine::new(Duration::ZERO);
        zero.push(ms(3), 1);
        assert_eq!(zero.pop_due(ms(3)), Some((ms(3), 1)));
    }

    #[test]
    fn extender_crosses_wraps_and_tolerates_reordering() {
        let mut e = Extender { highest: None };
        assert_eq!(
            e.extend(65_534, u32::MAX - 159),
            (65_534, i64::from(u32::MAX) - 159)
        );
        assert_eq!(e.extend(65_535, u32::MAX).0, 65_535);
        assert_eq!(e.extend(1, 159 + 160), (65_537, i64::from(u32::MAX) + 320));
        assert_eq!(e.extend(0, 159).0, 65_536);
        assert_eq!(e.extend(2, 479).0, 65_538);
    }

    #[test]
    fn ntp_counts_from_1900() {
        let ntp = ntp_of(Timestamp::from_nanos(1_500_000_000));
        assert_eq!(ntp >> 32, 2_208_988_800 + 1);
        assert_eq!(ntp & 0xFFFF_FFFF, 1 << 31);
    }

    fn config(bind: &str, peer: &str, ssrc: &str, extra: &[&str]) -> PeerConfig {
        let base = [
            "peer",
            "--bind",
            bind,
            "--peer",
            peer,
            "--ssrc",
            ssrc,
            "--duration-secs",
            "3",
            "--bye",
        ];
        let cli = TestCli::try_parse_from(base.iter().chain(extra)).unwrap();
        PeerConfig::from_args(&cli.args).unwrap()
    }

    /// Runs two peers against each other in simulated time over a lossless network with
    /// a fixed transit time, in 1 ms steps.
    fn simulate(a: PeerConfig, b: PeerConfig, transit: Duration) -> (PeerReport, PeerReport) {
        let (a_addr, b_addr) = (a.bind, b.bind);
        let mut peers = [PeerState::new(a, ms(0)), PeerState::new(b, ms(0))];
        // (arrival, to peer index, from, bytes)
        let mut wire: Vec<(Timestamp, usize, SocketAddr, Vec<u8>)> = Vec::new();
        let mut out = Vec::new();
        let mut now = ms(0);
        while !peers.iter().all(|p| p.is_finished(now)) {
            for (i, peer) in peers.iter_mut().enumerate() {
                wire.retain(|(at, to, from, bytes)| {
                    let deliver = *to == i && *at <= now;
                    if deliver {
                        peer.receive(*at, *from, bytes);
                    }
                    !deliver
                });
                peer.advance(now, &mut out);
                let from = if i == 0 { a_addr } else { b_addr };
                for d in out.drain(..) {
                    wire.push((now.after(transit), 1 - i, from, d.bytes));
                }
            }
            now = now.after(Duration::from_millis(1));
            assert!(now < ms(60_000), "the simulated call does not end");
        }
        let [a, b] = peers;
        (a.finish(), b.finish())
    }

    #[test]
    fn simulated_call_counts_loss_and_measures_the_added_delays() {
        let a = config(
            "10.0.0.1:5000",
            "10.0.0.2:6000",
            "0xA",
            &["--send-loss", "10", "--seed", "7"],
        );
        let b = config(
            "10.0.0.2:6000",
            "10.0.0.1:5000",
            "0xB",
            &["--added-delay-ms", "20", "--added-send-delay-ms", "5"],
        );
        let (a, b) = simulate(a, b, Duration::from_millis(1));
        assert_eq!(a.rtp_sent + a.rtp_skipped, 150);
        assert!(a.rtp_skipped > 0);
        assert_eq!(b.rtp_received, a.rtp_sent);
        assert_eq!(b.rtp_lost as u64, a.rtp_skipped - a.rtp_skipped_trailing);
        assert_eq!(a.rtp_received, b.rtp_sent);
        assert_eq!((b.rtp_skipped, a.rtp_lost), (0, 0));
        assert_eq!(b.peer_ssrc, Some(0xA));
        assert!(a.bye_received && b.bye_received);
        // The final block reports everything.
        let last = b.last_block_sent.unwrap();
        assert_eq!(i64::from(last.cumulative_lost), b.rtp_lost);
        assert_eq!(a.last_block_received, Some(last));
        assert!(b.report_blocks_sent >= 3 && a.report_blocks_received == b.report_blocks_sent);
        // Round trip: 2 x 1 ms transit + B's 20 ms inbound + 5 ms outbound delay, within the
        // 1 ms simulation step and the 1/65536 s NTP resolution; both ends see it.
        for report in [&a, &b] {
            assert!(report.rtt_samples >= 2, "{report:?}");
            let (min, max) = (report.rtt_min_ms.unwrap(), report.rtt_max_ms.unwrap());
            assert!(min >= 26.9 && max <= 28.1, "{report:?}");
        }
    }

    #[test]
    fn a_receive_only_peer_sends_receiver_reports() {
        let a = config("10.0.0.1:5000", "10.0.0.2:6000", "1", &["--rtcp-mux"]);
        let b = config(
            "10.0.0.2:6000",
            "10.0.0.1:5000",
            "2",
            &["--rtcp-mux", "--recv-only"],
        );
        let (a, b) = simulate(a, b, Duration::from_millis(3));
        assert_eq!((b.rtp_sent, a.rtp_received, a.peer_ssrc), (0, 0, None));
        assert_eq!(b.rtp_received, 150);
        // A sees RR blocks about its stream and measures 2 x 3 ms; B has no SR to answer.
        assert!(a.report_blocks_received >= 3);
        let rtt = a.rtt_last_ms.unwrap();
        assert!((5.9..=7.1).contains(&rtt), "{a:?}");
        assert_eq!((b.rtt_samples, b.report_blocks_received), (0, 0));
        assert_eq!(a.sr_received, 0);
        assert_eq!(b.sr_received, a.rtcp_sent);
    }

    #[test]
    fn datagrams_from_elsewhere_are_ignored() {
        let mut p = PeerState::new(config("10.0.0.1:5000", "10.0.0.2:6000", "1", &[]), ms(0));
        p.receive(ms(1), "10.9.9.9:6000".parse().unwrap(), &[0x80, 0, 0, 1]);
        p.receive(ms(1), "10.0.0.2:6000".parse().unwrap(), &[1, 2, 3]);
        p.advance(ms(2), &mut Vec::new());
        let r = p.finish();
        assert_eq!(
            (r.ignored_datagrams, r.malformed, r.rtp_received),
            (1, 1, 0)
        );
    }
}
