//! Record files and their names, byte for byte (the format is described in the
//! [module documentation](super)); nothing here touches the filesystem.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ring::digest::{digest, SHA256};
use uuid::Uuid;

/// First word of every record file.
pub(crate) const MAGIC: &str = "vtcq-spool";
/// The only format version this code writes and reads.
pub(crate) const VERSION: &str = "1";
/// Suffix of a record file.
pub(crate) const RECORD_SUFFIX: &str = ".rec";
/// Suffix of the response kept next to a dead-lettered record.
pub(crate) const RESPONSE_SUFFIX: &str = ".response.json";

/// The longest header line accepted: "vtcq-spool 1 " (12) + 64 hex + space + up to 20
/// digits + space + up to 20 digits + newline is 119 bytes. Looking no further than this
/// keeps a file of garbage without newlines from being scanned to its end for a header.
const MAX_HEADER_LEN: usize = 128;

/// Width of the sequence number in a file name: u64::MAX has 20 digits, so every
/// sequence number fits and lexical order equals numeric order.
const SEQ_WIDTH: usize = 20;

/// Identity of one spooled record: its sequence number (age order) and a random UUID
/// (so two spools, or a sequence number reused after the newest record was acknowledged,
/// never yield the same name). Displays as the file stem, `{seq:020}-{uuid}`.
///
/// Ordering is by sequence number, then UUID, which is also the lexical order of the
/// file names, so "oldest first" is "sorted".
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordId {
    seq: u64,
    uuid: Uuid,
}

/// A string that is not a record id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a spool record id (expected <20-digit sequence>-<uuid>): {text:?}")]
pub struct ParseRecordIdError {
    /// The text given.
    pub text: String,
}

impl RecordId {
    pub(crate) fn new(seq: u64, uuid: Uuid) -> RecordId {
        RecordId { seq, uuid }
    }

    /// The sequence number: larger means enqueued later.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The random part.
    pub fn uuid(&self) -> Uuid {
        self.uuid
    }

    /// Parses a file stem, as printed by `Display`; a trailing `.rec` (a file name) is
    /// accepted too, so an operator can paste either.
    pub fn parse(text: &str) -> Result<RecordId, ParseRecordIdError> {
        let err = || ParseRecordIdError {
            text: text.to_owned(),
        };
        let stem = text.strip_suffix(RECORD_SUFFIX).unwrap_or(text);
        let (seq, uuid) = stem.split_once('-').ok_or_else(err)?;
        if seq.len() != SEQ_WIDTH || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let seq = seq.parse::<u64>().map_err(|_| err())?;
        let uuid = Uuid::try_parse(uuid).map_err(|_| err())?;
        let id = RecordId { seq, uuid };
        // Only the canonical spelling (lowercase, hyphenated) is a name this spool could
        // have written; anything else would not sort or round-trip like one.
        if id.to_string() != stem {
            return Err(err());
        }
        Ok(id)
    }

    /// `{stem}.rec`.
    pub(crate) fn file_name(&self) -> String {
        format!("{self}{RECORD_SUFFIX}")
    }

    /// `{stem}.response.json`.
    pub(crate) fn response_name(&self) -> String {
        format!("{self}{RESPONSE_SUFFIX}")
    }

    /// The id a record file name stands for, if it is one.
    pub(crate) fn from_file_name(name: &str) -> Option<RecordId> {
        let stem = name.strip_suffix(RECORD_SUFFIX)?;
        RecordId::parse(stem).ok()
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:0width$}-{}", self.seq, self.uuid, width = SEQ_WIDTH)
    }
}

impl FromStr for RecordId {
    type Err = ParseRecordIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RecordId::parse(s)
    }
}

/// The leading sequence number of a file name, when it has one: used on open to find the
/// highest sequence number in use, including names in `corrupt/` that no longer parse
/// whole (a `.1` collision suffix, a damaged UUID).
pub(crate) fn leading_seq(name: &str) -> Option<u64> {
    let digits = name.get(..SEQ_WIDTH)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) || name.as_bytes().get(SEQ_WIDTH) != Some(&b'-')
    {
        return None;
    }
    digits.parse().ok()
}

