//! SRTCP and SRTP protect/unprotect with keys from the input, the key ring, and the key
//! material parsers.
//!
//! Input: `[suite % 6][flags][46 bytes key||salt][4 bytes index/ROC][packet ...]`, padded
//! with zeros when shorter. Flags: bit 0 = MKI negotiated, bit 1 = encrypt (E), bits 2-4 =
//! MKI length - 1 (the MKI is the first bytes of the key material).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vtcq_collector::srtp::{
    rtp_header_len, CryptoAttribute, KeyRing, MasterKey, Mki, SrtcpContext, SrtpContext, Suite,
    UnprotectError, MAX_PACKET_LEN, MAX_SRTCP_INDEX,
};
use vtcq_collector::Timestamp;

const KEY_BYTES: usize = 46;
const HEADER: usize = 2 + KEY_BYTES + 4;

fuzz_target!(|data: &[u8]| {
    let mut head = [0u8; HEADER];
    let n = data.len().min(HEADER);
    head[..n].copy_from_slice(&data[..n]);
    let packet = data.get(HEADER..).unwrap_or_default();

    let suite = Suite::ALL[usize::from(head[0]) % Suite::ALL.len()];
    let (with_mki, encrypt) = (head[1] & 1 != 0, head[1] & 2 != 0);
    let mki_len = usize::from((head[1] >> 2) & 7) + 1;
    let material = &head[2..2 + KEY_BYTES];
    let word = u32::from_be_bytes([head[48], head[49], head[50], head[51]]);
    let (index, roc) = (word & MAX_SRTCP_INDEX, word);

    let key_len = suite.master_key_len() + suite.master_salt_len();
    let mut key = MasterKey::from_key_and_salt(suite, &material[..key_len]).expect("suite lengths");
    if with_mki {
        key = key.with_mki(Mki::new(&material[..mki_len]).expect("1 to 8 bytes"));
    }
    assert!(format!("{key:?}").contains("<redacted>"));
    let srtcp = SrtcpContext::new(&key);
    let srtp = SrtpContext::new(&key);
    let mut ring = KeyRing::default();
    ring.add(key.clone());

    let mut protected = vec![0u8; MAX_PACKET_LEN];
    let mut plain = vec![0u8; MAX_PACKET_LEN];

    // Whatever the bytes: no panic, and the ring agrees with the context.
    let direct = srtcp.unprotect(packet, &mut plain);
    let via_ring = ring.unprotect(Timestamp::from_nanos(0), packet, &mut protected);
    match (&direct, &via_ring) {
        (Ok(a), Ok(b)) => assert_eq!(*a, b.unprotected),
        (Err(a), Err(b)) => assert_eq!(a, b),
        _ => panic!("context {direct:?} and ring {via_ring:?} disagree"),
    }
    if let Ok(opened) = direct {
        // An authentic packet: protecting its plain text again gives it back exactly.
        assert_eq!(opened.len + srtcp.overhead(), packet.len());
        let rtcp = plain[..opened.len].to_vec();
        let len = srtcp
            .protect(&rtcp, opened.index, opened.encrypted, &mut protected)
            .expect("an unprotected packet protects again");
        assert_eq!(&protected[..len], packet);
    }

    // Round trip: protect, then unprotect gives the input back.
    if packet.len() >= 8 && packet.len() + srtcp.overhead() <= MAX_PACKET_LEN {
        let len = srtcp
            .protect(packet, index, encrypt, &mut protected)
            .expect("any 8 bytes or more protect");
        assert_eq!(len, packet.len() + srtcp.overhead());
        assert_eq!(protected[..8], packet[..8]);
        let opened = srtcp.unprotect(&protected[..len], &mut plain).expect("own packet");
        assert_eq!((opened.index, opened.encrypted), (index, encrypt));
        assert_eq!(&plain[..opened.len], packet);
        let matched = ring
            .unprotect(Timestamp::from_nanos(1), &protected[..len], &mut plain)
            .expect("own packet via the ring");
        assert_eq!(matched.unprotected, opened);
        // Any flipped byte fails.
        let at = word as usize % len;
        protected[at] ^= 0x20;
        let tampered = srtcp.unprotect(&protected[..len], &mut plain);
        assert!(
            matches!(
                tampered,
                Err(UnprotectError::AuthenticationFailed | UnprotectError::UnknownMki)
            ),
            "tampered byte {at}: {tampered:?}"
        );
    }

    // SRTP (RTP).
    let _ = srtp.unprotect(packet, roc, &mut plain);
    if rtp_header_len(packet).is_some() && packet.len() + srtp.overhead() <= MAX_PACKET_LEN {
        let len = srtp.protect(packet, roc, &mut protected).expect("an rtp header protects");
        assert_eq!(len, packet.len() + srtp.overhead());
        let plain_len = srtp.unprotect(&protected[..len], roc, &mut plain).expect("own packet");
        assert_eq!(&plain[..plain_len], packet);
    }

    // The key material parsers: no panic, and a base64 key is never quoted in an error.
    if let Ok(text) = std::str::from_utf8(packet) {
        let _ = text.parse::<Suite>();
        let errors = [
            text.parse::<CryptoAttribute>().err(),
            MasterKey::from_sdes_inline(suite, text).err(),
            MasterKey::from_base64(suite, text).err(),
        ];
        for error in errors.into_iter().flatten() {
            let message = error.to_string();
            for candidate in text.split(|c: char| c.is_ascii_whitespace() || "|;:".contains(c)) {
                if candidate.len() >= 12 && !candidate.contains('_') {
                    assert!(!message.contains(candidate), "{message:?} quotes {candidate:?}");
                }
            }
        }
    }
});
