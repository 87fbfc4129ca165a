//! Learning calls from their signalling: SIP and SDP, sans-IO.
//!
//! # Data path
//!
//! ```text
//! frame ──▶ wire::link::decode_udp ──▶ SIP port? ──▶ sip::SipMessage::parse (Datagram)
//!   ├────▶ (IPv4 fragment) fragments::FragmentReassembler ──▶ SIP port? ──┘
//!   │                                                        │
//!   └────▶ wire::tcp::decode_tcp ──▶ SIP port? ──▶ tcp::TcpReassembler ─▶ SipMessage (Stream)
//!                                                            │
//!              multipart::find_sdp (application/sdp, multipart/mixed|alternative)
//!                                                            │
//!                           sdp::Sdp::parse ──▶ dialog::DialogTracker (offer/answer)
//!                                                            │
//!                                   plan::MediaPlan per call ──▶ DialogEvent
//!                                                            │
//!                                      bot::infer_bot_address(&[MediaPlan])
//! ```
//!
//! [`ingest::Signalling`] is the front: a frame and its capture time in, [`DialogEvent`]s
//! out (`Started`, `Negotiated` with the plan as it now is, `Ended` with the final plan).
//! Nothing here reads a clock or opens a socket; timeouts run on the capture time passed
//! in. The views ([`sip::SipMessage`], [`sdp::Sdp`], [`sdp::Media`]) borrow the packet:
//! parsing a datagram allocates nothing, and a message cut from a TCP stream is a view of
//! the connection's buffer. Only what outlives the packet is owned: the offer's SDP
//! while its answer is awaited, and the plans.
//!
//! # Why not a crate
//!
//! The SIP crates (`rsip`, `sipmsg`, `libsip`) build owned messages (a `String` per
//! header, a `Vec` of headers) through `nom`, so every datagram on a SIP port would
//! allocate; `sipmsg` and `libsip` depend on pre-release `nom` 6 and are no longer
//! maintained, and none reassembles TCP or bounds header counts. The SDP crates
//! (`webrtc-sdp`, `sdp` of webrtc-rs) also build owned trees, need valid UTF-8, target
//! the WebRTC subset (no SDES `a=crypto`, `a=content`, BFCP `a=floorid`/`a=floorctrl`
//! or `TCP/BFCP` transports), and fail a whole description on one bad line. A VTC
//! call's plan needs exactly those attributes, read tolerantly from hostile bytes, so
//! the views are written here, in the style of [`crate::wire`].
//!
//! # Bounds
//!
//! | what | bound | past it | counted in |
//! |---|---|---|---|
//! | one SIP message | [`sip::MAX_MESSAGE_LEN`] (64 KiB), [`sip::MAX_HEADER_LINES`] (256) | refused | [`SipErrorCounts`] `oversize`, `too_many_headers` |
//! | one SDP | [`sdp::MAX_MEDIA`] (32) `m=` lines, [`sdp::MAX_LINES`] (2048) lines | refused | [`SdpErrorCounts`] `too_large` |
//! | multipart nesting | [`multipart::MAX_DEPTH`] (4) levels, [`multipart::MAX_PARTS`] (32) parts | refused | `bad_multipart` |
//! | TCP directions | [`TcpConfig::max_connections`] (256) | the oldest evicted | [`TcpCounters`] `connections_evicted` |
//! | TCP buffer | [`TcpConfig::max_buffer`] (64 KiB) per direction | dropped, resync | `buffer_overflows`, `bytes_skipped` |
//! | TCP holes | none buffered | resync at the next start line | `gaps`, `truncated_segments` |
//! | IPv4 fragments | [`fragments::FragmentConfig::max_datagrams`] (64) datagrams, [`fragments::MAX_FRAGMENTS`] pieces, 30 s | the oldest dropped | [`fragments::FragmentCounters`] |
//! | idle TCP direction | [`TcpConfig::idle_timeout`] (15 min) | forgotten | `connections_expired` |
//! | dialogs | [`DialogConfig::max_dialogs`] (4096) | the oldest evicted and ended | [`DialogCounters`] `dialogs_evicted` |
//! | dialogs per Call-ID | [`dialog::MAX_DIALOGS_PER_CALL_ID`] (8) | refused | `dialogs_refused` |
//! | unanswered INVITE | [`DialogConfig::setup_timeout`] (180 s) | ended (timeout) | `dialogs_timed_out` |
//! | silent call | [`DialogConfig::idle_timeout`] (12 h) | ended (timeout) | `dialogs_timed_out` |
//! | ended dialog | [`DialogConfig::linger`] (32 s) | forgotten | - |
//! | per channel side | [`plan::MAX_ENDPOINTS_PER_SIDE`] (16) endpoints, [`plan::MAX_PAYLOAD_TYPES`] (64) | not kept | `plan_bounds_hit` |
//!
//! Messages outside any dialog (REGISTER, OPTIONS, a BYE for a call older than the
//! capture), SDP that is neither offer nor answer, and answers whose `m=` count differs
//! from the offer's are counted too ([`DialogCounters`]). SIP over TLS (port 5061,
//! `sips:`) is invisible to a passive agent: for such calls the bot's registration
//! (media sessions and keys) is the way.
//!
//! SDES keys (`a=crypto`) are secrets: [`plan::SdesKey`] and [`sdp::Crypto`] redact them
//! in `Debug`, and nothing here logs them.

pub mod bot;
pub mod counters;
pub mod dialog;
pub mod fragments;
pub mod header;
pub mod ingest;
pub mod multipart;
pub mod plan;
pub mod sdp;
pub mod sip;
pub mod tcp;
#[cfg(test)]
mod testing;
mod text;

pub use bot::{infer_bot_address, BotInference};
pub use counters::{DialogCounters, SdpErrorCounts, SipErrorCounts, TcpCounters};
pub use dialog::{DialogConfig, DialogEvent, DialogTracker};
pub use ingest::{Signalling, SignallingConfig, SignallingCounters, SIP_PORT};
pub use plan::{
    ChannelSide, EndReason, MediaPlan, Party, PayloadType, PlannedChannel, RtcpPlan, SdesKey, Side,
};
pub use tcp::TcpConfig;
