#![allow(clippy::unwrap_used)]

use super::*;
use crate::signalling::testing::{message, message_with_length, Rng, OFFER};

/// RFC 3261 §24.2's INVITE (shortened), with an SDP body.
fn invite() -> Vec<u8> {
    message(
        "INVITE sip:bob@biloxi.example.com SIP/2.0",
        &[
            (
                "Via",
                "SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8",
            ),
            ("Max-Forwards", "70"),
            ("To", "Bob <sip:bob@biloxi.example.com>"),
            (
                "From",
                "Alice <sip:alice@atlanta.example.com>;tag=1928301774",
            ),
            ("Call-ID", "a84b4c76e66710@pc33.atlanta.example.com"),
            ("CSeq", "314159 INVITE"),
            ("Contact", "<sip:alice@pc33.atlanta.example.com>"),
            ("Content-Type", "application/sdp"),
        ],
        OFFER,
    )
}

#[test]
fn a_request_and_its_fields() {
    let bytes = invite();
    let (m, consumed) = SipMessage::parse(&bytes, Framing::Datagram).unwrap();
    assert_eq!(consumed, bytes.len());
    assert_eq!(m.method(), Some(Method::Invite));
    assert_eq!(m.status(), None);
    assert!(
        matches!(m.start_line(), StartLine::Request { uri, .. } if uri == b"sip:bob@biloxi.example.com")
    );
    assert_eq!(m.call_id(), b"a84b4c76e66710@pc33.atlanta.example.com");
    assert_eq!(m.cseq().number, 314159);
    assert_eq!(m.cseq().method, Method::Invite);
    assert_eq!(m.from().display_name, Some(&b"Alice"[..]));
    assert_eq!(m.from().tag, Some(&b"1928301774"[..]));
    assert_eq!(m.to().uri, b"sip:bob@biloxi.example.com");
    assert_eq!(m.to().tag, None);
    assert!(m.content_type().unwrap().is_sdp());
    assert_eq!(m.body(), OFFER.as_bytes());
    let via: Vec<Via> = m.vias().collect();
    assert_eq!(via.len(), 1);
    assert_eq!(via[0].branch, Some(&b"z9hG4bKnashds8"[..]));
    assert_eq!(
        m.header(HeaderName::Other(b"max-forwards")),
        Some(&b"70"[..])
    );
    assert_eq!(m.header(HeaderName::Other(b"X-Absent")), None);
    assert_eq!(m.headers().count(), 9);
}

#[test]
fn a_response_with_compact_headers_in_any_case() {
    // RFC 3261 §7.3.3 compact forms: v, f, t, i, m, c, l; names are case-insensitive.
    let bytes = b"SIP/2.0 183 Session Progress\r\n\
v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
F: <sip:a@example.com>;tag=aa\r\n\
t: <sip:b@example.com>;TAG=bb\r\n\
I: compact-1\r\n\
cseq: 7 INVITE\r\n\
m: <sip:b@192.0.2.2>\r\n\
c: application/sdp\r\n\
L: 4\r\n\
\r\n\
v=0\n";
    let (m, consumed) = SipMessage::parse(bytes, Framing::Stream).unwrap();
    assert_eq!(m.status(), Some(183));
    assert_eq!(m.call_id(), b"compact-1");
    assert_eq!(m.to().tag, Some(&b"bb"[..]));
    assert_eq!(m.from().tag, Some(&b"aa"[..]));
    assert_eq!(m.body(), b"v=0\n");
    assert_eq!(consumed, bytes.len());
    assert_eq!(
        m.header(HeaderName::Contact),
        Some(&b"<sip:b@192.0.2.2>"[..])
    );
    assert_eq!(m.vias().count(), 1);
}

#[test]
fn folded_header_lines_continue_the_value() {
    // A Subject and a From folded over lines that start with a space or a tab.
    let bytes = b"BYE sip:b@example.com SIP/2.0\r\n\
Subject: first part\r\n second part\r\n\
From: \"Alice\"\r\n\t<sip:a@example.com>\r\n  ;tag=folded\r\n\
To: <sip:b@example.com>;tag=x\r\n\
Call-ID: f1\r\n\
CSeq: 2 BYE\r\n\
\r\n";
    let (m, _) = SipMessage::parse(bytes, Framing::Datagram).unwrap();
    assert_eq!(m.headers().count(), 5);
    let subject = m.header(HeaderName::Subject).unwrap();
    assert_eq!(subject, b"first part\r\n second part");
    assert_eq!(m.from().tag, Some(&b"folded"[..]));
    assert_eq!(m.from().uri, b"sip:a@example.com");
    assert_eq!(m.method(), Some(Method::Bye));
    assert!(m.body().is_empty());
}

