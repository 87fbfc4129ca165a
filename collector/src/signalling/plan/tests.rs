#![allow(clippy::unwrap_used)]

use super::*;
use crate::signalling::testing::{ANSWER, OFFER};

fn plan_of(offer: &str, answer: &str) -> (MediaPlan, DialogCounters, SdpErrorCounts) {
    let mut plan = MediaPlan::new(
        "c".into(),
        Party::default(),
        Party::default(),
        Timestamp::default(),
    );
    let mut counters = DialogCounters::default();
    let mut errors = SdpErrorCounts::default();
    let offer = Sdp::parse(offer.as_bytes()).unwrap();
    let answer = Sdp::parse(answer.as_bytes()).unwrap();
    plan.apply_negotiation(Side::Caller, &offer, &answer, &mut counters, &mut errors);
    (plan, counters, errors)
}

fn kinds(offer: &str, answer: &str) -> Vec<Option<MediaKind>> {
    plan_of(offer, answer)
        .0
        .channels
        .iter()
        .map(|c| c.kind)
        .collect()
}

const HEAD: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n";

fn sdp(media: &[&str]) -> String {
    let mut s = HEAD.to_string();
    for m in media {
        s.push_str(m);
    }
    s
}

use MediaKind::{Audio, ScreenSharing, Video};

#[test]
fn slides_by_content_attribute_on_either_side() {
    let offer = sdp(&[
        "m=video 5000 RTP/AVP 96\r\n",
        "m=video 5002 RTP/AVP 96\r\na=content:slides\r\n",
    ]);
    let answer = sdp(&["m=video 6000 RTP/AVP 96\r\n", "m=video 6002 RTP/AVP 96\r\n"]);
    assert_eq!(
        kinds(&offer, &answer),
        vec![Some(Video), Some(ScreenSharing)]
    );
    // Marked only in the answer, and as one of a list (RFC 4796).
    let offer = sdp(&["m=video 5000 RTP/AVP 96\r\n"]);
    let answer = sdp(&["m=video 6000 RTP/AVP 96\r\na=content:alt,slides\r\n"]);
    assert_eq!(kinds(&offer, &answer), vec![Some(ScreenSharing)]);
}

#[test]
fn the_bfcp_controlled_second_video_is_screen_sharing() {
    // The test fixtures: floor 1 names label 12 (offer) and 22 (answer).
    assert_eq!(
        kinds(OFFER, ANSWER),
        vec![Some(Audio), Some(Video), Some(ScreenSharing), None]
    );
    // A BFCP line that names no stream: the second video is the presentation.
    let offer = sdp(&[
        "m=audio 4000 RTP/AVP 0\r\n",
        "m=video 5000 RTP/AVP 96\r\n",
        "m=video 5002 RTP/AVP 96\r\n",
        "m=application 5004 UDP/BFCP *\r\na=floorctrl:c-only\r\n",
    ]);
    assert_eq!(
        kinds(&offer, &offer),
        vec![Some(Audio), Some(Video), Some(ScreenSharing), None]
    );
    // A floor that names the *first* video does not make the camera a presentation.
    let offer = sdp(&[
        "m=video 5000 RTP/AVP 96\r\na=label:1\r\n",
        "m=video 5002 RTP/AVP 96\r\na=label:2\r\n",
        "m=application 5004 TCP/TLS/BFCP *\r\na=floorid:1 mstrm:1\r\n",
    ]);
    assert_eq!(kinds(&offer, &offer), vec![Some(Video), Some(Video), None]);
    // content:main wins over the ordinal rule.
    let offer = sdp(&[
        "m=video 5000 RTP/AVP 96\r\n",
        "m=video 5002 RTP/AVP 96\r\na=content:main\r\n",
        "m=application 5004 TCP/BFCP *\r\n",
    ]);
    assert_eq!(kinds(&offer, &offer), vec![Some(Video), Some(Video), None]);
}

