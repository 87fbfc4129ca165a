//! SIP header names (with RFC 3261 §7.3.3 compact forms) and the structured values the
//! dialog tracker reads: name-addr (From, To), CSeq, Via, Content-Type.
//!
//! Every value is a view into the message; parsing is lazy and total (a value that does
//! not parse yields `None` or an empty slice, never a panic).

use super::text::{eq_ci, param, parse_u32, split_outside_quotes, trim, unquote};

/// A header field name, compact forms folded into their long form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderName<'a> {
    /// `Call-ID`, compact `i`.
    CallId,
    /// `CSeq`.
    CSeq,
    /// `From`, compact `f`.
    From,
    /// `To`, compact `t`.
    To,
    /// `Via`, compact `v`.
    Via,
    /// `Contact`, compact `m`.
    Contact,
    /// `Content-Length`, compact `l`.
    ContentLength,
    /// `Content-Type`, compact `c`.
    ContentType,
    /// `Content-Encoding`, compact `e`.
    ContentEncoding,
    /// `Supported`, compact `k`.
    Supported,
    /// `Subject`, compact `s`.
    Subject,
    /// `Event`, compact `o` (RFC 6665).
    Event,
    /// `Refer-To`, compact `r` (RFC 3515).
    ReferTo,
    /// `Session-Expires`, compact `x` (RFC 4028).
    SessionExpires,
    /// Any other name, as written.
    Other(&'a [u8]),
}

impl<'a> HeaderName<'a> {
    /// Recognises `name` case-insensitively, compact forms included.
    pub fn parse(name: &'a [u8]) -> Self {
        const TABLE: [(&[u8], &[u8], HeaderName<'static>); 14] = [
            (b"call-id", b"i", HeaderName::CallId),
            (b"cseq", b"", HeaderName::CSeq),
            (b"from", b"f", HeaderName::From),
            (b"to", b"t", HeaderName::To),
            (b"via", b"v", HeaderName::Via),
            (b"contact", b"m", HeaderName::Contact),
            (b"content-length", b"l", HeaderName::ContentLength),
            (b"content-type", b"c", HeaderName::ContentType),
            (b"content-encoding", b"e", HeaderName::ContentEncoding),
            (b"supported", b"k", HeaderName::Supported),
            (b"subject", b"s", HeaderName::Subject),
            (b"event", b"o", HeaderName::Event),
            (b"refer-to", b"r", HeaderName::ReferTo),
            (b"session-expires", b"x", HeaderName::SessionExpires),
        ];
        TABLE
            .iter()
            .find(|(long, short, _)| eq_ci(name, long) || (!short.is_empty() && eq_ci(name, short)))
            .map_or(HeaderName::Other(name), |(_, _, known)| *known)
    }
}

/// A `name-addr` or `addr-spec` with its header parameters (From, To, Contact):
/// `"Alice" <sip:alice@example.com>;tag=1928301774`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// The display name without quotes (escapes left in place), if any.
    pub display_name: Option<&'a [u8]>,
    /// The URI between `<` and `>` (or the whole `addr-spec`).
    pub uri: &'a [u8],
    /// The `tag` parameter (RFC 3261 §19.3), if any.
    pub tag: Option<&'a [u8]>,
}

