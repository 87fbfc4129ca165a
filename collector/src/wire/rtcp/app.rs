//! Application-defined packet (RFC 3550 §6.7).
//!
//! ```text
//!     0                   1                   2                   3
//!     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |V=2|P| subtype |   PT=APP=204  |             length            |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                           SSRC/CSRC                           |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                          name (ASCII)                         |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                   application-dependent data                ...
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use super::packet_type::APP;
use crate::wire::bytes::be32;

use super::{count_field, RtcpError, SubPacket};

/// Length of the fixed part: header, SSRC and name.
const FIXED_LEN: usize = 12;

/// A validated APP sub-packet (PT=204), padding removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct App<'a> {
    buf: &'a [u8],
}

impl<'a> App<'a> {
    /// Validates the APP at the start of `buf`: header, SSRC and name must fit within
    /// its length (bytes after the sub-packet are ignored).
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, RtcpError> {
        Self::from_sub(SubPacket::split_expecting(buf, &[APP])?)
    }

    pub(super) fn from_sub(sub: SubPacket<'a>) -> Result<Self, RtcpError> {
        if sub.bytes.len() < FIXED_LEN {
            return Err(RtcpError::TooShort { packet_type: APP });
        }
        Ok(App { buf: sub.bytes })
    }

    /// The 5-bit subtype (application-defined).
    #[inline]
    pub fn subtype(&self) -> u8 {
        count_field(self.buf)
    }

    /// SSRC/CSRC of the sender.
    #[inline]
    pub fn ssrc(&self) -> u32 {
        be32(self.buf, 4)
    }

    /// The four-character name of the application.
    #[inline]
    pub fn name(&self) -> [u8; 4] {
        be32(self.buf, 8).to_be_bytes()
    }

    /// Application-dependent data.
    #[inline]
    pub fn data(&self) -> &'a [u8] {
        self.buf.get(FIXED_LEN..).unwrap_or(&[])
    }
}
