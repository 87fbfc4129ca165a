#![allow(clippy::unwrap_used)]

use super::*;
use crate::signalling::plan::{RtcpPlan, SdesKey};
use crate::signalling::sdp::Direction;
use crate::signalling::sip::Framing;
use crate::signalling::testing::{dialog_message, message, Rng, ANSWER, OFFER};
use crate::summary::MediaKind;
use std::net::SocketAddr;

const URI: &str = "sip:room30@vtc.example.com";

struct Rig {
    tracker: DialogTracker,
    events: Vec<DialogEvent>,
}

impl Rig {
    fn new() -> Self {
        Rig::with(DialogConfig::default())
    }

    fn with(config: DialogConfig) -> Self {
        Rig {
            tracker: DialogTracker::new(config),
            events: Vec::new(),
        }
    }

    fn feed_bytes(&mut self, at_secs: i64, bytes: &[u8]) {
        let (m, _) = SipMessage::parse(bytes, Framing::Datagram).unwrap();
        self.tracker.on_message(
            Timestamp::from_nanos(at_secs * 1_000_000_000),
            &m,
            &mut self.events,
        );
    }

    /// From the caller (bot) to the callee (room): a request, or a response to the room.
    fn caller(&mut self, at: i64, start: &str, cseq: &str, to_tag: Option<&str>, sdp: &str) {
        self.feed_bytes(at, &dialog_message(start, cseq, to_tag, false, sdp));
    }

    /// From the callee: a response to the caller's request (From/To as in the request).
    fn callee_response(
        &mut self,
        at: i64,
        status: &str,
        cseq: &str,
        to_tag: Option<&str>,
        sdp: &str,
    ) {
        self.feed_bytes(
            at,
            &dialog_message(&format!("SIP/2.0 {status}"), cseq, to_tag, false, sdp),
        );
    }

    /// A request from the callee (From = room with its tag, To = bot).
    fn callee_request(&mut self, at: i64, start: &str, cseq: &str, sdp: &str) {
        self.feed_bytes(at, &dialog_message(start, cseq, Some("room7"), true, sdp));
    }

    /// A response from the caller to a callee's request.
    fn caller_response(&mut self, at: i64, status: &str, cseq: &str, sdp: &str) {
        self.feed_bytes(
            at,
            &dialog_message(&format!("SIP/2.0 {status}"), cseq, Some("room7"), true, sdp),
        );
    }

    fn negotiated(&self) -> Vec<&MediaPlan> {
        self.events
            .iter()
            .filter_map(|e| match e {
                DialogEvent::Negotiated(p) => Some(p),
                _ => None,
            })
            .collect()
    }

    fn ended(&self) -> Vec<&MediaPlan> {
        self.events
            .iter()
            .filter_map(|e| match e {
                DialogEvent::Ended(p) => Some(p),
                _ => None,
            })
            .collect()
    }

    /// The standard start: INVITE with the offer, 100, 180, 200 with the answer, ACK.
    fn establish(&mut self) {
        self.caller(0, &format!("INVITE {URI} SIP/2.0"), "1 INVITE", None, OFFER);
        self.callee_response(0, "100 Trying", "1 INVITE", None, "");
        self.callee_response(1, "180 Ringing", "1 INVITE", Some("room7"), "");
        self.callee_response(3, "200 OK", "1 INVITE", Some("room7"), ANSWER);
        self.caller(3, &format!("ACK {URI} SIP/2.0"), "1 ACK", Some("room7"), "");
    }
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn with_port(sdp: &str, from: &str, to: &str) -> String {
    sdp.replacen(from, to, 1)
}

#[test]
fn invite_200_ack_bye_gives_the_whole_plan() {
    let mut rig = Rig::new();
    rig.establish();
    rig.callee_request(60, "BYE sip:alice@bot.example.com SIP/2.0", "1 BYE", "");
    rig.caller_response(60, "200 OK", "1 BYE", "");
    assert!(
        matches!(&rig.events[0], DialogEvent::Started { call_id } if call_id == "call-1@bot.example.com")
    );
    assert_eq!(rig.negotiated().len(), 1);
    let ended = rig.ended();
    assert_eq!(ended.len(), 1);
    let plan = ended[0];
    assert_eq!(plan.call_id, "call-1@bot.example.com");
    assert_eq!(plan.caller.display_name.as_deref(), Some("Bot Alice"));
    assert_eq!(plan.caller.uri, "sip:alice@bot.example.com");
    assert_eq!(plan.callee.display_name.as_deref(), Some("Room 30"));
    assert_eq!(plan.first_offer, Some(Side::Caller));
    assert_eq!(plan.started, Timestamp::from_nanos(0));
    assert_eq!(
        plan.ended,
        Some((Timestamp::from_nanos(60_000_000_000), EndReason::Bye))
    );
    let kinds: Vec<Option<MediaKind>> = plan.channels.iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        vec![
            Some(MediaKind::Audio),
            Some(MediaKind::Video),
            Some(MediaKind::ScreenSharing),
            None
        ]
    );

