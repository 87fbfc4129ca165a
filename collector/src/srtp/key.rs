//! Master keys in the three forms a bot holds them:
//!
//! - the SDES key parameter of RFC 4568 §6.1,
//!   `inline:BASE64(key||salt)[|LIFETIME][|MKI:LENGTH]` ([`MasterKey::from_sdes_inline`]);
//! - the whole `a=crypto` attribute value, `1 AES_CM_128_HMAC_SHA1_80 inline:...
//!   [session parameters]` ([`CryptoAttribute`], via [`str::parse`]);
//! - base64 of key||salt, which is how a bot passes a DTLS-SRTP exporter's output
//!   (RFC 5764 §4.2: `client_write_SRTP_master_key || client_write_SRTP_master_salt` for
//!   what the DTLS client sends) ([`MasterKey::from_base64`]), or the raw bytes
//!   ([`MasterKey::new`]).
//!
//! A [`MasterKey`] is a secret: its bytes are zeroed when it is dropped, its `Debug` shows
//! `<redacted>`, and no error message quotes it.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use super::suite::{MAX_MASTER_KEY_LEN, MAX_MASTER_SALT_LEN};
use super::{KeyError, Suite};

/// The longest MKI (RFC 4568 §6.1; libsrtp's bound too).
pub const MAX_MKI_LEN: usize = 128;

/// The largest lifetime a key may declare: 2^48 SRTP packets (RFC 3711 §9.2).
pub const MAX_LIFETIME: u64 = 1 << 48;

/// Most keys one `a=crypto` attribute may carry here.
pub const MAX_KEYS_PER_ATTRIBUTE: usize = 16;

/// Base64 as RFC 4568 uses it (RFC 3548 §3 alphabet); padding optional, as stacks differ.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A Master Key Identifier: the bytes a sender appends to each packet to say which master
/// key protected it (RFC 3711 §3.1). Not secret: it travels in the clear.
#[derive(Clone, PartialEq, Eq)]
pub struct Mki {
    bytes: [u8; MAX_MKI_LEN],
    len: u8,
}

impl Mki {
    /// An MKI of the given bytes (the DTLS-SRTP form, RFC 5764 §4.1.1), 1 to 128 of them.
    pub fn new(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.is_empty() || bytes.len() > MAX_MKI_LEN {
            return Err(KeyError::Mki);
        }
        let mut mki = Mki {
            bytes: [0; MAX_MKI_LEN],
            len: bytes.len() as u8,
        };
        mki.bytes[..bytes.len()].copy_from_slice(bytes);
        Ok(mki)
    }

    /// The SDES form (RFC 4568 §6.1): `value` as a big-endian integer in `len` bytes.
    pub fn from_value(value: u64, len: usize) -> Result<Self, KeyError> {
        if len == 0 || len > MAX_MKI_LEN || (len < 8 && value >> (8 * len) != 0) {
            return Err(KeyError::Mki);
        }
        let mut mki = Mki {
            bytes: [0; MAX_MKI_LEN],
            len: len as u8,
        };
        let be = value.to_be_bytes();
        let tail = len.min(be.len());
        mki.bytes[len - tail..len].copy_from_slice(&be[be.len() - tail..]);
        Ok(mki)
    }

    /// The MKI as it appears on the wire.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Its length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Always `false`: an MKI has at least one byte.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for Mki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mki({self})")
    }
}

