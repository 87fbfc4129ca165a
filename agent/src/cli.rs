//! Command-line arguments, parsed into typed values (a bad value stops here, with a message
//! naming the flag).

use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;

use clap::{Args, Parser, Subcommand, ValueEnum};
use uuid::Uuid;
use vtcq_collector::MediaKind;

/// vtcq: measures the VTC media leg of a Teams CVI bot and reports it to Microsoft Graph.
#[derive(Debug, Parser)]
#[command(name = "vtcq", version, about, propagate_version = true)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug). VTCQ_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyse a pcap/pcapng capture and print the Graph quality records it yields.
    Analyze(AnalyzeArgs),
    /// Write a simulated call with known loss, delay and jitter as a pcap (the generator
    /// behind the shipped sample capture).
    Generate(GenerateArgs),
    /// Validate request bodies, spool them and deliver them to Graph (or the configured
    /// sink); exits 0 once every record is acknowledged.
    Post(PostArgs),
    /// Inspect and act on the spool of undelivered records.
    Spool(SpoolArgs),
    /// Run the agent: capture live, serve the bot's control API, deliver records.
    Run(ConfigArgs),
    /// Check a configuration file (exit 0 when valid, 78 with the key named otherwise).
    Validate(ConfigArgs),
}

/// `--config FILE`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// The configuration file (TOML; VTCQ_SECTION__KEY environment variables override it).
    #[arg(long, short)]
    pub config: PathBuf,
}

/// `vtcq post`.
#[derive(Debug, Args)]
pub struct PostArgs {
    /// The configuration file (TOML; VTCQ_SECTION__KEY environment variables override it).
    #[arg(long, short)]
    pub config: PathBuf,
    /// Request bodies (`{"quality": {...}}`) to deliver. With none, only the records
    /// already in the spool are delivered.
    pub records: Vec<PathBuf>,
    /// Give up (leaving the rest in the spool, exit 75) after this long, e.g. `15m`.
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration)]
    pub deadline: std::time::Duration,
}

/// `vtcq spool`.
#[derive(Debug, Args)]
pub struct SpoolArgs {
    /// The configuration file.
    #[arg(long, short, global = true)]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub action: SpoolAction,
}

/// `vtcq spool` actions.
#[derive(Debug, Subcommand)]
pub enum SpoolAction {
    /// List the records waiting for delivery, dead-lettered and corrupt.
    List,
    /// Move dead-lettered records back into the queue (all, or one by id).
    Retry {
        /// The record id (as `list` shows it).
        id: Option<String>,
    },
    /// Delete records for good.
    Purge {
        /// Which: dead (default), corrupt, ready or all.
        #[arg(long, value_enum, default_value_t = PurgeWhich::Dead)]
        which: PurgeWhich,
    },
}

/// Which records `spool purge` deletes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PurgeWhich {
    /// Dead-lettered records.
    Dead,
    /// Records that failed verification.
    Corrupt,
    /// Records waiting for delivery.
    Ready,
    /// Everything.
    All,
}

/// `vtcq generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Output pcap file.
    #[arg(long, short)]
    pub out: PathBuf,
    /// Call duration in seconds.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Outbound (bot -> device) RTP loss in percent.
    #[arg(long, default_value_t = 2.0)]
    pub outbound_loss: f64,
    /// Inbound (device -> bot) RTP loss in percent.
    #[arg(long, default_value_t = 3.0)]
    pub inbound_loss: f64,
    /// One-way delay bot -> device in milliseconds.
    #[arg(long, default_value_t = 20)]
    pub outbound_delay_ms: u64,
    /// One-way delay device -> bot in milliseconds.
    #[arg(long, default_value_t = 30)]
    pub inbound_delay_ms: u64,
    /// PRNG seed.
    #[arg(long, default_value_t = 0x5EED_0001)]
    pub seed: u64,
    /// Also print the truth of every channel as JSON on stdout.
    #[arg(long)]
    pub truth: bool,
}

/// Output format of `analyze`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A readable summary per channel and direction.
    Table,
    /// Exactly the request body that would be posted to Graph.
    Json,
}