/// Why a file is not a valid record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Defect {
    /// The name is not `{seq:020}-{uuid}.rec`.
    #[error("file name is not <sequence>-<uuid>.rec")]
    BadName,
    /// A folder, link or device where a record file should be.
    #[error("not a regular file")]
    NotAFile,
    /// No newline within the first bytes.
    #[error("no header line")]
    NoHeader,
    /// The first word is not `vtcq-spool`.
    #[error("bad magic: not a vtcq spool record")]
    BadMagic,
    /// A format version this code does not know.
    #[error("unsupported format version {0:?}")]
    UnsupportedVersion(String),
    /// A header field is missing or not a number/checksum.
    #[error("malformed header: {0}")]
    BadHeader(&'static str),
    /// The body is not as long as the header says (typically a torn write).
    #[error("body is {actual} bytes but the header says {expected}")]
    Length {
        /// Length in the header.
        expected: u64,
        /// Bytes after the header.
        actual: u64,
    },
    /// The body's SHA-256 differs from the header's.
    #[error("body checksum does not match the header")]
    Checksum,
}

/// A verified record.
#[derive(Debug)]
pub(crate) struct Decoded<'a> {
    pub(crate) created: SystemTime,
    pub(crate) body: &'a [u8],
}

/// Milliseconds since the Unix epoch; a time before it (a badly set clock) counts as 0
/// rather than failing the write of a record nobody can re-create.
pub(crate) fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The header line (with its newline) for `body` created at `created_ms`.
pub(crate) fn encode_header(body: &[u8], created_ms: u64) -> String {
    let sum = hex(digest(&SHA256, body).as_ref());
    format!("{MAGIC} {VERSION} {sum} {} {created_ms}\n", body.len())
}

fn decimal(field: Option<&str>, what: &'static str) -> Result<u64, Defect> {
    let text = field.ok_or(Defect::BadHeader(what))?;
    // u64::from_str would also take "+5"; only plain digits are what this code writes.
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Defect::BadHeader(what));
    }
    text.parse().map_err(|_| Defect::BadHeader(what))
}

/// Verifies a whole record file: magic, version, length, checksum.
pub(crate) fn decode(bytes: &[u8]) -> Result<Decoded<'_>, Defect> {
    let window = &bytes[..bytes.len().min(MAX_HEADER_LEN)];
    let newline = window
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(Defect::NoHeader)?;
    let (line, rest) = bytes.split_at(newline);
    let body = rest.get(1..).unwrap_or_default();
    let line = std::str::from_utf8(line).map_err(|_| Defect::BadMagic)?;
    let mut fields = line.split(' ');
    if fields.next() != Some(MAGIC) {
        return Err(Defect::BadMagic);
    }
    match fields.next() {
        Some(VERSION) => {}
        Some(other) => return Err(Defect::UnsupportedVersion(other.to_owned())),
        None => return Err(Defect::BadHeader("version")),
    }
    let sum = fields.next().ok_or(Defect::BadHeader("checksum"))?;
    if sum.len() != 64 || !sum.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(Defect::BadHeader("checksum"));
    }
    let expected = decimal(fields.next(), "body length")?;
    let created_ms = decimal(fields.next(), "creation time")?;
    if fields.next().is_some() {
        return Err(Defect::BadHeader("extra fields"));
    }
    let created = UNIX_EPOCH
        .checked_add(Duration::from_millis(created_ms))
        .ok_or(Defect::BadHeader("creation time"))?;
    let actual = body.len() as u64;
    if actual != expected {
        return Err(Defect::Length { expected, actual });
    }
    if hex(digest(&SHA256, body).as_ref()) != sum {
        return Err(Defect::Checksum);
    }
    Ok(Decoded { created, body })
}

