//! Published vectors (RFC 3711 B.2, RFC 6188 §7.1, RFC 7714 §16-17), round trips for every
//! suite with and without MKI and E flag, tampering, truncation, index wrap, and the key
//! ring's policy. Key derivation vectors (RFC 3711 B.3, RFC 6188 §7.2) are in `kdf.rs`.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use super::cipher::AesBlock;
use super::suite::AesKeySize;
use super::*;
use crate::test_rng::Rng;
use crate::wire::rtcp::{
    write_receiver_report, write_sdes_cname, write_sender_report, Compound, CompoundKind,
    ReportBlock,
};
use crate::Timestamp;

/// Hex digits to bytes; whitespace is ignored so vectors can keep the RFC's layout.
pub(crate) fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(digits.len().is_multiple_of(2), "odd hex: {text}");
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).expect("ascii");
            u8::from_str_radix(s, 16).expect("hex digit")
        })
        .collect()
}

/// The keystream blocks at the start and at the end of a 65282-block segment from IV
/// `F0F1...FCFD0000`, as RFC 3711 B.2 and RFC 6188 §7.1 print them.
fn keystream_ends(size: AesKeySize, key: &str) -> (Vec<u8>, Vec<u8>) {
    let aes = AesBlock::new(size, &hex(key));
    let iv: [u8; 16] = hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000").try_into().unwrap();
    let mut keystream = vec![0u8; 65282 * 16];
    aes.xor_keystream(&iv, &mut keystream);
    let tail = keystream[keystream.len() - 48..].to_vec();
    keystream.truncate(48);
    (keystream, tail)
}

#[test]
fn rfc3711_b2_aes_cm_keystream() {
    let (head, tail) = keystream_ends(AesKeySize::Aes128, "2B7E151628AED2A6ABF7158809CF4F3C");
    assert_eq!(
        head,
        hex(
            "E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB
             41E95B3BB0A2E8DD477901E4FCA894C0"
        )
    );
    assert_eq!(
        tail,
        hex(
            "EC8CDF7398607CB0F2D21675EA9EA1E4 362B7C3C6773516318A077D7FC5073AE
             6A2CC3787889374FBEB4C81B17BA6C44"
        )
    );
}

#[test]
fn rfc6188_aes_256_cm_keystream() {
    let (head, tail) = keystream_ends(
        AesKeySize::Aes256,
        "57f82fe3613fd170a85ec93c40b1f0922ec4cb0dc025b58272147cc438944a98",
    );
    assert_eq!(
        head,
        hex(
            "92bdd28a93c3f52511c677d08b5515a4 9da71b2378a854f67050756ded165bac
             63c4868b7096d88421b563b8c94c9a31"
        )
    );
    assert_eq!(
        tail,
        hex(
            "cea518c90fd91ced9cbb18c078a54711 3dbc4814f4da5f00a08772b63c6a046d
             6eb246913062a16891433e97dd01a57f"
        )
    );
}

#[test]
fn the_counter_is_the_whole_block_and_each_block_is_aes_of_it() {
    // E(k, IV + i) for a few i, through the block cipher itself: the keystream is counter
    // mode over the 128-bit block, as RFC 3711 §4.1.1 defines it.
    let aes = AesBlock::new(AesKeySize::Aes128, &hex("2B7E151628AED2A6ABF7158809CF4F3C"));
    let iv: [u8; 16] = hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFDFFFE").try_into().unwrap();
    let mut keystream = [0u8; 64];
    aes.xor_keystream(&iv, &mut keystream);
    let start = u128::from_be_bytes(iv);
    for (i, chunk) in keystream.chunks(16).enumerate() {
        let mut block = (start + i as u128).to_be_bytes();
        aes.encrypt_block(&mut block);
        assert_eq!(chunk, block, "block {i}");
    }
}