    let audio = &plan.channels[0];
    assert!(audio.active);
    assert_eq!(audio.caller.endpoints, vec![addr("192.0.2.10:50000")]);
    assert_eq!(audio.callee.endpoints, vec![addr("198.51.100.20:40000")]);
    // Static PT 9 (rtpmap given), Opus, telephone-event on the caller; the callee dropped Opus.
    let rates: Vec<(u8, Option<u32>)> = audio
        .caller
        .payload_types
        .iter()
        .map(|p| (p.payload_type, p.clock_rate))
        .collect();
    assert_eq!(
        rates,
        vec![(9, Some(8_000)), (96, Some(48_000)), (101, Some(8_000))]
    );
    assert_eq!(audio.callee.payload_types.len(), 2);
    assert_eq!(audio.clock_rate_for_sender(Side::Callee, 96), Some(48_000));
    // RTCP: port + 1 on the caller, a=rtcp on the callee.
    assert_eq!(
        audio.caller.rtcp,
        Some(RtcpPlan::Port(addr("192.0.2.10:50001")))
    );
    assert_eq!(
        audio.callee.rtcp,
        Some(RtcpPlan::Port(addr("198.51.100.20:40011")))
    );
    // SDES: the answer chose tag 2, so the caller sends with its tag-2 key.
    let caller_key: &SdesKey = audio.caller.sdes.as_ref().unwrap();
    assert_eq!(
        (caller_key.tag, caller_key.suite.as_str()),
        (2, "AES_CM_128_HMAC_SHA1_32")
    );
    assert!(caller_key.expose_key_params().starts_with("inline:NzB4"));
    assert!(audio
        .callee
        .sdes
        .as_ref()
        .unwrap()
        .expose_key_params()
        .starts_with("inline:QUJD"));
    assert!(
        !format!("{plan:?}").contains("inline:"),
        "keys must not reach Debug output"
    );

    // Video on IPv6 for the callee; the slides channel is muxed and recvonly there.
    assert_eq!(
        plan.channels[1].callee.endpoints,
        vec![addr("[2001:db8::20]:40002")]
    );
    assert_eq!(plan.channels[1].caller.label.as_deref(), Some("11"));
    assert_eq!(plan.channels[1].caller.content.as_deref(), Some("main"));
    assert_eq!(plan.channels[2].caller.rtcp, Some(RtcpPlan::Mux));
    assert_eq!(plan.channels[2].callee.direction, Direction::RecvOnly);
    assert_eq!(plan.channels[3].media, "application");
    assert_eq!(plan.channels[3].proto, "TCP/BFCP");
    // The 200 to the BYE is recognised, not counted as outside any dialog.
    assert_eq!(rig.tracker.counters().outside_dialog, 0);
}

