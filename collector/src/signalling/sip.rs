//! SIP message view (RFC 3261 §7).
//!
//! ```text
//! INVITE sip:bob@biloxi.example.com SIP/2.0      <- start line: request ...
//! SIP/2.0 200 OK                                  <-             ... or response
//! Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds
//! To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf
//! From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
//! Call-ID: a84b4c76e66710@pc33.atlanta.example.com
//! CSeq: 314159 INVITE
//! Subject: a header folded
//!   onto a second line                           <- folding: a line starting with SP/HT
//! Content-Type: application/sdp
//! Content-Length: 142
//!                                                 <- empty line ends the headers
//! v=0 ...                                         <- body: Content-Length bytes
//! ```
//!
//! [`SipMessage::parse`] checks the whole header block once: the start line, every header
//! line's shape, at most [`MAX_HEADER_LINES`] lines, at most [`MAX_MESSAGE_LEN`] bytes,
//! Call-ID, CSeq, From and To present, one Content-Length. After that no accessor panics
//! (they slice with `get` and re-walk the validated block). Over a stream
//! ([`Framing::Stream`]) Content-Length is required and the message ends where it says;
//! in a datagram it is optional and the datagram ends the message.

use super::header::{is_token_char, CSeq, ContentType, HeaderName, Method, NameAddr, Via};
use super::text::{eq_ci, is_lws, parse_u32, trim};

/// Largest SIP message accepted, header and body (a UDP datagram's maximum; a TCP message
/// longer than this is a hostile or broken stream, and the reassembler's buffer is
/// bounded by it).
pub const MAX_MESSAGE_LEN: usize = 65_535;

/// Most header lines (folded continuation lines included) in one message. Real messages
/// carry 10 to 40; the bound keeps a message of tiny headers from being walked at length.
pub const MAX_HEADER_LINES: usize = 256;

/// How the message is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// A UDP datagram holds exactly one message; Content-Length is optional.
    Datagram,
    /// A byte stream (TCP) holds messages back to back; Content-Length is required.
    Stream,
}

/// Why bytes are not a SIP message. Each variant is one counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum SipError {
    /// Stream only: the message is not complete yet.
    #[error("sip message incomplete")]
    Incomplete,
    /// The first line is neither a request line nor a status line.
    #[error("no sip start line")]
    BadStartLine,
    /// No empty line ends the header block.
    #[error("sip header block has no end")]
    UnterminatedHeaders,
    /// A header line without a name and colon.
    #[error("malformed sip header line")]
    BadHeaderLine,
    /// More than [`MAX_HEADER_LINES`] header lines.
    #[error("too many sip header lines")]
    TooManyHeaders,
    /// More than [`MAX_MESSAGE_LEN`] bytes.
    #[error("sip message larger than 64 KiB")]
    Oversize,
    /// A Content-Length that is not a number, or two that disagree.
    #[error("invalid content-length")]
    BadContentLength,
    /// Stream only: no Content-Length, so the end of the message is unknown.
    #[error("content-length missing on a stream transport")]
    MissingContentLength,
    /// Datagram only: fewer body bytes than Content-Length.
    #[error("body shorter than its content-length")]
    BodyTruncated,
    /// A mandatory header (Call-ID, CSeq, From, To) is missing, or CSeq does not parse.
    #[error("missing or invalid call-id, cseq, from or to")]
    MissingMandatoryHeader,
}

/// The first line of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartLine<'a> {
    /// `Method SP Request-URI SP SIP/2.0`.
    Request {
        /// The method.
        method: Method<'a>,
        /// The Request-URI.
        uri: &'a [u8],
    },
    /// `SIP/2.0 SP Status-Code SP Reason-Phrase`.
    Response {
        /// 100..=699.
        status: u16,
        /// The reason phrase (may be empty).
        reason: &'a [u8],
    },
}

/// One header field: its name and its raw value (folded lines included, so the value
/// may contain CR LF followed by white space; the value parsers treat that as LWS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    /// The name, compact forms folded into the long form.
    pub name: HeaderName<'a>,
    /// The name as written.
    pub raw_name: &'a [u8],
    /// The value after the colon, trimmed.
    pub value: &'a [u8],
}