/// Reads only what is needed for a listing: the creation time in the header, without
/// verifying the body.
pub(crate) fn header_created(bytes: &[u8]) -> Option<SystemTime> {
    let window = &bytes[..bytes.len().min(MAX_HEADER_LEN)];
    let newline = window.iter().position(|&b| b == b'\n')?;
    let line = std::str::from_utf8(&bytes[..newline]).ok()?;
    let ms = decimal(line.split(' ').nth(4), "creation time").ok()?;
    UNIX_EPOCH.checked_add(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(body: &[u8], created_ms: u64) -> Vec<u8> {
        let mut bytes = encode_header(body, created_ms).into_bytes();
        bytes.extend_from_slice(body);
        bytes
    }

    #[test]
    fn header_is_exactly_as_documented() {
        let header = encode_header(b"abc", 1_700_000_000_123);
        assert_eq!(
            header,
            "vtcq-spool 1 ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad 3 1700000000123\n"
        );
        assert!(encode_header(&[0; 1000], u64::MAX).len() <= MAX_HEADER_LEN);
    }

    #[test]
    fn round_trip() {
        for body in [
            &b""[..],
            b"x",
            b"{\"a\":1}\n\nwith newlines\n",
            &[0xff; 300],
        ] {
            let bytes = record(body, 42);
            let decoded = decode(&bytes).expect("valid");
            assert_eq!(decoded.body, body);
            assert_eq!(decoded.created, UNIX_EPOCH + Duration::from_millis(42));
            assert_eq!(header_created(&bytes), Some(decoded.created));
        }
    }

    #[test]
    fn every_defect_is_detected() {
        let good = record(b"hello", 5);
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x01;
        assert_eq!(decode(&flipped).err(), Some(Defect::Checksum));

        let truncated = &good[..good.len() - 2];
        assert_eq!(
            decode(truncated).err(),
            Some(Defect::Length {
                expected: 5,
                actual: 3
            })
        );
        let mut longer = good.clone();
        longer.push(b'!');
        assert_eq!(
            decode(&longer).err(),
            Some(Defect::Length {
                expected: 5,
                actual: 6
            })
        );

        assert_eq!(decode(b"").err(), Some(Defect::NoHeader));
        assert_eq!(decode(&[b'a'; 4096]).err(), Some(Defect::NoHeader));
        assert_eq!(decode(b"other 1 x 1 1\nx").err(), Some(Defect::BadMagic));
        assert_eq!(
            decode(b"vtcq-spool 2 x\n").err(),
            Some(Defect::UnsupportedVersion("2".into()))
        );
        assert_eq!(
            decode(b"vtcq-spool 1\n").err(),
            Some(Defect::BadHeader("checksum"))
        );
        let sum = hex(digest(&SHA256, b"").as_ref());
        assert_eq!(
            decode(format!("vtcq-spool 1 {sum} +0 1\n").as_bytes()).err(),
            Some(Defect::BadHeader("body length"))
        );
        assert_eq!(
            decode(format!("vtcq-spool 1 {sum} 0\n").as_bytes()).err(),
            Some(Defect::BadHeader("creation time"))
        );
        assert_eq!(
            decode(format!("vtcq-spool 1 {sum} 0 1 x\n").as_bytes()).err(),
            Some(Defect::BadHeader("extra fields"))
        );
        assert_eq!(
            decode(format!("vtcq-spool 1 {} 0 1\n", sum.to_uppercase()).as_bytes()).err(),
            Some(Defect::BadHeader("checksum"))
        );
        assert!(decode(format!("vtcq-spool 1 {sum} 0 1\n").as_bytes()).is_ok());
    }

    #[test]
    fn record_ids_sort_like_their_names_and_round_trip() {
        let a = RecordId::new(9, Uuid::from_u128(u128::MAX));
        let b = RecordId::new(10, Uuid::from_u128(0));
        let c = RecordId::new(10, Uuid::from_u128(1));
        assert!(a < b && b < c);
        assert!(a.to_string() < b.to_string() && b.to_string() < c.to_string());
        assert_eq!(
            b.to_string(),
            "00000000000000000010-00000000-0000-0000-0000-000000000000"
        );
        for id in [&a, &b, &c] {
            assert_eq!(RecordId::parse(&id.to_string()).as_ref(), Ok(id));
            assert_eq!(RecordId::from_file_name(&id.file_name()).as_ref(), Some(id));
            assert_eq!(id.to_string().parse::<RecordId>().as_ref(), Ok(id));
        }
        let max = RecordId::new(u64::MAX, Uuid::nil());
        assert_eq!(RecordId::parse(&max.to_string()), Ok(max));
        for bad in [
            "",
            "1-00000000-0000-0000-0000-000000000000",
            "0000000000000000000a-00000000-0000-0000-0000-000000000000",
            "00000000000000000010-00000000-0000-0000-0000-00000000000A",
            "00000000000000000010-00000000000000000000000000000000",
            "99999999999999999999-00000000-0000-0000-0000-000000000000",
        ] {
            assert!(RecordId::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            RecordId::from_file_name(
                "00000000000000000010-00000000-0000-0000-0000-000000000000.tmp"
            ),
            None
        );
    }

    #[test]
    fn leading_seq_reads_damaged_names() {
        assert_eq!(leading_seq("00000000000000000042-whatever.rec.1"), Some(42));
        assert_eq!(leading_seq("0000000000000000004-x"), None);
        assert_eq!(leading_seq("LOCK"), None);
    }
}