// RFC 7714 §16-17: the vectors give the session key and salt, not a master key.
const GCM_KEY_128: &str = "000102030405060708090a0b0c0d0e0f";
const GCM_KEY_256: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
/// "Quid pro quo".
const GCM_SALT: &str = "517569642070726f2071756f";
/// "Gallia est omnis divisa in partes tres", SEQ 0xf17b, SSRC 0x5501a0b2.
const GCM_RTP: &str = "8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973
                       20646976 69736120 696e2070 61727465 73207472 6573";
/// The RTCP packet of §17, SSRC "Mars"; its SRTCP index is 0x5d4.
const GCM_RTCP: &str = "81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930
                        4c756e61 deadbeef deadbeef deadbeef deadbeef deadbeef";
const GCM_RTCP_INDEX: u32 = 0x5d4;

fn gcm_rtp_context(suite: Suite) -> SrtpContext {
    let key = if suite == Suite::AeadAes128Gcm {
        GCM_KEY_128
    } else {
        GCM_KEY_256
    };
    SrtpContext::from_session_keys(suite, &hex(key), &hex(GCM_SALT), &[0; 20])
}

fn gcm_rtcp_context(suite: Suite) -> SrtcpContext {
    let key = if suite == Suite::AeadAes128Gcm {
        GCM_KEY_128
    } else {
        GCM_KEY_256
    };
    SrtcpContext::from_session_keys(suite, &hex(key), &hex(GCM_SALT), &[0; 20])
}

#[test]
fn rfc7714_16_srtp_aes_gcm_encryption_and_decryption() {
    let cases = [
        (
            Suite::AeadAes128Gcm,
            "8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca be633bd5
             0d294e6f 42a5f47a 51c7d19b 36de3adf 8833899d 7f27beb1 6a9152cf 765ee439
             0cce",
        ),
        (
            Suite::AeadAes256Gcm,
            "8040f17b 8041f8d3 5501a0b2 32b1de78 a822fe12 ef9f78fa 332e33aa b1801238
             9a58e2f3 b50b2a02 76ffae0f 1ba63799 b87b7aa3 db36dfff d6b0f9bb 7878d7a7
             6c13",
        ),
    ];
    for (suite, protected) in cases {
        let (plain, protected) = (hex(GCM_RTP), hex(protected));
        let context = gcm_rtp_context(suite);
        let mut out = [0u8; 128];
        let len = context.protect(&plain, 0, &mut out).unwrap();
        assert_eq!(out[..len], protected[..], "{suite}: §16.x.1 encryption");
        let len = context.unprotect(&protected, 0, &mut out).unwrap();
        assert_eq!(out[..len], plain[..], "{suite}: §16.x.2 decryption");
    }
}

