//! What can go wrong with keys and with packets. No message ever contains key material:
//! a name that does not look like a suite or a session parameter is not echoed, because a
//! caller who swapped two fields would otherwise see a key in a log line.

use super::Suite;

/// Why key material or a crypto attribute was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The suite name is none of the six vtcq implements.
    #[error("unknown crypto suite {name}")]
    UnknownSuite {
        /// The name as given when it looks like a suite name, else a placeholder.
        name: String,
    },
    /// A key parameter that does not start with `inline:` (RFC 4568 defines no other method).
    #[error("key parameter must start with \"inline:\"")]
    NotInline,
    /// The key material is not base64.
    #[error("key material is not valid base64")]
    Base64,
    /// The key, the salt or both have the wrong length for the suite.
    #[error("{suite} needs {expected} bytes of {part}, the key material has {actual}")]
    Length {
        /// The suite the material was given for.
        suite: Suite,
        /// `"master key"`, `"master salt"` or `"master key and salt"`.
        part: &'static str,
        /// Bytes the suite needs.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
    /// The lifetime field is neither a decimal number nor `2^N`, or exceeds 2^48 packets.
    #[error("key lifetime must be a decimal number or 2^N of at most 2^48 packets")]
    Lifetime,
    /// The MKI field is not `VALUE:LENGTH` with a length of 1 to 128 bytes that holds VALUE.
    #[error("mki must be VALUE:LENGTH with a length of 1 to 128 bytes that can hold the value")]
    Mki,
    /// The attribute does not have the shape `TAG SUITE KEY-PARAMS [SESSION-PARAMS]`.
    #[error("malformed crypto attribute: {0}")]
    MalformedAttribute(&'static str),
    /// Several keys in one attribute without an MKI each, or with MKIs of different lengths
    /// (RFC 4568 §6.1).
    #[error("several keys in one crypto attribute must each carry an mki of the same length")]
    MkiRequired,
    /// More keys in one attribute than a ring could use.
    #[error("a crypto attribute may carry at most {max} keys")]
    TooManyKeys {
        /// The bound.
        max: usize,
    },
    /// `KDR=` asks for key derivation during the session (RFC 4568 §6.3.1).
    #[error("key derivation rate (KDR) is not supported: session keys are derived once")]
    UnsupportedKdr,
    /// A session parameter this implementation does not know and may not ignore.
    #[error("unsupported session parameter {name}")]
    UnsupportedSessionParameter {
        /// The parameter's name when it looks like one, else a placeholder.
        name: String,
    },
}

/// What replaces a name that does not look like a suite or parameter name.
const NOT_A_NAME: &str = "(not a name)";

/// `s` when it has the shape of an RFC 4568 suite or parameter name as written in practice:
/// capitals, digits and at least one underscore, at most 40 characters. Base64 (the form of
/// every key) has no underscore, so a key that landed in the wrong field is never echoed;
/// a name in lower case is shown as a placeholder too, which costs only a little clarity.
fn printable_name(s: &str) -> String {
    if s.len() <= 40
        && s.contains('_')
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    {
        s.to_owned()
    } else {
        NOT_A_NAME.to_owned()
    }
}

impl KeyError {
    pub(crate) fn unknown_suite(name: &str) -> Self {
        KeyError::UnknownSuite {
            name: printable_name(name),
        }
    }

    pub(crate) fn unsupported_session_parameter(param: &str) -> Self {
        let name = param.split('=').next().unwrap_or_default();
        KeyError::UnsupportedSessionParameter {
            name: printable_name(name),
        }
    }
}

/// Why a packet could not be protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtectError {
    /// An RTCP packet shorter than its 8-byte header (the SSRC is needed for the IV).
    #[error("rtcp packet of {len} bytes is shorter than its 8-byte header")]
    RtcpTooShort {
        /// The packet's length.
        len: usize,
    },
    /// An RTP packet whose version is not 2 or whose CSRC list or header extension runs
    /// past its end.
    #[error("not an rtp packet: version other than 2, or a header longer than the packet")]
    NotRtp,
    /// A packet longer than [`super::MAX_PACKET_LEN`].
    #[error("packet of {len} bytes is longer than the {max} bytes srtp protects")]
    TooLong {
        /// The packet's length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// An SRTCP index that does not fit 31 bits.
    #[error("srtcp index {index} does not fit 31 bits")]
    IndexOutOfRange {
        /// The index given.
        index: u32,
    },
    /// The caller's output buffer cannot hold the protected packet.
    #[error("output buffer of {available} bytes, {needed} needed")]
    OutputTooSmall {
        /// Bytes the protected packet needs.
        needed: usize,
        /// The buffer's length.
        available: usize,
    },
}

/// Why a datagram could not be authenticated and decrypted. Whatever the variant, nothing
/// unauthenticated was decrypted into the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UnprotectError {
    /// Shorter than the header plus the trailer this key expects.
    #[error("packet of {len} bytes is shorter than the {min} bytes of its header and trailer")]
    TooShort {
        /// The packet's length.
        len: usize,
        /// The shortest packet this key can authenticate.
        min: usize,
    },
    /// Longer than [`super::MAX_PACKET_LEN`].
    #[error("packet of {len} bytes is longer than the {max} bytes srtp protects")]
    TooLong {
        /// The packet's length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// An SRTP packet whose header (version, CSRC list, extension) does not fit.
    #[error("not an srtp packet: version other than 2, or a header longer than the packet")]
    NotRtp,
    /// The packet's MKI names none of the keys.
    #[error("the packet's mki names no known key")]
    UnknownMki,
    /// The tag does not match: a wrong key, the other direction's key, or a damaged packet.
    #[error("authentication failed")]
    AuthenticationFailed,
    /// The key ring holds no key (usable at this time).
    #[error("no key for this sender")]
    NoKey,
    /// The caller's output buffer is shorter than the datagram.
    #[error("output buffer of {available} bytes, {needed} needed")]
    OutputTooSmall {
        /// Bytes needed (the datagram's length).
        needed: usize,
        /// The buffer's length.
        available: usize,
    },
}