impl fmt::Display for Mki {
    /// Hex, the way it reads in a packet dump.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// One SRTP master key and master salt for one suite, with the MKI and lifetime that came
/// with it. Zeroed on drop; `Debug` never shows the key.
#[derive(Clone)]
pub struct MasterKey {
    suite: Suite,
    key: [u8; MAX_MASTER_KEY_LEN],
    salt: [u8; MAX_MASTER_SALT_LEN],
    mki: Option<Mki>,
    lifetime: Option<u64>,
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.key.zeroize();
        self.salt.zeroize();
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("suite", &self.suite)
            .field("key", &"<redacted>")
            .field("mki", &self.mki)
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

impl MasterKey {
    /// A master key and salt given separately, as raw bytes.
    pub fn new(suite: Suite, key: &[u8], salt: &[u8]) -> Result<Self, KeyError> {
        let length = |part, expected, actual| KeyError::Length {
            suite,
            part,
            expected,
            actual,
        };
        if key.len() != suite.master_key_len() {
            return Err(length("master key", suite.master_key_len(), key.len()));
        }
        if salt.len() != suite.master_salt_len() {
            return Err(length("master salt", suite.master_salt_len(), salt.len()));
        }
        let mut master = MasterKey {
            suite,
            key: [0; MAX_MASTER_KEY_LEN],
            salt: [0; MAX_MASTER_SALT_LEN],
            mki: None,
            lifetime: None,
        };
        master.key[..key.len()].copy_from_slice(key);
        master.salt[..salt.len()].copy_from_slice(salt);
        Ok(master)
    }

    /// Master key followed by master salt, as one byte string.
    pub fn from_key_and_salt(suite: Suite, key_and_salt: &[u8]) -> Result<Self, KeyError> {
        let expected = suite.master_key_len() + suite.master_salt_len();
        if key_and_salt.len() != expected {
            return Err(KeyError::Length {
                suite,
                part: "master key and salt",
                expected,
                actual: key_and_salt.len(),
            });
        }
        let (key, salt) = key_and_salt.split_at(suite.master_key_len());
        MasterKey::new(suite, key, salt)
    }

    /// Base64 of key||salt (padding optional): a DTLS-SRTP exporter's output as a bot
    /// passes it, or the first field of an SDES inline key.
    pub fn from_base64(suite: Suite, base64: &str) -> Result<Self, KeyError> {
        let expected = suite.master_key_len() + suite.master_salt_len();
        let actual = decoded_len(base64).ok_or(KeyError::Base64)?;
        if actual != expected {
            return Err(KeyError::Length {
                suite,
                part: "master key and salt",
                expected,
                actual,
            });
        }
        let mut buf = Zeroizing::new([0u8; MAX_MASTER_KEY_LEN + MAX_MASTER_SALT_LEN]);
        let written = BASE64
            .decode_slice(base64.as_bytes(), &mut buf[..expected])
            .map_err(|_| KeyError::Base64)?;
        MasterKey::from_key_and_salt(suite, &buf[..written])
    }

    /// An SDES key parameter (RFC 4568 §6.1):
    /// `inline:BASE64(key||salt)[|LIFETIME][|MKI:LENGTH]`, where LIFETIME is a decimal
    /// packet count or `2^N` and the MKI is a decimal value written in LENGTH bytes.
    pub fn from_sdes_inline(suite: Suite, key_param: &str) -> Result<Self, KeyError> {
        let info = key_param
            .get(..7)
            .filter(|method| method.eq_ignore_ascii_case("inline:"))
            .and_then(|_| key_param.get(7..))
            .ok_or(KeyError::NotInline)?;
        let mut fields = info.split('|');
        let mut master = MasterKey::from_base64(suite, fields.next().unwrap_or_default())?;
        // The lifetime never has a colon and the MKI always has one, so either may be
        // omitted without ambiguity.
        let mut rest: Vec<&str> = fields.collect();
        if rest.len() > 2 {
            return Err(KeyError::MalformedAttribute(
                "an inline key has at most a lifetime and an mki after the key",
            ));
        }
        if let Some(mki) = rest.last().filter(|field| field.contains(':')) {
            master.mki = Some(parse_mki(mki)?);
            rest.pop();
        }
        match rest.as_slice() {
            [] => {}
            [lifetime] => master.lifetime = Some(parse_lifetime(lifetime)?),
            _ => return Err(KeyError::Mki),
        }
        Ok(master)
    }

    /// The same key with an MKI (the DTLS-SRTP form gives it separately).
    pub fn with_mki(mut self, mki: Mki) -> Self {
        self.mki = Some(mki);
        self
    }

