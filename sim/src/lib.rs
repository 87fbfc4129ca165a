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

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use vtcq_collector::capture::{LinkType, PcapWriter};
use vtcq_collector::rtt::ntp_middle;
use vtcq_collector::wire::link::write_udp_frame;
use vtcq_collector::wire::rtcp::{self, DlrrSubBlock, ReportBlock};
use vtcq_collector::wire::rtp::RtpHeader;
use vtcq_collector::{MediaKind, Timestamp};

mod receiver;

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

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Side {
    Local,
    Remote,
}

/// The 64-bit NTP timestamp of `t` on a clock `offset_secs` ahead of the capture clock.
pub fn ntp_of(t: Timestamp, offset_secs: i64) -> u64 {
    let nanos = t.as_nanos() as i128
        + (i128::from(offset_secs) + i128::from(NTP_UNIX_OFFSET_SECS as i64)) * 1_000_000_000;
    let secs = (nanos / 1_000_000_000) as u64;
    let frac = (((nanos % 1_000_000_000) as u128) << 32) / 1_000_000_000;
    (secs << 32) | frac as u64
}

#[derive(Clone, Debug)]
enum Event {
    /// A side sends packet `index` of its stream on channel `ch`.
    SendRtp { ch: usize, from: Side, index: u64 },
    /// An RTP packet reaches the other side.
    ArriveRtp {
        ch: usize,
        from: Side,
        index: u64,
        bytes: Vec<u8>,
    },
    /// A side sends its RTCP report on channel `ch`.
    SendRtcp { ch: usize, from: Side, last: bool },
    /// RTCP reaches the other side.
    ArriveRtcp {
        ch: usize,
        from: Side,
        bytes: Vec<u8>,
        sr_ntp: Option<u64>,
        rrtr_ntp: Option<u64>,
    },
}

struct Queue {
    heap: BinaryHeap<Reverse<(i64, u64)>>,
    events: Vec<Option<Event>>,
}

impl Queue {
    fn push(&mut self, at: Timestamp, event: Event) {
        let id = self.events.len() as u64;
        self.events.push(Some(event));
        self.heap.push(Reverse((at.as_nanos(), id)));
    }

    fn pop(&mut self) -> Option<(Timestamp, Event)> {
        let Reverse((at, id)) = self.heap.pop()?;
        let event = self.events.get_mut(id as usize)?.take()?;
        Some((Timestamp::from_nanos(at), event))
    }
}

struct ChannelState {
    /// Receivers: [0] the bot's view of the device's stream, [1] the device's of the bot's.
    receivers: [ReceiverState; 2],
    packets_sent: [u64; 2],
    octets_sent: [u64; 2],
    truth: ChannelTruth,
}

fn side_index(side: Side) -> usize {
    match side {
        Side::Local => 0,
        Side::Remote => 1,
    }
}