#[test]
fn rfc7714_17_srtcp_aes_gcm_encryption_decryption_and_tagging_only() {
    let plain = hex(GCM_RTCP);
    let mut out = [0u8; 128];

    // §17.1: AEAD_AES_128_GCM encryption and tagging.
    let encrypted_128 = hex(
        "81c8000d 4d617273 63e94885 dcdab67c a727d766 2f6b7e99 7ff5c0f7 6c06f32d
         c676a5f1 730d6fda 4ce09b46 86303ded 0bb9275b c84aa458 96cf4d2f c5abf872
         45d9eade 800005d4",
    );
    let aes128 = gcm_rtcp_context(Suite::AeadAes128Gcm);
    let len = aes128
        .protect(&plain, GCM_RTCP_INDEX, true, &mut out)
        .unwrap();
    assert_eq!(out[..len], encrypted_128[..]);

    // §17.2: AEAD_AES_256_GCM verification and decryption.
    let encrypted_256 = hex(
        "81c8000d 4d617273 d50ae4d1 f5ce5d30 4ba297e4 7d470c28 2c3ece5d bffe0a50
         a2eaa5c1 110555be 8415f658 c61de047 6f1b6fad 1d1eb30c 4446839f 57ff6f6c
         b26ac3be 800005d4",
    );
    let aes256 = gcm_rtcp_context(Suite::AeadAes256Gcm);
    let opened = aes256.unprotect(&encrypted_256, &mut out).unwrap();
    assert_eq!(
        opened,
        Unprotected {
            len: plain.len(),
            index: GCM_RTCP_INDEX,
            encrypted: true
        }
    );
    assert_eq!(out[..opened.len], plain[..]);

    // §17.3: AEAD_AES_128_GCM tagging only (E = 0).
    let tagged_128 = hex(
        "81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930 4c756e61
         deadbeef deadbeef deadbeef deadbeef deadbeef 841dd968 3dd78ec9 2ae58790
         125f62b3 000005d4",
    );
    let len = aes128
        .protect(&plain, GCM_RTCP_INDEX, false, &mut out)
        .unwrap();
    assert_eq!(out[..len], tagged_128[..]);
    let opened = aes128.unprotect(&tagged_128, &mut out).unwrap();
    assert!(!opened.encrypted);
    assert_eq!(out[..opened.len], plain[..]);

    // §17.4: AEAD_AES_256_GCM tag verification.
    let tagged_256 = hex(
        "81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930 4c756e61
         deadbeef deadbeef deadbeef deadbeef deadbeef 91db4afb feee5a97 8fab4393
         ed2615fe 000005d4",
    );
    let opened = aes256.unprotect(&tagged_256, &mut out).unwrap();
    assert_eq!((opened.index, opened.encrypted), (GCM_RTCP_INDEX, false));
    assert_eq!(out[..opened.len], plain[..]);

    // Each of them, with one bit flipped anywhere, fails.
    for (context, packet) in [
        (&aes128, &encrypted_128),
        (&aes256, &encrypted_256),
        (&aes128, &tagged_128),
        (&aes256, &tagged_256),
    ] {
        for at in 0..packet.len() {
            let mut bad = packet.clone();
            bad[at] ^= 0x10;
            assert_eq!(
                context.unprotect(&bad, &mut out),
                Err(UnprotectError::AuthenticationFailed),
                "byte {at}"
            );
        }
    }
}

/// A typical compound: SR with one report block, RR with one, SDES CNAME (~100 bytes).
pub(crate) fn sample_compound(rng: &mut Rng) -> Vec<u8> {
    let block = ReportBlock {
        ssrc: rng.next_u64() as u32,
        fraction_lost: 3,
        cumulative_lost: 17,
        extended_highest_sequence: 0x0001_2345,
        jitter: 321,
        last_sr: 0xABCD_0123,
        delay_since_last_sr: 0x0000_8000,
    };
    let ssrc = rng.next_u64() as u32;
    let mut compound = Vec::new();
    write_sender_report(
        &mut compound,
        ssrc,
        rng.next_u64(),
        160_000,
        500,
        80_000,
        &[block],
    );
    write_receiver_report(&mut compound, ssrc, &[block]);
    write_sdes_cname(&mut compound, ssrc, "vtcq@example.invalid");
    compound
}

pub(crate) fn random_key(rng: &mut Rng, suite: Suite, mki: Option<&[u8]>) -> MasterKey {
    let bytes: Vec<u8> = (0..suite.master_key_len() + suite.master_salt_len())
        .map(|_| rng.next_u64() as u8)
        .collect();
    let key = MasterKey::from_key_and_salt(suite, &bytes).unwrap();
    match mki {
        Some(mki) => key.with_mki(Mki::new(mki).unwrap()),
        None => key,
    }
}

