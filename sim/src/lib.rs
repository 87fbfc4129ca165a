//! vtcq-sim: a call simulator with known truth. A simulated call between the bot (local,
//! where the capture is taken) and a VTC device (remote), written as captured frames.
//!
//! The simulation is event driven and deterministic for a given seed. Both endpoints keep
//! real RFC 3550 receiver state (independent of the analyzer's code, so tests compare two
//! implementations), send SR/RR with report blocks computed from what they actually
//! received, answer each other's SRs with LSR/DLSR, and optionally exchange XR RRTR/DLRR.
//! The network applies a fixed one-way delay per direction, uniform extra delay on RTP
//! ("jitter"), and independent random loss on RTP; RTCP is never lost or jittered, so the
//! true round-trip delay is exactly `outbound_delay + inbound_delay`.
//!
//! Used by `vtcq generate` (and so the sample capture in `samples/`), by tests and by
//! benchmarks. It lives outside the measurement crate (`vtcq-collector`) so that the
//! measurement ships without its test bench, and builds on the collector's public wire
//! writers only. The receiver state, [`ReceiverState`], is public because the live test
//! peer (`vtcq-testbench peer`) keeps the same books on real sockets.
#![forbid(unsafe_code)]

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use vtcq_collector::capture::{LinkType, PcapWriter};
use vtcq_collector::{MediaKind, Timestamp};

mod receiver;
mod simulation;

pub use receiver::{dlsr_units, ReceiverState};

/// Seconds between the NTP epoch (1900) and the Unix epoch (1970).
const NTP_UNIX_OFFSET_SECS: u64 = 2_208_988_800;

/// One media session of the simulated call.
#[derive(Clone, Debug)]
pub struct ChannelSpec {
    /// Its kind (for the truth table; the wire carries no kind).
    pub kind: MediaKind,
    /// The bot's RTP port.
    pub local_port: u16,
    /// The device's RTP port.
    pub remote_port: u16,
    /// RTCP on the RTP port (RFC 5761) instead of port+1.
    pub rtcp_mux: bool,
    /// RTP payload type.
    pub payload_type: u8,
    /// RTP clock rate.
    pub clock_rate: u32,
    /// Time between frames (audio: one packet per frame).
    pub frame_interval: Duration,
    /// Packets per frame (video fragments a frame over several packets).
    pub packets_per_frame: u32,
    /// RTP payload bytes per packet (after the 12-byte header).
    pub payload_bytes: usize,
    /// The bot sends media on this channel (else it only sends receiver reports).
    pub outbound_media: bool,
    /// The device sends media on this channel.
    pub inbound_media: bool,
    /// The bot sends XR RRTR and the device answers with XR DLRR.
    pub xr: bool,
    /// The bot's SSRC.
    pub local_ssrc: u32,
    /// The device's SSRC.
    pub remote_ssrc: u32,
    /// First sequence number of the bot's stream (set near 65535 to cross the wrap).
    pub local_first_seq: u16,
    /// First sequence number of the device's stream.
    pub remote_first_seq: u16,
}

/// The simulated call.
#[derive(Clone, Debug)]
pub struct CallSpec {
    /// The bot's address.
    pub local_ip: IpAddr,
    /// The device's address.
    pub remote_ip: IpAddr,
    /// Time of the first packet.
    pub start: Timestamp,
    /// Media duration.
    pub duration: Duration,
    /// The channels.
    pub channels: Vec<ChannelSpec>,
    /// One-way delay bot -> device.
    pub outbound_delay: Duration,
    /// One-way delay device -> bot.
    pub inbound_delay: Duration,
    /// Maximum extra delay of an outbound RTP packet (uniform).
    pub outbound_jitter: Duration,
    /// Maximum extra delay of an inbound RTP packet (uniform).
    pub inbound_jitter: Duration,
    /// Probability that an outbound RTP packet is lost.
    pub outbound_loss: f64,
    /// Probability that an inbound RTP packet is lost.
    pub inbound_loss: f64,
    /// Time between RTCP reports of one side on one channel.
    pub rtcp_interval: Duration,
    /// The device's NTP clock runs this many seconds ahead of the bot's.
    pub remote_clock_offset_secs: i64,
    /// Both sides send RTCP BYE at the end.
    pub send_bye: bool,
    /// PRNG seed.
    pub seed: u64,
}