    /// The suite this key is for.
    #[inline]
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// The MKI that names this key in packets, when one was negotiated.
    #[inline]
    pub fn mki(&self) -> Option<&Mki> {
        self.mki.as_ref()
    }

    /// The declared lifetime in packets (`None`: the suite's default, RFC 3711 §9.2). Not
    /// enforced here: a passive reader has no say in when the sender re-keys.
    #[inline]
    pub fn lifetime(&self) -> Option<u64> {
        self.lifetime
    }

    /// The master key bytes.
    #[inline]
    pub(crate) fn key(&self) -> &[u8] {
        &self.key[..self.suite.master_key_len()]
    }

    /// The master salt bytes.
    #[inline]
    pub(crate) fn salt(&self) -> &[u8] {
        &self.salt[..self.suite.master_salt_len()]
    }

    /// Same suite, key, salt and MKI, compared in constant time over the secret bytes.
    pub(crate) fn same_key_as(&self, other: &MasterKey) -> bool {
        let secrets_equal: bool =
            (self.key.ct_eq(&other.key) & self.salt.ct_eq(&other.salt)).into();
        secrets_equal && self.suite == other.suite && self.mki == other.mki
    }
}

/// The decoded length of base64 text, `None` when no valid base64 has this shape.
fn decoded_len(base64: &str) -> Option<usize> {
    let unpadded = base64.trim_end_matches('=');
    if base64.len() - unpadded.len() > 2 || unpadded.len() % 4 == 1 {
        return None;
    }
    Some(unpadded.len() * 3 / 4)
}

/// A decimal number without sign or spaces.
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `2^N` or a decimal packet count, 1 to 2^48.
fn parse_lifetime(field: &str) -> Result<u64, KeyError> {
    let lifetime = match field.strip_prefix("2^") {
        Some(exponent) => parse_decimal(exponent)
            .filter(|&n| n <= 48)
            .map(|n| 1u64 << n),
        None => parse_decimal(field),
    };
    lifetime
        .filter(|&packets| (1..=MAX_LIFETIME).contains(&packets))
        .ok_or(KeyError::Lifetime)
}

/// `VALUE:LENGTH`, both decimal.
fn parse_mki(field: &str) -> Result<Mki, KeyError> {
    let (value, len) = field.split_once(':').ok_or(KeyError::Mki)?;
    let value = parse_decimal(value).ok_or(KeyError::Mki)?;
    let len = parse_decimal(len).ok_or(KeyError::Mki)?;
    Mki::from_value(value, usize::try_from(len).map_err(|_| KeyError::Mki)?)
}

/// The session parameters of an `a=crypto` attribute (RFC 4568 §6.3) that matter to vtcq.
/// `FEC_ORDER`, `FEC_KEY`, `WSH` and parameters starting with `-` are accepted and ignored
/// (they concern FEC streams and replay windows, not how a packet is authenticated);
/// `KDR` is refused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionParams {
    /// `UNENCRYPTED_SRTCP`: the sender clears the E flag. A receiver honours each packet's
    /// E flag anyway.
    pub unencrypted_srtcp: bool,
    /// `UNENCRYPTED_SRTP`: RTP payloads in the clear.
    pub unencrypted_srtp: bool,
    /// `UNAUTHENTICATED_SRTP`: RTP packets without a tag.
    pub unauthenticated_srtp: bool,
}

/// An SDP `a=crypto` attribute value (RFC 4568 §9.1):
/// `TAG SUITE inline:KEY[|LIFETIME][|MKI:LEN][;inline:...] [SESSION-PARAM ...]`,
/// optionally with the leading `a=crypto:`. Parse it with [`str::parse`].
#[derive(Debug)]
pub struct CryptoAttribute {
    /// The attribute's tag (the number the answer uses to pick an offer's line).
    pub tag: u32,
    /// The suite.
    pub suite: Suite,
    /// One key, or several each with an MKI of the same length.
    pub keys: Vec<MasterKey>,
    /// The session parameters.
    pub params: SessionParams,
}

impl FromStr for CryptoAttribute {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let s = s.strip_prefix("a=crypto:").unwrap_or(s);
        let mut tokens = s.split_ascii_whitespace();
        let (Some(tag), Some(suite), Some(key_params)) =
            (tokens.next(), tokens.next(), tokens.next())
        else {
            return Err(KeyError::MalformedAttribute(
                "expected a tag, a suite and key parameters",
            ));
        };
        let tag = parse_decimal(tag)
            .filter(|_| tag.len() <= 9)
            .and_then(|tag| u32::try_from(tag).ok())
            .ok_or(KeyError::MalformedAttribute(
                "the tag is not a decimal number of 1 to 9 digits",
            ))?;
        let suite: Suite = suite.parse()?;

