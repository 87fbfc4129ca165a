#![allow(clippy::unwrap_used)]

use super::*;
use crate::signalling::testing::{Rng, ANSWER, OFFER};

#[test]
fn the_offer_of_a_vtc_call() {
    let sdp = Sdp::parse(OFFER.as_bytes()).unwrap();
    assert_eq!(sdp.connection(), Some(Ok("192.0.2.10".parse().unwrap())));
    assert_eq!(sdp.direction(), None);
    let media: Vec<Media> = sdp.media().collect();
    assert_eq!(media.len(), 4);

    // m=audio 50000 RTP/SAVP 9 96 101, with rtpmaps and two crypto lines.
    let audio = media[0];
    assert_eq!(audio.line().media, b"audio");
    assert_eq!(audio.line().port, 50000);
    assert_eq!(audio.line().proto, b"RTP/SAVP");
    assert!(audio.is_rtp() && !audio.is_bfcp());
    assert_eq!(audio.payload_types().collect::<Vec<_>>(), vec![9, 96, 101]);
    let maps: Vec<Rtpmap> = audio.rtpmaps().map(Result::unwrap).collect();
    assert_eq!(maps[1].encoding, b"opus");
    assert_eq!(maps[1].clock_rate, 48_000);
    assert_eq!(maps[1].channels, Some(2));
    assert_eq!(maps[0].channels, None);
    assert_eq!(audio.connection(), Some(Ok("192.0.2.10".parse().unwrap()))); // session c=
    assert_eq!(audio.direction(), Direction::SendRecv);
    let cryptos: Vec<Crypto> = audio.cryptos().map(Result::unwrap).collect();
    assert_eq!(cryptos.len(), 2);
    assert_eq!(cryptos[0].tag, 1);
    assert_eq!(cryptos[0].suite, b"AES_CM_128_HMAC_SHA1_80");
    assert!(cryptos[0].key_params.starts_with(b"inline:WVNf"));
    // The key never shows in Debug output.
    let debug = format!("{:?} {:?}", cryptos[0], audio);
    assert!(
        !debug.contains("WVNf") && debug.contains("redacted"),
        "{debug}"
    );
    assert_eq!(audio.rtcp(), None);
    assert!(!audio.rtcp_mux());

    // Main video: content:main, label 11.
    assert!(media[1].has_content(b"main") && !media[1].has_content(b"slides"));
    assert_eq!(media[1].label(), Some(&b"11"[..]));
    // Second video: label 12, muxed.
    assert!(media[2].rtcp_mux());
    assert_eq!(media[2].label(), Some(&b"12"[..]));

    // BFCP: formats "*" are not payload types; floor 1 controls label 12.
    let bfcp = media[3];
    assert!(bfcp.is_bfcp() && !bfcp.is_rtp());
    assert_eq!(bfcp.payload_types().count(), 0);
    assert_eq!(bfcp.floorctrl(), Some(&b"c-s"[..]));
    let floors: Vec<FloorId> = bfcp.floor_ids().collect();
    assert_eq!(floors[0].floor, b"1");
    assert_eq!(floors[0].streams().collect::<Vec<_>>(), vec![&b"12"[..]]);
}

#[test]
fn the_answer_with_ipv6_media_rtcp_port_and_direction() {
    let sdp = Sdp::parse(ANSWER.as_bytes()).unwrap();
    let media: Vec<Media> = sdp.media().collect();
    assert_eq!(
        media[0].rtcp(),
        Some(Ok(Rtcp {
            port: 40011,
            address: None
        }))
    );
    // A media-level c= IN IP6 overrides the session's IPv4 address.
    assert_eq!(
        media[1].connection(),
        Some(Ok("2001:db8::20".parse().unwrap()))
    );
    assert_eq!(media[2].direction(), Direction::RecvOnly);
    assert_eq!(media[1].direction(), Direction::SendRecv);
}

#[test]
fn session_level_attributes_and_odd_lines() {
    // Session-level inactive; IPv6 session address with a multicast count; port/count;
    // a=rtcp with its own address; a=ssrc; a=mid; a host name in c= (unusable).
    let body = b"v=0\r\no=- 1 1 IN IP6 2001:db8::1\r\ns=-\r\nc=IN IP6 ff15::101/3\r\nt=0 0\r\na=inactive\r\n\
m=audio 49170/2 RTP/AVP 0 8 97\r\na=rtcp:53020 IN IP4 126.16.64.4\r\na=ssrc:314159 cname:user@example.com\r\na=ssrc:7 foo\r\na=mid:a1\r\n\
a=rtpmap:97 iLBC\r\n\
m=video 0 RTP/AVP 31\r\nc=IN IP4 host.example.com\r\na=sendonly\r\n";
    let sdp = Sdp::parse(body).unwrap();
    assert_eq!(sdp.direction(), Some(Direction::Inactive));
    let media: Vec<Media> = sdp.media().collect();
    let audio = media[0];
    assert_eq!((audio.line().port, audio.line().port_count), (49170, 2));
    assert_eq!(audio.connection(), Some(Ok("ff15::101".parse().unwrap())));
    assert_eq!(audio.direction(), Direction::Inactive);
    assert_eq!(
        audio.rtcp(),
        Some(Ok(Rtcp {
            port: 53020,
            address: Some("126.16.64.4".parse().unwrap())
        }))
    );
    let ssrcs: Vec<Ssrc> = audio.ssrcs().map(Result::unwrap).collect();
    assert_eq!(ssrcs[0].ssrc, 314159);
    assert_eq!(ssrcs[0].attribute, b"cname");
    assert_eq!(ssrcs[0].value, b"user@example.com");
    assert_eq!(ssrcs[1].attribute, b"foo");
    assert_eq!(audio.mid(), Some(&b"a1"[..]));
    // iLBC without a rate is a malformed rtpmap: reported, not guessed.
    assert_eq!(audio.rtpmaps().next(), Some(Err(SdpAttributeError::Rtpmap)));
    let video = media[1];
    assert_eq!(video.line().port, 0);
    assert_eq!(video.connection(), Some(Err(SdpAttributeError::Connection)));
    assert_eq!(video.direction(), Direction::SendOnly);
}