#[test]
fn content_length_is_optional_in_a_datagram_and_required_on_a_stream() {
    let without = message_with_length(
        "ACK sip:b@example.com SIP/2.0",
        &[
            ("From", "<sip:a@x>;tag=1"),
            ("To", "<sip:b@x>;tag=2"),
            ("i", "c"),
            ("CSeq", "1 ACK"),
        ],
        "v=0\r\n",
        Some(None),
    );
    let (m, _) = SipMessage::parse(&without, Framing::Datagram).unwrap();
    assert_eq!(m.body(), b"v=0\r\n");
    assert_eq!(
        SipMessage::parse(&without, Framing::Stream).unwrap_err(),
        SipError::MissingContentLength
    );
    // A datagram longer than Content-Length: the extra bytes are not body.
    let mut longer = message(
        "ACK sip:b@example.com SIP/2.0",
        &[
            ("From", "<sip:a@x>;tag=1"),
            ("To", "<sip:b@x>"),
            ("i", "c"),
            ("CSeq", "1 ACK"),
        ],
        "abc",
    );
    longer.extend_from_slice(b"junk");
    let (m, consumed) = SipMessage::parse(&longer, Framing::Datagram).unwrap();
    assert_eq!(m.body(), b"abc");
    assert_eq!(consumed, longer.len());
    // Shorter than Content-Length: refused in a datagram, awaited on a stream.
    let short = &longer[..longer.len() - 6];
    assert_eq!(
        SipMessage::parse(short, Framing::Datagram).unwrap_err(),
        SipError::BodyTruncated
    );
    assert_eq!(
        SipMessage::parse(short, Framing::Stream).unwrap_err(),
        SipError::Incomplete
    );
}

#[test]
fn two_messages_back_to_back_on_a_stream() {
    let mut stream = invite();
    let first_len = stream.len();
    stream.extend_from_slice(&invite());
    let (first, consumed) = SipMessage::parse(&stream, Framing::Stream).unwrap();
    assert_eq!(consumed, first_len);
    assert_eq!(first.body(), OFFER.as_bytes());
    let (second, rest) = SipMessage::parse(&stream[consumed..], Framing::Stream).unwrap();
    assert_eq!(rest, first_len);
    assert_eq!(second.cseq().number, 314159);
}

