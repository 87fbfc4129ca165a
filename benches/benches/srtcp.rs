//! SRTCP per datagram for every suite (run with `cargo bench -p vtcq-benches --bench srtcp`):
//! unprotect of a typical ~100-byte SR + RR + SDES compound through a context and through a
//! key ring (its key found first, or second after a newer key that fails), protect of the
//! same compound, and protect of RTP packets (audio 160 bytes, video 1100 bytes of payload).
#![deny(unsafe_code)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vtcq_collector::srtp::{
    KeyRing, KeyRingConfig, MasterKey, SrtcpContext, SrtpContext, Suite, MAX_PACKET_LEN,
};
use vtcq_collector::Timestamp;
use vtcq_sim::Rng;

fn key(rng: &mut Rng, suite: Suite) -> MasterKey {
    let bytes: Vec<u8> = (0..suite.master_key_len() + suite.master_salt_len())
        .map(|_| rng.next_u64() as u8)
        .collect();
    MasterKey::from_key_and_salt(suite, &bytes).expect("suite lengths")
}

fn srtcp(c: &mut Criterion) {
    let mut rng = Rng(2026);
    let compound = vtcq_benches::typical_rtcp_compound();
    let mut out = vec![0u8; MAX_PACKET_LEN];
    let mut scratch = vec![0u8; MAX_PACKET_LEN];

    let mut group = c.benchmark_group("srtcp_unprotect");
    group.throughput(Throughput::Elements(1));
    for suite in Suite::ALL {
        let master = key(&mut rng, suite);
        let context = SrtcpContext::new(&master);
        let len = context
            .protect(&compound, 1234, true, &mut scratch)
            .expect("protect");
        let packet = scratch[..len].to_vec();
        group.bench_function(suite.name(), |b| {
            b.iter(|| {
                context
                    .unprotect(black_box(&packet), &mut out)
                    .expect("authentic")
            })
        });
        // Through a ring whose newest key is not the sender's: two tags per datagram, the
        // worst case of a re-key announced before the device switched.
        let mut ring = KeyRing::new(KeyRingConfig::default());
        ring.add(master.clone());
        ring.add(key(&mut rng, suite));
        group.bench_function(format!("{}/ring_second_key", suite.name()), |b| {
            b.iter(|| {
                ring.unprotect(Timestamp::from_nanos(0), black_box(&packet), &mut out)
                    .expect("authentic")
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("srtcp_protect");
    group.throughput(Throughput::Elements(1));
    for suite in Suite::ALL {
        let context = SrtcpContext::new(&key(&mut rng, suite));
        group.bench_function(suite.name(), |b| {
            b.iter(|| {
                context
                    .protect(black_box(&compound), 99, true, &mut out)
                    .expect("protect")
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("srtp_protect");
    for (what, payload) in [("audio_160", 160usize), ("video_1100", 1100)] {
        let mut rtp = vec![0x80, 96, 0x12, 0x34, 0, 0, 0x10, 0, 0xDE, 0xCA, 0xFB, 0xAD];
        rtp.extend((0..payload).map(|_| rng.next_u64() as u8));
        group.throughput(Throughput::Bytes(rtp.len() as u64));
        for suite in Suite::ALL {
            let context = SrtpContext::new(&key(&mut rng, suite));
            group.bench_function(format!("{}/{what}", suite.name()), |b| {
                b.iter(|| {
                    context
                        .protect(black_box(&rtp), 7, &mut out)
                        .expect("protect")
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, srtcp);
criterion_main!(benches);