#[test]
fn srtcp_round_trips_for_every_suite_with_and_without_mki_and_encryption() {
    let mut rng = Rng(13);
    let mut buf = [0u8; 512];
    let mut out = [0u8; 512];
    for suite in Suite::ALL {
        for mki in [None, Some(&[0xCA, 0xFE, 0x00, 0x01][..])] {
            for encrypt in [true, false] {
                let key = random_key(&mut rng, suite, mki);
                let context = SrtcpContext::new(&key);
                let rtcp = sample_compound(&mut rng);
                let index = (rng.next_u64() as u32) & MAX_SRTCP_INDEX;
                let what = format!("{suite} mki={mki:?} encrypt={encrypt}");

                let len = context.protect(&rtcp, index, encrypt, &mut buf).unwrap();
                assert_eq!(len, rtcp.len() + context.overhead(), "{what}");
                assert_eq!(buf[..8], rtcp[..8], "{what}: the header stays clear");
                // The body keeps its place in every layout; it is cipher text iff E = 1.
                let body_equal = buf[8..rtcp.len()] == rtcp[8..];
                assert_eq!(body_equal, !encrypt, "{what}: encrypted iff E");
                // A protected SRTCP datagram is detected as such by the RTCP walker,
                // whatever the E flag (the tag breaks the tiling).
                if encrypt {
                    assert_eq!(
                        Compound::parse(&buf[..len]).kind(),
                        CompoundKind::Srtcp,
                        "{what}"
                    );
                }

                let opened = context.unprotect(&buf[..len], &mut out).unwrap();
                assert_eq!(
                    opened,
                    Unprotected {
                        len: rtcp.len(),
                        index,
                        encrypted: encrypt
                    },
                    "{what}"
                );
                assert_eq!(out[..opened.len], rtcp[..], "{what}");
                assert_eq!(
                    Compound::parse(&out[..opened.len]).kind(),
                    CompoundKind::Plain
                );
            }
        }
    }
}

#[test]
fn any_tampered_byte_fails_and_truncation_is_an_error_not_a_panic() {
    let mut rng = Rng(3711);
    let mut buf = [0u8; 512];
    let mut out = [0u8; 512];
    for suite in Suite::ALL {
        for mki in [None, Some(&[7u8, 7][..])] {
            for encrypt in [true, false] {
                let key = random_key(&mut rng, suite, mki);
                let context = SrtcpContext::new(&key);
                let rtcp = sample_compound(&mut rng);
                let len = context.protect(&rtcp, 41, encrypt, &mut buf).unwrap();
                let packet = buf[..len].to_vec();
                let mki_range = match (mki, suite.is_aead()) {
                    (None, _) => 0..0,
                    (Some(m), true) => len - m.len()..len,
                    (Some(m), false) => {
                        let at = len - suite.rtcp_tag_len() - m.len();
                        at..at + m.len()
                    }
                };
                for at in 0..len {
                    for flip in [0x01, 0x80] {
                        let mut bad = packet.clone();
                        bad[at] ^= flip;
                        let expected = if mki_range.contains(&at) {
                            UnprotectError::UnknownMki
                        } else {
                            UnprotectError::AuthenticationFailed
                        };
                        assert_eq!(
                            context.unprotect(&bad, &mut out),
                            Err(expected),
                            "{suite} byte {at}"
                        );
                    }
                }
                for cut in 0..len {
                    assert!(
                        context.unprotect(&packet[..cut], &mut out).is_err(),
                        "{suite} cut {cut}"
                    );
                }
                // A wrong key (same suite and MKI) does not authenticate.
                let other = SrtcpContext::new(&random_key(&mut rng, suite, mki));
                assert_eq!(
                    other.unprotect(&packet, &mut out),
                    Err(UnprotectError::AuthenticationFailed)
                );
                // The SRTP (RTP) key of the same master key is not the SRTCP key.
                let mut rtp_like = packet.clone();
                rtp_like[1] = 0; // keep it a valid RTP header for the SRTP context
                assert!(SrtpContext::new(&key)
                    .unprotect(&rtp_like, 0, &mut out)
                    .is_err());
            }
        }
    }
}

