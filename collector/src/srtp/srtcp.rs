//! SRTCP protect and unprotect for one master key (RFC 3711 §3.4, RFC 7714 §9 and §17).
//! See the [module documentation](super) for the two packet layouts.

use subtle::ConstantTimeEq;

use super::cipher::{CounterMode, Gcm, SessionCipher};
use super::kdf::SRTCP_LABELS;
use super::suite::GCM_TAG_LEN;
use super::{MasterKey, Mki, ProtectError, Suite, UnprotectError, MAX_PACKET_LEN};

/// Length of the RTCP header left in the clear: V/P/RC, PT, length, SSRC of the sender.
pub const RTCP_HEADER_LEN: usize = 8;

/// Length of the `E || SRTCP index` word.
pub const ESRTCP_WORD_LEN: usize = 4;

/// The largest SRTCP index (31 bits).
pub const MAX_SRTCP_INDEX: u32 = 0x7FFF_FFFF;

/// The E flag in the `E || SRTCP index` word.
const E_FLAG: u32 = 0x8000_0000;

/// What a successful unprotect wrote and read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unprotected {
    /// Bytes of plain RTCP written at the start of the caller's buffer: the compound as a
    /// clear RTCP datagram would carry it.
    pub len: usize,
    /// The packet's 31-bit SRTCP index.
    pub index: u32,
    /// The E flag: `false` when the sender authenticated the packet without encrypting it.
    pub encrypted: bool,
}

/// The SRTCP crypto context of one master key: the session keys derived with the SRTCP
/// labels (3, 4, 5), and the MKI that names the key in packets, if any.
///
/// Stateless per packet: the sender keeps its own index, and a passive reader keeps no
/// replay list (it must read every copy the wire carries; duplicates are the analyzer's
/// business). Nothing allocates.
pub struct SrtcpContext {
    suite: Suite,
    cipher: SessionCipher,
    mki: Option<Mki>,
}

impl std::fmt::Debug for SrtcpContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtcpContext")
            .field("suite", &self.suite)
            .field("mki", &self.mki)
            .finish_non_exhaustive()
    }
}

#[inline]
fn be32(buf: &[u8], at: usize) -> u32 {
    buf.get(at..at + 4)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map_or(0, u32::from_be_bytes)
}

