//! Byte-level helpers shared by the SIP, SDP and multipart views: lines, linear white
//! space, case-insensitive comparison, separators outside quotes, decimal numbers.
//!
//! Everything works on `&[u8]` (signalling is mostly ASCII, and a capture may carry any
//! bytes) and slices with `get`, so no input can make a helper panic.

/// Splits `buf` into lines ended by LF, each without its LF and a CR before it. RFC 3261
/// and RFC 8866 require CRLF; a bare LF is accepted as many stacks do.
pub(crate) fn lines(buf: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = buf.strip_suffix(b"\n").unwrap_or(buf);
    let mut rest = Some(body).filter(|b| !b.is_empty());
    std::iter::from_fn(move || {
        let current = rest?;
        let (line, next) = match current.iter().position(|&b| b == b'\n') {
            Some(i) => (current.get(..i)?, current.get(i + 1..)),
            None => (current, None),
        };
        rest = next;
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    })
}

/// Linear white space as SIP folds it: space, tab, and the CR LF of a folded line.
#[inline]
pub(crate) fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// `s` without leading and trailing linear white space.
pub(crate) fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_lws(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|&b| !is_lws(b)).map_or(start, |i| i + 1);
    s.get(start..end.max(start)).unwrap_or(&[])
}

/// ASCII case-insensitive equality.
#[inline]
pub(crate) fn eq_ci(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// A decimal number of at most 10 digits that fits `u32`; `None` for anything else
/// (signs, spaces, empty, overflow).
pub(crate) fn parse_u32(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 10 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u32, |n, &d| {
        n.checked_mul(10)?.checked_add(u32::from(d - b'0'))
    })
}

/// A decimal `u16`.
pub(crate) fn parse_u16(s: &[u8]) -> Option<u16> {
    parse_u32(s).and_then(|n| u16::try_from(n).ok())
}

/// Splits `s` at every `sep` that is outside a quoted string (with `\` escapes) and
/// outside `<...>`, as SIP's comma-separated header values and `;` parameters need.
pub(crate) fn split_outside_quotes(s: &[u8], sep: u8) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let current = rest?;
        let mut quoted = false;
        let mut escaped = false;
        let mut angle = false;
        let mut cut = None;
        for (i, &b) in current.iter().enumerate() {
            if escaped {
                escaped = false;
                continue;
            }
            match b {
                b'\\' if quoted => escaped = true,
                b'"' => quoted = !quoted,
                b'<' if !quoted => angle = true,
                b'>' if !quoted => angle = false,
                _ if b == sep && !quoted && !angle => {
                    cut = Some(i);
                    break;
                }
                _ => {}
            }
        }
        match cut {
            Some(i) => {
                rest = current.get(i + 1..);
                current.get(..i)
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// The first index of `needle` in `hay`.
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The value of parameter `name` in a `;`-separated parameter list (`;tag=abc;lr`): the
/// text after `=`, unquoted; `Some(b"")` for a flag without a value.
pub(crate) fn param<'a>(params: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    split_outside_quotes(params, b';').find_map(|p| {
        let p = trim(p);
        let (key, value) = match p.iter().position(|&b| b == b'=') {
            Some(i) => (trim(p.get(..i)?), trim(p.get(i + 1..)?)),
            None => (p, &[][..]),
        };
        eq_ci(key, name).then(|| unquote(value))
    })
}

/// `s` without surrounding double quotes (escapes are left in place: the views are
/// zero-copy, and the names they are used for are shown, not compared).
pub(crate) fn unquote(s: &[u8]) -> &[u8] {
    match s {
        [b'"', inner @ .., b'"'] => inner,
        _ => s,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lines_strip_crlf_and_bare_lf() {
        let v: Vec<&[u8]> = lines(b"a\r\nb\nc\r\n").collect();
        assert_eq!(v, vec![&b"a"[..], b"b", b"c"]);
        assert_eq!(lines(b"").count(), 0);
        let v: Vec<&[u8]> = lines(b"x\r\n\r\ny").collect();
        assert_eq!(v, vec![&b"x"[..], b"", b"y"]);
    }

    #[test]
    fn numbers_refuse_signs_spaces_and_overflow() {
        assert_eq!(parse_u32(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32(b"4294967296"), None);
        assert_eq!(parse_u32(b"+1"), None);
        assert_eq!(parse_u32(b""), None);
        assert_eq!(parse_u16(b"65536"), None);
        assert_eq!(parse_u16(b"5060"), Some(5060));
    }

    #[test]
    fn separators_inside_quotes_and_angle_brackets_do_not_split() {
        let v: Vec<&[u8]> = split_outside_quotes(br#""a,b" <sip:x;y,z>;p=1, c"#, b',').collect();
        assert_eq!(v, vec![&br#""a,b" <sip:x;y,z>;p=1"#[..], b" c"]);
        let v: Vec<&[u8]> = split_outside_quotes(br#""q\"," ,x"#, b',').collect();
        assert_eq!(v.len(), 2);
    }

    #[test]
    fn params_are_case_insensitive_and_unquoted() {
        assert_eq!(param(b";TAG=abc;lr", b"tag"), Some(&b"abc"[..]));
        assert_eq!(param(b";lr", b"lr"), Some(&b""[..]));
        assert_eq!(param(br#";boundary="x y""#, b"boundary"), Some(&b"x y"[..]));
        assert_eq!(param(b";a=1", b"b"), None);
    }
}
