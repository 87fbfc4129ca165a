//! Transport-layer and payload-specific feedback (RFC 4585 §6.1).
//!
//! ```text
//!     0                   1                   2                   3
//!     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |V=2|P|   FMT   |       PT      |          length               |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                  SSRC of packet sender                        |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                  SSRC of media source                         |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    :            Feedback Control Information (FCI)                 :
//!    :                                                               :
//! ```
//!
//! PT is 205 (RTPFB) or 206 (PSFB); FMT says which message the FCI holds.

use super::packet_type::{PAYLOAD_FEEDBACK, TRANSPORT_FEEDBACK};
use crate::wire::bytes::be32;

use super::{count_field, RtcpError, SubPacket};

/// Length of the fixed part: header and the two SSRCs.
const FIXED_LEN: usize = 12;

/// A validated feedback sub-packet (PT=205 or 206), padding removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Feedback<'a> {
    buf: &'a [u8],
}

impl<'a> Feedback<'a> {
    /// Validates the RTPFB or PSFB at the start of `buf`: header and both SSRCs must fit
    /// within its length (bytes after the sub-packet are ignored).
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, RtcpError> {
        Self::from_sub(SubPacket::split_expecting(
            buf,
            &[TRANSPORT_FEEDBACK, PAYLOAD_FEEDBACK],
        )?)
    }

    pub(super) fn from_sub(sub: SubPacket<'a>) -> Result<Self, RtcpError> {
        if sub.bytes.len() < FIXED_LEN {
            return Err(RtcpError::TooShort {
                packet_type: sub.packet_type,
            });
        }
        Ok(Feedback { buf: sub.bytes })
    }

    /// PT: 205 (transport-layer) or 206 (payload-specific).
    #[inline]
    pub fn packet_type(&self) -> u8 {
        self.buf.get(1).copied().unwrap_or(0)
    }

    /// The 5-bit feedback message type (e.g. 1 = NACK for RTPFB, 1 = PLI for PSFB).
    #[inline]
    pub fn fmt(&self) -> u8 {
        count_field(self.buf)
    }

    /// SSRC of the packet sender.
    #[inline]
    pub fn sender_ssrc(&self) -> u32 {
        be32(self.buf, 4)
    }

    /// SSRC of the media source the feedback is about.
    #[inline]
    pub fn media_ssrc(&self) -> u32 {
        be32(self.buf, 8)
    }

    /// Feedback control information.
    #[inline]
    pub fn fci(&self) -> &'a [u8] {
        self.buf.get(FIXED_LEN..).unwrap_or(&[])
    }
}
