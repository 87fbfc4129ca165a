//! Counters for everything the signalling path refused, bounded or ignored: nothing is
//! dropped silently. Each error enum of the parsers has one counter per variant.

use super::multipart::BodyError;
use super::sdp::{SdpAttributeError, SdpError};
use super::sip::SipError;

/// SIP messages refused, by reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SipErrorCounts {
    /// [`SipError::BadStartLine`].
    pub bad_start_line: u64,
    /// [`SipError::UnterminatedHeaders`].
    pub unterminated_headers: u64,
    /// [`SipError::BadHeaderLine`].
    pub bad_header_line: u64,
    /// [`SipError::TooManyHeaders`].
    pub too_many_headers: u64,
    /// [`SipError::Oversize`].
    pub oversize: u64,
    /// [`SipError::BadContentLength`].
    pub bad_content_length: u64,
    /// [`SipError::MissingContentLength`].
    pub missing_content_length: u64,
    /// [`SipError::BodyTruncated`].
    pub body_truncated: u64,
    /// [`SipError::MissingMandatoryHeader`].
    pub missing_mandatory_header: u64,
}

impl SipErrorCounts {
    /// Counts one refused message. [`SipError::Incomplete`] is not a refusal (the stream
    /// waits for more bytes) and is not counted.
    pub fn add(&mut self, error: SipError) {
        let counter = match error {
            SipError::Incomplete => return,
            SipError::BadStartLine => &mut self.bad_start_line,
            SipError::UnterminatedHeaders => &mut self.unterminated_headers,
            SipError::BadHeaderLine => &mut self.bad_header_line,
            SipError::TooManyHeaders => &mut self.too_many_headers,
            SipError::Oversize => &mut self.oversize,
            SipError::BadContentLength => &mut self.bad_content_length,
            SipError::MissingContentLength => &mut self.missing_content_length,
            SipError::BodyTruncated => &mut self.body_truncated,
            SipError::MissingMandatoryHeader => &mut self.missing_mandatory_header,
        };
        *counter += 1;
    }

    /// All refusals.
    pub fn total(&self) -> u64 {
        self.bad_start_line
            + self.unterminated_headers
            + self.bad_header_line
            + self.too_many_headers
            + self.oversize
            + self.bad_content_length
            + self.missing_content_length
            + self.body_truncated
            + self.missing_mandatory_header
    }
}

/// Bodies and SDPs refused, and SDP lines skipped, by reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SdpErrorCounts {
    /// Multipart bodies without a boundary, malformed, or too deep.
    pub bad_multipart: u64,
    /// [`SdpError::NoVersion`].
    pub no_version: u64,
    /// [`SdpError::BadLine`].
    pub bad_line: u64,
    /// [`SdpError::BadMediaLine`].
    pub bad_media_line: u64,
    /// [`SdpError::TooManyMedia`] and [`SdpError::TooManyLines`].
    pub too_large: u64,
    /// `c=` lines that give no usable address (host names, bad literals).
    pub bad_connection: u64,
    /// Malformed `a=rtpmap`, `a=rtcp`, `a=crypto` or `a=ssrc` lines, skipped.
    pub bad_attribute: u64,
}

impl SdpErrorCounts {
    /// Counts one body whose multipart structure was refused.
    pub fn add_body(&mut self, _error: BodyError) {
        self.bad_multipart += 1;
    }

    /// Counts one refused SDP.
    pub fn add_sdp(&mut self, error: SdpError) {
        *match error {
            SdpError::NoVersion => &mut self.no_version,
            SdpError::BadLine => &mut self.bad_line,
            SdpError::BadMediaLine => &mut self.bad_media_line,
            SdpError::TooManyMedia | SdpError::TooManyLines => &mut self.too_large,
        } += 1;
    }

    /// Counts one skipped line.
    pub fn add_attribute(&mut self, error: SdpAttributeError) {
        *match error {
            SdpAttributeError::Connection => &mut self.bad_connection,
            _ => &mut self.bad_attribute,
        } += 1;
    }
}

/// The TCP reassembler's view of hostile or lossy streams.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpCounters {
    /// Segments fed on SIP ports.
    pub segments: u64,
    /// Frames whose TCP header was cut short or invalid (their ports unknown or
    /// untrusted), not followed.
    pub malformed: u64,
    /// Connections followed (SYN seen, or joined mid-stream).
    pub connections: u64,
    /// Connections evicted because the table was full (the oldest first).
    pub connections_evicted: u64,
    /// Connections forgotten after the idle timeout.
    pub connections_expired: u64,
    /// Gaps in the sequence space (lost or out-of-order segments); each forces a
    /// resynchronisation at the next message start.
    pub gaps: u64,
    /// Segments entirely retransmitted (already seen), skipped.
    pub retransmissions: u64,
    /// Segments cut by the capture's snap length (their bytes are a gap).
    pub truncated_segments: u64,
    /// Bytes dropped: before a message start while resynchronising, and buffers
    /// dropped because they exceeded their bound.
    pub bytes_skipped: u64,
    /// Buffers dropped because they held more than one maximum-size message.
    pub buffer_overflows: u64,
}

/// What the dialog tracker ignored, bounded or ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DialogCounters {
    /// Dialogs started (an initial INVITE).
    pub dialogs: u64,
    /// Dialogs evicted because the table was full (the least recently active first).
    pub dialogs_evicted: u64,
    /// New dialogs refused because their Call-ID already has
    /// [`MAX_DIALOGS_PER_CALL_ID`](super::dialog::MAX_DIALOGS_PER_CALL_ID).
    pub dialogs_refused: u64,
    /// Dialogs ended by a timeout (no final response, or no message for the idle
    /// timeout).
    pub dialogs_timed_out: u64,
    /// Messages that belong to no known dialog (a BYE for a call that started before the
    /// capture, a response without its request, REGISTER, OPTIONS, ...).
    pub outside_dialog: u64,
    /// SDP bodies that were neither an offer nor an answer in the offer/answer state (an
    /// answer without an offer, an ACK with SDP after an answered offer).
    pub unexpected_sdp: u64,
    /// Answers whose media description count differs from the offer's (RFC 3264 §6
    /// forbids it); the extra lines are ignored.
    pub media_count_mismatch: u64,
    /// Endpoint, payload-type or key lists that reached their bound on a channel.
    pub plan_bounds_hit: u64,
}