        let mut keys = Vec::new();
        for key_param in key_params.split(';') {
            if keys.len() == MAX_KEYS_PER_ATTRIBUTE {
                return Err(KeyError::TooManyKeys {
                    max: MAX_KEYS_PER_ATTRIBUTE,
                });
            }
            keys.push(MasterKey::from_sdes_inline(suite, key_param)?);
        }
        if keys.len() > 1 {
            let first_len = keys[0].mki().map(Mki::len);
            if first_len.is_none() || keys.iter().any(|k| k.mki().map(Mki::len) != first_len) {
                return Err(KeyError::MkiRequired);
            }
        }

        let mut params = SessionParams::default();
        for param in tokens {
            match param {
                "UNENCRYPTED_SRTCP" => params.unencrypted_srtcp = true,
                "UNENCRYPTED_SRTP" => params.unencrypted_srtp = true,
                "UNAUTHENTICATED_SRTP" => params.unauthenticated_srtp = true,
                p if p.starts_with("KDR=") => return Err(KeyError::UnsupportedKdr),
                p if p.starts_with('-')
                    || p.starts_with("FEC_ORDER=")
                    || p.starts_with("FEC_KEY=")
                    || p.starts_with("WSH=") => {}
                p => return Err(KeyError::unsupported_session_parameter(p)),
            }
        }
        Ok(CryptoAttribute {
            tag,
            suite,
            keys,
            params,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// RFC 4568 §6.1's example key (30 bytes of AES_CM_128_HMAC_SHA1_80 key||salt).
    const RFC_KEY: &str = "d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj";

    #[test]
    fn the_rfc_4568_inline_example_gives_key_salt_lifetime_and_mki() {
        let key = MasterKey::from_sdes_inline(
            Suite::AesCm128HmacSha1_80,
            &format!("inline:{RFC_KEY}|2^20|1:4"),
        )
        .expect("the RFC's example parses");
        assert_eq!(key.key(), b"wDfvg&T+)xG7@fb5");
        assert_eq!(key.salt(), b"jU,RaA}\\|p0%*#");
        assert_eq!(key.lifetime(), Some(1 << 20));
        assert_eq!(key.mki().map(Mki::as_bytes), Some(&[0, 0, 0, 1][..]));
    }

    #[test]
    fn lifetime_and_mki_are_each_optional_and_the_lifetime_may_be_decimal() {
        let suite = Suite::AesCm128HmacSha1_80;
        let bare = MasterKey::from_sdes_inline(suite, &format!("inline:{RFC_KEY}")).unwrap();
        assert_eq!((bare.lifetime(), bare.mki()), (None, None));
        let mki_only =
            MasterKey::from_sdes_inline(suite, &format!("inline:{RFC_KEY}|1066:4")).unwrap();
        assert_eq!(mki_only.lifetime(), None);
        assert_eq!(mki_only.mki().map(Mki::as_bytes), Some(&[0, 0, 4, 42][..]));
        let decimal =
            MasterKey::from_sdes_inline(suite, &format!("INLINE:{RFC_KEY}|1048576")).unwrap();
        assert_eq!(decimal.lifetime(), Some(1 << 20));
    }

    #[test]
    fn bad_fields_are_refused_with_the_reason() {
        let suite = Suite::AesCm128HmacSha1_80;
        let cases = [
            (format!("{RFC_KEY}|2^20"), KeyError::NotInline),
            (format!("inline:{RFC_KEY}|2^49"), KeyError::Lifetime),
            (format!("inline:{RFC_KEY}|0"), KeyError::Lifetime),
            (format!("inline:{RFC_KEY}|twenty"), KeyError::Lifetime),
            (format!("inline:{RFC_KEY}|256:1"), KeyError::Mki),
            (format!("inline:{RFC_KEY}|1:0"), KeyError::Mki),
            (format!("inline:{RFC_KEY}|1:129"), KeyError::Mki),
            (format!("inline:{RFC_KEY}|1:4|2^20"), KeyError::Mki),
            (
                "inline:d0Rm!mcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj".to_owned(),
                KeyError::Base64,
            ),
            (
                "inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1c".to_owned(),
                KeyError::Length {
                    suite,
                    part: "master key and salt",
                    expected: 30,
                    actual: 24,
                },
            ),
        ];
        for (param, expected) in cases {
            assert_eq!(
                MasterKey::from_sdes_inline(suite, &param).unwrap_err(),
                expected,
                "{param}"
            );
        }
    }

    #[test]
    fn base64_is_accepted_with_or_without_padding() {
        // 28 bytes (AES-128-GCM key||salt) need one padding character.
        let material: Vec<u8> = (0u8..28).collect();
        let padded = base64::engine::general_purpose::STANDARD.encode(&material);
        assert!(padded.ends_with('='));
        for text in [padded.as_str(), padded.trim_end_matches('=')] {
            let key = MasterKey::from_base64(Suite::AeadAes128Gcm, text).unwrap();
            assert_eq!(key.key(), &material[..16]);
            assert_eq!(key.salt(), &material[16..]);
        }
    }

    #[test]
    fn debug_and_errors_never_show_the_key() {
        let key = MasterKey::from_sdes_inline(
            Suite::AesCm128HmacSha1_80,
            &format!("inline:{RFC_KEY}|2^20|1:4"),
        )
        .unwrap();
        let debug = format!("{key:?}");
        assert!(debug.contains("<redacted>"), "{debug}");
        for secret in ["wDfvg", "d0Rmd", "77, 68"] {
            assert!(!debug.contains(secret), "{debug}");
        }
        // A key in the place of the suite, and a key after a session parameter name.
        for attribute in [
            format!("1 inline:{RFC_KEY} AES_CM_128_HMAC_SHA1_80"),
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY} {RFC_KEY}"),
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{}", &RFC_KEY[..20]),
        ] {
            let err = attribute
                .parse::<CryptoAttribute>()
                .unwrap_err()
                .to_string();
            assert!(!err.contains(&RFC_KEY[..8]), "{err}");
        }
    }

    #[test]
    fn a_crypto_attribute_gives_tag_suite_keys_and_session_parameters() {
        let line = format!(
            "a=crypto:2 AES_256_CM_HMAC_SHA1_32 inline:{k}|2^31|1:2;inline:{k2}|2:2 \
             UNENCRYPTED_SRTCP WSH=128 -X_VENDOR FEC_KEY=inline:{k}",
            k = "dnRjcSB0ZXN0IGtleSwgNDYgYnl0ZXM6IEFFUy0yNTYga2V5IHx8IHNhbHQhIQ==",
            k2 = "YW5vdGhlciBrZXk6IDQ2IGJ5dGVzIG9mIEFFUy0yNTYga2V5IGFuZCBzYWx0IQ",
        );
        let attr: CryptoAttribute = line.parse().expect("a two-key attribute");
        assert_eq!((attr.tag, attr.suite), (2, Suite::AesCm256HmacSha1_32));
        assert_eq!(attr.keys.len(), 2);
        assert_eq!(attr.keys[0].lifetime(), Some(1 << 31));
        assert_eq!(attr.keys[1].mki().map(Mki::as_bytes), Some(&[0, 2][..]));
        assert!(!attr.keys[0].same_key_as(&attr.keys[1]));
        assert_eq!(
            attr.params,
            SessionParams {
                unencrypted_srtcp: true,
                ..SessionParams::default()
            }
        );
    }

    #[test]
    fn malformed_attributes_are_refused() {
        let k = RFC_KEY;
        let cases = [
            (
                "1 AES_CM_128_HMAC_SHA1_80".to_owned(),
                "malformed crypto attribute: expected a tag, a suite and key parameters",
            ),
            (
                format!("x AES_CM_128_HMAC_SHA1_80 inline:{k}"),
                "malformed crypto attribute: the tag is not a decimal number of 1 to 9 digits",
            ),
            (
                format!("1 AES_CM_128_HMAC_SHA1_80 inline:{k};inline:{k}|1:4"),
                "several keys in one crypto attribute must each carry an mki of the same length",
            ),
            (
                format!("1 AES_CM_128_HMAC_SHA1_80 inline:{k}|1:4;inline:{k}|2:2"),
                "several keys in one crypto attribute must each carry an mki of the same length",
            ),
            (
                format!("1 AES_CM_128_HMAC_SHA1_80 inline:{k} KDR=10"),
                "key derivation rate (KDR) is not supported: session keys are derived once",
            ),
            (
                format!("1 AES_CM_128_HMAC_SHA1_80 inline:{k} FANCY_MODE=1"),
                "unsupported session parameter FANCY_MODE",
            ),
            (
                format!("1 AES_CM_128_HMAC_SHA1_80 url:{k}"),
                "key parameter must start with \"inline:\"",
            ),
        ];
        for (attribute, message) in cases {
            let err = attribute.parse::<CryptoAttribute>().unwrap_err();
            assert_eq!(err.to_string(), message, "{attribute}");
        }
        let many = vec![format!("inline:{k}|1:1"); MAX_KEYS_PER_ATTRIBUTE + 1].join(";");
        assert_eq!(
            format!("1 AES_CM_128_HMAC_SHA1_80 {many}")
                .parse::<CryptoAttribute>()
                .unwrap_err(),
            KeyError::TooManyKeys {
                max: MAX_KEYS_PER_ATTRIBUTE
            }
        );
    }

    #[test]
    fn mki_values_are_right_aligned_big_endian() {
        assert_eq!(Mki::from_value(1066, 4).unwrap().as_bytes(), &[0, 0, 4, 42]);
        assert_eq!(Mki::from_value(255, 1).unwrap().as_bytes(), &[255]);
        assert_eq!(Mki::from_value(256, 1).unwrap_err(), KeyError::Mki);
        let long = Mki::from_value(u64::MAX, 10).unwrap();
        assert_eq!(
            long.as_bytes(),
            &[0, 0, 255, 255, 255, 255, 255, 255, 255, 255]
        );
        assert_eq!(long.to_string(), "0000ffffffffffffffff");
        assert_eq!(Mki::new(&[]).unwrap_err(), KeyError::Mki);
        assert_eq!(Mki::new(&[7; 128]).unwrap().len(), 128);
        assert_eq!(Mki::new(&[7; 129]).unwrap_err(), KeyError::Mki);
    }

    #[test]
    fn raw_key_and_salt_lengths_are_checked_per_suite() {
        for suite in Suite::ALL {
            let key = vec![1u8; suite.master_key_len()];
            let salt = vec![2u8; suite.master_salt_len()];
            assert!(MasterKey::new(suite, &key, &salt).is_ok(), "{suite}");
            assert!(matches!(
                MasterKey::new(suite, &key[1..], &salt),
                Err(KeyError::Length {
                    part: "master key",
                    ..
                })
            ));
            assert!(matches!(
                MasterKey::new(suite, &key, &[0; 13]),
                Err(KeyError::Length {
                    part: "master salt",
                    ..
                })
            ));
        }
    }
}
