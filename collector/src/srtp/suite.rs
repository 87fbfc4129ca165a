//! The six SRTP crypto suites vtcq speaks, by their SDES names (RFC 4568 §6.2, RFC 6188
//! §6, RFC 7714 §14.1), with the lengths each one fixes.
//!
//! | suite                     | master key | master salt | RTP tag | RTCP tag |
//! |---------------------------|-----------:|------------:|--------:|---------:|
//! | `AES_CM_128_HMAC_SHA1_80` |         16 |          14 |      10 |       10 |
//! | `AES_CM_128_HMAC_SHA1_32` |         16 |          14 |       4 |       10 |
//! | `AES_256_CM_HMAC_SHA1_80` |         32 |          14 |      10 |       10 |
//! | `AES_256_CM_HMAC_SHA1_32` |         32 |          14 |       4 |       10 |
//! | `AEAD_AES_128_GCM`        |         16 |          12 |      16 |       16 |
//! | `AEAD_AES_256_GCM`        |         32 |          12 |      16 |       16 |
//!
//! The `_32` suites shorten only the tag of SRTP (RTP) packets. SRTCP keeps its 80-bit tag:
//! RFC 3711 §5.2 forbids HMAC-SHA1 on SRTCP with a tag shorter than 80 bits ("for SRTCP,
//! the pre-defined HMAC-SHA1 MUST NOT be applied with a value of n_tag, nor n_a, that are
//! smaller than these defaults"), RFC 4568's table in §6.2 lists an 80-bit SRTCP tag for
//! `AES_CM_128_HMAC_SHA1_32`, and libsrtp (the reference implementation, checked by
//! `tests/srtp_crosscheck.rs`) protects SRTCP of a `_32` profile with the 80-bit tag.

use std::fmt;
use std::str::FromStr;

use super::KeyError;

/// An SRTP crypto suite: cipher, key and salt lengths, and tag lengths.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Suite {
    /// AES-128 in counter mode, HMAC-SHA1 with an 80-bit tag (RFC 3711's default).
    AesCm128HmacSha1_80,
    /// As [`Suite::AesCm128HmacSha1_80`] with a 32-bit tag on SRTP only.
    AesCm128HmacSha1_32,
    /// AES-256 in counter mode, HMAC-SHA1 with an 80-bit tag (RFC 6188).
    AesCm256HmacSha1_80,
    /// As [`Suite::AesCm256HmacSha1_80`] with a 32-bit tag on SRTP only.
    AesCm256HmacSha1_32,
    /// AES-128 in Galois/counter mode with a 16-byte tag (RFC 7714).
    AeadAes128Gcm,
    /// AES-256 in Galois/counter mode with a 16-byte tag (RFC 7714).
    AeadAes256Gcm,
}

/// The two AES key sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AesKeySize {
    Aes128,
    Aes256,
}

/// Length of the master salt of the counter-mode suites (112 bits).
pub const CM_SALT_LEN: usize = 14;

/// Length of the master salt of the AEAD suites (96 bits, RFC 7714 §12).
pub const GCM_SALT_LEN: usize = 12;

/// Length of the HMAC-SHA1 session authentication key (160 bits, RFC 3711 §5.2).
pub const AUTH_KEY_LEN: usize = 20;

/// Length of the AES-GCM authentication tag (RFC 7714 §13.2 allows only 16 for SRTP).
pub const GCM_TAG_LEN: usize = 16;

/// The longest master key (AES-256).
pub const MAX_MASTER_KEY_LEN: usize = 32;

/// The longest master salt.
pub const MAX_MASTER_SALT_LEN: usize = CM_SALT_LEN;

impl Suite {
    /// Every suite, in the order of the table above.
    pub const ALL: [Suite; 6] = [
        Suite::AesCm128HmacSha1_80,
        Suite::AesCm128HmacSha1_32,
        Suite::AesCm256HmacSha1_80,
        Suite::AesCm256HmacSha1_32,
        Suite::AeadAes128Gcm,
        Suite::AeadAes256Gcm,
    ];