#[test]
fn short_and_long_inputs_and_buffers_are_reported() {
    let mut rng = Rng(1);
    let key = random_key(&mut rng, Suite::AesCm128HmacSha1_80, None);
    let context = SrtcpContext::new(&key);
    let rtcp = sample_compound(&mut rng);
    let mut big = vec![0u8; MAX_PACKET_LEN + 64];

    assert_eq!(
        context.protect(&rtcp[..7], 0, true, &mut big),
        Err(ProtectError::RtcpTooShort { len: 7 })
    );
    assert_eq!(
        context.protect(&rtcp, MAX_SRTCP_INDEX + 1, true, &mut big),
        Err(ProtectError::IndexOutOfRange {
            index: MAX_SRTCP_INDEX + 1
        })
    );
    let needed = rtcp.len() + 14;
    assert_eq!(
        context.protect(&rtcp, 0, true, &mut big[..needed - 1]),
        Err(ProtectError::OutputTooSmall {
            needed,
            available: needed - 1
        })
    );
    let huge = vec![0x80u8; MAX_PACKET_LEN];
    assert_eq!(
        context.protect(&huge, 0, true, &mut big),
        Err(ProtectError::TooLong {
            len: MAX_PACKET_LEN,
            max: MAX_PACKET_LEN - 14
        })
    );
    // The largest protectable packet round-trips.
    let largest = &huge[..MAX_PACKET_LEN - 14];
    let len = context.protect(largest, 5, true, &mut big).unwrap();
    assert_eq!(len, MAX_PACKET_LEN);
    let mut out = vec![0u8; MAX_PACKET_LEN];
    let opened = context.unprotect(&big[..len], &mut out).unwrap();
    assert_eq!(out[..opened.len], largest[..]);

    let len = context.protect(&rtcp, 9, true, &mut big).unwrap();
    let protected = big[..len].to_vec();
    assert_eq!(
        context.unprotect(&protected, &mut out[..len - 1]),
        Err(UnprotectError::OutputTooSmall {
            needed: len,
            available: len - 1
        })
    );
    assert_eq!(
        context.unprotect(&protected[..21], &mut out),
        Err(UnprotectError::TooShort { len: 21, min: 22 })
    );
    assert_eq!(
        context.unprotect(&vec![0u8; MAX_PACKET_LEN + 1], &mut big),
        Err(UnprotectError::TooLong {
            len: MAX_PACKET_LEN + 1,
            max: MAX_PACKET_LEN
        })
    );
}

#[test]
fn the_srtcp_index_wraps_at_2_31_and_the_e_flag_is_not_part_of_it() {
    let mut rng = Rng(31);
    let mut buf = [0u8; 512];
    let mut out = [0u8; 512];
    for suite in Suite::ALL {
        let context = SrtcpContext::new(&random_key(&mut rng, suite, None));
        let rtcp = sample_compound(&mut rng);
        let mut ciphertexts = Vec::new();
        for index in [MAX_SRTCP_INDEX - 1, MAX_SRTCP_INDEX, 0, 1] {
            for encrypt in [true, false] {
                let len = context.protect(&rtcp, index, encrypt, &mut buf).unwrap();
                let word_at = if suite.is_aead() { len - 4 } else { len - 14 };
                let word = u32::from_be_bytes(buf[word_at..word_at + 4].try_into().unwrap());
                assert_eq!(word, index | if encrypt { 1 << 31 } else { 0 });
                let opened = context.unprotect(&buf[..len], &mut out).unwrap();
                assert_eq!((opened.index, opened.encrypted), (index, encrypt));
                assert_eq!(out[..opened.len], rtcp[..]);
                if encrypt {
                    ciphertexts.push(buf[8..rtcp.len()].to_vec());
                }
            }
        }
        // Every index gives its own keystream, the wrap included.
        ciphertexts.sort();
        ciphertexts.dedup();
        assert_eq!(ciphertexts.len(), 4, "{suite}");
    }
}

