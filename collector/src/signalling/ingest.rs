//! The front of the signalling path: captured frames in, dialog events out.
//!
//! [`Signalling::process_frame`] decodes a frame to UDP (else TCP, else an IPv4 fragment
//! for the fragment reassembler), keeps what travels to or from a SIP port, parses SIP
//! (a datagram is one message; TCP goes through the stream reassembler), and feeds the
//! dialog tracker. Every second of capture time it also
//! runs the tracker's and the reassembler's timeouts, so an offline pass and the live
//! daemon behave alike without a clock.

use std::time::Duration;

use super::counters::{SdpErrorCounts, SipErrorCounts, TcpCounters};
use super::dialog::{DialogConfig, DialogEvent, DialogTracker};
use super::fragments::{FragmentConfig, FragmentCounters, FragmentReassembler};
use super::plan::MediaPlan;
use super::sip::{Framing, SipMessage};
use super::tcp::{TcpConfig, TcpReassembler};
use super::DialogCounters;
use crate::capture::LinkType;
use crate::wire::link::{decode_udp, LinkError, UdpDatagram};
use crate::wire::tcp::{decode_tcp, TcpDecodeError, TcpSegment};
use crate::Timestamp;

/// The default SIP port (RFC 3261 §19.1.2), over UDP and TCP.
pub const SIP_PORT: u16 = 5060;

/// Most SIP ports configured (the check runs on every datagram).
pub const MAX_SIP_PORTS: usize = 16;

/// How often (capture time) timeouts are checked.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// What the signalling path listens to and its bounds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignallingConfig {
    /// Ports on which UDP datagrams and TCP segments are read as SIP (either end).
    /// [`SIP_PORT`] by default; at most [`MAX_SIP_PORTS`] are kept.
    pub sip_ports: Vec<u16>,
    /// TCP reassembly bounds.
    pub tcp: TcpConfig,
    /// IPv4 fragment reassembly bounds.
    pub fragments: FragmentConfig,
    /// Dialog bounds and timeouts.
    pub dialogs: DialogConfig,
}

impl Default for SignallingConfig {
    fn default() -> Self {
        SignallingConfig {
            sip_ports: vec![SIP_PORT],
            tcp: TcpConfig::default(),
            fragments: FragmentConfig::default(),
            dialogs: DialogConfig::default(),
        }
    }
}

/// Messages seen, by transport, and what was not SIP at all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageCounters {
    /// SIP messages parsed from UDP datagrams.
    pub udp_messages: u64,
    /// SIP messages cut from TCP streams.
    pub tcp_messages: u64,
    /// CRLF keep-alive datagrams (RFC 5626), ignored.
    pub keepalives: u64,
}

/// Every counter of the signalling path, for logs and metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignallingCounters {
    /// Messages by transport.
    pub messages: MessageCounters,
    /// SIP messages refused, by reason.
    pub sip_errors: SipErrorCounts,
    /// Bodies and SDP refused or partly skipped, by reason.
    pub sdp_errors: SdpErrorCounts,
    /// TCP reassembly.
    pub tcp: TcpCounters,
    /// IPv4 fragment reassembly.
    pub fragments: FragmentCounters,
    /// Dialogs.
    pub dialogs: DialogCounters,
}

/// Frames in, dialog events out (see the module documentation).
#[derive(Debug)]
pub struct Signalling {
    sip_ports: Vec<u16>,
    tcp: TcpReassembler,
    fragments: FragmentReassembler,
    reader: Reader,
    tcp_counters: TcpCounters,
    fragment_counters: FragmentCounters,
    next_poll: Option<Timestamp>,
}

/// Where parsed messages go: the dialog tracker and the message counters. A field of
/// its own so that a message borrowed from a reassembly buffer can be read while the
/// reassembler is borrowed.
#[derive(Debug)]
struct Reader {
    dialogs: DialogTracker,
    messages: MessageCounters,
    sip_errors: SipErrorCounts,
}

impl Reader {
    /// One UDP payload on a SIP port: a keep-alive, or one message.
    fn datagram(
        &mut self,
        now: Timestamp,
        payload: &[u8],
        payload_len: usize,
        events: &mut Vec<DialogEvent>,
    ) {
        if payload.iter().all(|&b| b == b'\r' || b == b'\n') {
            self.messages.keepalives += 1;
            return;
        }
        if payload.len() < payload_len {
            // Cut by the snap length: the message is incomplete.
            self.sip_errors.body_truncated += 1;
            return;
        }
        match SipMessage::parse(payload, Framing::Datagram) {
            Ok((message, _)) => {
                self.messages.udp_messages += 1;
                self.dialogs.on_message(now, &message, events);
            }
            Err(error) => self.sip_errors.add(error),
        }
    }
}

