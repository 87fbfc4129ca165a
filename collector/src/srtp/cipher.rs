//! The session-level primitives one direction's SRTP or SRTCP uses, keyed once per master
//! key: AES counter mode and HMAC-SHA1 (RFC 3711 §4.1.1, §4.2.1; RFC 6188), or AES-GCM
//! (RFC 7714). Nothing here allocates; the keyed states are cloned on the stack per packet.

use aes::cipher::{InnerIvInit, KeyInit, StreamCipher};
use aes::{Aes128, Aes256};
use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use zeroize::Zeroizing;

use super::kdf::{self, Labels};
use super::suite::{AesKeySize, AUTH_KEY_LEN, CM_SALT_LEN, GCM_SALT_LEN, GCM_TAG_LEN};
use super::{MasterKey, Suite};

/// `bytes` in an array of `N` (cut, or padded with zeros), zeroed when dropped.
fn zero_padded<const N: usize>(bytes: &[u8]) -> Zeroizing<[u8; N]> {
    let mut array = Zeroizing::new([0u8; N]);
    for (dst, src) in array.iter_mut().zip(bytes) {
        *dst = *src;
    }
    array
}

/// AES counter mode over the whole 128-bit block, starting at `iv`, borrowing the keyed
/// cipher (no key schedule per packet).
fn counter_mode<'a, C>(aes: &'a C, iv: &[u8; 16]) -> ctr::Ctr128BE<&'a C>
where
    C: aes::cipher::BlockCipherEncrypt
        + aes::cipher::BlockSizeUser<BlockSize = aes::cipher::consts::U16>,
{
    ctr::Ctr128BE::from_core(ctr::CtrCore::inner_iv_init(aes, &(*iv).into()))
}

/// An AES block cipher of either key size.
pub(crate) enum AesBlock {
    Aes128(Aes128),
    Aes256(Aes256),
}

impl AesBlock {
    /// AES of `size` keyed with `key`, which has that size's length (a [`MasterKey`] and
    /// the key derivation guarantee it; missing bytes would count as zero).
    pub(crate) fn new(size: AesKeySize, key: &[u8]) -> Self {
        match size {
            AesKeySize::Aes128 => AesBlock::Aes128(Aes128::new(&(*zero_padded::<16>(key)).into())),
            AesKeySize::Aes256 => AesBlock::Aes256(Aes256::new(&(*zero_padded::<32>(key)).into())),
        }
    }

    /// XORs the AES counter-mode keystream `E(k, IV) || E(k, IV + 1 mod 2^128) || ...`
    /// into `buf`.
    pub(crate) fn xor_keystream(&self, iv: &[u8; 16], buf: &mut [u8]) {
        // A 128-bit counter never reports the end of its keystream (the remaining block
        // count does not fit a usize), so `apply_keystream` has no panicking path here.
        match self {
            AesBlock::Aes128(aes) => counter_mode(aes, iv).apply_keystream(buf),
            AesBlock::Aes256(aes) => counter_mode(aes, iv).apply_keystream(buf),
        }
    }

    /// `E(k, block)`, for the known-answer tests of the keystream.
    #[cfg(test)]
    pub(crate) fn encrypt_block(&self, block: &mut [u8; 16]) {
        use aes::cipher::BlockCipherEncrypt;
        let mut b = (*block).into();
        match self {
            AesBlock::Aes128(aes) => aes.encrypt_block(&mut b),
            AesBlock::Aes256(aes) => aes.encrypt_block(&mut b),
        }
        block.copy_from_slice(&b);
    }
}

/// AES-CM with HMAC-SHA1: the session encryption key (expanded), the session salt, and
/// HMAC keyed with the session authentication key.
pub(crate) struct CounterMode {
    aes: AesBlock,
    salt: Zeroizing<[u8; CM_SALT_LEN]>,
    mac: Hmac<Sha1>,
}

impl CounterMode {
    fn new(aes: AesBlock, salt: &[u8], auth_key: &[u8; AUTH_KEY_LEN]) -> Self {
        // HMAC pads a key shorter than the hash's 64-byte block with zeros (RFC 2104 §2),
        // so keying it with the zero-padded block is the same HMAC and cannot fail.
        let block = zero_padded::<64>(auth_key);
        CounterMode {
            aes,
            salt: zero_padded(salt),
            mac: <Hmac<Sha1> as KeyInit>::new(&(*block).into()),
        }
    }

