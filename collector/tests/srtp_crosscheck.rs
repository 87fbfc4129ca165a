//! vtcq's SRTP/SRTCP against libsrtp, an independent implementation (through the
//! `pylibsrtp` package; see `srtp_crosscheck.py`).
//!
//! - Always: every packet libsrtp protected in the committed fixture
//!   (`fixtures/srtp_crosscheck.txt`, made by `python3 collector/tests/srtp_crosscheck.py
//!   generate > collector/tests/fixtures/srtp_crosscheck.txt`) authenticates and decrypts
//!   to its plain packet, and vtcq protecting the plain packet with the same key, index
//!   and E flag (or ROC) produces libsrtp's bytes exactly.
//! - When `python3 -c 'import pylibsrtp'` works: a fresh run of the script prints the
//!   fixture again (libsrtp still agrees with what is committed), and libsrtp unprotects
//!   packets vtcq protected, for every suite, with and without MKI, E = 0 and 1, SRTCP
//!   indices up to 2^31 - 1 and ROCs across 2^32.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use vtcq_collector::srtp::{
    MasterKey, Mki, SrtcpContext, SrtpContext, Suite, MAX_PACKET_LEN, MAX_SRTCP_INDEX,
};
use vtcq_sim::Rng;

const FIXTURE: &str = include_str!("fixtures/srtp_crosscheck.txt");

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/srtp_crosscheck.py")
}

fn unhex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One fixture line.
#[derive(Debug)]
enum Case {
    Srtcp {
        suite: Suite,
        key: Vec<u8>,
        mki: Option<Vec<u8>>,
        plain: Vec<u8>,
        protected: Vec<u8>,
    },
    Srtp {
        suite: Suite,
        key: Vec<u8>,
        mki: Option<Vec<u8>>,
        roc: u32,
        plain: Vec<u8>,
        protected: Vec<u8>,
    },
}

fn master_key(suite: Suite, key: &[u8], mki: &Option<Vec<u8>>) -> MasterKey {
    let master = MasterKey::from_key_and_salt(suite, key).unwrap();
    match mki {
        Some(mki) => master.with_mki(Mki::new(mki).unwrap()),
        None => master,
    }
}

fn parse(fixture: &str) -> Vec<Case> {
    fixture
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let suite: Suite = f[1].parse().unwrap();
            let key = unhex(f[2]);
            let mki = (f[3] != "-").then(|| unhex(f[3]));
            match f[0] {
                "srtcp" => Case::Srtcp {
                    suite,
                    key,
                    mki,
                    plain: unhex(f[4]),
                    protected: unhex(f[5]),
                },
                "srtp" => Case::Srtp {
                    suite,
                    key,
                    mki,
                    roc: f[4].parse().unwrap(),
                    plain: unhex(f[5]),
                    protected: unhex(f[6]),
                },
                other => panic!("unknown line kind {other}"),
            }
        })
        .collect()
}

/// The E flag and index of a protected SRTCP packet, read where the suite puts them.
fn srtcp_word(suite: Suite, mki_len: usize, packet: &[u8]) -> (bool, u32) {
    let after = mki_len
        + if suite.is_aead() {
            0
        } else {
            suite.rtcp_tag_len()
        };
    let at = packet.len() - after - 4;
    let word = u32::from_be_bytes(packet[at..at + 4].try_into().unwrap());
    (word >> 31 == 1, word & MAX_SRTCP_INDEX)
}

#[test]
fn libsrtp_packets_authenticate_decrypt_and_are_reproduced_byte_exactly() {
    let cases = parse(FIXTURE);
    let mut out = vec![0u8; MAX_PACKET_LEN];
    let mut covered = HashSet::new();
    for (n, case) in cases.iter().enumerate() {
        match case {
            Case::Srtcp {
                suite,
                key,
                mki,
                plain,
                protected,
            } => {
                let context = SrtcpContext::new(&master_key(*suite, key, mki));
                let opened = context
                    .unprotect(protected, &mut out)
                    .unwrap_or_else(|e| panic!("line {n}: {suite}: {e}"));
                assert_eq!(
                    out[..opened.len],
                    plain[..],
                    "line {n}: {suite} decrypts exactly"
                );
                let (encrypted, index) =
                    srtcp_word(*suite, mki.as_ref().map_or(0, Vec::len), protected);
                assert_eq!((opened.encrypted, opened.index), (encrypted, index));
                let len = context.protect(plain, index, encrypted, &mut out).unwrap();
                assert_eq!(
                    out[..len],
                    protected[..],
                    "line {n}: {suite} protects as libsrtp"
                );
                covered.insert(("srtcp", *suite, mki.is_some(), encrypted));
            }
            Case::Srtp {
                suite,
                key,
                mki,
                roc,
                plain,
                protected,
            } => {
                let context = SrtpContext::new(&master_key(*suite, key, mki));
                let len = context
                    .unprotect(protected, *roc, &mut out)
                    .unwrap_or_else(|e| panic!("line {n}: {suite} roc {roc}: {e}"));
                assert_eq!(out[..len], plain[..], "line {n}: {suite} decrypts exactly");
                let len = context.protect(plain, *roc, &mut out).unwrap();
                assert_eq!(
                    out[..len],
                    protected[..],
                    "line {n}: {suite} protects as libsrtp"
                );
                covered.insert(("srtp", *suite, mki.is_some(), *roc > 0xFFFF_0000));
            }
        }
    }
    // The fixture covers every suite, with and without MKI, E = 0 and 1, and a ROC wrap.
    for suite in Suite::ALL {
        for mki in [false, true] {
            for flag in [false, true] {
                assert!(
                    covered.contains(&("srtcp", suite, mki, flag)),
                    "{suite} mki {mki} E {flag}"
                );
                assert!(
                    covered.contains(&("srtp", suite, mki, flag)),
                    "{suite} mki {mki} high roc {flag}"
                );
            }
        }
    }
}