impl Signalling {
    /// A signalling path with the given configuration.
    pub fn new(config: SignallingConfig) -> Self {
        let mut sip_ports = config.sip_ports;
        sip_ports.sort_unstable();
        sip_ports.dedup();
        sip_ports.truncate(MAX_SIP_PORTS);
        Signalling {
            sip_ports,
            tcp: TcpReassembler::new(config.tcp),
            fragments: FragmentReassembler::new(config.fragments),
            reader: Reader {
                dialogs: DialogTracker::new(config.dialogs),
                messages: MessageCounters::default(),
                sip_errors: SipErrorCounts::default(),
            },
            tcp_counters: TcpCounters::default(),
            fragment_counters: FragmentCounters::default(),
            next_poll: None,
        }
    }

    /// True when `port` is one of the SIP ports.
    #[inline]
    pub fn is_sip_port(&self, port: u16) -> bool {
        self.sip_ports.contains(&port)
    }

    /// Feeds one captured frame. Returns true when it was SIP traffic (a datagram or
    /// segment to or from a SIP port), whatever became of it.
    pub fn process_frame(
        &mut self,
        now: Timestamp,
        link_type: LinkType,
        frame: &[u8],
        events: &mut Vec<DialogEvent>,
    ) -> bool {
        self.tick(now, events);
        match decode_udp(link_type, frame) {
            Ok(datagram) => self.process_udp(now, &datagram, events),
            Err(LinkError::NotUdp) => match decode_tcp(link_type, frame) {
                Ok(segment) => self.process_tcp(now, &segment, events),
                Err(TcpDecodeError::Truncated | TcpDecodeError::BadHeader) => {
                    self.tcp_counters.malformed += 1;
                    false
                }
                // ICMP, ESP, SCTP, ...: not signalling.
                Err(TcpDecodeError::NotTcp | TcpDecodeError::Link(_)) => false,
            },
            Err(LinkError::Fragment) => {
                let sip_ports = &self.sip_ports;
                let whole =
                    self.fragments
                        .on_fragment(now, link_type, frame, &mut self.fragment_counters);
                match whole {
                    Some(d)
                        if sip_ports.contains(&d.src.port())
                            || sip_ports.contains(&d.dst.port()) =>
                    {
                        self.reader
                            .datagram(now, d.payload, d.payload.len(), events);
                        true
                    }
                    _ => false,
                }
            }
            // Not IP, a fragment, malformed: the media path counts those.
            Err(_) => false,
        }
    }

    /// Feeds one UDP datagram; false when neither port is a SIP port.
    pub fn process_udp(
        &mut self,
        now: Timestamp,
        datagram: &UdpDatagram<'_>,
        events: &mut Vec<DialogEvent>,
    ) -> bool {
        if !self.is_sip_port(datagram.src.port()) && !self.is_sip_port(datagram.dst.port()) {
            return false;
        }
        self.reader
            .datagram(now, datagram.payload, datagram.payload_len, events);
        true
    }

    /// Feeds one TCP segment; false when neither port is a SIP port.
    pub fn process_tcp(
        &mut self,
        now: Timestamp,
        segment: &TcpSegment<'_>,
        events: &mut Vec<DialogEvent>,
    ) -> bool {
        if !self.is_sip_port(segment.src.port()) && !self.is_sip_port(segment.dst.port()) {
            return false;
        }
        let Reader {
            dialogs,
            messages,
            sip_errors,
        } = &mut self.reader;
        self.tcp.on_segment(
            now,
            segment,
            &mut self.tcp_counters,
            sip_errors,
            |message| {
                messages.tcp_messages += 1;
                dialogs.on_message(now, message, events);
            },
        );
        true
    }

    /// Runs the timeouts at `now` (also done by [`Signalling::process_frame`] once per
    /// second of capture time).
    pub fn poll(&mut self, now: Timestamp, events: &mut Vec<DialogEvent>) {
        self.reader.dialogs.poll(now, events);
        self.tcp.expire(now, &mut self.tcp_counters);
        self.next_poll = Some(now.after(POLL_INTERVAL));
    }

    fn tick(&mut self, now: Timestamp, events: &mut Vec<DialogEvent>) {
        match self.next_poll {
            Some(at) if now < at => {}
            None => self.next_poll = Some(now.after(POLL_INTERVAL)),
            Some(_) => self.poll(now, events),
        }
    }

    /// The plans of the calls not ended yet.
    pub fn active_plans(&self) -> impl Iterator<Item = &MediaPlan> {
        self.reader.dialogs.active_plans()
    }

    /// The plans of every call still open, oldest first; the tracker is empty afterwards.
    pub fn finish(&mut self) -> Vec<MediaPlan> {
        self.reader.dialogs.finish()
    }

    /// A snapshot of every counter.
    pub fn counters(&self) -> SignallingCounters {
        SignallingCounters {
            messages: self.reader.messages.clone(),
            sip_errors: self.reader.sip_errors.clone(),
            sdp_errors: self.reader.dialogs.sdp_errors().clone(),
            tcp: self.tcp_counters.clone(),
            fragments: self.fragment_counters.clone(),
            dialogs: self.reader.dialogs.counters().clone(),
        }
    }
}

#[cfg(test)]
mod tests;
