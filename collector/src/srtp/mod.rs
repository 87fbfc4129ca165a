//! SRTP and SRTCP (RFC 3711; RFC 6188 AES-256; RFC 7714 AES-GCM), sans-IO: master keys in,
//! authenticated plain RTCP out. This is the cryptographic core behind reading encrypted
//! media legs (issue 13): the analyzer decrypts SRTCP with it and then reads the compound
//! like clear RTCP; the simulator and the live test peer protect with it.
//!
//! # Framing
//!
//! SRTCP keeps the first 8 bytes of the compound (the first header and the sender's SSRC)
//! in the clear and encrypts the rest. Under AES counter mode with HMAC-SHA1
//! (RFC 3711 §3.4), the trailer is `E || index`, the optional MKI, then the tag:
//!
//! ```text
//!       0                   1                   2                   3
//!       0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//!      +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+<+
//!      |V=2|P|    RC   |   PT=SR or RR   |             length          | |
//!      +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ |
//!      |                         SSRC of sender                        | |
//!    +>+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+ |
//!    | ~                          sender info                          ~ |
//!    | +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ |
//!    | ~               report blocks, SDES, BYE, APP, ...              ~ |
//!    +>+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+ |
//!    | |E|                         SRTCP index                         | |
//!    | +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+<+
//!    | ~                     SRTCP MKI (OPTIONAL)                      ~ |
//!    | +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ |
//!    | :             authentication tag (80 bits, HMAC-SHA1)           : |
//!    | +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ |
//!    |                                                                   |
//!    +-- Encrypted Portion                    Authenticated Portion -----+
//! ```
//!
//! - The tag is HMAC-SHA1 over the authenticated portion (header to index, not the MKI),
//!   truncated to 80 bits, for every HMAC suite: the `_32` suites shorten only SRTP's RTP
//!   tag (see [`Suite`]).
//! - The keystream is AES-CM with `IV = (salt * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16)`
//!   (RFC 3711 §4.1.1), SSRC being the one of the first header.
//! - E = 0: the packet was authenticated, not encrypted (RFC 3711 §3.4; a stack may send
//!   its final BYE that way). The index is 31 bits and is not reset on re-keying.
//!
//! Under AES-GCM (RFC 7714 §9, §17) the tag is the end of the cipher output, so it comes
//! *before* the `E || index` word, and the MKI, when present, ends the packet:
//!
//! ```text
//!  E = 1                                     E = 0
//!  +------------------------------------+    +------------------------------------+
//!  | header, SSRC (8 bytes, clear; AAD) |    | whole RTCP compound (clear; AAD)   |
//!  +------------------------------------+    +------------------------------------+
//!  | RTCP payload (encrypted)           |    | GCM tag (16 bytes)                 |
//!  +------------------------------------+    +------------------------------------+
//!  | GCM tag (16 bytes)                 |    | 0 | SRTCP index (AAD)              |
//!  +------------------------------------+    +------------------------------------+
//!  | 1 | SRTCP index (AAD)              |    | MKI (optional)                     |
//!  +------------------------------------+    +------------------------------------+
//!  | MKI (optional)                     |
//!  +------------------------------------+
//!  IV = (00 00 || SSRC || 00 00 || 0 || index) XOR 12-byte session salt
//! ```
//!
//! Unprotecting authenticates first (HMAC compared in constant time with `subtle`; GCM
//! verifies before it decrypts) and only then writes plaintext, into a buffer the caller
//! provides ([`SrtcpContext::unprotect`] documents the contract), so the per-datagram path
//! neither allocates nor ever hands out unauthenticated bytes. Session keys are derived
//! once per master key (key derivation rate 0, RFC 3711 §4.3; see `kdf.rs`).
//!
//! # Key ring policy
//!
//! A sender may re-key mid-call: a re-INVITE with a new `a=crypto`, an MKI change, a new
//! DTLS handshake. Each direction of each channel keeps a [`KeyRing`] of that sender's
//! master keys:
//!
//! - **Bounded**: at most [`KeyRingConfig::capacity`] keys (default 4, at most 16); adding
//!   to a full ring evicts the oldest key and counts it. Adding a key already present
//!   (a re-INVITE repeating its line) changes nothing.
//! - **With an MKI, the MKI picks the key**: only keys whose MKI the packet carries are
//!   candidates (RFC 4568 §4.3: no trial and error between keys a sender told apart).
//! - **Without an MKI, trial by authentication**: candidates are tried newest first, so
//!   after a switch one HMAC usually suffices; the tag tells which key is right (an HMAC
//!   or GCM tag matches the wrong key with probability 2^-80 or less), and the result
//!   names the key that matched ([`Matched::key`]).
//! - **Overlap**: a key is superseded when a *newer* key first authenticates a packet,
//!   not when the newer key is added (a bot may register the answer's key before the
//!   device uses it). A superseded key still authenticates for
//!   [`KeyRingConfig::overlap`] (default 30 s) of capture time, for reordered and
//!   delayed reports, and is then dropped and zeroed.
//!
//! # Secrecy
//!
//! - Master keys live in [`MasterKey`], which zeroes its bytes on drop and whose `Debug`
//!   prints `<redacted>`; derived session keys are zeroed after keying, and the keyed
//!   AES, GCM and HMAC states zero themselves on drop (the RustCrypto `zeroize` features).
//! - No error message contains key material: base64 errors do not quote the text, and a
//!   suite or parameter name that does not look like one is replaced by a placeholder
//!   (a caller who swapped two fields would otherwise log a key).
//! - MKIs are not secret (they travel in the clear) and are printed in hex.
//!
//! # Choices
//!
//! The primitives are RustCrypto's (`aes`, `ctr`, `hmac`, `sha1`, `aes-gcm`, `subtle`,
//! `zeroize`): pure Rust, no `unsafe` here, no C library. AES uses the CPU's AES
//! instructions when present and a constant-time bitsliced fallback otherwise. The SRTP
//! framing, the key derivation and the key ring are this module's own; libsrtp 2.7
//! (through the `pylibsrtp` package) cross-checks them byte for byte in
//! `tests/srtp_crosscheck.rs`.

mod cipher;
mod error;
mod kdf;
mod key;
mod ring;
mod rtp;
mod srtcp;
mod suite;
#[cfg(test)]
mod tests;

pub use error::{KeyError, ProtectError, UnprotectError};
pub use key::{
    CryptoAttribute, MasterKey, Mki, SessionParams, MAX_KEYS_PER_ATTRIBUTE, MAX_LIFETIME,
    MAX_MKI_LEN,
};
pub use ring::{Added, KeyId, KeyRing, KeyRingConfig, Matched};
pub use rtp::{guess_roc, rtp_header_len, SrtpContext};
pub use srtcp::{SrtcpContext, Unprotected, ESRTCP_WORD_LEN, MAX_SRTCP_INDEX, RTCP_HEADER_LEN};
pub use suite::Suite;

/// The longest packet protected or unprotected here: a UDP datagram's largest payload.
/// A buffer of this length satisfies every output contract of this module.
pub const MAX_PACKET_LEN: usize = 65_535;