    /// The IV of RFC 3711 §4.1.1: `(k_s * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16)`.
    /// `index` is the 48-bit SRTP index `ROC || SEQ` or the 31-bit SRTCP index.
    #[inline]
    pub(crate) fn iv(&self, ssrc: u32, index: u64) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv[..CM_SALT_LEN].copy_from_slice(&*self.salt);
        for (b, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
            *b ^= s;
        }
        for (b, i) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
            *b ^= i;
        }
        iv
    }

    /// Encrypts or decrypts `buf` in place (counter mode is its own inverse).
    #[inline]
    pub(crate) fn xor_keystream(&self, iv: &[u8; 16], buf: &mut [u8]) {
        self.aes.xor_keystream(iv, buf);
    }

    /// HMAC-SHA1 over the concatenation of `parts` (untruncated; the caller keeps the
    /// tag's length in bytes).
    #[inline]
    pub(crate) fn tag(&self, parts: &[&[u8]]) -> [u8; 20] {
        let mut mac = self.mac.clone();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

/// AES-GCM keyed with the session key, and the 12-byte session salt.
pub(crate) struct Gcm {
    aead: GcmKey,
    salt: Zeroizing<[u8; GCM_SALT_LEN]>,
}

enum GcmKey {
    Aes128(Aes128Gcm),
    Aes256(Aes256Gcm),
}

/// AES-GCM refused the lengths (never for a datagram) or the tag did not match.
#[derive(Debug)]
pub(crate) struct GcmFailure;

impl Gcm {
    fn new(aes: AesBlock, salt: &[u8]) -> Self {
        let aead = match aes {
            AesBlock::Aes128(aes) => GcmKey::Aes128(Aes128Gcm::from(aes)),
            AesBlock::Aes256(aes) => GcmKey::Aes256(Aes256Gcm::from(aes)),
        };
        Gcm {
            aead,
            salt: zero_padded(salt),
        }
    }

    /// The IV of RFC 7714 §8.1 / §9.1: `00 00 || SSRC || index (48 bits) XOR salt`, where
    /// the index is `ROC || SEQ` for SRTP and `0 (17 bits) || SRTCP index` for SRTCP.
    #[inline]
    pub(crate) fn nonce(&self, ssrc: u32, index: u64) -> [u8; 12] {
        let mut iv = *self.salt;
        for (b, s) in iv[2..6].iter_mut().zip(ssrc.to_be_bytes()) {
            *b ^= s;
        }
        for (b, i) in iv[6..12].iter_mut().zip(&index.to_be_bytes()[2..]) {
            *b ^= i;
        }
        iv
    }

    /// Encrypts `buf` in place and returns the tag.
    pub(crate) fn seal(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; GCM_TAG_LEN], GcmFailure> {
        let nonce = (*nonce).into();
        let tag = match &self.aead {
            GcmKey::Aes128(aead) => aead.encrypt_inout_detached(&nonce, aad, buf.into()),
            GcmKey::Aes256(aead) => aead.encrypt_inout_detached(&nonce, aad, buf.into()),
        };
        tag.map(Into::into).map_err(|_| GcmFailure)
    }

    /// Checks `tag` over `aad` and the ciphertext in `buf`, then decrypts `buf` in place.
    /// On failure `buf` is left as it was (AES-GCM verifies before it decrypts).
    pub(crate) fn open(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; GCM_TAG_LEN],
    ) -> Result<(), GcmFailure> {
        let (nonce, tag) = ((*nonce).into(), (*tag).into());
        let opened = match &self.aead {
            GcmKey::Aes128(aead) => aead.decrypt_inout_detached(&nonce, aad, buf.into(), &tag),
            GcmKey::Aes256(aead) => aead.decrypt_inout_detached(&nonce, aad, buf.into(), &tag),
        };
        opened.map_err(|_| GcmFailure)
    }
}

/// The keyed primitives of one SRTP or SRTCP session.
pub(crate) enum SessionCipher {
    CounterMode(CounterMode),
    Gcm(Gcm),
}

impl SessionCipher {
    /// Derives the session keys of `master` with `labels` (RFC 3711 §4.3, kdr 0) and keys
    /// the primitives with them. The derived keys are zeroed once keyed.
    pub(crate) fn derive(master: &MasterKey, labels: Labels) -> Self {
        let suite = master.suite();
        let prf = AesBlock::new(suite.aes_key_size(), master.key());
        let mut key = Zeroizing::new([0u8; 32]);
        let key = &mut key[..suite.master_key_len()];
        let mut salt = Zeroizing::new([0u8; CM_SALT_LEN]);
        let salt = &mut salt[..suite.master_salt_len()];
        let mut auth = Zeroizing::new([0u8; AUTH_KEY_LEN]);
        kdf::derive(&prf, master.salt(), labels.encryption, key);
        kdf::derive(&prf, master.salt(), labels.salt, salt);
        if !suite.is_aead() {
            kdf::derive(&prf, master.salt(), labels.authentication, &mut *auth);
        }
        Self::from_session_keys(suite, key, salt, &auth)
    }

    /// Keys the primitives with session keys directly: what the RFC 7714 vectors give.
    /// `key` has the suite's key length and `salt` its salt length (a [`MasterKey`]
    /// guarantees both); `auth` is unused by the GCM suites.
    pub(crate) fn from_session_keys(
        suite: Suite,
        key: &[u8],
        salt: &[u8],
        auth: &[u8; AUTH_KEY_LEN],
    ) -> Self {
        let aes = AesBlock::new(suite.aes_key_size(), key);
        if suite.is_aead() {
            SessionCipher::Gcm(Gcm::new(aes, salt))
        } else {
            SessionCipher::CounterMode(CounterMode::new(aes, salt, auth))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keyed states zero themselves when dropped: the `zeroize` features of the
    /// RustCrypto crates are on (this fails to compile otherwise).
    #[test]
    fn keyed_primitives_zeroize_on_drop() {
        fn zeroize_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        zeroize_on_drop::<Aes128>();
        zeroize_on_drop::<Aes256>();
        zeroize_on_drop::<Aes128Gcm>();
        zeroize_on_drop::<Aes256Gcm>();
        // HMAC's keyed state is two SHA-1 cores (the inner and outer padded keys hashed);
        // `Hmac` has no marker of its own, its cores zero themselves.
        zeroize_on_drop::<sha1::block_api::Sha1Core>();
        zeroize_on_drop::<sha1::Sha1>();
        zeroize_on_drop::<ctr::Ctr128BE<Aes128>>();
    }
}