/// Runs the simulation.
pub fn generate(spec: &CallSpec) -> SynthCall {
    let mut rng = Rng(spec.seed);
    let mut queue = Queue {
        heap: BinaryHeap::new(),
        events: Vec::new(),
    };
    let end = spec.start.after(spec.duration);
    let mut channels: Vec<ChannelState> = spec
        .channels
        .iter()
        .map(|c| ChannelState {
            receivers: [ReceiverState::default(), ReceiverState::default()],
            packets_sent: [0; 2],
            octets_sent: [0; 2],
            truth: ChannelTruth {
                kind: c.kind,
                local: SocketAddr::new(spec.local_ip, c.local_port),
                remote: SocketAddr::new(spec.remote_ip, c.remote_port),
                outbound_sent: 0,
                outbound_delivered: 0,
                inbound_sent: 0,
                inbound_delivered: 0,
                outbound_bytes: 0,
                inbound_bytes: 0,
                inbound_frames: 0,
                outbound_frames: 0,
                round_trip: spec.outbound_delay + spec.inbound_delay,
            },
        })
        .collect();

    for (ch, c) in spec.channels.iter().enumerate() {
        // Stagger the channels and the two sides so that packets don't share timestamps.
        let offset = Duration::from_micros(1_700 * ch as u64 + 300);
        if c.outbound_media {
            queue.push(
                spec.start.after(offset),
                Event::SendRtp {
                    ch,
                    from: Side::Local,
                    index: 0,
                },
            );
        }
        if c.inbound_media {
            queue.push(
                spec.start.after(offset + Duration::from_micros(5_100)),
                Event::SendRtp {
                    ch,
                    from: Side::Remote,
                    index: 0,
                },
            );
        }
        let first_local = spec
            .start
            .after(Duration::from_millis(700 + 111 * ch as u64));
        let first_remote = spec
            .start
            .after(Duration::from_millis(1_300 + 97 * ch as u64));
        queue.push(
            first_local,
            Event::SendRtcp {
                ch,
                from: Side::Local,
                last: false,
            },
        );
        queue.push(
            first_remote,
            Event::SendRtcp {
                ch,
                from: Side::Remote,
                last: false,
            },
        );
        if spec.send_bye {
            queue.push(
                end.after(Duration::from_millis(50 + ch as u64)),
                Event::SendRtcp {
                    ch,
                    from: Side::Local,
                    last: true,
                },
            );
            queue.push(
                end.after(Duration::from_millis(120 + ch as u64)),
                Event::SendRtcp {
                    ch,
                    from: Side::Remote,
                    last: true,
                },
            );
        }
    }

    let mut frames: Vec<(Timestamp, Vec<u8>)> = Vec::new();
    let addr = |side: Side, c: &ChannelSpec, rtcp: bool| {
        let bump = u16::from(rtcp && !c.rtcp_mux);
        match side {
            Side::Local => SocketAddr::new(spec.local_ip, c.local_port + bump),
            Side::Remote => SocketAddr::new(spec.remote_ip, c.remote_port + bump),
        }
    };
    let capture = |frames: &mut Vec<(Timestamp, Vec<u8>)>,
                   at: Timestamp,
                   src: SocketAddr,
                   dst: SocketAddr,
                   payload: &[u8]| {
        let mut frame = Vec::with_capacity(payload.len() + 42);
        // Both addresses come from one spec and share a family, so this cannot fail.
        if write_udp_frame(&mut frame, LinkType::Ethernet, src, dst, payload).is_ok() {
            frames.push((at, frame));
        }
    };

    while let Some((now, event)) = queue.pop() {
        match event {
            Event::SendRtp { ch, from, index } => {
                let c = &spec.channels[ch];
                let frame_no = index / u64::from(c.packets_per_frame.max(1));
                let in_frame = index % u64::from(c.packets_per_frame.max(1));
                let frame_time = spec.start.after(c.frame_interval * frame_no as u32);
                let (ssrc, first_seq, ts_base) = match from {
                    Side::Local => (c.local_ssrc, c.local_first_seq, 0x0100_0000u32),
                    Side::Remote => (c.remote_ssrc, c.remote_first_seq, 0xF000_0000u32),
                };
                let ts_units = (frame_time.nanos_since(spec.start) as u128
                    * u128::from(c.clock_rate)
                    / 1_000_000_000) as u32;
                let header = RtpHeader {
                    marker: in_frame + 1 == u64::from(c.packets_per_frame.max(1)),
                    payload_type: c.payload_type,
                    sequence_number: first_seq.wrapping_add(index as u16),
                    timestamp: ts_base.wrapping_add(ts_units),
                    ssrc,
                };
                let mut bytes = Vec::with_capacity(12 + c.payload_bytes);
                header.write(&mut bytes);
                bytes.extend((0..c.payload_bytes).map(|i| (i as u8) ^ (index as u8)));
                let state = &mut channels[ch];
                let si = side_index(from);
                state.packets_sent[si] += 1;
                state.octets_sent[si] += c.payload_bytes as u64;
                let (delay, jitter, loss) = match from {
                    Side::Local => {
                        state.truth.outbound_sent += 1;
                        state.truth.outbound_bytes += bytes.len() as u64;
                        if in_frame == 0 {
                            state.truth.outbound_frames += 1;
                        }
                        capture(
                            &mut frames,
                            now,
                            addr(Side::Local, c, false),
                            addr(Side::Remote, c, false),
                            &bytes,
                        );
                        (
                            spec.outbound_delay,
                            spec.outbound_jitter,
                            spec.outbound_loss,
                        )
                    }
                    Side::Remote => {
                        state.truth.inbound_sent += 1;
                        if in_frame == 0 {
                            state.truth.inbound_frames += 1;
                        }
                        (spec.inbound_delay, spec.inbound_jitter, spec.inbound_loss)
                    }
                };
                let lost = rng.unit() < loss;
                let extra = Duration::from_nanos((rng.unit() * jitter.as_nanos() as f64) as u64);
                if !lost {
                    queue.push(
                        now.after(delay + extra),
                        Event::ArriveRtp {
                            ch,
                            from,
                            index,
                            bytes,
                        },
                    );
                }
                // Next packet: fragments of a frame go 1 ms apart, frames on their clock.
                let next = index + 1;
                let next_frame = next / u64::from(c.packets_per_frame.max(1));
                let next_in_frame = next % u64::from(c.packets_per_frame.max(1));
                let at = spec
                    .start
                    .after(
                        c.frame_interval * next_frame as u32 + Duration::from_millis(next_in_frame),
                    )
                    .after(Duration::from_micros(
                        1_700 * ch as u64 + 300 + if from == Side::Remote { 5_100 } else { 0 },
                    ));
                if at < end {
                    queue.push(
                        at,
                        Event::SendRtp {
                            ch,
                            from,
                            index: next,
                        },
                    );
                }
            }
            Event::ArriveRtp {
                ch,
                from,
                index,
                bytes,
            } => {
                let c = &spec.channels[ch];
                let state = &mut channels[ch];
                let frame_no = index / u64::from(c.packets_per_frame.max(1));
                let frame_time = spec.start.after(c.frame_interval * frame_no as u32);
                let ts_ext = (frame_time.nanos_since(spec.start) as u128 * u128::from(c.clock_rate)
                    / 1_000_000_000) as i64;
                // Receiver [0] is the bot's view of the device's stream.
                let receiver = 1 - side_index(from);
                state.receivers[receiver].on_rtp(index as i64, ts_ext, now, c.clock_rate);
                match from {
                    Side::Remote => {
                        state.truth.inbound_delivered += 1;
                        state.truth.inbound_bytes += bytes.len() as u64;
                        capture(
                            &mut frames,
                            now,
                            addr(Side::Remote, c, false),
                            addr(Side::Local, c, false),
                            &bytes,
                        );
                    }
                    Side::Local => state.truth.outbound_delivered += 1,
                }
            }
            Event::SendRtcp { ch, from, last } => {
                let c = &spec.channels[ch];
                let state = &mut channels[ch];
                let si = side_index(from);
                let (own_ssrc, peer_ssrc, peer_first_seq, sends_media, offset) = match from {
                    Side::Local => (
                        c.local_ssrc,
                        c.remote_ssrc,
                        c.remote_first_seq,
                        c.outbound_media,
                        0,
                    ),
                    Side::Remote => (
                        c.remote_ssrc,
                        c.local_ssrc,
                        c.local_first_seq,
                        c.inbound_media,
                        spec.remote_clock_offset_secs,
                    ),
                };
                // The receiver that belongs to the sending side: the bot reads [0].
                let block = state.receivers[si].report_block(peer_ssrc, now, peer_first_seq);
                let blocks: Vec<ReportBlock> = block.into_iter().collect();
                let mut bytes = Vec::new();
                let mut sr_ntp = None;
                if sends_media {
                    let ntp = ntp_of(now, offset);
                    let rtp_ts = (now.nanos_since(spec.start).max(0) as u128
                        * u128::from(c.clock_rate)
                        / 1_000_000_000) as u32;
                    rtcp::write_sender_report(
                        &mut bytes,
                        own_ssrc,
                        ntp,
                        rtp_ts,
                        state.packets_sent[si] as u32,
                        state.octets_sent[si] as u32,
                        &blocks,
                    );
                    sr_ntp = Some(ntp);
                } else {
                    rtcp::write_receiver_report(&mut bytes, own_ssrc, &blocks);
                }
                rtcp::write_sdes_cname(
                    &mut bytes,
                    own_ssrc,
                    if from == Side::Local {
                        "bot@vtcq.invalid"
                    } else {
                        "device@vtcq.invalid"
                    },
                );
                let mut rrtr_ntp = None;
                if c.xr {
                    match from {
                        Side::Local => {
                            let ntp = ntp_of(now, 0);
                            rtcp::write_xr_rrtr(&mut bytes, own_ssrc, ntp);
                            rrtr_ntp = Some(ntp);
                        }
                        Side::Remote => {
                            if let Some((mid, at)) = state.receivers[si].last_rrtr() {
                                let sub = DlrrSubBlock {
                                    ssrc: peer_ssrc,
                                    last_rr: mid,
                                    delay_since_last_rr: dlsr_units(now.nanos_since(at)),
                                };
                                rtcp::write_xr_dlrr(&mut bytes, own_ssrc, &[sub]);
                            }
                        }
                    }
                }
                if last {
                    rtcp::write_bye(&mut bytes, &[own_ssrc], Some("call ended"));
                }
                let (delay, src, dst) = match from {
                    Side::Local => (
                        spec.outbound_delay,
                        addr(Side::Local, c, true),
                        addr(Side::Remote, c, true),
                    ),
                    Side::Remote => (
                        spec.inbound_delay,
                        addr(Side::Remote, c, true),
                        addr(Side::Local, c, true),
                    ),
                };
                if from == Side::Local {
                    capture(&mut frames, now, src, dst, &bytes);
                }
                queue.push(
                    now.after(delay),
                    Event::ArriveRtcp {
                        ch,
                        from,
                        bytes,
                        sr_ntp,
                        rrtr_ntp,
                    },
                );
                if !last {
                    // A little variation, as RFC 3550 randomises the interval.
                    let spread = 0.75 + 0.5 * rng.unit();
                    let next = now.after(Duration::from_nanos(
                        (spec.rtcp_interval.as_nanos() as f64 * spread) as u64,
                    ));
                    if next < end {
                        queue.push(
                            next,
                            Event::SendRtcp {
                                ch,
                                from,
                                last: false,
                            },
                        );
                    }
                }
            }
            Event::ArriveRtcp {
                ch,
                from,
                bytes,
                sr_ntp,
                rrtr_ntp,
            } => {
                let c = &spec.channels[ch];
                let receiver = &mut channels[ch].receivers[1 - side_index(from)];
                if let Some(ntp) = sr_ntp {
                    receiver.on_sr(ntp_middle(ntp), now);
                }
                if let Some(ntp) = rrtr_ntp {
                    receiver.on_rrtr(ntp_middle(ntp), now);
                }
                if from == Side::Remote {
                    capture(
                        &mut frames,
                        now,
                        addr(Side::Remote, c, true),
                        addr(Side::Local, c, true),
                        &bytes,
                    );
                }
            }
        }
    }
    SynthCall {
        frames,
        truth: channels.into_iter().map(|c| c.truth).collect(),
    }
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