#[test]
fn a_reinvite_that_moves_the_video_keeps_the_channel_and_adds_the_endpoint() {
    let mut rig = Rig::new();
    rig.establish();
    // The room re-INVITEs with its main video moved to another port; the bot answers.
    let moved = with_port(ANSWER, "m=video 40002", "m=video 41002");
    rig.callee_request(
        30,
        "INVITE sip:alice@bot.example.com SIP/2.0",
        "2 INVITE",
        &moved,
    );
    rig.caller_response(30, "200 OK", "2 INVITE", OFFER);
    rig.callee_request(30, "ACK sip:alice@bot.example.com SIP/2.0", "2 ACK", "");
    let plans = rig.negotiated();
    assert_eq!(plans.len(), 2);
    let plan = plans[1];
    assert_eq!(
        plan.channels.len(),
        4,
        "one channel per m= line, for the whole call"
    );
    assert_eq!(
        plan.channels[1].callee.endpoints,
        vec![addr("[2001:db8::20]:40002"), addr("[2001:db8::20]:41002")]
    );
    assert_eq!(
        plan.channels[1].caller.endpoints,
        vec![addr("192.0.2.10:50002")]
    );
    assert_eq!(plan.first_offer, Some(Side::Caller));
    assert_eq!(plan.negotiations, 2);
}

#[test]
fn early_media_from_a_183_and_the_200_that_repeats_it() {
    let mut rig = Rig::new();
    rig.caller(0, &format!("INVITE {URI} SIP/2.0"), "1 INVITE", None, OFFER);
    rig.callee_response(1, "183 Session Progress", "1 INVITE", Some("room7"), ANSWER);
    assert_eq!(
        rig.negotiated().len(),
        1,
        "the 183's answer opens early media"
    );
    assert_eq!(
        rig.negotiated()[0].channels[0].callee.endpoints,
        vec![addr("198.51.100.20:40000")]
    );
    // The 200 repeats the same answer: nothing new.
    rig.callee_response(5, "200 OK", "1 INVITE", Some("room7"), ANSWER);
    assert_eq!(rig.negotiated().len(), 1);
    // A 200 whose answer differs (the device moved its audio) is applied.
    let moved = with_port(ANSWER, "m=audio 40000", "m=audio 40100");
    rig.callee_response(5, "200 OK", "1 INVITE", Some("room7"), &moved);
    let plans = rig.negotiated();
    assert_eq!(plans.len(), 2);
    assert_eq!(
        plans[1].channels[0].callee.endpoints,
        vec![addr("198.51.100.20:40000"), addr("198.51.100.20:40100")]
    );
    assert_eq!(rig.tracker.counters().unexpected_sdp, 0);
}

#[test]
fn a_late_offer_in_the_200_is_answered_by_the_ack() {
    let mut rig = Rig::new();
    rig.caller(0, &format!("INVITE {URI} SIP/2.0"), "1 INVITE", None, "");
    rig.callee_response(2, "200 OK", "1 INVITE", Some("room7"), ANSWER);
    assert!(rig.negotiated().is_empty());
    rig.caller(
        2,
        &format!("ACK {URI} SIP/2.0"),
        "1 ACK",
        Some("room7"),
        OFFER,
    );
    let plans = rig.negotiated();
    assert_eq!(plans.len(), 1);
    let plan = plans[0];
    assert_eq!(plan.first_offer, Some(Side::Callee));
    // The callee offered ANSWER's text: its addresses are the callee's.
    assert_eq!(
        plan.channels[0].callee.endpoints,
        vec![addr("198.51.100.20:40000")]
    );
    assert_eq!(
        plan.channels[0].caller.endpoints,
        vec![addr("192.0.2.10:50000")]
    );
    // The ACK's SDP lists two crypto lines; its first (tag 1) is taken as the answer's
    // choice, and the callee's offer has no tag 1: no key is guessed for the callee.
    assert!(plan.channels[0].callee.sdes.is_none());
}