impl CallSpec {
    /// The call shipped as `samples/three-channel-call.pcap`: audio (PCMU, RTCP on port+1,
    /// sequence wrap), video (dynamic PT 96 at 90 kHz, RTCP-mux) and screen sharing from
    /// the device only (PT 97, RTCP-mux, XR RRTR/DLRR), 20 s, 2 % outbound and 3 % inbound
    /// loss, 20 ms + 30 ms one-way delay, up to 8 ms / 12 ms RTP jitter.
    pub fn sample() -> Self {
        CallSpec {
            local_ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)),
            remote_ip: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 20)),
            // 2026-11-28T09:00:00Z
            start: Timestamp::from_nanos(1_796_029_200_000_000_000),
            duration: Duration::from_secs(20),
            channels: vec![
                ChannelSpec {
                    kind: MediaKind::Audio,
                    local_port: 50_000,
                    remote_port: 40_000,
                    rtcp_mux: false,
                    payload_type: 0,
                    clock_rate: 8_000,
                    frame_interval: Duration::from_millis(20),
                    packets_per_frame: 1,
                    payload_bytes: 160,
                    outbound_media: true,
                    inbound_media: true,
                    xr: false,
                    local_ssrc: 0x1111_0001,
                    remote_ssrc: 0x2222_0001,
                    local_first_seq: 65_000,
                    remote_first_seq: 1_000,
                },
                ChannelSpec {
                    kind: MediaKind::Video,
                    local_port: 50_002,
                    remote_port: 40_002,
                    rtcp_mux: true,
                    payload_type: 96,
                    clock_rate: 90_000,
                    frame_interval: Duration::from_nanos(33_333_333),
                    packets_per_frame: 2,
                    payload_bytes: 300,
                    outbound_media: true,
                    inbound_media: true,
                    xr: false,
                    local_ssrc: 0x1111_0002,
                    remote_ssrc: 0x2222_0002,
                    local_first_seq: 20_000,
                    remote_first_seq: 30_000,
                },
                ChannelSpec {
                    kind: MediaKind::ScreenSharing,
                    local_port: 50_004,
                    remote_port: 40_004,
                    rtcp_mux: true,
                    payload_type: 97,
                    clock_rate: 90_000,
                    frame_interval: Duration::from_millis(200),
                    packets_per_frame: 1,
                    payload_bytes: 500,
                    outbound_media: false,
                    inbound_media: true,
                    xr: true,
                    local_ssrc: 0x1111_0003,
                    remote_ssrc: 0x2222_0003,
                    local_first_seq: 100,
                    remote_first_seq: 200,
                },
            ],
            outbound_delay: Duration::from_millis(20),
            inbound_delay: Duration::from_millis(30),
            outbound_jitter: Duration::from_millis(8),
            inbound_jitter: Duration::from_millis(12),
            outbound_loss: 0.02,
            inbound_loss: 0.03,
            rtcp_interval: Duration::from_secs(2),
            remote_clock_offset_secs: 3_600,
            send_bye: true,
            seed: 0x5EED_0001,
        }
    }
}