/// A validated, zero-copy view of one SIP message. `Debug` shows the start line, Call-ID
/// and CSeq, not the body (an SDP body may hold `a=crypto` keys).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SipMessage<'a> {
    /// The whole message: start line to the end of the body.
    buf: &'a [u8],
    start_line: StartLine<'a>,
    /// The header lines (after the start line, before the empty line).
    header_block: &'a [u8],
    body: &'a [u8],
    call_id: &'a [u8],
    cseq: CSeq<'a>,
    from: &'a [u8],
    to: &'a [u8],
    content_type: Option<&'a [u8]>,
}

impl std::fmt::Debug for SipMessage<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipMessage")
            .field("start_line", &self.start_line)
            .field("call_id", &String::from_utf8_lossy(self.call_id))
            .field("cseq", &self.cseq)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// What the header walk found, before the body is located.
#[derive(Default)]
struct Found<'a> {
    call_id: Option<&'a [u8]>,
    cseq: Option<&'a [u8]>,
    from: Option<&'a [u8]>,
    to: Option<&'a [u8]>,
    content_type: Option<&'a [u8]>,
    content_length: Option<usize>,
}

impl<'a> SipMessage<'a> {
    /// Parses the message at the start of `buf`. Returns the view and the number of bytes
    /// it occupies (for a stream, where the next message starts; for a datagram, the
    /// whole datagram).
    pub fn parse(buf: &'a [u8], framing: Framing) -> Result<(Self, usize), SipError> {
        let head_end = match header_end(buf) {
            Some(end) => end,
            None if framing == Framing::Stream && buf.len() < MAX_MESSAGE_LEN => {
                // Still check what we have, so a hopeless stream is refused early.
                pre_check(buf)?;
                return Err(SipError::Incomplete);
            }
            None if buf.len() >= MAX_MESSAGE_LEN => return Err(SipError::Oversize),
            None => return Err(SipError::UnterminatedHeaders),
        };
        let (line_end, body_start) = head_end;
        let head = buf.get(..line_end).unwrap_or(&[]);
        let first_eol = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
        let start_line = parse_start_line(strip_cr(head.get(..first_eol).unwrap_or(&[])))?;
        let header_block = head.get(first_eol + 1..).unwrap_or(&[]);
        let found = walk_headers(header_block)?;
        let available = buf.len().saturating_sub(body_start);
        let body_len = match (found.content_length, framing) {
            (Some(len), _) if len > MAX_MESSAGE_LEN => return Err(SipError::Oversize),
            (Some(len), Framing::Stream) if len > available => {
                return Err(if body_start + len > MAX_MESSAGE_LEN {
                    SipError::Oversize
                } else {
                    SipError::Incomplete
                })
            }
            (Some(len), Framing::Datagram) if len > available => {
                return Err(SipError::BodyTruncated)
            }
            (Some(len), _) => len,
            (None, Framing::Stream) => return Err(SipError::MissingContentLength),
            (None, Framing::Datagram) => available,
        };
        let end = body_start + body_len;
        if end > MAX_MESSAGE_LEN {
            return Err(SipError::Oversize);
        }
        let mandatory = SipError::MissingMandatoryHeader;
        let cseq = found.cseq.and_then(CSeq::parse).ok_or(mandatory)?;
        let message = SipMessage {
            buf: buf.get(..end).unwrap_or(&[]),
            start_line,
            header_block,
            body: buf.get(body_start..end).unwrap_or(&[]),
            call_id: found.call_id.filter(|c| !c.is_empty()).ok_or(mandatory)?,
            cseq,
            from: found.from.ok_or(mandatory)?,
            to: found.to.ok_or(mandatory)?,
            content_type: found.content_type,
        };
        let consumed = match framing {
            Framing::Stream => end,
            Framing::Datagram => buf.len(),
        };
        Ok((message, consumed))
    }

    /// True when `line` (without its line break) is a request line or a status line: the
    /// TCP reassembler's test for where a message may start.
    pub(crate) fn parse_start_line_only(line: &[u8]) -> bool {
        parse_start_line(line).is_ok()
    }