#[test]
fn hostile_messages_are_refused_by_kind() {
    let headers = [
        ("From", "<sip:a@x>;tag=1"),
        ("To", "<sip:b@x>"),
        ("i", "c"),
        ("CSeq", "1 INVITE"),
    ];
    // A giant Content-Length: beyond any message, refused at once even on a stream.
    let giant = message_with_length(
        "INVITE sip:x SIP/2.0",
        &headers,
        "",
        Some(Some(4_000_000_000)),
    );
    assert_eq!(
        SipMessage::parse(&giant, Framing::Stream).unwrap_err(),
        SipError::Oversize
    );
    let absurd = message_with_length("INVITE sip:x SIP/2.0", &headers, "", None);
    let absurd = [
        &absurd[..absurd.len() - 2],
        b"Content-Length: 99999999999999999999\r\n\r\n",
    ]
    .concat();
    assert_eq!(
        SipMessage::parse(&absurd, Framing::Datagram).unwrap_err(),
        SipError::BadContentLength
    );
    // Two Content-Lengths that disagree.
    let two = message_with_length(
        "INVITE sip:x SIP/2.0",
        &[
            ("From", "<sip:a@x>;tag=1"),
            ("l", "3"),
            ("To", "<sip:b@x>"),
            ("i", "c"),
            ("CSeq", "1 INVITE"),
        ],
        "abcd",
        Some(Some(4)),
    );
    assert_eq!(
        SipMessage::parse(&two, Framing::Datagram).unwrap_err(),
        SipError::BadContentLength
    );
    // No empty line after the headers.
    let open = b"INVITE sip:x SIP/2.0\r\nFrom: <sip:a@x>;tag=1\r\n";
    assert_eq!(
        SipMessage::parse(open, Framing::Datagram).unwrap_err(),
        SipError::UnterminatedHeaders
    );
    assert_eq!(
        SipMessage::parse(open, Framing::Stream).unwrap_err(),
        SipError::Incomplete
    );
    // Binary garbage.
    let garbage: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    assert!(SipMessage::parse(&garbage, Framing::Datagram).is_err());
    assert_eq!(
        SipMessage::parse(&garbage, Framing::Stream).unwrap_err(),
        SipError::BadStartLine
    );
    // 10,000 headers: refused by the line bound (datagram and stream alike), even before
    // the stream has the whole header block.
    let many: Vec<(&str, &str)> = std::iter::repeat_n(("X-H", "1"), 10_000).collect();
    let flood = message("OPTIONS sip:x SIP/2.0", &many, "");
    assert_eq!(
        SipMessage::parse(&flood, Framing::Datagram).unwrap_err(),
        SipError::Oversize
    );
    let flood_small = message("OPTIONS sip:x SIP/2.0", &many[..1000], "");
    assert_eq!(
        SipMessage::parse(&flood_small, Framing::Datagram).unwrap_err(),
        SipError::TooManyHeaders
    );
    assert_eq!(
        SipMessage::parse(&flood[..20_000], Framing::Stream).unwrap_err(),
        SipError::TooManyHeaders
    );
    // Missing mandatory headers, bad header lines, bad start lines.
    let no_call_id = message("INVITE sip:x SIP/2.0", &headers[..2], "");
    assert_eq!(
        SipMessage::parse(&no_call_id, Framing::Datagram).unwrap_err(),
        SipError::MissingMandatoryHeader
    );
    let bad_line = b"INVITE sip:x SIP/2.0\r\nno colon here\r\n\r\n";
    assert_eq!(
        SipMessage::parse(bad_line, Framing::Datagram).unwrap_err(),
        SipError::BadHeaderLine
    );
    for start in [
        &b"SIP/2.0 99 Too Low"[..],
        b"SIP/2.0 700 High",
        b"INVITE sip:x HTTP/1.1",
        b"INV ITE",
        b"",
    ] {
        let bytes = [start, b"\r\ni: c\r\n\r\n"].concat();
        assert_eq!(
            SipMessage::parse(&bytes, Framing::Datagram).unwrap_err(),
            SipError::BadStartLine,
            "{start:?}"
        );
    }
}

/// Every accessor of a parsed view, so that the no-panic tests reach them.
fn touch(m: &SipMessage<'_>) -> usize {
    let mut n = m.as_bytes().len() + m.body().len() + m.call_id().len();
    n += m
        .headers()
        .map(|h| h.value.len() + h.raw_name.len())
        .sum::<usize>();
    n += m.vias().map(|v| v.sent_by.len()).sum::<usize>();
    n += m.from().uri.len() + m.to().display_name.map_or(0, <[u8]>::len);
    n += m
        .content_type()
        .map_or(0, |c| c.boundary().map_or(0, <[u8]>::len));
    assert!(m.body().len() <= m.as_bytes().len());
    n
}

#[test]
fn every_prefix_parses_or_fails_without_panic() {
    let bytes = invite();
    for cut in 0..=bytes.len() {
        for framing in [Framing::Datagram, Framing::Stream] {
            match SipMessage::parse(&bytes[..cut], framing) {
                Ok((m, consumed)) => {
                    assert!(consumed <= cut);
                    touch(&m);
                }
                Err(SipError::Incomplete) => assert_eq!(framing, Framing::Stream),
                Err(_) => {}
            }
        }
    }
}

#[test]
fn random_mutations_never_panic_and_views_stay_inside_the_input() {
    let seeds = [
        invite(),
        OFFER.as_bytes().to_vec(),
        b"SIP/2.0 200 OK\r\ni: x\r\nf: <a>;tag=1\r\nt: b\r\nCSeq: 1 BYE\r\n\r\n".to_vec(),
    ];
    let mut rng = Rng(0x5eed_0001);
    for round in 0..20_000 {
        let input = rng.mutate(&seeds[round % seeds.len()]);
        for framing in [Framing::Datagram, Framing::Stream] {
            if let Ok((m, consumed)) = SipMessage::parse(&input, framing) {
                assert!(consumed <= input.len());
                touch(&m);
            }
        }
    }
    // Pure noise too.
    for _ in 0..5_000 {
        let len = (rng.next() % 300) as usize;
        let noise: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let _ = SipMessage::parse(&noise, Framing::Stream);
        let _ = SipMessage::parse(&noise, Framing::Datagram);
    }
}