/// `None` (with the reason printed) when pylibsrtp cannot be imported.
fn python_with_pylibsrtp() -> Option<()> {
    let probe = Command::new("python3")
        .args(["-c", "import pylibsrtp"])
        .output();
    match probe {
        Ok(output) if output.status.success() => Some(()),
        Ok(output) => {
            eprintln!(
                "skipped: python3 cannot import pylibsrtp (pip install pylibsrtp): {}",
                String::from_utf8_lossy(&output.stderr)
                    .trim()
                    .lines()
                    .last()
                    .unwrap_or_default()
            );
            None
        }
        Err(e) => {
            eprintln!("skipped: no python3 ({e})");
            None
        }
    }
}

#[test]
fn a_fresh_libsrtp_run_still_prints_the_committed_fixture() {
    if python_with_pylibsrtp().is_none() {
        return;
    }
    let output = Command::new("python3")
        .arg(script())
        .arg("generate")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let fresh = String::from_utf8(output.stdout).unwrap();
    // The first line names the libsrtp version, which may differ; the packets may not.
    let packets = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(packets(&fresh), packets(FIXTURE));
}

#[test]
fn libsrtp_accepts_what_vtcq_protects() {
    if python_with_pylibsrtp().is_none() {
        return;
    }
    let mut rng = Rng(0x5EC);
    let mut input = String::new();
    let mut expected = Vec::new();
    let mut buf = vec![0u8; MAX_PACKET_LEN];
    for suite in Suite::ALL {
        for mki in [None, Some(vec![0xA5u8; 3])] {
            let key: Vec<u8> = (0..suite.master_key_len() + suite.master_salt_len())
                .map(|_| rng.next_u64() as u8)
                .collect();
            let master = master_key(suite, &key, &mki);
            let mki_hex = mki.as_deref().map_or("-".to_owned(), hex);

            let srtcp = SrtcpContext::new(&master);
            for (index, encrypt) in [
                (0, true),
                (1, false),
                (0x1234_5678, true),
                (MAX_SRTCP_INDEX, true),
                (MAX_SRTCP_INDEX - 1, false),
            ] {
                let ssrc = rng.next_u64() as u32;
                let mut rtcp = vec![0x80, 201, 0, 1];
                rtcp.extend_from_slice(&ssrc.to_be_bytes());
                let mut sr = vec![0x81, 200, 0, 12];
                sr.extend_from_slice(&ssrc.to_be_bytes());
                sr.extend((0..44).map(|_| rng.next_u64() as u8));
                let plain = [sr, rtcp].concat();
                let len = srtcp.protect(&plain, index, encrypt, &mut buf).unwrap();
                input.push_str(&format!(
                    "srtcp {suite} {} {mki_hex} {}\n",
                    hex(&key),
                    hex(&buf[..len])
                ));
                expected.push((format!("{suite} srtcp index {index} E {encrypt}"), plain));
            }

            let srtp = SrtpContext::new(&master);
            for (roc, seq) in [
                (0u32, 1u16),
                (0, 40_000),
                (1, 65_535),
                (0xFFFF_FFFF, 7),
                (0x8000_0000, 50_000),
            ] {
                let ssrc = rng.next_u64() as u32;
                let mut rtp = vec![0x80, 0x60];
                rtp.extend_from_slice(&seq.to_be_bytes());
                rtp.extend_from_slice(&(rng.next_u64() as u32).to_be_bytes());
                rtp.extend_from_slice(&ssrc.to_be_bytes());
                rtp.extend((0..(rng.next_u64() % 1200) as usize).map(|_| rng.next_u64() as u8));
                let len = srtp.protect(&rtp, roc, &mut buf).unwrap();
                input.push_str(&format!(
                    "srtp {suite} {} {mki_hex} {roc} {}\n",
                    hex(&key),
                    hex(&buf[..len])
                ));
                expected.push((format!("{suite} srtp roc {roc} seq {seq}"), rtp));
            }
        }
    }

    let mut child = Command::new("python3")
        .arg(script())
        .arg("unprotect")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answers: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(answers.len(), expected.len());
    for (answer, (what, plain)) in answers.iter().zip(&expected) {
        assert_eq!(answer, &format!("ok {}", hex(plain)), "{what}");
    }
}