    /// The message bytes, start line to end of body.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The start line.
    pub fn start_line(&self) -> StartLine<'a> {
        self.start_line
    }

    /// The method of a request, `None` for a response.
    pub fn method(&self) -> Option<Method<'a>> {
        match self.start_line {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code of a response, `None` for a request.
    pub fn status(&self) -> Option<u16> {
        match self.start_line {
            StartLine::Response { status, .. } => Some(status),
            StartLine::Request { .. } => None,
        }
    }

    /// The Call-ID (trimmed).
    pub fn call_id(&self) -> &'a [u8] {
        self.call_id
    }

    /// The CSeq number and method.
    pub fn cseq(&self) -> CSeq<'a> {
        self.cseq
    }

    /// The From header: display name, URI, tag.
    pub fn from(&self) -> NameAddr<'a> {
        NameAddr::parse(self.from)
    }

    /// The To header: display name, URI, tag.
    pub fn to(&self) -> NameAddr<'a> {
        NameAddr::parse(self.to)
    }

    /// The Content-Type, if given.
    pub fn content_type(&self) -> Option<ContentType<'a>> {
        self.content_type.map(ContentType::parse)
    }

    /// The body (empty when there is none).
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// Every header in order.
    pub fn headers(&self) -> impl Iterator<Item = Header<'a>> {
        header_lines(self.header_block).filter_map(|line| {
            let (raw_name, value) = split_header(line)?;
            Some(Header {
                name: HeaderName::parse(raw_name),
                raw_name,
                value,
            })
        })
    }

    /// The value of the first header named `name` (compact forms match long ones; other
    /// names compare without case).
    pub fn header(&self, name: HeaderName<'_>) -> Option<&'a [u8]> {
        self.headers()
            .find(|h| match (h.name, name) {
                (HeaderName::Other(a), HeaderName::Other(b)) => eq_ci(a, b),
                (a, b) => a == b,
            })
            .map(|h| h.value)
    }

    /// Every Via hop in order, across Via headers and comma-separated values.
    pub fn vias(&self) -> impl Iterator<Item = Via<'a>> {
        self.headers()
            .filter(|h| h.name == HeaderName::Via)
            .flat_map(|h| Via::parse_all(h.value))
    }
}

/// Where the header block ends: (index of the LF ending the last header line, or of the
/// start line's LF; index of the first body byte). `None` without an empty line.
fn header_end(buf: &[u8]) -> Option<(usize, usize)> {
    let limit = buf.len().min(MAX_MESSAGE_LEN);
    let scan = buf.get(..limit)?;
    let mut i = 0;
    while let Some(off) = scan.get(i..)?.iter().position(|&b| b == b'\n') {
        let lf = i + off;
        // An empty line follows this LF: "\n\n" or "\n\r\n".
        match (scan.get(lf + 1), scan.get(lf + 2)) {
            (Some(b'\n'), _) => return Some((lf, lf + 2)),
            (Some(b'\r'), Some(b'\n')) => return Some((lf, lf + 3)),
            _ => i = lf + 1,
        }
    }
    None
}

/// Checks what an incomplete stream message already shows, so that garbage and header
/// floods are refused before 64 KiB of them have been buffered.
fn pre_check(buf: &[u8]) -> Result<(), SipError> {
    let Some(eol) = buf.iter().position(|&b| b == b'\n') else {
        // A start line longer than any real one is not going to become SIP.
        return if buf.len() > 4096 {
            Err(SipError::BadStartLine)
        } else {
            Ok(())
        };
    };
    parse_start_line(strip_cr(buf.get(..eol).unwrap_or(&[])))?;
    let complete_lines = buf.get(eol + 1..).unwrap_or(&[]);
    let last_lf = complete_lines.iter().rposition(|&b| b == b'\n');
    let block = last_lf.and_then(|i| complete_lines.get(..i)).unwrap_or(&[]);
    if !block.is_empty() {
        walk_shape(block)?;
    }
    Ok(())
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn parse_start_line(line: &[u8]) -> Result<StartLine<'_>, SipError> {
    let bad = SipError::BadStartLine;
    let mut parts = line.splitn(3, |&b| b == b' ');
    let (first, second, third) = (parts.next(), parts.next(), parts.next());
    let (Some(first), Some(second), Some(third)) = (first, second, third) else {
        return Err(bad);
    };
    if is_sip_version(first) {
        let status = parse_u32(second)
            .filter(|s| (100..=699).contains(s))
            .ok_or(bad)?;
        return Ok(StartLine::Response {
            status: u16::try_from(status).map_err(|_| bad)?,
            reason: third,
        });
    }
    if first.is_empty() || !first.iter().all(|&b| is_token_char(b)) {
        return Err(bad);
    }
    if second.is_empty() || !is_sip_version(third) {
        return Err(bad);
    }
    Ok(StartLine::Request {
        method: Method::parse(first),
        uri: second,
    })
}

