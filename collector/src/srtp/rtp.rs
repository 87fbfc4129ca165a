//! SRTP (RTP) protect and unprotect for one master key (RFC 3711 §3.3, RFC 7714 §8). The
//! analyzer reads RTP headers in the clear and never needs this; the simulator and the
//! live test peer use it to write encrypted calls, and the tests to check them.
//!
//! ```text
//!  AES-CM + HMAC-SHA1 (RFC 3711 §3.1)       AES-GCM (RFC 7714 §8.2)
//!  +----------------------------+           +----------------------------+
//!  | RTP header (clear)         |           | RTP header (clear, AAD)    |
//!  +----------------------------+           +----------------------------+
//!  | payload (encrypted)        |           | payload (encrypted)        |
//!  +----------------------------+           +----------------------------+
//!  | MKI (optional)             |           | GCM tag (16 bytes)         |
//!  +----------------------------+           +----------------------------+
//!  | tag: HMAC(header||payload  |           | MKI (optional)             |
//!  |      ||ROC), 10 or 4 bytes |           +----------------------------+
//!  +----------------------------+
//! ```
//!
//! The packet index is `ROC || SEQ` (48 bits); the rollover counter is not on the wire, so
//! both ends keep it: the sender counts wraps of its sequence numbers, a receiver estimates
//! it with [`guess_roc`] (RFC 3711 §3.3.1).

use subtle::ConstantTimeEq;

use super::cipher::SessionCipher;
use super::kdf::SRTP_LABELS;
use super::suite::GCM_TAG_LEN;
use super::{MasterKey, Mki, ProtectError, Suite, UnprotectError, MAX_PACKET_LEN};

/// The SRTP crypto context of one master key: the session keys derived with the SRTP
/// labels (0, 1, 2) and the MKI, if any. Stateless per packet: the caller passes the ROC.
pub struct SrtpContext {
    suite: Suite,
    cipher: SessionCipher,
    mki: Option<Mki>,
}

impl std::fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtpContext")
            .field("suite", &self.suite)
            .field("mki", &self.mki)
            .finish_non_exhaustive()
    }
}

/// Length of the RTP header at the start of `packet` (fixed part, CSRCs, extension), or
/// `None` when the version is not 2 or the header runs past the packet. Padding is not
/// looked at: under SRTP the last byte of the packet belongs to the tag.
pub fn rtp_header_len(packet: &[u8]) -> Option<usize> {
    let first = *packet.first()?;
    if first >> 6 != 2 {
        return None;
    }
    let mut len = 12 + 4 * usize::from(first & 0x0F);
    if first & 0x10 != 0 {
        let words = packet.get(len + 2..len + 4)?;
        len += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
    }
    (len <= packet.len()).then_some(len)
}

/// The receiver's estimate of a packet's ROC (RFC 3711 §3.3.1): `highest_seq` and `roc`
/// are those of the highest index accepted so far, `seq` the new packet's. A sequence
/// number far below the highest one belongs to the next cycle, one far above it to the
/// previous cycle.
pub fn guess_roc(highest_seq: u16, roc: u32, seq: u16) -> u32 {
    if highest_seq < 0x8000 {
        if seq > highest_seq && seq - highest_seq > 0x8000 {
            return roc.wrapping_sub(1);
        }
    } else if highest_seq - 0x8000 > seq {
        return roc.wrapping_add(1);
    }
    roc
}

#[inline]
fn be32(buf: &[u8], at: usize) -> u32 {
    buf.get(at..at + 4)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map_or(0, u32::from_be_bytes)
}

#[inline]
fn packet_index(packet: &[u8], roc: u32) -> u64 {
    let seq = packet
        .get(2..4)
        .map_or(0, |s| u16::from_be_bytes([s[0], s[1]]));
    (u64::from(roc) << 16) | u64::from(seq)
}

impl SrtpContext {
    /// Derives the SRTP session keys of `key`.
    pub fn new(key: &MasterKey) -> Self {
        SrtpContext {
            suite: key.suite(),
            cipher: SessionCipher::derive(key, SRTP_LABELS),
            mki: key.mki().cloned(),
        }
    }

    /// A context keyed with session keys directly (the RFC 7714 vectors give no master key).
    #[cfg(test)]
    pub(crate) fn from_session_keys(
        suite: Suite,
        key: &[u8],
        salt: &[u8],
        auth: &[u8; 20],
    ) -> Self {
        SrtpContext {
            suite,
            cipher: SessionCipher::from_session_keys(suite, key, salt, auth),
            mki: None,
        }
    }

    /// The suite.
    #[inline]
    pub fn suite(&self) -> Suite {
        self.suite
    }

    #[inline]
    fn mki_len(&self) -> usize {
        self.mki.as_ref().map_or(0, Mki::len)
    }

    /// Bytes SRTP adds to an RTP packet: the MKI and the tag.
    #[inline]
    pub fn overhead(&self) -> usize {
        self.mki_len() + self.suite.rtp_tag_len()
    }