#[test]
fn an_update_changes_codecs_on_the_same_channel() {
    let mut rig = Rig::new();
    rig.establish();
    let pcmu_only = OFFER.replace(
        "m=audio 50000 RTP/SAVP 9 96 101",
        "m=audio 50000 RTP/SAVP 0",
    );
    rig.caller(
        20,
        &format!("UPDATE {URI} SIP/2.0"),
        "2 UPDATE",
        Some("room7"),
        &pcmu_only,
    );
    let answer = ANSWER.replace("m=audio 40000 RTP/SAVP 9 101", "m=audio 40000 RTP/SAVP 0");
    rig.callee_response(20, "200 OK", "2 UPDATE", Some("room7"), &answer);
    let plan = rig.negotiated()[1];
    let audio = &plan.channels[0];
    assert_eq!(audio.caller.payload_types.len(), 1);
    assert_eq!(
        audio.caller.payload_types[0].encoding.as_deref(),
        Some("PCMU")
    );
    assert_eq!(audio.caller.payload_types[0].clock_rate, Some(8_000));
    assert_eq!(audio.caller.endpoints.len(), 1);
}

#[test]
fn cancel_rejection_and_an_auth_challenge() {
    // CANCEL before the answer ends the call; the 487 that follows is still recognised.
    let mut rig = Rig::new();
    rig.caller(0, &format!("INVITE {URI} SIP/2.0"), "1 INVITE", None, OFFER);
    rig.callee_response(1, "180 Ringing", "1 INVITE", Some("room7"), "");
    rig.caller(4, &format!("CANCEL {URI} SIP/2.0"), "1 CANCEL", None, "");
    rig.callee_response(4, "487 Request Terminated", "1 INVITE", Some("room7"), "");
    assert_eq!(rig.ended()[0].ended.unwrap().1, EndReason::Cancel);
    assert_eq!(rig.tracker.counters().outside_dialog, 0);

    // A final failure ends it.
    let mut rig = Rig::new();
    rig.caller(0, &format!("INVITE {URI} SIP/2.0"), "1 INVITE", None, OFFER);
    rig.callee_response(1, "486 Busy Here", "1 INVITE", Some("room7"), "");
    assert_eq!(rig.ended()[0].ended.unwrap().1, EndReason::Rejected(486));

    // 407: the INVITE is sent again with credentials, in the same dialog.
    let mut rig = Rig::new();
    rig.caller(0, &format!("INVITE {URI} SIP/2.0"), "1 INVITE", None, OFFER);
    rig.callee_response(
        0,
        "407 Proxy Authentication Required",
        "1 INVITE",
        Some("proxy1"),
        "",
    );
    rig.caller(0, &format!("INVITE {URI} SIP/2.0"), "2 INVITE", None, OFFER);
    rig.callee_response(1, "200 OK", "2 INVITE", Some("room7"), ANSWER);
    assert!(rig.ended().is_empty());
    assert_eq!(rig.negotiated().len(), 1);
    assert_eq!(rig.tracker.counters().dialogs, 1);
}

#[test]
fn a_failed_reinvite_changes_nothing() {
    let mut rig = Rig::new();
    rig.establish();
    let moved = with_port(OFFER, "m=audio 50000", "m=audio 50100");
    rig.caller(
        20,
        &format!("INVITE {URI} SIP/2.0"),
        "2 INVITE",
        Some("room7"),
        &moved,
    );
    rig.callee_response(20, "488 Not Acceptable Here", "2 INVITE", Some("room7"), "");
    assert!(rig.ended().is_empty());
    // An answer arriving now (to nothing) is unexpected, not applied.
    rig.callee_response(21, "200 OK", "2 INVITE", Some("room7"), ANSWER);
    assert_eq!(rig.negotiated().len(), 1);
    assert_eq!(
        rig.tracker.active_plans().next().unwrap().channels[0]
            .caller
            .endpoints
            .len(),
        1
    );
}

#[test]
fn forked_early_dialogs_follow_the_fork_that_answers() {
    let mut rig = Rig::new();
    rig.caller(0, &format!("INVITE {URI} SIP/2.0"), "1 INVITE", None, OFFER);
    rig.callee_response(1, "183 Session Progress", "1 INVITE", Some("forkA"), ANSWER);
    rig.callee_response(
        2,
        "200 OK",
        "1 INVITE",
        Some("room7"),
        &with_port(ANSWER, "m=audio 40000", "m=audio 42000"),
    );
    // The BYE from the answering fork (tag room7) ends the call.
    rig.callee_request(9, "BYE sip:alice@bot.example.com SIP/2.0", "1 BYE", "");
    let ended = rig.ended();
    assert_eq!(ended.len(), 1);
    assert_eq!(
        ended[0].channels[0].callee.endpoints,
        vec![addr("198.51.100.20:40000"), addr("198.51.100.20:42000")]
    );
}