/// `vtcq analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// The capture file (pcap or pcapng).
    pub capture: PathBuf,

    /// The bot's address(es) on the VTC leg, comma separated. Inferred when the capture
    /// makes it unambiguous.
    #[arg(long, value_delimiter = ',', value_name = "IP[,IP...]")]
    pub local: Vec<IpAddr>,

    /// Kind of the channel on a local RTP port (repeatable): audio, video or screenSharing.
    #[arg(long = "kind", value_name = "PORT=KIND")]
    pub kinds: Vec<KindArg>,

    /// Clock rate of a payload type (repeatable); PORT scopes it to the channel with that
    /// local RTP port.
    #[arg(long = "clock-rate", value_name = "[PORT/]PT=HZ")]
    pub clock_rates: Vec<ClockRateArg>,

    /// The Teams call's callChainId (default: the nil GUID).
    #[arg(long, default_value_t = Uuid::nil())]
    pub call_chain_id: Uuid,

    /// The Teams call's myParticipantId (default: the nil GUID).
    #[arg(long, default_value_t = Uuid::nil())]
    pub participant_id: Uuid,

    /// The media leg id (default: the nil GUID).
    #[arg(long, default_value_t = Uuid::nil())]
    pub media_leg_id: Uuid,

    /// Device name for the record.
    #[arg(long, default_value = "unknown device")]
    pub device_name: String,

    /// Device description for the record.
    #[arg(long, default_value = "analysed by vtcq from a capture file")]
    pub device_description: String,

    /// Link speed of the capture interface in bytes per second (default: the pcapng
    /// interface's if_speed, else unknown).
    #[arg(long, value_name = "BYTES_PER_SEC")]
    pub link_speed: Option<u64>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Print a per-stream table (like `tshark -q -z rtp,streams`) instead of the records.
    #[arg(long)]
    pub streams: bool,

    /// Most flows (endpoint pairs) held at once. Past it a new flow evicts the oldest one
    /// that never carried valid RTP, else it is refused; both are reported. Bounds memory
    /// on captures full of scans or floods.
    #[arg(long, default_value_t = 65_536, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_flows: u32,
}

/// `PORT=KIND`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KindArg {
    /// Local RTP port.
    pub port: u16,
    /// Kind.
    pub kind: MediaKind,
}

impl FromStr for KindArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (port, kind) = s
            .split_once('=')
            .ok_or_else(|| format!("expected PORT=KIND, got {s:?}"))?;
        let port = port
            .trim()
            .parse::<u16>()
            .map_err(|_| format!("{port:?} is not a port number"))?;
        let kind = kind
            .trim()
            .parse::<MediaKind>()
            .map_err(|e| e.to_string())?;
        Ok(KindArg { port, kind })
    }
}

/// `[PORT/]PT=HZ`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockRateArg {
    /// Local RTP port the rate is scoped to.
    pub port: Option<u16>,
    /// Payload type (0..=127).
    pub payload_type: u8,
    /// Rate in Hz.
    pub hz: u32,
}

impl FromStr for ClockRateArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (left, hz) = s
            .split_once('=')
            .ok_or_else(|| format!("expected [PORT/]PT=HZ, got {s:?}"))?;
        let (port, pt) = match left.split_once('/') {
            Some((port, pt)) => (
                Some(
                    port.trim()
                        .parse::<u16>()
                        .map_err(|_| format!("{port:?} is not a port number"))?,
                ),
                pt,
            ),
            None => (None, left),
        };
        let payload_type = pt
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|pt| *pt <= 127)
            .ok_or_else(|| format!("{pt:?} is not an RTP payload type (0..=127)"))?;
        let hz = hz
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|hz| *hz > 0)
            .ok_or_else(|| format!("{hz:?} is not a clock rate in Hz"))?;
        Ok(ClockRateArg {
            port,
            payload_type,
            hz,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_args_parse_and_reject() {
        assert_eq!(
            "5004=screenSharing".parse::<KindArg>(),
            Ok(KindArg {
                port: 5004,
                kind: MediaKind::ScreenSharing
            })
        );
        assert!("5004".parse::<KindArg>().is_err());
        assert!("70000=audio".parse::<KindArg>().is_err());
        assert!("5004=voice".parse::<KindArg>().is_err());
    }

    #[test]
    fn clock_rate_args_parse_and_reject() {
        assert_eq!(
            "5004/96=90000".parse::<ClockRateArg>(),
            Ok(ClockRateArg {
                port: Some(5004),
                payload_type: 96,
                hz: 90_000
            })
        );
        assert_eq!(
            "111=48000".parse::<ClockRateArg>(),
            Ok(ClockRateArg {
                port: None,
                payload_type: 111,
                hz: 48_000
            })
        );
        assert!("128=8000".parse::<ClockRateArg>().is_err());
        assert!("96=0".parse::<ClockRateArg>().is_err());
        assert!("96".parse::<ClockRateArg>().is_err());
        assert!("x/96=8000".parse::<ClockRateArg>().is_err());
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