#[test]
fn malformed_descriptions_are_refused_by_kind() {
    assert_eq!(Sdp::parse(b"").unwrap_err(), SdpError::NoVersion);
    assert_eq!(
        Sdp::parse(b"o=- 1 1 IN IP4 1.2.3.4\r\n").unwrap_err(),
        SdpError::NoVersion
    );
    assert_eq!(
        Sdp::parse(b"v=0\r\nthis is not sdp\r\n").unwrap_err(),
        SdpError::BadLine
    );
    assert_eq!(
        Sdp::parse(b"v=0\r\nm=audio\r\n").unwrap_err(),
        SdpError::BadMediaLine
    );
    assert_eq!(
        Sdp::parse(b"v=0\r\nm=audio 70000 RTP/AVP 0\r\n").unwrap_err(),
        SdpError::BadMediaLine
    );
    let many_media = format!("v=0\r\n{}", "m=audio 1 RTP/AVP 0\r\n".repeat(MAX_MEDIA + 1));
    assert_eq!(
        Sdp::parse(many_media.as_bytes()).unwrap_err(),
        SdpError::TooManyMedia
    );
    let many_lines = format!("v=0\r\n{}", "a=x\r\n".repeat(MAX_LINES));
    assert_eq!(
        Sdp::parse(many_lines.as_bytes()).unwrap_err(),
        SdpError::TooManyLines
    );
    // Bare LF line ends and a trailing blank line are accepted.
    let lf = Sdp::parse(b"v=0\nc=IN IP4 192.0.2.1\nm=audio 5004 RTP/AVP 0\n\n").unwrap();
    assert_eq!(lf.media().next().unwrap().line().port, 5004);
}

#[test]
fn bad_attributes_are_items_to_count() {
    let body = b"v=0\r\nm=audio 1 RTP/SAVP 0\r\na=rtpmap:200 X/8000\r\na=rtpmap:0\r\na=rtcp:x\r\na=crypto:1 AES\r\na=ssrc:abc cname:x\r\n";
    let media = Sdp::parse(body).unwrap().media().next().unwrap();
    assert_eq!(media.rtpmaps().filter(Result::is_err).count(), 2);
    assert_eq!(media.rtcp(), Some(Err(SdpAttributeError::Rtcp)));
    assert_eq!(media.cryptos().next(), Some(Err(SdpAttributeError::Crypto)));
    assert_eq!(media.ssrcs().next(), Some(Err(SdpAttributeError::Ssrc)));
}

/// Every accessor, so that the no-panic tests reach them.
fn touch(sdp: &Sdp<'_>) -> usize {
    let mut n = usize::from(sdp.connection().is_some()) + usize::from(sdp.direction().is_some());
    for m in sdp.media() {
        n += m.payload_types().count() + m.rtpmaps().count() + m.cryptos().count();
        n += m.ssrcs().count() + m.floor_ids().map(|f| f.streams().count()).sum::<usize>();
        n += usize::from(m.rtcp().is_some()) + usize::from(m.rtcp_mux()) + usize::from(m.is_bfcp());
        n += usize::from(m.connection().is_some()) + usize::from(m.has_content(b"slides"));
        n += m.label().map_or(0, <[u8]>::len) + m.mid().map_or(0, <[u8]>::len);
        n += usize::from(m.direction() == Direction::Inactive)
            + m.floorctrl().map_or(0, <[u8]>::len);
    }
    n
}

#[test]
fn every_prefix_parses_or_fails_without_panic() {
    for seed in [OFFER, ANSWER] {
        for cut in 0..=seed.len() {
            if let Ok(sdp) = Sdp::parse(&seed.as_bytes()[..cut]) {
                touch(&sdp);
                assert!(sdp.media().count() <= MAX_MEDIA);
            }
        }
    }
}

#[test]
fn random_mutations_never_panic() {
    let mut rng = Rng(0x5eed_0002);
    for round in 0..20_000 {
        let seed = if round % 2 == 0 { OFFER } else { ANSWER };
        let input = rng.mutate(seed.as_bytes());
        if let Ok(sdp) = Sdp::parse(&input) {
            touch(&sdp);
        }
    }
}
