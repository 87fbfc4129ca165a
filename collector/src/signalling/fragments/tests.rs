#![allow(clippy::unwrap_used)]

use super::*;
use crate::signalling::testing::Rng;
use crate::wire::link::{decode_udp, write_udp_frame, LinkError};

const ETH: usize = 14;

/// An Ethernet/IPv4/UDP frame of `payload`, cut into IP fragments of at most `chunk`
/// payload bytes (a multiple of 8), with identification `id`.
pub(crate) fn fragmented(payload: &[u8], chunk: usize, id: u16) -> Vec<Vec<u8>> {
    let mut frame = Vec::new();
    write_udp_frame(
        &mut frame,
        LinkType::Ethernet,
        "192.0.2.10:5060".parse().unwrap(),
        "198.51.100.20:5060".parse().unwrap(),
        payload,
    )
    .unwrap();
    let ip_payload = frame[ETH + 20..].to_vec();
    let mut out = Vec::new();
    for (n, piece) in ip_payload.chunks(chunk).enumerate() {
        let mut f = frame[..ETH + 20].to_vec();
        let offset_units = (n * chunk / 8) as u16;
        let more = (n + 1) * chunk < ip_payload.len();
        let total = (20 + piece.len()) as u16;
        f[ETH + 2..ETH + 4].copy_from_slice(&total.to_be_bytes());
        f[ETH + 4..ETH + 6].copy_from_slice(&id.to_be_bytes());
        let flags = if more { 0x2000 } else { 0 } | offset_units;
        f[ETH + 6..ETH + 8].copy_from_slice(&flags.to_be_bytes());
        f.extend_from_slice(piece);
        out.push(f);
    }
    out
}

fn feed(
    r: &mut FragmentReassembler,
    c: &mut FragmentCounters,
    frames: &[Vec<u8>],
) -> Option<Vec<u8>> {
    let mut whole = None;
    for f in frames {
        assert_eq!(decode_udp(LinkType::Ethernet, f), Err(LinkError::Fragment));
        if let Some(d) = r.on_fragment(Timestamp::from_nanos(0), LinkType::Ethernet, f, c) {
            assert_eq!(d.src.port(), 5060);
            whole = Some(d.payload.to_vec());
        }
    }
    whole
}

#[test]
fn fragments_in_any_order_make_the_datagram_whole() {
    let payload: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let mut frames = fragmented(&payload, 1480, 7);
    assert_eq!(frames.len(), 3);
    let mut r = FragmentReassembler::new(FragmentConfig::default());
    let mut c = FragmentCounters::default();
    assert_eq!(feed(&mut r, &mut c, &frames), Some(payload.clone()));
    // Last fragment first, first last.
    frames.reverse();
    assert_eq!(feed(&mut r, &mut c, &frames), Some(payload));
    assert_eq!(c.reassembled, 2);
    assert_eq!(c.fragments, 6);
    assert!(r.is_empty());
}

#[test]
fn overlaps_timeouts_and_the_table_bound() {
    let payload = vec![b'x'; 2000];
    let frames = fragmented(&payload, 1000, 9);
    let mut r = FragmentReassembler::new(FragmentConfig {
        max_datagrams: 2,
        timeout: Duration::from_secs(30),
    });
    let mut c = FragmentCounters::default();
    // The same first fragment twice overlaps itself: the datagram is dropped.
    assert!(feed(&mut r, &mut c, &[frames[0].clone(), frames[0].clone()]).is_none());
    assert_eq!(c.dropped_malformed, 1);
    assert!(r.is_empty());
    // Three incomplete datagrams in a table of two: the oldest goes.
    for id in 0..3u16 {
        let first = fragmented(&payload, 1000, 100 + id).remove(0);
        let now = Timestamp::from_nanos(i64::from(id));
        assert!(r
            .on_fragment(now, LinkType::Ethernet, &first, &mut c)
            .is_none());
    }
    assert_eq!(r.len(), 2);
    assert_eq!(c.dropped_incomplete, 1);
    // Thirty-one seconds later they are all expired.
    let later = Timestamp::from_nanos(0).after(Duration::from_secs(31));
    let other = fragmented(&payload, 1000, 555).remove(0);
    r.on_fragment(later, LinkType::Ethernet, &other, &mut c);
    assert_eq!(r.len(), 1);
    assert_eq!(c.dropped_incomplete, 3);
}

#[test]
fn random_fragments_never_panic() {
    let mut rng = Rng(0x5eed_0005);
    let mut r = FragmentReassembler::new(FragmentConfig::default());
    let mut c = FragmentCounters::default();
    let frames = fragmented(&vec![b'a'; 4000], 1000, 1);
    for round in 0..20_000i64 {
        let pick = (rng.next() as usize) % frames.len();
        let f = rng.mutate(&frames[pick]);
        let _ = r.on_fragment(
            Timestamp::from_nanos(round * 1_000_000),
            LinkType::Ethernet,
            &f,
            &mut c,
        );
        assert!(r.len() <= FragmentConfig::default().max_datagrams);
    }
}