    /// The SDES name (RFC 4568 `a=crypto` spelling).
    pub const fn name(self) -> &'static str {
        match self {
            Suite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Suite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            Suite::AesCm256HmacSha1_80 => "AES_256_CM_HMAC_SHA1_80",
            Suite::AesCm256HmacSha1_32 => "AES_256_CM_HMAC_SHA1_32",
            Suite::AeadAes128Gcm => "AEAD_AES_128_GCM",
            Suite::AeadAes256Gcm => "AEAD_AES_256_GCM",
        }
    }

    /// The DTLS-SRTP protection profile name (RFC 5764 §4.1.2, RFC 7714 §14.2), for the
    /// suites that have one. RFC 6188 registered no profile for AES-256 counter mode.
    pub const fn dtls_srtp_profile(self) -> Option<&'static str> {
        match self {
            Suite::AesCm128HmacSha1_80 => Some("SRTP_AES128_CM_HMAC_SHA1_80"),
            Suite::AesCm128HmacSha1_32 => Some("SRTP_AES128_CM_HMAC_SHA1_32"),
            Suite::AeadAes128Gcm => Some("SRTP_AEAD_AES_128_GCM"),
            Suite::AeadAes256Gcm => Some("SRTP_AEAD_AES_256_GCM"),
            Suite::AesCm256HmacSha1_80 | Suite::AesCm256HmacSha1_32 => None,
        }
    }

    /// Master (and session encryption) key length in bytes.
    pub const fn master_key_len(self) -> usize {
        match self.aes_key_size() {
            AesKeySize::Aes128 => 16,
            AesKeySize::Aes256 => 32,
        }
    }

    /// Master (and session) salt length in bytes.
    pub const fn master_salt_len(self) -> usize {
        if self.is_aead() {
            GCM_SALT_LEN
        } else {
            CM_SALT_LEN
        }
    }

    /// Length of the authentication tag of an SRTP (RTP) packet.
    pub const fn rtp_tag_len(self) -> usize {
        match self {
            Suite::AesCm128HmacSha1_80 | Suite::AesCm256HmacSha1_80 => 10,
            Suite::AesCm128HmacSha1_32 | Suite::AesCm256HmacSha1_32 => 4,
            Suite::AeadAes128Gcm | Suite::AeadAes256Gcm => GCM_TAG_LEN,
        }
    }

    /// Length of the authentication tag of an SRTCP packet: 80 bits for every HMAC suite
    /// (see the module documentation), 16 bytes for GCM.
    pub const fn rtcp_tag_len(self) -> usize {
        if self.is_aead() {
            GCM_TAG_LEN
        } else {
            10
        }
    }

    /// `true` for the AES-GCM suites (RFC 7714), whose tag is part of the cipher output.
    pub const fn is_aead(self) -> bool {
        matches!(self, Suite::AeadAes128Gcm | Suite::AeadAes256Gcm)
    }

    pub(crate) const fn aes_key_size(self) -> AesKeySize {
        match self {
            Suite::AesCm128HmacSha1_80 | Suite::AesCm128HmacSha1_32 | Suite::AeadAes128Gcm => {
                AesKeySize::Aes128
            }
            Suite::AesCm256HmacSha1_80 | Suite::AesCm256HmacSha1_32 | Suite::AeadAes256Gcm => {
                AesKeySize::Aes256
            }
        }
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Suite {
    type Err = KeyError;

    /// Parses an SDES suite name or a DTLS-SRTP profile name, ignoring ASCII case (RFC 4568
    /// §4: "the values of each of these fields is case-insensitive").
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Suite::ALL
            .into_iter()
            .find(|suite| {
                s.eq_ignore_ascii_case(suite.name())
                    || suite
                        .dtls_srtp_profile()
                        .is_some_and(|profile| s.eq_ignore_ascii_case(profile))
            })
            .ok_or_else(|| KeyError::unknown_suite(s))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_to_its_suite_in_any_case() {
        for suite in Suite::ALL {
            assert_eq!(suite.name().parse::<Suite>().ok(), Some(suite));
            assert_eq!(
                suite.to_string().to_lowercase().parse::<Suite>().ok(),
                Some(suite)
            );
            if let Some(profile) = suite.dtls_srtp_profile() {
                assert_eq!(profile.parse::<Suite>().ok(), Some(suite));
            }
        }
    }

    #[test]
    fn lengths_follow_the_rfc_tables() {
        use Suite::*;
        let table = [
            (AesCm128HmacSha1_80, 16, 14, 10, 10),
            (AesCm128HmacSha1_32, 16, 14, 4, 10),
            (AesCm256HmacSha1_80, 32, 14, 10, 10),
            (AesCm256HmacSha1_32, 32, 14, 4, 10),
            (AeadAes128Gcm, 16, 12, 16, 16),
            (AeadAes256Gcm, 32, 12, 16, 16),
        ];
        for (suite, key, salt, rtp_tag, rtcp_tag) in table {
            assert_eq!(
                (
                    suite.master_key_len(),
                    suite.master_salt_len(),
                    suite.rtp_tag_len(),
                    suite.rtcp_tag_len()
                ),
                (key, salt, rtp_tag, rtcp_tag),
                "{suite}"
            );
        }
    }

    #[test]
    fn an_unknown_name_is_refused_and_a_key_like_token_is_not_echoed() {
        let err = "F8_128_HMAC_SHA1_80".parse::<Suite>().unwrap_err();
        assert_eq!(err.to_string(), "unknown crypto suite F8_128_HMAC_SHA1_80");
        // A bot that put the key where the suite belongs must not see it in the error.
        let secret = "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";
        let err = secret.parse::<Suite>().unwrap_err();
        assert!(!err.to_string().contains("WVNf"), "{err}");
    }
}