#[test]
fn srtp_round_trips_for_every_suite_across_a_rollover() {
    let mut rng = Rng(48);
    let mut buf = [0u8; 512];
    let mut out = [0u8; 512];
    for suite in Suite::ALL {
        for mki in [None, Some(&[1u8, 2, 3][..])] {
            let key = random_key(&mut rng, suite, mki);
            let context = SrtpContext::new(&key);
            let mut seen = Vec::new();
            for (roc, seq) in [(0u32, 65534u16), (0, 65535), (1, 0), (u32::MAX, 65535)] {
                // V=2, X=1 with a one-word extension, one CSRC.
                let mut rtp = vec![0x91, 0x60];
                rtp.extend_from_slice(&seq.to_be_bytes());
                rtp.extend_from_slice(&0x1234_5678u32.to_be_bytes());
                rtp.extend_from_slice(&0xCAFE_BABEu32.to_be_bytes());
                rtp.extend_from_slice(&0x0000_0001u32.to_be_bytes());
                rtp.extend_from_slice(&[0xBE, 0xDE, 0, 1, 0x10, 0xAA, 0, 0]);
                rtp.extend((0..160).map(|_| rng.next_u64() as u8));
                let header_len = rtp_header_len(&rtp).unwrap();
                assert_eq!(header_len, 24);

                let len = context.protect(&rtp, roc, &mut buf).unwrap();
                assert_eq!(len, rtp.len() + context.overhead());
                assert_eq!(buf[..header_len], rtp[..header_len]);
                assert_ne!(buf[header_len..rtp.len()], rtp[header_len..]);
                seen.push(buf[header_len..rtp.len()].to_vec());
                let plain = context.unprotect(&buf[..len], roc, &mut out).unwrap();
                assert_eq!(out[..plain], rtp[..], "{suite} roc {roc} seq {seq}");
                // The ROC is authenticated (HMAC over ROC, or the GCM IV): a wrong one fails.
                assert_eq!(
                    context.unprotect(&buf[..len], roc.wrapping_add(1), &mut out),
                    Err(UnprotectError::AuthenticationFailed)
                );
                for cut in 0..len {
                    assert!(context.unprotect(&buf[..cut], roc, &mut out).is_err());
                }
            }
            seen.sort();
            seen.dedup();
            assert_eq!(seen.len(), 4, "{suite}: each index has its own keystream");
        }
    }
}

#[test]
fn srtp_refuses_what_is_not_rtp() {
    let mut rng = Rng(2);
    let context = SrtpContext::new(&random_key(&mut rng, Suite::AesCm128HmacSha1_32, None));
    let mut out = [0u8; 64];
    assert_eq!(
        context.protect(&[0x40; 20], 0, &mut out),
        Err(ProtectError::NotRtp)
    );
    // CC = 15 announces 60 bytes of CSRCs.
    assert_eq!(
        context.protect(&[0x8F; 20], 0, &mut out),
        Err(ProtectError::NotRtp)
    );
    assert_eq!(context.overhead(), 4);
}

#[test]
fn roc_estimation_follows_rfc_3711_3_3_1() {
    assert_eq!(guess_roc(65530, 7, 3), 8, "wrapped forward");
    assert_eq!(
        guess_roc(3, 8, 65530),
        7,
        "a late packet of the previous cycle"
    );
    assert_eq!(guess_roc(1000, 8, 1200), 8);
    assert_eq!(guess_roc(40000, 8, 39000), 8);
    assert_eq!(guess_roc(3, 0, 65530), u32::MAX, "modulo 2^32");
}

fn at(secs: i64) -> Timestamp {
    Timestamp::from_nanos(secs * 1_000_000_000)
}

