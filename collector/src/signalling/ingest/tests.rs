#![allow(clippy::unwrap_used)]

use super::*;
use crate::signalling::plan::EndReason;
use crate::signalling::testing::{dialog_message, ANSWER, OFFER};
use crate::wire::link::write_udp_frame;
use crate::wire::tcp::{write_tcp_frame_v4, TcpFlags};
use std::net::{SocketAddr, SocketAddrV4};

const BOT: &str = "192.0.2.10:5060";
const ROOM: &str = "198.51.100.20:5060";

fn udp(src: &str, dst: &str, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    let (src, dst): (SocketAddr, SocketAddr) = (src.parse().unwrap(), dst.parse().unwrap());
    write_udp_frame(&mut frame, LinkType::Ethernet, src, dst, payload).unwrap();
    frame
}

fn secs(s: i64) -> Timestamp {
    Timestamp::from_nanos(s * 1_000_000_000)
}

fn invite() -> Vec<u8> {
    dialog_message(
        "INVITE sip:room30@vtc.example.com SIP/2.0",
        "1 INVITE",
        None,
        false,
        OFFER,
    )
}

fn ok() -> Vec<u8> {
    dialog_message("SIP/2.0 200 OK", "1 INVITE", Some("room7"), false, ANSWER)
}

fn negotiated(events: &[DialogEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, DialogEvent::Negotiated(_)))
        .count()
}

#[test]
fn udp_frames_on_sip_ports_reach_the_tracker_and_others_do_not() {
    let mut s = Signalling::new(SignallingConfig::default());
    let mut events = Vec::new();
    assert!(s.process_frame(
        secs(0),
        LinkType::Ethernet,
        &udp(BOT, ROOM, &invite()),
        &mut events
    ));
    assert!(s.process_frame(
        secs(1),
        LinkType::Ethernet,
        &udp(ROOM, BOT, &ok()),
        &mut events
    ));
    assert_eq!(negotiated(&events), 1);
    // RTP between media ports is not signalling.
    let rtp = udp("192.0.2.10:50000", "198.51.100.20:40000", &[0x80; 40]);
    assert!(!s.process_frame(secs(1), LinkType::Ethernet, &rtp, &mut events));
    // A keep-alive and a garbage datagram on 5060 are counted.
    s.process_frame(
        secs(1),
        LinkType::Ethernet,
        &udp(BOT, ROOM, b"\r\n\r\n"),
        &mut events,
    );
    s.process_frame(
        secs(1),
        LinkType::Ethernet,
        &udp(BOT, ROOM, b"\x00\x01garbage"),
        &mut events,
    );
    let c = s.counters();
    assert_eq!(c.messages.udp_messages, 2);
    assert_eq!(c.messages.keepalives, 1);
    assert_eq!(
        c.sip_errors.bad_start_line + c.sip_errors.unterminated_headers,
        1
    );
    assert_eq!(s.active_plans().count(), 1);
}

#[test]
fn sip_over_tcp_split_across_segments() {
    let mut s = Signalling::new(SignallingConfig::default());
    let mut events = Vec::new();
    let bot: SocketAddrV4 = "192.0.2.10:40001".parse().unwrap();
    let room: SocketAddrV4 = ROOM.parse().unwrap();
    let invite = invite();
    let frames = [
        write_tcp_frame_v4(bot, room, 100, TcpFlags::SYN, b""),
        write_tcp_frame_v4(room, bot, 900, TcpFlags::SYN, b""),
        write_tcp_frame_v4(bot, room, 101, 0, &invite[..300]),
        write_tcp_frame_v4(bot, room, 401, 0, &invite[300..]),
        write_tcp_frame_v4(room, bot, 901, 0, &ok()),
    ];
    for f in &frames {
        assert!(s.process_frame(secs(0), LinkType::Ethernet, f, &mut events));
    }
    assert_eq!(negotiated(&events), 1);
    let c = s.counters();
    assert_eq!(c.messages.tcp_messages, 2);
    assert_eq!(c.tcp.connections, 2);
}