impl<'a> NameAddr<'a> {
    /// Parses a From/To/Contact value. Total: odd input gives an odd but bounded view.
    pub fn parse(value: &'a [u8]) -> Self {
        let value = trim(value);
        // The first `<` outside a quoted display name opens the URI.
        let mut quoted = false;
        let mut escaped = false;
        let mut open = None;
        for (i, &b) in value.iter().enumerate() {
            match b {
                _ if escaped => escaped = false,
                b'\\' if quoted => escaped = true,
                b'"' => quoted = !quoted,
                b'<' if !quoted => {
                    open = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let (display_name, uri, params) = match open {
            Some(i) => {
                let after = value.get(i + 1..).unwrap_or(&[]);
                let close = after.iter().position(|&b| b == b'>').unwrap_or(after.len());
                let display = unquote(trim(value.get(..i).unwrap_or(&[])));
                (
                    Some(display).filter(|d| !d.is_empty()),
                    trim(after.get(..close).unwrap_or(&[])),
                    after.get(close + 1..).unwrap_or(&[]),
                )
            }
            // addr-spec: parameters after the first `;` belong to the header.
            None => {
                let semi = value.iter().position(|&b| b == b';').unwrap_or(value.len());
                (
                    None,
                    trim(value.get(..semi).unwrap_or(&[])),
                    value.get(semi..).unwrap_or(&[]),
                )
            }
        };
        NameAddr {
            display_name,
            uri,
            tag: param(params, b"tag").filter(|t| !t.is_empty()),
        }
    }
}

/// The methods the dialog tracker acts on; the others are kept by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method<'a> {
    /// Starts a session or changes it (re-INVITE).
    Invite,
    /// Confirms a final response to INVITE; may carry the answer.
    Ack,
    /// Ends a dialog.
    Bye,
    /// Cancels a pending INVITE.
    Cancel,
    /// Changes the session before or after it is established (RFC 3311).
    Update,
    /// Acknowledges a reliable provisional response (RFC 3262); may carry SDP.
    Prack,
    /// Anything else (REGISTER, OPTIONS, INFO, ...), as written (methods are
    /// case-sensitive).
    Other(&'a [u8]),
}

impl<'a> Method<'a> {
    /// Recognises a method token (case-sensitive, RFC 3261 §7.1).
    pub fn parse(token: &'a [u8]) -> Self {
        match token {
            b"INVITE" => Method::Invite,
            b"ACK" => Method::Ack,
            b"BYE" => Method::Bye,
            b"CANCEL" => Method::Cancel,
            b"UPDATE" => Method::Update,
            b"PRACK" => Method::Prack,
            other => Method::Other(other),
        }
    }
}

/// A `CSeq` value: `4711 INVITE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CSeq<'a> {
    /// The sequence number.
    pub number: u32,
    /// The method of the transaction.
    pub method: Method<'a>,
}

impl<'a> CSeq<'a> {
    /// Parses `1*DIGIT LWS Method`; `None` when either part is missing or invalid.
    pub fn parse(value: &'a [u8]) -> Option<Self> {
        let value = trim(value);
        let split = value.iter().position(|&b| super::text::is_lws(b))?;
        let number = parse_u32(value.get(..split)?)?;
        let method = trim(value.get(split..)?);
        if method.is_empty() || !method.iter().all(|&b| is_token_char(b)) {
            return None;
        }
        Some(CSeq {
            number,
            method: Method::parse(method),
        })
    }
}

/// One `via-parm` of a Via header: `SIP/2.0/UDP pc33.example.com:5060;branch=z9hG4bK776`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Via<'a> {
    /// The transport (`UDP`, `TCP`, `TLS`, `WS`, ...).
    pub transport: &'a [u8],
    /// `host[:port]` of the hop that sent the request.
    pub sent_by: &'a [u8],
    /// The `branch` parameter (the transaction id), if any.
    pub branch: Option<&'a [u8]>,
}

impl<'a> Via<'a> {
    /// Every `via-parm` of one Via header value (they may be comma-separated).
    pub fn parse_all(value: &'a [u8]) -> impl Iterator<Item = Via<'a>> {
        split_outside_quotes(value, b',').filter_map(Via::parse_one)
    }

    fn parse_one(part: &'a [u8]) -> Option<Via<'a>> {
        let part = trim(part);
        let semi = part.iter().position(|&b| b == b';').unwrap_or(part.len());
        let (head, params) = (part.get(..semi)?, part.get(semi..)?);
        // `SIP / 2.0 / UDP` may carry LWS around the slashes; the third part ends at
        // the LWS before sent-by.
        let mut slashes = head.iter().enumerate().filter(|(_, &b)| b == b'/');
        let (second, _) = slashes.nth(1)?;
        let rest = trim(head.get(second + 1..)?);
        let gap = rest.iter().position(|&b| super::text::is_lws(b))?;
        let transport = rest.get(..gap)?;
        let sent_by = trim(rest.get(gap..)?);
        (!transport.is_empty() && !sent_by.is_empty()).then_some(Via {
            transport,
            sent_by,
            branch: param(params, b"branch"),
        })
    }
}

/// A `Content-Type` value: `multipart/mixed;boundary="unique-boundary-1"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContentType<'a> {
    /// `type/subtype`, trimmed.
    pub media_type: &'a [u8],
    /// The parameters after the first `;` (with it).
    pub params: &'a [u8],
}

impl<'a> ContentType<'a> {
    /// Splits a Content-Type value into its media type and parameters.
    pub fn parse(value: &'a [u8]) -> Self {
        let semi = value.iter().position(|&b| b == b';').unwrap_or(value.len());
        ContentType {
            media_type: trim(value.get(..semi).unwrap_or(&[])),
            params: value.get(semi..).unwrap_or(&[]),
        }
    }

    /// True for `application/sdp` (any case).
    pub fn is_sdp(&self) -> bool {
        eq_ci(self.media_type, b"application/sdp")
    }

    /// True for any `multipart/*` type (mixed, alternative, related, ...).
    pub fn is_multipart(&self) -> bool {
        self.media_type.len() > 10
            && self
                .media_type
                .get(..10)
                .is_some_and(|t| eq_ci(t, b"multipart/"))
    }