#[test]
fn the_ring_finds_the_right_key_newest_first_and_reports_it() {
    let mut rng = Rng(4568);
    let (old, new) = (
        random_key(&mut rng, Suite::AesCm128HmacSha1_80, None),
        random_key(&mut rng, Suite::AesCm128HmacSha1_80, None),
    );
    let (old_ctx, new_ctx) = (SrtcpContext::new(&old), SrtcpContext::new(&new));
    let mut ring = KeyRing::new(KeyRingConfig::new(4, Duration::from_secs(10)).unwrap());
    let Added::New {
        id: old_id,
        evicted: None,
    } = ring.add(old.clone())
    else {
        panic!("first key")
    };
    assert_eq!(ring.add(old.clone()), Added::AlreadyPresent(old_id));
    let Added::New { id: new_id, .. } = ring.add(new) else {
        panic!("second key")
    };
    assert_eq!(ring.len(), 2);

    let rtcp = sample_compound(&mut rng);
    let (mut buf, mut out) = ([0u8; 256], [0u8; 256]);
    let protect =
        |ctx: &SrtcpContext, index, buf: &mut [u8]| ctx.protect(&rtcp, index, true, buf).unwrap();

    // The sender still uses the old key after the new one was registered: it keeps
    // working, however long, because the new key has not authenticated anything yet.
    let len = protect(&old_ctx, 1, &mut buf);
    let m = ring.unprotect(at(100), &buf[..len], &mut out).unwrap();
    assert_eq!((m.key, m.unprotected.index), (old_id, 1));
    assert_eq!(out[..m.unprotected.len], rtcp[..]);

    // The switch: the new key matches at t = 200 and the old key's overlap starts.
    let len = protect(&new_ctx, 2, &mut buf);
    assert_eq!(
        ring.unprotect(at(200), &buf[..len], &mut out).unwrap().key,
        new_id
    );
    // A delayed report under the old key, inside the overlap, still authenticates.
    let len = protect(&old_ctx, 3, &mut buf);
    assert_eq!(
        ring.unprotect(at(209), &buf[..len], &mut out).unwrap().key,
        old_id
    );
    assert_eq!((ring.len(), ring.retired()), (2, 0));
    // After the overlap the old key is gone: its packets no longer authenticate.
    assert_eq!(
        ring.unprotect(at(211), &buf[..len], &mut out),
        Err(UnprotectError::AuthenticationFailed)
    );
    assert_eq!((ring.len(), ring.retired()), (1, 1));
    assert_eq!(ring.key_ids().collect::<Vec<_>>(), vec![new_id]);
}

#[test]
fn with_an_mki_the_mki_picks_the_key() {
    let mut rng = Rng(5764);
    let suite = Suite::AeadAes256Gcm;
    let one = random_key(&mut rng, suite, Some(&[0, 1]));
    let two = random_key(&mut rng, suite, Some(&[0, 2]));
    let stranger = random_key(&mut rng, suite, Some(&[0, 3]));
    let mut ring = KeyRing::default();
    let Added::New { id: one_id, .. } = ring.add(one.clone()) else {
        panic!()
    };
    let Added::New { id: two_id, .. } = ring.add(two) else {
        panic!()
    };

    let rtcp = sample_compound(&mut rng);
    let (mut buf, mut out) = ([0u8; 256], [0u8; 256]);
    // The older key, named by its MKI, matches even though a newer key exists, and the
    // newer key is not superseded by it.
    let len = SrtcpContext::new(&one)
        .protect(&rtcp, 0, true, &mut buf)
        .unwrap();
    assert_eq!(
        ring.unprotect(at(0), &buf[..len], &mut out).unwrap().key,
        one_id
    );
    let len = SrtcpContext::new(&stranger)
        .protect(&rtcp, 0, true, &mut buf)
        .unwrap();
    assert_eq!(
        ring.unprotect(at(1), &buf[..len], &mut out),
        Err(UnprotectError::UnknownMki)
    );
    // The right MKI with a wrong key is an authentication failure, not a lookup miss.
    let forged = random_key(&mut rng, suite, Some(&[0, 2]));
    let len = SrtcpContext::new(&forged)
        .protect(&rtcp, 0, true, &mut buf)
        .unwrap();
    assert_eq!(
        ring.unprotect(at(2), &buf[..len], &mut out),
        Err(UnprotectError::AuthenticationFailed)
    );
    assert_eq!(ring.key_ids().collect::<Vec<_>>(), vec![one_id, two_id]);
}