    /// Protects one RTP packet with rollover counter `roc`: encrypts the payload (padding
    /// included), appends the MKI and the tag. Writes `rtp.len() + self.overhead()` bytes
    /// into `out` and returns that length.
    pub fn protect(&self, rtp: &[u8], roc: u32, out: &mut [u8]) -> Result<usize, ProtectError> {
        let n = rtp.len();
        let header_len = rtp_header_len(rtp).ok_or(ProtectError::NotRtp)?;
        let needed = n + self.overhead();
        if needed > MAX_PACKET_LEN {
            return Err(ProtectError::TooLong {
                len: n,
                max: MAX_PACKET_LEN - self.overhead(),
            });
        }
        if out.len() < needed {
            return Err(ProtectError::OutputTooSmall {
                needed,
                available: out.len(),
            });
        }
        let (ssrc, index) = (be32(rtp, 8), packet_index(rtp, roc));
        out[..n].copy_from_slice(rtp);
        match &self.cipher {
            SessionCipher::CounterMode(cm) => {
                cm.xor_keystream(&cm.iv(ssrc, index), &mut out[header_len..n]);
                let tag = cm.tag(&[&out[..n], &roc.to_be_bytes()]);
                let tag_at = n + self.mki_len();
                self.write_mki(out, n);
                let tag_len = self.suite.rtp_tag_len();
                out[tag_at..tag_at + tag_len].copy_from_slice(&tag[..tag_len]);
            }
            SessionCipher::Gcm(gcm) => {
                let (header, payload) = out[..n].split_at_mut(header_len);
                let tag = gcm
                    .seal(&gcm.nonce(ssrc, index), header, payload)
                    .map_err(|_| ProtectError::TooLong {
                        len: n,
                        max: MAX_PACKET_LEN - self.overhead(),
                    })?;
                out[n..n + GCM_TAG_LEN].copy_from_slice(&tag);
                self.write_mki(out, n + GCM_TAG_LEN);
            }
        }
        Ok(needed)
    }

    fn write_mki(&self, out: &mut [u8], at: usize) {
        if let Some(mki) = &self.mki {
            out[at..at + mki.len()].copy_from_slice(mki.as_bytes());
        }
    }

    /// Authenticates one SRTP packet with rollover counter `roc`, then decrypts it into
    /// `out`, which must be at least as long as `srtp`. Returns the length of the plain RTP
    /// packet written at `out[..len]`.
    pub fn unprotect(
        &self,
        srtp: &[u8],
        roc: u32,
        out: &mut [u8],
    ) -> Result<usize, UnprotectError> {
        let n = srtp.len();
        if n > MAX_PACKET_LEN {
            return Err(UnprotectError::TooLong {
                len: n,
                max: MAX_PACKET_LEN,
            });
        }
        let min = 12 + self.overhead();
        if n < min {
            return Err(UnprotectError::TooShort { len: n, min });
        }
        if out.len() < n {
            return Err(UnprotectError::OutputTooSmall {
                needed: n,
                available: out.len(),
            });
        }
        let (mki_at, plain_len) = match &self.cipher {
            SessionCipher::CounterMode(_) => {
                let mki_at = n - self.overhead();
                (mki_at, mki_at)
            }
            SessionCipher::Gcm(_) => (n - self.mki_len(), n - self.overhead()),
        };
        let header_len = rtp_header_len(&srtp[..plain_len]).ok_or(UnprotectError::NotRtp)?;
        if let Some(mki) = &self.mki {
            if srtp.get(mki_at..mki_at + mki.len()) != Some(mki.as_bytes()) {
                return Err(UnprotectError::UnknownMki);
            }
        }
        let (ssrc, index) = (be32(srtp, 8), packet_index(srtp, roc));
        match &self.cipher {
            SessionCipher::CounterMode(cm) => {
                let tag_len = self.suite.rtp_tag_len();
                let computed = cm.tag(&[&srtp[..plain_len], &roc.to_be_bytes()]);
                if !bool::from(computed[..tag_len].ct_eq(&srtp[n - tag_len..])) {
                    return Err(UnprotectError::AuthenticationFailed);
                }
                out[..plain_len].copy_from_slice(&srtp[..plain_len]);
                cm.xor_keystream(&cm.iv(ssrc, index), &mut out[header_len..plain_len]);
            }
            SessionCipher::Gcm(gcm) => {
                let mut tag = [0u8; GCM_TAG_LEN];
                tag.copy_from_slice(&srtp[plain_len..plain_len + GCM_TAG_LEN]);
                out[..plain_len].copy_from_slice(&srtp[..plain_len]);
                let (header, payload) = out[..plain_len].split_at_mut(header_len);
                gcm.open(&gcm.nonce(ssrc, index), header, payload, &tag)
                    .map_err(|_| UnprotectError::AuthenticationFailed)?;
            }
        }
        Ok(plain_len)
    }
}