    /// The `boundary` parameter, unquoted.
    pub fn boundary(&self) -> Option<&'a [u8]> {
        param(self.params, b"boundary").filter(|b| !b.is_empty())
    }
}

/// RFC 3261 `token` characters (method names, header names).
#[inline]
pub(crate) fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_long_names_are_the_same_header_in_any_case() {
        for (name, want) in [
            (&b"i"[..], HeaderName::CallId),
            (b"CALL-ID", HeaderName::CallId),
            (b"f", HeaderName::From),
            (b"T", HeaderName::To),
            (b"l", HeaderName::ContentLength),
            (b"c", HeaderName::ContentType),
            (b"m", HeaderName::Contact),
            (b"v", HeaderName::Via),
            (b"k", HeaderName::Supported),
            (b"s", HeaderName::Subject),
            (b"e", HeaderName::ContentEncoding),
            (b"x", HeaderName::SessionExpires),
            (b"cSeQ", HeaderName::CSeq),
        ] {
            assert_eq!(HeaderName::parse(name), want, "{name:?}");
        }
        assert_eq!(HeaderName::parse(b"X-Foo"), HeaderName::Other(b"X-Foo"));
    }

    #[test]
    fn name_addr_forms() {
        // Quoted display name with an escaped quote and a `<` inside the quotes.
        let a =
            NameAddr::parse(br#" "Bob \"<B>\"" <sip:bob@example.com;transport=tcp>;tag=a6c85cf "#);
        assert_eq!(a.display_name, Some(&br#"Bob \"<B>\""#[..]));
        assert_eq!(a.uri, b"sip:bob@example.com;transport=tcp");
        assert_eq!(a.tag, Some(&b"a6c85cf"[..]));
        // Unquoted display name, no tag.
        let b = NameAddr::parse(b"Room 30 <sip:room30@example.com>");
        assert_eq!(b.display_name, Some(&b"Room 30"[..]));
        assert_eq!(b.tag, None);
        // addr-spec: the parameter after `;` is the header's.
        let c = NameAddr::parse(b"sip:carol@example.com;tag=xyz");
        assert_eq!(c.display_name, None);
        assert_eq!(c.uri, b"sip:carol@example.com");
        assert_eq!(c.tag, Some(&b"xyz"[..]));
        // Garbage: bounded, no panic.
        let d = NameAddr::parse(b"<<<\"");
        assert_eq!(d.uri, b"<<\"");
    }

    #[test]
    fn cseq_needs_a_number_and_a_method() {
        assert_eq!(
            CSeq::parse(b" 4711  INVITE ").unwrap(),
            CSeq {
                number: 4711,
                method: Method::Invite
            }
        );
        assert_eq!(
            CSeq::parse(b"1 invite").unwrap().method,
            Method::Other(b"invite")
        );
        assert!(CSeq::parse(b"INVITE").is_none());
        assert!(CSeq::parse(b"99999999999 INVITE").is_none());
        assert!(CSeq::parse(b"1 IN VITE").is_none());
    }

    #[test]
    fn via_lists_and_spaced_protocols() {
        let all: Vec<Via> = Via::parse_all(
            b"SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;rport, SIP / 2.0 / TCP host.example.com",
        )
        .collect();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].transport, b"UDP");
        assert_eq!(all[0].sent_by, b"192.0.2.1:5060");
        assert_eq!(all[0].branch, Some(&b"z9hG4bK1"[..]));
        assert_eq!(all[1].transport, b"TCP");
        assert_eq!(all[1].sent_by, b"host.example.com");
        assert_eq!(Via::parse_all(b"garbage").count(), 0);
    }

    #[test]
    fn random_header_values_never_panic_and_views_stay_inside() {
        let seeds: [&[u8]; 4] = [
            br#""Bob \"B\"" <sip:bob@example.com;x=y>;tag=a6c85cf;p="q""#,
            b"SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1, SIP/2.0/TCP h;received=1",
            b"4711 INVITE",
            br#"multipart/mixed; boundary="a b";x=1"#,
        ];
        let mut rng = crate::signalling::testing::Rng(0x5eed_0007);
        let inside = |part: &[u8], whole: &[u8]| {
            let (start, base) = (part.as_ptr() as usize, whole.as_ptr() as usize);
            part.is_empty() || (start >= base && start + part.len() <= base + whole.len())
        };
        for round in 0..20_000 {
            let value = rng.mutate(seeds[round % seeds.len()]);
            let a = NameAddr::parse(&value);
            assert!(inside(a.uri, &value) && a.tag.is_none_or(|t| inside(t, &value)));
            assert!(a.display_name.is_none_or(|d| inside(d, &value)));
            for via in Via::parse_all(&value) {
                assert!(inside(via.sent_by, &value) && inside(via.transport, &value));
            }
            let _ = CSeq::parse(&value);
            let ct = ContentType::parse(&value);
            assert!(ct.boundary().is_none_or(|b| inside(b, &value)));
        }
    }

    #[test]
    fn content_type_boundary_quoted_or_not() {
        let q = ContentType::parse(br#"multipart/mixed;boundary="unique boundary""#);
        assert!(q.is_multipart() && !q.is_sdp());
        assert_eq!(q.boundary(), Some(&b"unique boundary"[..]));
        let u = ContentType::parse(b"Multipart/Alternative ; BOUNDARY=abc");
        assert!(u.is_multipart());
        assert_eq!(u.boundary(), Some(&b"abc"[..]));
        assert!(ContentType::parse(b"Application/SDP").is_sdp());
    }
}
