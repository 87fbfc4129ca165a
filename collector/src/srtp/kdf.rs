//! Session key derivation (RFC 3711 §4.3) with a key derivation rate of 0: each session
//! key is derived once, from the master key and salt, with its label.
//!
//! ```text
//!   key_id = label || (index DIV kdr)        (kdr = 0: 48 zero bits)
//!        x = key_id XOR master_salt          (right-aligned in 112 bits)
//!  PRF_n   = first n bits of AES-CM(k_master, IV = x * 2^16)
//! ```
//!
//! With a 14-byte master salt the label lands on byte 7 of the salt. The AES-GCM suites
//! have a 12-byte master salt (RFC 7714 §11-12); it fills the first 12 bytes of the
//! 112-bit field and the last two stay zero, as libsrtp does it, so the label is XORed
//! into byte 7 there too. AES-256 suites key the PRF with the 256-bit master key
//! (RFC 6188 §5.1 and RFC 7714 §11, `AES_256_CM_PRF`).

use super::cipher::AesBlock;
use super::suite::CM_SALT_LEN;

/// Labels of RFC 3711 §4.3.1-4.3.2: SRTP uses 0, 1, 2; SRTCP 3, 4, 5.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Labels {
    pub encryption: u8,
    pub authentication: u8,
    pub salt: u8,
}

/// The SRTP (RTP) labels.
pub(crate) const SRTP_LABELS: Labels = Labels {
    encryption: 0x00,
    authentication: 0x01,
    salt: 0x02,
};

/// The SRTCP labels.
pub(crate) const SRTCP_LABELS: Labels = Labels {
    encryption: 0x03,
    authentication: 0x04,
    salt: 0x05,
};

/// Fills `out` with `PRF_n(master_key, label XOR master_salt)`, n = `out.len()` bytes.
/// `prf` is the AES block cipher keyed with the master key; `master_salt` is 12 or 14
/// bytes.
pub(crate) fn derive(prf: &AesBlock, master_salt: &[u8], label: u8, out: &mut [u8]) {
    let mut iv = [0u8; 16];
    let salt_len = master_salt.len().min(CM_SALT_LEN);
    iv[..salt_len].copy_from_slice(&master_salt[..salt_len]);
    iv[7] ^= label;
    out.fill(0);
    // A session key is at most 32 bytes: far inside one keystream segment.
    prf.xor_keystream(&iv, out);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::srtp::suite::AesKeySize;
    use crate::srtp::tests::hex;

    fn prf(master_key: &str) -> AesBlock {
        let key = hex(master_key);
        let size = if key.len() == 32 {
            AesKeySize::Aes256
        } else {
            AesKeySize::Aes128
        };
        AesBlock::new(size, &key)
    }

    /// RFC 3711 Appendix B.3: the cipher key, cipher salt and a 94-byte auth key.
    #[test]
    fn rfc3711_b3_key_derivation() {
        let prf = prf("E1F97A0D3E018BE0D64FA32C06DE4139");
        let salt = hex("0EC675AD498AFEEBB6960B3AABE6");
        let mut cipher_key = [0u8; 16];
        derive(&prf, &salt, 0x00, &mut cipher_key);
        assert_eq!(cipher_key[..], hex("C61E7A93744F39EE10734AFE3FF7A087")[..]);
        let mut cipher_salt = [0u8; 14];
        derive(&prf, &salt, 0x02, &mut cipher_salt);
        assert_eq!(cipher_salt[..], hex("30CBBC08863D8C85D49DB34A9AE1")[..]);
        let mut auth_key = [0u8; 94];
        derive(&prf, &salt, 0x01, &mut auth_key);
        assert_eq!(
            auth_key[..],
            hex(
                "CEBE321F6FF7716B6FD4AB49AF256A15 6D38BAA48F0A0ACF3C34E2359E6CDBCE
                 E049646C43D9327AD175578EF7227098 6371C10C9A369AC2F94A8C5FBCDDDC25
                 6D6E919A48B610EF17C2041E47403576 6B68642C59BBFC2F34DB60DBDFB2"
            )[..]
        );
    }

    /// RFC 6188 §7.2: AES_256_CM_PRF.
    #[test]
    fn rfc6188_aes_256_key_derivation() {
        let prf = prf("f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b6");
        let salt = hex("3b04803de51ee7c96423ab5b78d2");
        let mut cipher_key = [0u8; 32];
        derive(&prf, &salt, 0x00, &mut cipher_key);
        assert_eq!(
            cipher_key[..],
            hex("5ba1064e30ec51613cad926c5a28ef731ec7fb397f70a960653caf06554cd8c4")[..]
        );
        let mut cipher_salt = [0u8; 14];
        derive(&prf, &salt, 0x02, &mut cipher_salt);
        assert_eq!(cipher_salt[..], hex("fa31791685ca444a9e07c6c64e93")[..]);
        let mut auth_key = [0u8; 20];
        derive(&prf, &salt, 0x01, &mut auth_key);
        assert_eq!(
            auth_key[..],
            hex("fd9c32d39ed5fbb5a9dc96b30818454d1313dc05")[..]
        );
    }

    /// Each label gives a different key, and a 12-byte salt is the 14-byte salt with two
    /// zero bytes at its end (the GCM suites' padding).
    #[test]
    fn labels_separate_keys_and_a_short_salt_is_zero_padded_on_the_right() {
        let prf = prf("E1F97A0D3E018BE0D64FA32C06DE4139");
        let salt14 = hex("0EC675AD498AFEEBB6960B3A0000");
        let mut outputs = Vec::new();
        for label in 0..6 {
            let (mut short, mut long) = ([0u8; 16], [0u8; 16]);
            derive(&prf, &salt14[..12], label, &mut short);
            derive(&prf, &salt14, label, &mut long);
            assert_eq!(short, long);
            outputs.push(short);
        }
        outputs.sort_unstable();
        outputs.dedup();
        assert_eq!(outputs.len(), 6);
    }
}