#[test]
fn the_ring_is_bounded_and_counts_evictions() {
    let mut rng = Rng(16);
    let mut ring = KeyRing::new(KeyRingConfig::new(2, Duration::from_secs(1)).unwrap());
    assert_eq!(KeyRingConfig::new(0, Duration::ZERO), None);
    assert_eq!(
        KeyRingConfig::new(KeyRingConfig::MAX_CAPACITY + 1, Duration::ZERO),
        None
    );
    let (mut buf, mut out) = ([0u8; 256], [0u8; 256]);
    assert_eq!(
        ring.unprotect(at(0), &[0x80; 40], &mut out),
        Err(UnprotectError::NoKey)
    );

    let keys: Vec<MasterKey> = (0..3)
        .map(|_| random_key(&mut rng, Suite::AesCm256HmacSha1_32, None))
        .collect();
    for key in &keys {
        ring.add(key.clone());
    }
    assert_eq!((ring.len(), ring.evicted()), (2, 1));
    assert_eq!(ring.key_ids().collect::<Vec<_>>(), vec![KeyId(1), KeyId(2)]);
    let rtcp = sample_compound(&mut rng);
    let len = SrtcpContext::new(&keys[0])
        .protect(&rtcp, 0, true, &mut buf)
        .unwrap();
    assert_eq!(
        ring.unprotect(at(0), &buf[..len], &mut out),
        Err(UnprotectError::AuthenticationFailed)
    );
    ring.clear();
    assert!(ring.is_empty());
    // Debug shows ids and suites, never keys.
    ring.add(keys[2].clone());
    let debug = format!("{ring:?}");
    assert!(
        debug.contains("AesCm256HmacSha1_32") && !debug.contains("key: ["),
        "{debug}"
    );
}

#[test]
fn mixed_keys_report_the_most_telling_error() {
    let mut rng = Rng(7);
    let mut ring = KeyRing::default();
    // One key with a long MKI (its trailer is longer) and one without.
    ring.add(random_key(
        &mut rng,
        Suite::AesCm128HmacSha1_80,
        Some(&[9; 40]),
    ));
    ring.add(random_key(&mut rng, Suite::AesCm128HmacSha1_80, None));
    let mut out = [0u8; 64];
    // 30 bytes: too short for the MKI key, long enough for the other: its tag decides.
    assert_eq!(
        ring.unprotect(at(0), &[0x81; 30], &mut out),
        Err(UnprotectError::AuthenticationFailed)
    );
    assert_eq!(
        ring.unprotect(at(0), &[0x81; 12], &mut out),
        Err(UnprotectError::TooShort { len: 12, min: 22 })
    );
}

/// Found by the `srtcp` fuzz target: a key with an MKI and a datagram shorter than its
/// trailer. The ring said "unknown MKI" where the key itself says "too short".
#[test]
fn a_datagram_too_short_for_the_only_key_is_too_short_through_the_ring_too() {
    let mut rng = Rng(77);
    let key = random_key(&mut rng, Suite::AesCm256HmacSha1_80, Some(&[1, 2]));
    let context = SrtcpContext::new(&key);
    let mut ring = KeyRing::default();
    ring.add(key);
    let mut out = [0u8; 64];
    for len in [0, 1, 12, 23] {
        let datagram = vec![0x81; len];
        let expected = Err(UnprotectError::TooShort { len, min: 24 });
        assert_eq!(context.unprotect(&datagram, &mut out), expected);
        assert_eq!(
            ring.unprotect(at(0), &datagram, &mut out)
                .map(|m| m.unprotected),
            expected
        );
    }
}
