//! Finding the SDP in a SIP body: `application/sdp` itself, or the SDP part of a
//! `multipart/mixed` or `multipart/alternative` body (RFC 2046 §5.1; RFC 5621 for SIP),
//! nested up to [`MAX_DEPTH`] levels.
//!
//! ```text
//! Content-Type: multipart/mixed;boundary=unique-boundary-1
//!
//! --unique-boundary-1
//! Content-Type: application/sdp
//!
//! v=0 ...
//! --unique-boundary-1
//! Content-Type: application/isup
//!
//! ...
//! --unique-boundary-1--
//! ```
//!
//! A part's content ends at the CRLF before the next delimiter line. Zero-copy: the
//! result is a slice of the body.

use super::header::ContentType;
use super::text::{eq_ci, find, lines, trim};

/// Deepest nesting of multipart bodies searched (a SIP body nests one level in practice:
/// an alternative inside a mixed).
pub const MAX_DEPTH: usize = 4;

/// Most parts looked at in one multipart body.
pub const MAX_PARTS: usize = 32;

/// Why a body that should hold SDP gave none. Each variant is one counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum BodyError {
    /// A multipart Content-Type without a boundary parameter.
    #[error("multipart body without boundary")]
    NoBoundary,
    /// The boundary never appears, or a part has no header/content separator.
    #[error("malformed multipart body")]
    Malformed,
    /// Nested deeper than [`MAX_DEPTH`] or more than [`MAX_PARTS`] parts.
    #[error("multipart body nested too deep or too many parts")]
    TooDeep,
}

/// The SDP in a body of the given Content-Type: `Ok(None)` when the body carries none
/// (no body, another type, a multipart body without an SDP part).
pub fn find_sdp<'a>(
    content_type: Option<ContentType<'a>>,
    body: &'a [u8],
) -> Result<Option<&'a [u8]>, BodyError> {
    if body.is_empty() {
        return Ok(None);
    }
    match content_type {
        Some(ct) => find_in(ct, body, 0),
        // RFC 3261 §20.15: a body needs a Content-Type; one that starts like SDP is read
        // as SDP (some stacks omit it on ACKs).
        None => Ok(body.starts_with(b"v=0").then_some(body)),
    }
}

fn find_in<'a>(
    ct: ContentType<'a>,
    body: &'a [u8],
    depth: usize,
) -> Result<Option<&'a [u8]>, BodyError> {
    if ct.is_sdp() {
        return Ok(Some(body));
    }
    if !ct.is_multipart() {
        return Ok(None);
    }
    if depth >= MAX_DEPTH {
        return Err(BodyError::TooDeep);
    }
    let boundary = ct.boundary().ok_or(BodyError::NoBoundary)?;
    for (n, part) in parts(body, boundary)?.enumerate() {
        if n >= MAX_PARTS {
            return Err(BodyError::TooDeep);
        }
        let (headers, content) = split_part(part).ok_or(BodyError::Malformed)?;
        let part_type = lines(headers).find_map(|line| {
            let colon = line.iter().position(|&b| b == b':')?;
            let name = trim(line.get(..colon)?);
            (eq_ci(name, b"content-type") || eq_ci(name, b"c"))
                .then(|| ContentType::parse(line.get(colon + 1..).unwrap_or(&[])))
        });
        // RFC 2046 §5.1: a part without Content-Type is text/plain.
        if let Some(part_type) = part_type {
            if let Some(sdp) = find_in(part_type, content, depth + 1)? {
                return Ok(Some(sdp));
            }
        }
    }
    Ok(None)
}

/// The parts between `--boundary` delimiter lines, up to the closing `--boundary--`.
fn parts<'a>(
    body: &'a [u8],
    boundary: &'a [u8],
) -> Result<impl Iterator<Item = &'a [u8]>, BodyError> {
    // The first delimiter may open the body (no preamble) or follow a line break.
    let first = delimiter_at(body, boundary, 0).ok_or(BodyError::Malformed)?;
    let mut cursor = Some(first);
    Ok(std::iter::from_fn(move || {
        let (_, after) = cursor?;
        // A closing delimiter ends the list.
        if body.get(after..after + 2) == Some(b"--") {
            cursor = None;
            return None;
        }
        // Skip the rest of the delimiter line (transport padding) and its line break.
        let content_start = body
            .get(after..)?
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| after + i + 1)?;
        match delimiter_at(body, boundary, content_start) {
            Some((line_start, next_after)) => {
                cursor = Some((line_start, next_after));
                // The CRLF before the delimiter belongs to the delimiter.
                let mut end = line_start;
                if end > content_start && body.get(end - 1) == Some(&b'\n') {
                    end -= 1;
                    if end > content_start && body.get(end - 1) == Some(&b'\r') {
                        end -= 1;
                    }
                }
                body.get(content_start..end)
            }
            None => {
                // No closing delimiter: the rest is the last part (tolerated).
                cursor = None;
                body.get(content_start..)
            }
        }
    }))
}

/// The next `--boundary` at a line start at or after `from`: (its start, the index just
/// after `--boundary`).
fn delimiter_at(body: &[u8], boundary: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut at = from;
    loop {
        let rest = body.get(at..)?;
        let i = find(rest, b"--")?;
        let start = at + i;
        let line_start = start == 0 || body.get(start - 1) == Some(&b'\n');
        let name_end = start + 2 + boundary.len();
        if line_start && body.get(start + 2..name_end) == Some(boundary) {
            return Some((start, name_end));
        }
        at = start + 1;
    }
}