#[test]
fn a_fragmented_invite_is_reassembled() {
    // An INVITE padded past the MTU, as a video call's often is.
    let pad = "a=x-padding:".to_string() + &"p".repeat(2000) + "\r\n";
    let big = dialog_message(
        "INVITE sip:room30@vtc.example.com SIP/2.0",
        "1 INVITE",
        None,
        false,
        &(OFFER.to_string() + &pad),
    );
    assert!(big.len() > 1500);
    let frames = crate::signalling::fragments::tests::fragmented(&big, 1480, 42);
    assert_eq!(frames.len(), 2);
    let mut s = Signalling::new(SignallingConfig::default());
    let mut events = Vec::new();
    for f in &frames {
        s.process_frame(secs(0), LinkType::Ethernet, f, &mut events);
    }
    s.process_frame(
        secs(1),
        LinkType::Ethernet,
        &udp(ROOM, BOT, &ok()),
        &mut events,
    );
    assert_eq!(negotiated(&events), 1);
    assert_eq!(s.counters().fragments.reassembled, 1);
}

#[test]
fn capture_time_runs_the_timeouts() {
    let mut s = Signalling::new(SignallingConfig::default());
    let mut events = Vec::new();
    s.process_frame(
        secs(0),
        LinkType::Ethernet,
        &udp(BOT, ROOM, &invite()),
        &mut events,
    );
    // Any frame 200 s later (no answer came) ends the call by the setup timeout.
    let rtp = udp("192.0.2.10:50000", "198.51.100.20:40000", &[0x80; 40]);
    s.process_frame(secs(200), LinkType::Ethernet, &rtp, &mut events);
    let ended: Vec<EndReason> = events
        .iter()
        .filter_map(|e| match e {
            DialogEvent::Ended(p) => p.ended.map(|(_, r)| r),
            _ => None,
        })
        .collect();
    assert_eq!(ended, vec![EndReason::Timeout]);
    assert!(s.finish().is_empty());
}

#[test]
fn no_debug_output_shows_an_sdes_key() {
    // The offer and answer carry a=crypto keys; they pass through every buffer: UDP,
    // TCP (an unfinished message stays buffered), fragments (one left incomplete).
    let mut s = Signalling::new(SignallingConfig::default());
    let mut events = Vec::new();
    let invite = invite();
    s.process_frame(
        secs(0),
        LinkType::Ethernet,
        &udp(BOT, ROOM, &invite),
        &mut events,
    );
    let bot: SocketAddrV4 = "192.0.2.10:40001".parse().unwrap();
    let room: SocketAddrV4 = ROOM.parse().unwrap();
    let partial = write_tcp_frame_v4(bot, room, 5, 0, &ok()[..ok().len() - 10]);
    s.process_frame(secs(0), LinkType::Ethernet, &partial, &mut events);
    let first_fragment = crate::signalling::fragments::tests::fragmented(&ok(), 512, 3).remove(0);
    s.process_frame(secs(0), LinkType::Ethernet, &first_fragment, &mut events);
    s.process_frame(
        secs(1),
        LinkType::Ethernet,
        &udp(ROOM, BOT, &ok()),
        &mut events,
    );
    assert_eq!(negotiated(&events), 1);
    assert_eq!(
        s.counters().fragments.fragments,
        1,
        "one fragment still held"
    );
    let (message, _) = SipMessage::parse(&invite, Framing::Datagram).unwrap();
    let shown = format!(
        "{s:?} {events:?} {message:?} {:?}",
        crate::signalling::sdp::Sdp::parse(message.body()).unwrap()
    );
    assert!(shown.contains("call-1@bot.example.com"));
    for key in ["WVNfX19z", "NzB4d1BI", "QUJDREVG", "inline:"] {
        assert!(!shown.contains(key), "{key} in {shown}");
    }
}
