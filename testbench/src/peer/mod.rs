//! `vtcq-testbench peer`: a live RTP/RTCP endpoint with known truth, for end-to-end tests.
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

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{ensure, Context, Result};
use clap::Args;
use tokio::net::UdpSocket;
use tokio::time::Instant;
use vtcq_collector::Timestamp;

mod state;

use state::{PeerReport, PeerState};

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

/// `vtcq-testbench peer`: one endpoint of a live test call.
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

/// Runs `vtcq-testbench peer` and writes its report.
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

/// The command line as the binary parses it, for the tests of both files.
#[cfg(test)]
#[derive(Debug, clap::Parser)]
struct TestCli {
    #[command(flatten)]
    args: PeerArgs,
}

/// A configuration from a command line (`peer --bind ...`), as `run` validates it.
#[cfg(test)]
fn config_from_args<I, T>(args: I) -> Result<PeerConfig>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::Parser;
    let cli = TestCli::try_parse_from(args)?;
    PeerConfig::from_args(&cli.args)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use clap::Parser;

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
        config_from_args(BASE.iter().chain(extra))
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
}