#[test]
fn without_bfcp_or_content_a_second_video_stays_video() {
    let offer = sdp(&[
        "m=video 5000 RTP/AVP 96\r\n",
        "m=video 5002 RTP/AVP 96\r\n",
        "m=image 5004 udptl t38\r\n",
    ]);
    assert_eq!(kinds(&offer, &offer), vec![Some(Video), Some(Video), None]);
    // A rejected BFCP line (port 0) controls nothing.
    let answer = sdp(&[
        "m=video 6000 RTP/AVP 96\r\n",
        "m=video 6002 RTP/AVP 96\r\n",
        "m=application 0 TCP/BFCP *\r\n",
    ]);
    let offer = sdp(&[
        "m=video 5000 RTP/AVP 96\r\n",
        "m=video 5002 RTP/AVP 96\r\n",
        "m=application 0 TCP/BFCP *\r\n",
    ]);
    assert_eq!(kinds(&offer, &answer), vec![Some(Video), Some(Video), None]);
}

#[test]
fn a_rejected_stream_is_inactive_and_adds_no_endpoint() {
    let offer = sdp(&["m=audio 4000 RTP/AVP 0\r\n", "m=video 5000 RTP/AVP 31\r\n"]);
    let answer = sdp(&["m=audio 7000 RTP/AVP 0\r\n", "m=video 0 RTP/AVP 31\r\n"]);
    let (plan, ..) = plan_of(&offer, &answer);
    assert!(plan.channels[0].active);
    assert!(!plan.channels[1].active);
    assert!(plan.channels[1].caller.endpoints.is_empty());
    assert!(plan.channels[1].callee.endpoints.is_empty());
    // A static payload type without rtpmap gets RFC 3551's name and rate.
    let h261 = &plan.channels[1].caller.payload_types[0];
    assert_eq!(
        (h261.encoding.as_deref(), h261.clock_rate),
        (Some("H261"), Some(90_000))
    );
}

#[test]
fn rates_follow_the_receivers_map_and_mismatches_are_counted() {
    // Asymmetric dynamic numbers: the caller receives Opus as 111, the callee as 96.
    let offer = sdp(&[
        "m=audio 4000 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n",
        "m=audio 4002 RTP/AVP 0\r\n",
    ]);
    let answer = sdp(&["m=audio 7000 RTP/AVP 96 97\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:97 telephone-event/8000\r\na=rtpmap:bad\r\n"]);
    let (plan, counters, errors) = plan_of(&offer, &answer);
    let audio = &plan.channels[0];
    // The callee sends with the caller's numbers (111), and the reverse.
    assert_eq!(audio.clock_rate_for_sender(Side::Callee, 111), Some(48_000));
    assert_eq!(audio.clock_rate_for_sender(Side::Caller, 96), Some(48_000));
    assert_eq!(audio.clock_rate_for_sender(Side::Caller, 97), Some(8_000));
    assert_eq!(audio.clock_rate_for_sender(Side::Caller, 120), None);
    assert_eq!(counters.media_count_mismatch, 1);
    assert_eq!(plan.channels.len(), 1);
    assert_eq!(errors.bad_attribute, 1);
}

#[test]
fn endpoints_per_side_are_bounded() {
    let mut plan = MediaPlan::new(
        "c".into(),
        Party::default(),
        Party::default(),
        Timestamp::default(),
    );
    let mut counters = DialogCounters::default();
    let mut errors = SdpErrorCounts::default();
    let answer_text = sdp(&["m=audio 7000 RTP/AVP 0\r\n"]);
    let answer = Sdp::parse(answer_text.as_bytes()).unwrap();
    for port in 0..40u16 {
        let text = sdp(&[&format!("m=audio {} RTP/AVP 0\r\n", 4000 + 2 * port)]);
        let offer = Sdp::parse(text.as_bytes()).unwrap();
        plan.apply_negotiation(Side::Caller, &offer, &answer, &mut counters, &mut errors);
    }
    assert_eq!(
        plan.channels[0].caller.endpoints.len(),
        MAX_ENDPOINTS_PER_SIDE
    );
    assert_eq!(plan.channels[0].callee.endpoints.len(), 1);
    assert_eq!(counters.plan_bounds_hit, 40 - MAX_ENDPOINTS_PER_SIDE as u64);
    assert_eq!(plan.negotiations, 40);
}

#[test]
fn an_unusable_connection_line_is_counted_not_guessed() {
    let offer = "v=0\r\nc=IN IP4 pbx.example.com\r\nm=audio 4000 RTP/AVP 0\r\n";
    let (plan, _, errors) = plan_of(offer, offer);
    assert!(plan.channels[0].caller.endpoints.is_empty());
    assert!(plan.channels[0].caller.rtcp.is_none());
    assert_eq!(errors.bad_connection, 2);
}