/// What really happened on one channel.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelTruth {
    /// Kind.
    pub kind: MediaKind,
    /// The bot's RTP address.
    pub local: SocketAddr,
    /// The device's RTP address.
    pub remote: SocketAddr,
    /// RTP packets the bot sent (all captured).
    pub outbound_sent: u64,
    /// Of those, delivered to the device.
    pub outbound_delivered: u64,
    /// RTP packets the device sent.
    pub inbound_sent: u64,
    /// Of those, delivered to (and captured at) the bot.
    pub inbound_delivered: u64,
    /// RTP bytes (UDP payload) the bot sent.
    pub outbound_bytes: u64,
    /// RTP bytes delivered to the bot.
    pub inbound_bytes: u64,
    /// Frames the device sent.
    pub inbound_frames: u64,
    /// Frames the bot sent.
    pub outbound_frames: u64,
    /// The true round-trip delay of the path.
    pub round_trip: Duration,
}

impl ChannelTruth {
    /// Outbound loss in percent.
    pub fn outbound_loss_percent(&self) -> f64 {
        percent_lost(self.outbound_sent, self.outbound_delivered)
    }
    /// Inbound loss in percent.
    pub fn inbound_loss_percent(&self) -> f64 {
        percent_lost(self.inbound_sent, self.inbound_delivered)
    }
}

fn percent_lost(sent: u64, delivered: u64) -> f64 {
    if sent == 0 {
        0.0
    } else {
        (sent - delivered) as f64 / sent as f64 * 100.0
    }
}

/// A generated call: frames in capture order, and the truth.
#[derive(Clone, Debug)]
pub struct SynthCall {
    /// Captured Ethernet frames with their capture time, in capture order.
    pub frames: Vec<(Timestamp, Vec<u8>)>,
    /// Per channel, in the order of the spec.
    pub truth: Vec<ChannelTruth>,
}

impl SynthCall {
    /// Writes the frames as a classic pcap (Ethernet, nanosecond timestamps).
    pub fn write_pcap<W: Write>(&self, writer: W) -> io::Result<W> {
        let mut pcap = PcapWriter::new(writer, LinkType::Ethernet, 65_535)?;
        for (ts, frame) in &self.frames {
            pcap.write_frame(*ts, frame)?;
        }
        pcap.into_inner()
    }
}

/// splitmix64: small, fast, and the same on every platform and version (the generator's
/// output must not change when a dependency does).
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The 64-bit NTP timestamp of `t` on a clock `offset_secs` ahead of the capture clock.
pub fn ntp_of(t: Timestamp, offset_secs: i64) -> u64 {
    let nanos = t.as_nanos() as i128
        + (i128::from(offset_secs) + i128::from(NTP_UNIX_OFFSET_SECS as i64)) * 1_000_000_000;
    let secs = (nanos / 1_000_000_000) as u64;
    let frac = (((nanos % 1_000_000_000) as u128) << 32) / 1_000_000_000;
    (secs << 32) | frac as u64
}

/// Runs the simulation.
pub fn generate(spec: &CallSpec) -> SynthCall {
    simulation::Simulation::new(spec).run()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic() {
        let a = generate(&CallSpec::sample());
        let b = generate(&CallSpec::sample());
        assert_eq!(a.frames, b.frames);
        assert_eq!(a.truth, b.truth);
    }

    #[test]
    fn frames_are_in_capture_order_and_truth_adds_up() {
        let call = generate(&CallSpec::sample());
        assert!(call.frames.windows(2).all(|w| w[0].0 <= w[1].0));
        let audio = &call.truth[0];
        assert_eq!(audio.outbound_sent, 1_000); // 20 s of 20 ms packets
        assert!(audio.outbound_delivered < audio.outbound_sent);
        assert_eq!(audio.round_trip, Duration::from_millis(50));
        let screen = &call.truth[2];
        assert_eq!(screen.outbound_sent, 0);
        assert_eq!(screen.inbound_sent, 100);
    }

    #[test]
    fn ntp_conversion_counts_from_1900() {
        let ntp = ntp_of(Timestamp::from_nanos(1_500_000_000), 0);
        assert_eq!(ntp >> 32, NTP_UNIX_OFFSET_SECS + 1);
        assert_eq!(ntp & 0xFFFF_FFFF, 1 << 31);
    }
}