impl SrtcpContext {
    /// Derives the SRTCP session keys of `key`.
    pub fn new(key: &MasterKey) -> Self {
        SrtcpContext {
            suite: key.suite(),
            cipher: SessionCipher::derive(key, SRTCP_LABELS),
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
        SrtcpContext {
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

    /// The MKI this key writes and expects, if one was negotiated.
    #[inline]
    pub fn mki(&self) -> Option<&Mki> {
        self.mki.as_ref()
    }

    #[inline]
    fn mki_len(&self) -> usize {
        self.mki.as_ref().map_or(0, Mki::len)
    }

    /// Bytes SRTCP adds to an RTCP packet: the `E || index` word, the MKI and the tag.
    #[inline]
    pub fn overhead(&self) -> usize {
        ESRTCP_WORD_LEN + self.mki_len() + self.suite.rtcp_tag_len()
    }

    /// Where the MKI sits in a datagram of `len` bytes: right after the `E || index` word,
    /// which precedes the HMAC tag (RFC 3711 §3.4) or follows the GCM cipher text and its
    /// tag (RFC 7714 §9.2).
    #[inline]
    fn mki_at(&self, len: usize) -> usize {
        let after = if self.suite.is_aead() {
            0
        } else {
            self.suite.rtcp_tag_len()
        };
        len.saturating_sub(after + self.mki_len())
    }

    /// `true` when this key negotiated no MKI, or when `srtcp` (long enough for this key's
    /// trailer) carries this key's MKI. Checked before any tag is computed.
    pub fn mki_matches(&self, srtcp: &[u8]) -> bool {
        let Some(mki) = &self.mki else { return true };
        let at = self.mki_at(srtcp.len());
        srtcp.len() >= RTCP_HEADER_LEN + self.overhead()
            && srtcp.get(at..at + mki.len()) == Some(mki.as_bytes())
    }

    /// Protects one RTCP compound packet: encrypts everything after its first 8 bytes when
    /// `encrypt` (else sets E = 0 and only authenticates), appends `E || index`, the MKI
    /// and the tag. Writes `rtcp.len() + self.overhead()` bytes into `out` and returns that
    /// length. The sender must give each packet of a key a new `index` (RFC 3711 §3.4:
    /// start at 0, add one per packet, modulo 2^31).
    pub fn protect(
        &self,
        rtcp: &[u8],
        index: u32,
        encrypt: bool,
        out: &mut [u8],
    ) -> Result<usize, ProtectError> {
        let n = rtcp.len();
        if n < RTCP_HEADER_LEN {
            return Err(ProtectError::RtcpTooShort { len: n });
        }
        let needed = n + self.overhead();
        if needed > MAX_PACKET_LEN {
            return Err(ProtectError::TooLong {
                len: n,
                max: MAX_PACKET_LEN - self.overhead(),
            });
        }
        if index > MAX_SRTCP_INDEX {
            return Err(ProtectError::IndexOutOfRange { index });
        }
        if out.len() < needed {
            return Err(ProtectError::OutputTooSmall {
                needed,
                available: out.len(),
            });
        }
        let word = (if encrypt { E_FLAG } else { 0 } | index).to_be_bytes();
        let ssrc = be32(rtcp, 4);
        out[..n].copy_from_slice(rtcp);
        match &self.cipher {
            SessionCipher::CounterMode(cm) => {
                if encrypt {
                    cm.xor_keystream(&cm.iv(ssrc, u64::from(index)), &mut out[RTCP_HEADER_LEN..n]);
                }
                out[n..n + ESRTCP_WORD_LEN].copy_from_slice(&word);
                let tag = cm.tag(&[&out[..n + ESRTCP_WORD_LEN]]);
                let mki_end = self.write_mki(out, n + ESRTCP_WORD_LEN);
                let tag_len = self.suite.rtcp_tag_len();
                out[mki_end..mki_end + tag_len].copy_from_slice(&tag[..tag_len]);
            }
            SessionCipher::Gcm(gcm) => {
                let nonce = gcm.nonce(ssrc, u64::from(index));
                let tag = if encrypt {
                    let aad = gcm_aad(rtcp, word);
                    gcm.seal(&nonce, &aad, &mut out[RTCP_HEADER_LEN..n])
                } else {
                    // RFC 7714 §9.3: the whole packet and the word are associated data;
                    // the word is staged after the packet to make them one slice.
                    out[n..n + ESRTCP_WORD_LEN].copy_from_slice(&word);
                    gcm.seal(&nonce, &out[..n + ESRTCP_WORD_LEN], &mut [])
                }
                .map_err(|_| ProtectError::TooLong {
                    len: n,
                    max: MAX_PACKET_LEN - self.overhead(),
                })?;
                out[n..n + GCM_TAG_LEN].copy_from_slice(&tag);
                let word_at = n + GCM_TAG_LEN;
                out[word_at..word_at + ESRTCP_WORD_LEN].copy_from_slice(&word);
                self.write_mki(out, word_at + ESRTCP_WORD_LEN);
            }
        }
        Ok(needed)
    }

    /// Writes the MKI (if any) at `at`, returns where it ends.
    fn write_mki(&self, out: &mut [u8], at: usize) -> usize {
        match &self.mki {
            Some(mki) => {
                out[at..at + mki.len()].copy_from_slice(mki.as_bytes());
                at + mki.len()
            }
            None => at,
        }
    }

    /// Authenticates one SRTCP datagram and, when its E flag is set, decrypts it.
    ///
    /// **Buffer contract:** `out` must be at least as long as `srtcp` (a buffer of
    /// [`MAX_PACKET_LEN`] bytes always is); the plain compound is written to
    /// `out[..len]`. The rest of `out` is unspecified. Nothing is decrypted before the tag
    /// has been verified: after an error `out` holds at most copies of the datagram's own
    /// bytes.
    pub fn unprotect(&self, srtcp: &[u8], out: &mut [u8]) -> Result<Unprotected, UnprotectError> {
        let n = srtcp.len();
        if n > MAX_PACKET_LEN {
            return Err(UnprotectError::TooLong {
                len: n,
                max: MAX_PACKET_LEN,
            });
        }
        let min = RTCP_HEADER_LEN + self.overhead();
        if n < min {
            return Err(UnprotectError::TooShort { len: n, min });
        }
        if out.len() < n {
            return Err(UnprotectError::OutputTooSmall {
                needed: n,
                available: out.len(),
            });
        }
        if !self.mki_matches(srtcp) {
            return Err(UnprotectError::UnknownMki);
        }
        let word_at = self.mki_at(n) - ESRTCP_WORD_LEN;
        let word = be32(srtcp, word_at);
        let (encrypted, index) = (word & E_FLAG != 0, word & MAX_SRTCP_INDEX);
        let len = match &self.cipher {
            SessionCipher::CounterMode(cm) => {
                unprotect_cm(cm, self.suite, srtcp, word_at, encrypted, index, out)?
            }
            SessionCipher::Gcm(gcm) => unprotect_gcm(gcm, srtcp, word_at, encrypted, index, out)?,
        };
        Ok(Unprotected {
            len,
            index,
            encrypted,
        })
    }
}

/// The associated data of an encrypted SRTCP packet under AES-GCM (RFC 7714 §9.2): the
/// first 8 bytes and the `E || index` word.
fn gcm_aad(packet: &[u8], word: [u8; 4]) -> [u8; RTCP_HEADER_LEN + ESRTCP_WORD_LEN] {
    let mut aad = [0u8; RTCP_HEADER_LEN + ESRTCP_WORD_LEN];
    for (dst, src) in aad
        .iter_mut()
        .zip(packet.iter().take(RTCP_HEADER_LEN).chain(&word))
    {
        *dst = *src;
    }
    aad
}

/// HMAC first, over `header .. E||index`; then AES-CM over the payload when E = 1.
fn unprotect_cm(
    cm: &CounterMode,
    suite: Suite,
    srtcp: &[u8],
    word_at: usize,
    encrypted: bool,
    index: u32,
    out: &mut [u8],
) -> Result<usize, UnprotectError> {
    let tag_len = suite.rtcp_tag_len();
    let received = &srtcp[srtcp.len() - tag_len..];
    let computed = cm.tag(&[&srtcp[..word_at + ESRTCP_WORD_LEN]]);
    if !bool::from(computed[..tag_len].ct_eq(received)) {
        return Err(UnprotectError::AuthenticationFailed);
    }
    out[..word_at].copy_from_slice(&srtcp[..word_at]);
    if encrypted {
        let iv = cm.iv(be32(srtcp, 4), u64::from(index));
        cm.xor_keystream(&iv, &mut out[RTCP_HEADER_LEN..word_at]);
    }
    Ok(word_at)
}

/// AES-GCM verifies and decrypts in one step; with E = 0 the whole packet is associated
/// data and the cipher text is the tag alone.
fn unprotect_gcm(
    gcm: &Gcm,
    srtcp: &[u8],
    word_at: usize,
    encrypted: bool,
    index: u32,
    out: &mut [u8],
) -> Result<usize, UnprotectError> {
    let tag_at = word_at - GCM_TAG_LEN;
    let mut tag = [0u8; GCM_TAG_LEN];
    tag.copy_from_slice(&srtcp[tag_at..word_at]);
    let word = [
        srtcp[word_at],
        srtcp[word_at + 1],
        srtcp[word_at + 2],
        srtcp[word_at + 3],
    ];
    let nonce = gcm.nonce(be32(srtcp, 4), u64::from(index));
    out[..tag_at].copy_from_slice(&srtcp[..tag_at]);
    let opened = if encrypted {
        let aad = gcm_aad(srtcp, word);
        gcm.open(&nonce, &aad, &mut out[RTCP_HEADER_LEN..tag_at], &tag)
    } else {
        // `out` is at least as long as the datagram, so the word fits after the packet.
        out[tag_at..tag_at + ESRTCP_WORD_LEN].copy_from_slice(&word);
        gcm.open(&nonce, &out[..tag_at + ESRTCP_WORD_LEN], &mut [], &tag)
    };
    opened.map_err(|_| UnprotectError::AuthenticationFailed)?;
    Ok(tag_at)
}