#[test]
fn a_multipart_invite_carries_the_offer() {
    let body = format!(
        "--sep\r\nContent-Type: application/isup\r\n\r\nxx\r\n--sep\r\nContent-Type: application/sdp\r\n\r\n{OFFER}\r\n--sep--\r\n"
    );
    let mut headers = crate::signalling::testing::dialog_headers("1 INVITE", None, false);
    headers.push(("Content-Type", "multipart/mixed;boundary=\"sep\"".into()));
    let refs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let mut rig = Rig::new();
    rig.feed_bytes(0, &message(&format!("INVITE {URI} SIP/2.0"), &refs, &body));
    rig.callee_response(1, "200 OK", "1 INVITE", Some("room7"), ANSWER);
    assert_eq!(rig.negotiated()[0].channels.len(), 4);
}

#[test]
fn timeouts_end_calls_and_ended_dialogs_are_forgotten() {
    let mut rig = Rig::new();
    rig.caller(0, &format!("INVITE {URI} SIP/2.0"), "1 INVITE", None, OFFER);
    rig.tracker
        .poll(Timestamp::from_nanos(179_000_000_000), &mut rig.events);
    assert!(rig.ended().is_empty());
    rig.tracker
        .poll(Timestamp::from_nanos(181_000_000_000), &mut rig.events);
    assert_eq!(rig.ended()[0].ended.unwrap().1, EndReason::Timeout);
    assert_eq!(rig.tracker.len(), 1, "lingers for retransmissions");
    rig.tracker
        .poll(Timestamp::from_nanos(214_000_000_000), &mut rig.events);
    assert!(rig.tracker.is_empty());
    assert_eq!(rig.tracker.counters().dialogs_timed_out, 1);

    // An established call ends after the idle timeout without any message.
    let mut rig = Rig::new();
    rig.establish();
    let later = Timestamp::from_nanos(3_000_000_000).after(DialogConfig::default().idle_timeout);
    rig.tracker.poll(later, &mut rig.events);
    assert!(rig.ended().is_empty());
    rig.tracker
        .poll(later.after(Duration::from_secs(1)), &mut rig.events);
    assert_eq!(rig.ended().len(), 1);
}

#[test]
fn the_dialog_table_is_bounded_and_outsiders_are_counted() {
    let mut rig = Rig::with(DialogConfig {
        max_dialogs: 3,
        ..DialogConfig::default()
    });
    for n in 0..5 {
        let invite = message(
            &format!("INVITE {URI} SIP/2.0"),
            &[
                ("From", &format!("<sip:a@x>;tag=t{n}")),
                ("To", "<sip:b@x>"),
                ("Call-ID", &format!("id{n}")),
                ("CSeq", "1 INVITE"),
            ],
            "",
        );
        rig.feed_bytes(n, &invite);
    }
    assert_eq!(rig.tracker.len(), 3);
    assert_eq!(rig.tracker.counters().dialogs_evicted, 2);
    let evicted: Vec<&str> = rig.ended().iter().map(|p| p.call_id.as_str()).collect();
    assert_eq!(evicted, vec!["id0", "id1"]);
    assert!(rig
        .ended()
        .iter()
        .all(|p| p.ended.unwrap().1 == EndReason::Evicted));
    // A BYE for a call the capture never saw start, a REGISTER, a message without tag.
    rig.callee_request(9, "BYE sip:alice@bot.example.com SIP/2.0", "5 BYE", "");
    let register = message(
        "REGISTER sip:x SIP/2.0",
        &[
            ("From", "<sip:a@x>;tag=r"),
            ("To", "<sip:a@x>"),
            ("i", "reg"),
            ("CSeq", "1 REGISTER"),
        ],
        "",
    );
    rig.feed_bytes(9, &register);
    let untagged = message(
        "OPTIONS sip:x SIP/2.0",
        &[
            ("From", "<sip:a@x>"),
            ("To", "<sip:a@x>"),
            ("i", "o"),
            ("CSeq", "1 OPTIONS"),
        ],
        "",
    );
    rig.feed_bytes(9, &untagged);
    assert_eq!(rig.tracker.counters().outside_dialog, 3);
    // finish() returns the open calls, oldest first.
    let open: Vec<String> = rig
        .tracker
        .finish()
        .into_iter()
        .map(|p| p.call_id)
        .collect();
    assert_eq!(open, vec!["id2", "id3", "id4"]);
    assert!(rig.tracker.is_empty());
}