fn is_sip_version(s: &[u8]) -> bool {
    eq_ci(s, b"SIP/2.0")
}

/// Header lines with their folded continuations joined: each item is one logical line
/// (a slice of the block that may contain CR LF + white space inside).
fn header_lines(block: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(block).filter(|b| !b.is_empty());
    std::iter::from_fn(move || {
        let current = rest?;
        let mut search = 0;
        loop {
            match current.get(search..)?.iter().position(|&b| b == b'\n') {
                // A continuation line starts with SP or HT: keep going.
                Some(off) if matches!(current.get(search + off + 1), Some(b' ' | b'\t')) => {
                    search += off + 1;
                }
                Some(off) => {
                    let lf = search + off;
                    rest = current.get(lf + 1..).filter(|r| !r.is_empty());
                    return current.get(..lf).map(strip_cr);
                }
                None => {
                    rest = None;
                    return Some(strip_cr(current));
                }
            }
        }
    })
}

/// `name: value` -> (name, trimmed value); `None` when the line has no token before a
/// colon.
fn split_header(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = trim(line.get(..colon)?);
    if name.is_empty() || !name.iter().all(|&b| is_token_char(b)) {
        return None;
    }
    Some((name, trim(line.get(colon + 1..)?)))
}

/// Checks the shape of every header line and the line bound.
fn walk_shape(block: &[u8]) -> Result<(), SipError> {
    // Physical lines (continuations included) count against the bound.
    let physical = block.iter().filter(|&&b| b == b'\n').count() + 1;
    if physical > MAX_HEADER_LINES {
        return Err(SipError::TooManyHeaders);
    }
    if block.first().is_some_and(|&b| b == b' ' || b == b'\t') {
        // A continuation with nothing to continue.
        return Err(SipError::BadHeaderLine);
    }
    header_lines(block).try_for_each(|line| {
        split_header(line)
            .map(|_| ())
            .ok_or(SipError::BadHeaderLine)
    })
}

/// Validates the header block and records the headers the view keeps.
fn walk_headers(block: &[u8]) -> Result<Found<'_>, SipError> {
    walk_shape(block)?;
    let mut found = Found::default();
    for line in header_lines(block) {
        let Some((name, value)) = split_header(line) else {
            continue; // walk_shape refused these already
        };
        match HeaderName::parse(name) {
            HeaderName::CallId => {
                found.call_id.get_or_insert(value);
            }
            HeaderName::CSeq => {
                found.cseq.get_or_insert(value);
            }
            HeaderName::From => {
                found.from.get_or_insert(value);
            }
            HeaderName::To => {
                found.to.get_or_insert(value);
            }
            HeaderName::ContentType => {
                found.content_type.get_or_insert(value);
            }
            HeaderName::ContentLength => {
                // Only digits (LWS trimmed); two different values make the message
                // ambiguous to frame, which is how request smuggling starts.
                let len = parse_u32(value)
                    .and_then(|n| usize::try_from(n).ok())
                    .filter(|_| !value.iter().any(|&b| is_lws(b)))
                    .ok_or(SipError::BadContentLength)?;
                match found.content_length {
                    Some(previous) if previous != len => return Err(SipError::BadContentLength),
                    _ => found.content_length = Some(len),
                }
            }
            _ => {}
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests;
