//! The event-driven simulation behind [`generate`](crate::generate): a time-ordered queue
//! of sends and arrivals, one method per kind of event. The random draws happen in a fixed
//! order (per RTP packet: loss, then jitter; per RTCP report: the next interval), so a
//! seed always makes the same call, byte for byte.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::time::Duration;

use vtcq_collector::capture::LinkType;
use vtcq_collector::rtt::ntp_middle;
use vtcq_collector::wire::link::write_udp_frame;
use vtcq_collector::wire::rtcp::{self, DlrrSubBlock, ReportBlock};
use vtcq_collector::wire::rtp::RtpHeader;
use vtcq_collector::Timestamp;

use crate::{
    dlsr_units, ntp_of, CallSpec, ChannelSpec, ChannelTruth, ReceiverState, Rng, SynthCall,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Side {
    Local,
    Remote,
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

/// Events by time; events at the same time in the order they were scheduled.
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

/// One simulated call in progress.
pub(crate) struct Simulation<'a> {
    spec: &'a CallSpec,
    rng: Rng,
    queue: Queue,
    end: Timestamp,
    channels: Vec<ChannelState>,
    /// What the capture at the bot saw, in capture order.
    frames: Vec<(Timestamp, Vec<u8>)>,
}

impl<'a> Simulation<'a> {
    pub(crate) fn new(spec: &'a CallSpec) -> Simulation<'a> {
        let channels = spec
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
        Simulation {
            spec,
            rng: Rng(spec.seed),
            queue: Queue {
                heap: BinaryHeap::new(),
                events: Vec::new(),
            },
            end: spec.start.after(spec.duration),
            channels,
            frames: Vec::new(),
        }
    }

    /// Schedules every channel's first packets and reports (and the BYEs), then handles
    /// events in time order until none is left.
    pub(crate) fn run(mut self) -> SynthCall {
        for ch in 0..self.spec.channels.len() {
            self.schedule_channel(ch);
        }
        while let Some((now, event)) = self.queue.pop() {
            match event {
                Event::SendRtp { ch, from, index } => self.send_rtp(now, ch, from, index),
                Event::ArriveRtp {
                    ch,
                    from,
                    index,
                    bytes,
                } => self.arrive_rtp(now, ch, from, index, &bytes),
                Event::SendRtcp { ch, from, last } => self.send_rtcp(now, ch, from, last),
                Event::ArriveRtcp {
                    ch,
                    from,
                    bytes,
                    sr_ntp,
                    rrtr_ntp,
                } => self.arrive_rtcp(now, ch, from, &bytes, sr_ntp, rrtr_ntp),
            }
        }
        SynthCall {
            frames: self.frames,
            truth: self.channels.into_iter().map(|c| c.truth).collect(),
        }
    }

    fn schedule_channel(&mut self, ch: usize) {
        let spec = self.spec;
        let c = &spec.channels[ch];
        // Stagger the channels and the two sides so that packets don't share timestamps.
        let offset = Duration::from_micros(1_700 * ch as u64 + 300);
        if c.outbound_media {
            let first = Event::SendRtp {
                ch,
                from: Side::Local,
                index: 0,
            };
            self.queue.push(spec.start.after(offset), first);
        }
        if c.inbound_media {
            let first = Event::SendRtp {
                ch,
                from: Side::Remote,
                index: 0,
            };
            let at = spec.start.after(offset + Duration::from_micros(5_100));
            self.queue.push(at, first);
        }
        let first_local = spec
            .start
            .after(Duration::from_millis(700 + 111 * ch as u64));
        let first_remote = spec
            .start
            .after(Duration::from_millis(1_300 + 97 * ch as u64));
        for (at, from) in [(first_local, Side::Local), (first_remote, Side::Remote)] {
            let report = Event::SendRtcp {
                ch,
                from,
                last: false,
            };
            self.queue.push(at, report);
        }
        if spec.send_bye {
            for (after_ms, from) in [(50, Side::Local), (120, Side::Remote)] {
                let at = self.end.after(Duration::from_millis(after_ms + ch as u64));
                let bye = Event::SendRtcp {
                    ch,
                    from,
                    last: true,
                };
                self.queue.push(at, bye);
            }
        }
    }

    /// The address of `side` on channel `c`, for RTP or (port + 1 without RTCP-mux) RTCP.
    fn addr(&self, side: Side, c: &ChannelSpec, rtcp: bool) -> SocketAddr {
        let bump = u16::from(rtcp && !c.rtcp_mux);
        match side {
            Side::Local => SocketAddr::new(self.spec.local_ip, c.local_port + bump),
            Side::Remote => SocketAddr::new(self.spec.remote_ip, c.remote_port + bump),
        }
    }

    /// A datagram the capture at the bot sees at `at`, going `from` one side to the other.
    fn capture(&mut self, at: Timestamp, c: &ChannelSpec, from: Side, rtcp: bool, payload: &[u8]) {
        let to = match from {
            Side::Local => Side::Remote,
            Side::Remote => Side::Local,
        };
        let (src, dst) = (self.addr(from, c, rtcp), self.addr(to, c, rtcp));
        let mut frame = Vec::with_capacity(payload.len() + 42);
        // Both addresses come from one spec and share a family, so this cannot fail.
        if write_udp_frame(&mut frame, LinkType::Ethernet, src, dst, payload).is_ok() {
            self.frames.push((at, frame));
        }
    }

    /// The RTP timestamp units of the frame that packet `index` belongs to.
    fn frame_time(&self, c: &ChannelSpec, index: u64) -> Timestamp {
        let frame_no = index / u64::from(c.packets_per_frame.max(1));
        self.spec.start.after(c.frame_interval * frame_no as u32)
    }

    fn send_rtp(&mut self, now: Timestamp, ch: usize, from: Side, index: u64) {
        let spec = self.spec;
        let c = &spec.channels[ch];
        let in_frame = index % u64::from(c.packets_per_frame.max(1));
        let (ssrc, first_seq, ts_base) = match from {
            Side::Local => (c.local_ssrc, c.local_first_seq, 0x0100_0000u32),
            Side::Remote => (c.remote_ssrc, c.remote_first_seq, 0xF000_0000u32),
        };
        let ts_units = (self.frame_time(c, index).nanos_since(spec.start) as u128
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
        let state = &mut self.channels[ch];
        let si = side_index(from);
        state.packets_sent[si] += 1;
        state.octets_sent[si] += c.payload_bytes as u64;
        let truth = &mut state.truth;
        let (delay, jitter, loss) = match from {
            Side::Local => {
                truth.outbound_sent += 1;
                truth.outbound_bytes += bytes.len() as u64;
                if in_frame == 0 {
                    truth.outbound_frames += 1;
                }
                (
                    spec.outbound_delay,
                    spec.outbound_jitter,
                    spec.outbound_loss,
                )
            }
            Side::Remote => {
                truth.inbound_sent += 1;
                if in_frame == 0 {
                    truth.inbound_frames += 1;
                }
                (spec.inbound_delay, spec.inbound_jitter, spec.inbound_loss)
            }
        };
        // The capture is at the bot: it sees the bot's packets as they leave.
        if from == Side::Local {
            self.capture(now, c, Side::Local, false, &bytes);
        }
        let lost = self.rng.unit() < loss;
        let extra = Duration::from_nanos((self.rng.unit() * jitter.as_nanos() as f64) as u64);
        if !lost {
            let arrival = Event::ArriveRtp {
                ch,
                from,
                index,
                bytes,
            };
            self.queue.push(now.after(delay + extra), arrival);
        }
        // Next packet: fragments of a frame go 1 ms apart, frames on their clock.
        let next = index + 1;
        let next_frame = next / u64::from(c.packets_per_frame.max(1));
        let next_in_frame = next % u64::from(c.packets_per_frame.max(1));
        let at = spec
            .start
            .after(c.frame_interval * next_frame as u32 + Duration::from_millis(next_in_frame))
            .after(Duration::from_micros(
                1_700 * ch as u64 + 300 + if from == Side::Remote { 5_100 } else { 0 },
            ));
        if at < self.end {
            let send = Event::SendRtp {
                ch,
                from,
                index: next,
            };
            self.queue.push(at, send);
        }
    }

    fn arrive_rtp(&mut self, now: Timestamp, ch: usize, from: Side, index: u64, bytes: &[u8]) {
        let spec = self.spec;
        let c = &spec.channels[ch];
        let ts_ext = (self.frame_time(c, index).nanos_since(spec.start) as u128
            * u128::from(c.clock_rate)
            / 1_000_000_000) as i64;
        let state = &mut self.channels[ch];
        // Receiver [0] is the bot's view of the device's stream.
        let receiver = 1 - side_index(from);
        state.receivers[receiver].on_rtp(index as i64, ts_ext, now, c.clock_rate);
        match from {
            Side::Remote => {
                state.truth.inbound_delivered += 1;
                state.truth.inbound_bytes += bytes.len() as u64;
                // The capture is at the bot: it sees the device's packets as they arrive.
                self.capture(now, c, Side::Remote, false, bytes);
            }
            Side::Local => state.truth.outbound_delivered += 1,
        }
    }

    fn send_rtcp(&mut self, now: Timestamp, ch: usize, from: Side, last: bool) {
        let spec = self.spec;
        let c = &spec.channels[ch];
        let (bytes, sr_ntp, rrtr_ntp) = self.report(now, ch, from, last);
        let delay = match from {
            Side::Local => spec.outbound_delay,
            Side::Remote => spec.inbound_delay,
        };
        if from == Side::Local {
            self.capture(now, c, Side::Local, true, &bytes);
        }
        let arrival = Event::ArriveRtcp {
            ch,
            from,
            bytes,
            sr_ntp,
            rrtr_ntp,
        };
        self.queue.push(now.after(delay), arrival);
        if !last {
            // A little variation, as RFC 3550 randomises the interval.
            let spread = 0.75 + 0.5 * self.rng.unit();
            let next = now.after(Duration::from_nanos(
                (spec.rtcp_interval.as_nanos() as f64 * spread) as u64,
            ));
            if next < self.end {
                let report = Event::SendRtcp {
                    ch,
                    from,
                    last: false,
                };
                self.queue.push(next, report);
            }
        }
    }

    /// The RTCP compound `from` sends on channel `ch` at `now`: SR (or RR) with the block
    /// about the peer's stream, SDES CNAME, XR (RRTR from the bot, DLRR from the device)
    /// and, for the last one, BYE. Also the NTP times of its SR and RRTR.
    fn report(
        &mut self,
        now: Timestamp,
        ch: usize,
        from: Side,
        last: bool,
    ) -> (Vec<u8>, Option<u64>, Option<u64>) {
        let spec = self.spec;
        let c = &spec.channels[ch];
        let state = &mut self.channels[ch];
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
            let rtp_ts = (now.nanos_since(spec.start).max(0) as u128 * u128::from(c.clock_rate)
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
        let cname = match from {
            Side::Local => "bot@vtcq.invalid",
            Side::Remote => "device@vtcq.invalid",
        };
        rtcp::write_sdes_cname(&mut bytes, own_ssrc, cname);
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
        (bytes, sr_ntp, rrtr_ntp)
    }

    fn arrive_rtcp(
        &mut self,
        now: Timestamp,
        ch: usize,
        from: Side,
        bytes: &[u8],
        sr_ntp: Option<u64>,
        rrtr_ntp: Option<u64>,
    ) {
        let spec = self.spec;
        let c = &spec.channels[ch];
        let receiver = &mut self.channels[ch].receivers[1 - side_index(from)];
        if let Some(ntp) = sr_ntp {
            receiver.on_sr(ntp_middle(ntp), now);
        }
        if let Some(ntp) = rrtr_ntp {
            receiver.on_rrtr(ntp_middle(ntp), now);
        }
        if from == Side::Remote {
            self.capture(now, c, Side::Remote, true, bytes);
        }
    }
}