#[test]
fn a_reinvite_of_a_call_older_than_the_capture_starts_its_plan() {
    let mut rig = Rig::new();
    rig.callee_request(
        0,
        "INVITE sip:alice@bot.example.com SIP/2.0",
        "9 INVITE",
        ANSWER,
    );
    rig.caller_response(0, "200 OK", "9 INVITE", OFFER);
    let plan = rig.negotiated()[0];
    // The sender of the first message seen is called the caller.
    assert_eq!(plan.caller.uri, URI);
    assert_eq!(
        plan.channels[0].caller.endpoints,
        vec![addr("198.51.100.20:40000")]
    );
}

#[test]
fn random_message_sequences_never_panic_and_stay_bounded() {
    let mut rng = Rng(0x5eed_0004);
    let mut rig = Rig::with(DialogConfig {
        max_dialogs: 16,
        ..DialogConfig::default()
    });
    let seeds = [
        dialog_message(
            &format!("INVITE {URI} SIP/2.0"),
            "1 INVITE",
            None,
            false,
            OFFER,
        ),
        dialog_message("SIP/2.0 200 OK", "1 INVITE", Some("room7"), false, ANSWER),
        dialog_message(
            "SIP/2.0 183 Progress",
            "1 INVITE",
            Some("room7"),
            false,
            ANSWER,
        ),
        dialog_message(
            &format!("ACK {URI} SIP/2.0"),
            "1 ACK",
            Some("room7"),
            false,
            OFFER,
        ),
        dialog_message("BYE sip:a SIP/2.0", "2 BYE", Some("room7"), true, ""),
        dialog_message(
            "UPDATE sip:a SIP/2.0",
            "3 UPDATE",
            Some("room7"),
            true,
            ANSWER,
        ),
    ];
    for round in 0..20_000 {
        let pick = (rng.next() as usize) % seeds.len();
        let input = rng.mutate(&seeds[pick]);
        if let Ok((m, _)) = SipMessage::parse(&input, Framing::Datagram) {
            rig.tracker.on_message(
                Timestamp::from_nanos(round * 1_000_000),
                &m,
                &mut rig.events,
            );
        }
        if round % 1000 == 0 {
            rig.tracker
                .poll(Timestamp::from_nanos(round * 1_000_000), &mut rig.events);
        }
        assert!(rig.tracker.len() <= 16);
        rig.events.clear();
    }
}

#[test]
fn dialogs_per_call_id_are_bounded() {
    let mut rig = Rig::new();
    // One Call-ID, many From tags (a hostile peer, or a forking storm).
    for n in 0..12 {
        let invite = message(
            &format!("INVITE {URI} SIP/2.0"),
            &[
                ("From", &format!("<sip:a@x>;tag=f{n}")),
                ("To", "<sip:b@x>"),
                ("Call-ID", "same"),
                ("CSeq", "1 INVITE"),
            ],
            "",
        );
        rig.feed_bytes(0, &invite);
    }
    assert_eq!(rig.tracker.len(), MAX_DIALOGS_PER_CALL_ID);
    assert_eq!(
        rig.tracker.counters().dialogs_refused,
        12 - MAX_DIALOGS_PER_CALL_ID as u64
    );
    assert_eq!(
        rig.tracker.counters().outside_dialog,
        0,
        "counted once, as refused"
    );
}
