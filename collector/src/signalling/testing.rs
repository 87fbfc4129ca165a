//! Fixtures shared by the signalling tests: a message builder, the SDPs of a VTC call,
//! and a deterministic byte mutator for the no-panic tests.

/// A SIP message from its start line, headers and body, with a correct Content-Length
/// appended unless `content_length` says otherwise (`Some(None)` omits it).
pub(crate) fn message(start: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    message_with_length(start, headers, body, Some(Some(body.len())))
}

pub(crate) fn message_with_length(
    start: &str,
    headers: &[(&str, &str)],
    body: &str,
    content_length: Option<Option<usize>>,
) -> Vec<u8> {
    let mut m = format!("{start}\r\n");
    for (name, value) in headers {
        m.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(Some(len)) = content_length {
        m.push_str(&format!("Content-Length: {len}\r\n"));
    }
    m.push_str("\r\n");
    m.push_str(body);
    m.into_bytes()
}

/// The headers every message of the test dialog carries: Call-ID, From (caller tag), To
/// (callee tag when given), CSeq.
pub(crate) fn dialog_headers<'a>(
    cseq: &'a str,
    to_tag: Option<&'a str>,
    from_is_callee: bool,
) -> Vec<(&'static str, String)> {
    let caller = "\"Bot Alice\" <sip:alice@bot.example.com>;tag=caller1".to_string();
    let callee = match to_tag {
        Some(tag) => format!("Room 30 <sip:room30@vtc.example.com>;tag={tag}"),
        None => "Room 30 <sip:room30@vtc.example.com>".to_string(),
    };
    let (from, to) = if from_is_callee {
        (callee, caller)
    } else {
        (caller, callee)
    };
    vec![
        (
            "Via",
            "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKtest".into(),
        ),
        ("From", from),
        ("To", to),
        ("Call-ID", "call-1@bot.example.com".into()),
        ("CSeq", cseq.into()),
    ]
}

/// A message of the test dialog.
pub(crate) fn dialog_message(
    start: &str,
    cseq: &str,
    to_tag: Option<&str>,
    from_is_callee: bool,
    sdp: &str,
) -> Vec<u8> {
    let mut headers = dialog_headers(cseq, to_tag, from_is_callee);
    if !sdp.is_empty() {
        headers.push(("Content-Type", "application/sdp".into()));
    }
    let refs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    message(start, &refs, sdp)
}

/// The bot's offer: audio (G.722, Opus, telephone-event), main video (H.264), slides
/// video, BFCP; SDES keys on audio.
pub(crate) const OFFER: &str = "v=0\r\n\
o=bot 1 1 IN IP4 192.0.2.10\r\n\
s=-\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
m=audio 50000 RTP/SAVP 9 96 101\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:96 opus/48000/2\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4\r\n\
a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj\r\n\
a=sendrecv\r\n\
m=video 50002 RTP/AVP 100\r\n\
a=rtpmap:100 H264/90000\r\n\
a=content:main\r\n\
a=label:11\r\n\
m=video 50004 RTP/AVP 100\r\n\
a=rtpmap:100 H264/90000\r\n\
a=label:12\r\n\
a=rtcp-mux\r\n\
m=application 50006 TCP/BFCP *\r\n\
a=floorctrl:c-s\r\n\
a=floorid:1 mstrm:12\r\n";

/// The device's answer: it picks tag 2, G.722, muxes nothing, puts video on IPv6.
pub(crate) const ANSWER: &str = "v=0\r\n\
o=room30 7 7 IN IP4 198.51.100.20\r\n\
s=-\r\n\
c=IN IP4 198.51.100.20\r\n\
t=0 0\r\n\
m=audio 40000 RTP/SAVP 9 101\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=rtcp:40011\r\n\
a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk\r\n\
m=video 40002 RTP/AVP 100\r\n\
c=IN IP6 2001:db8::20\r\n\
a=rtpmap:100 H264/90000\r\n\
a=label:21\r\n\
m=video 40004 RTP/AVP 100\r\n\
a=rtpmap:100 H264/90000\r\n\
a=label:22\r\n\
a=rtcp-mux\r\n\
a=recvonly\r\n\
m=application 40006 TCP/BFCP *\r\n\
a=floorctrl:s-only\r\n\
a=floorid:1 mstrm:22\r\n";

/// A deterministic xorshift generator for mutation tests.
pub(crate) struct Rng(pub u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// `seed` with a few bytes replaced, inserted or removed, sometimes cut.
    pub(crate) fn mutate(&mut self, seed: &[u8]) -> Vec<u8> {
        let mut out = seed.to_vec();
        let edits = 1 + self.next() % 8;
        for _ in 0..edits {
            let at = if out.is_empty() {
                0
            } else {
                (self.next() as usize) % out.len()
            };
            // Bytes that matter to the parsers more often than random ones.
            const INTERESTING: &[u8] = b"\r\n :;=/,<>\"\\-0123456789\x00\xff\tvmac";
            let byte = if self.next().is_multiple_of(2) {
                INTERESTING[(self.next() as usize) % INTERESTING.len()]
            } else {
                self.next() as u8
            };
            match self.next() % 3 {
                0 if !out.is_empty() => out[at] = byte,
                1 => out.insert(at, byte),
                _ if !out.is_empty() => {
                    out.remove(at);
                }
                _ => out.push(byte),
            }
        }
        if self.next().is_multiple_of(4) {
            let cut = (self.next() as usize) % (out.len() + 1);
            out.truncate(cut);
        }
        out
    }
}