/// A part's headers and content, split at the empty line. A part that starts with the
/// empty line has no headers.
fn split_part(part: &[u8]) -> Option<(&[u8], &[u8])> {
    if let Some(content) = part
        .strip_prefix(b"\r\n")
        .or_else(|| part.strip_prefix(b"\n"))
    {
        return Some((&[], content));
    }
    let (at, len) = match (find(part, b"\r\n\r\n"), find(part, b"\n\n")) {
        (Some(a), Some(b)) if b < a => (b, 2),
        (Some(a), _) => (a, 4),
        (None, Some(b)) => (b, 2),
        (None, None) => return None,
    };
    Some((part.get(..at)?, part.get(at + len..)?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SDP: &[u8] =
        b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

    fn ct(s: &'static [u8]) -> Option<ContentType<'static>> {
        Some(ContentType::parse(s))
    }

    #[test]
    fn plain_sdp_and_other_types() {
        assert_eq!(find_sdp(ct(b"application/sdp"), SDP).unwrap(), Some(SDP));
        assert_eq!(find_sdp(ct(b"application/isup"), b"xx").unwrap(), None);
        assert_eq!(find_sdp(None, SDP).unwrap(), Some(SDP));
        assert_eq!(find_sdp(ct(b"application/sdp"), b"").unwrap(), None);
    }

    #[test]
    fn the_sdp_part_of_a_mixed_body_with_a_quoted_boundary() {
        // An ISUP part first (SIP-I), then the SDP; preamble and closing delimiter.
        let body = b"preamble\r\n--b1 x\r\nContent-Type: application/isup\r\n\r\n\x01\x02--b1 x\r\n\r\n--b1 x\r\nContent-Type: application/sdp\r\nContent-Disposition: session\r\n\r\nv=0\r\nm=audio 1 RTP/AVP 0\r\n\r\n--b1 x--\r\nepilogue";
        let sdp = find_sdp(ct(br#"multipart/mixed; boundary="b1 x""#), body)
            .unwrap()
            .unwrap();
        // The CRLF before the delimiter is not content: the SDP ends with its own CRLF.
        assert_eq!(sdp, b"v=0\r\nm=audio 1 RTP/AVP 0\r\n");
    }

    #[test]
    fn an_alternative_nested_in_a_mixed_body() {
        let body = b"--outer\r\nContent-Type: multipart/alternative;boundary=inner\r\n\r\n--inner\r\nContent-Type: text/plain\r\n\r\nhello\r\n--inner\r\nContent-Type: application/SDP\r\n\r\nv=0\r\n--inner--\r\n--outer--";
        let sdp = find_sdp(ct(b"multipart/mixed;boundary=outer"), body)
            .unwrap()
            .unwrap();
        assert_eq!(sdp, b"v=0");
    }

    #[test]
    fn hostile_multipart_bodies_are_errors_not_panics() {
        assert_eq!(
            find_sdp(ct(b"multipart/mixed"), b"--x\r\n\r\nv=0"),
            Err(BodyError::NoBoundary)
        );
        assert_eq!(
            find_sdp(ct(b"multipart/mixed;boundary=x"), b"no delimiter here"),
            Err(BodyError::Malformed)
        );
        // Nesting deeper than the bound: each level's only part is the next level.
        let mut body = b"v=0".to_vec();
        for level in (0..10).rev() {
            let head = format!(
                "--b{level}\r\nContent-Type: multipart/mixed;boundary=b{}\r\n\r\n",
                level + 1
            );
            body = [
                head.as_bytes(),
                &body,
                format!("\r\n--b{level}--").as_bytes(),
            ]
            .concat();
        }
        assert_eq!(
            find_sdp(ct(b"multipart/mixed;boundary=b0"), &body),
            Err(BodyError::TooDeep)
        );
        // Many parts, none of them SDP.
        let many = b"--p\r\nContent-Type: text/plain\r\n\r\nx\r\n".repeat(100);
        assert_eq!(
            find_sdp(ct(b"multipart/mixed;boundary=p"), &many),
            Err(BodyError::TooDeep)
        );
        // Every prefix of a good body: no panic, and any SDP found lies inside it.
        let body = b"--b\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n--b--";
        for cut in 0..=body.len() {
            if let Ok(Some(sdp)) = find_sdp(ct(b"multipart/mixed;boundary=b"), &body[..cut]) {
                assert!(inside(sdp, &body[..cut]));
            }
        }
    }

    fn inside(part: &[u8], whole: &[u8]) -> bool {
        let (start, base) = (part.as_ptr() as usize, whole.as_ptr() as usize);
        start >= base && start + part.len() <= base + whole.len()
    }

    #[test]
    fn random_multipart_bodies_never_panic() {
        let seed = b"--b1\r\nContent-Type: multipart/alternative;boundary=b2\r\n\r\n--b2\r\nc: application/sdp\r\n\r\nv=0\r\n--b2--\r\n--b1\r\nContent-Type: text/plain\r\n\r\nx\r\n--b1--";
        let mut rng = crate::signalling::testing::Rng(0x5eed_0006);
        for _ in 0..20_000 {
            let body = rng.mutate(seed);
            if let Ok(Some(sdp)) = find_sdp(ct(b"multipart/mixed;boundary=b1"), &body) {
                assert!(inside(sdp, &body));
            }
        }
    }
}
