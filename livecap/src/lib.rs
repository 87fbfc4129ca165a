//! Live capture for the vtcq daemon: a Linux `AF_PACKET` socket with a memory-mapped
//! `TPACKET_V3` receive ring, a kernel classic-BPF filter that keeps only the UDP the agent
//! cares about, kernel receive timestamps and the kernel's drop counters.
//!
//! Nothing but the Rust toolchain is needed to build it: no libpcap, no `-dev` packages. On
//! other operating systems the crate compiles, and [`Capture::open`] returns
//! [`CaptureError::Unsupported`].
//!
//! The crate is sans-IO friendly in the sense that matters for the daemon: the caller owns
//! the loop. [`Capture::next_batch`] waits (bounded by a timeout) for the next block of
//! packets the kernel retired, hands each packet to a callback as a borrowed [`Packet`], and
//! gives the block back. There are no threads, no async runtime and no allocation per packet.
//!
//! ```no_run
//! use std::time::Duration;
//! use vtcq_livecap::{Capture, CaptureConfig};
//!
//! let config = CaptureConfig {
//!     port_ranges: vec![16384..=32767],
//!     ..CaptureConfig::new("eth0")
//! };
//! let mut capture = Capture::open(&config)?;
//! let link_type = capture.link_type();
//! loop {
//!     capture.next_batch(Duration::from_millis(500), |packet| {
//!         // Feed `packet.data` (a frame of `link_type`) and `packet.timestamp_ns` to the
//!         // collector here.
//!         let _ = (link_type, packet.timestamp_ns, packet.data);
//!     })?;
//!     let stats = capture.stats()?;
//!     if stats.drops > 0 {
//!         // The ring overflowed: report it.
//!     }
//! #   break;
//! }
//! # Ok::<(), vtcq_livecap::CaptureError>(())
//! ```
//!
//! # Unsafe code
//!
//! Talking to the kernel needs `unsafe`: socket options take raw pointers, and the ring is
//! memory shared with the kernel. All of it lives in two small modules (`linux/sys.rs` for
//! the system calls, `linux/ring.rs` for the shared ring), every block carries a `SAFETY`
//! comment, and everything above them (the block walk, the filter, the error mapping) is
//! safe code that checks every offset the kernel wrote before using it.

#![deny(unsafe_op_in_unsafe_fn)]

mod error;
pub mod filter;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(not(target_os = "linux"))]
mod unsupported;

use std::ops::RangeInclusive;

pub use error::CaptureError;
pub use filter::{build_udp_filter, build_udp_filter_raw_ip};

#[cfg(target_os = "linux")]
pub use linux::{Capture, FrameSender};
#[cfg(not(target_os = "linux"))]
pub use unsupported::{Capture, FrameSender};

/// One classic-BPF instruction, as the kernel's `SO_ATTACH_FILTER` takes it.
///
/// On Linux this is `libc::sock_filter` itself; elsewhere it is a structure with the same
/// fields so that the filter builder (and its tests) compile everywhere.
#[cfg(target_os = "linux")]
pub use libc::sock_filter;

/// One classic-BPF instruction, laid out like Linux's `struct sock_filter`.
///
/// This is the stand-in for `libc::sock_filter` on systems that do not have it.
#[cfg(not(target_os = "linux"))]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct sock_filter {
    /// The opcode.
    pub code: u16,
    /// Jump offset when the condition holds.
    pub jt: u8,
    /// Jump offset when the condition does not hold.
    pub jf: u8,
    /// The generic field (constant, offset, ...).
    pub k: u32,
}

/// `LINKTYPE_ETHERNET`: frames start with an Ethernet II header. Reported for Ethernet-like
/// devices (`ARPHRD_ETHER`: NICs, veth, bridges, bonds, VLAN and macvlan devices) and for the
/// loopback device, which Linux frames with an all-zero Ethernet header.
pub const LINKTYPE_ETHERNET: u32 = 1;

/// `LINKTYPE_RAW`: frames start with the IPv4 or IPv6 header. Reported for devices without a
/// link-layer header: `tun` in L3 mode and WireGuard (`ARPHRD_NONE`), raw-IP modems
/// (`ARPHRD_RAWIP`), PPP, and IP-in-IP / SIT tunnels.
pub const LINKTYPE_RAW: u32 = 101;

/// What to capture and how big a ring to ask the kernel for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureConfig {
    /// The network interface to capture on (for example `eth0`). The pseudo-device `any` is
    /// not supported: the ring must have a single link type.
    pub interface: String,
    /// UDP ports to keep: a datagram is captured when its source or destination port lies in
    /// any of these ranges. Empty means every UDP datagram. Empty ranges (`5..=3`) are
    /// ignored; overlapping ones are merged.
    pub port_ranges: Vec<RangeInclusive<u16>>,
    /// Size of one ring block in bytes: a multiple of the page size, and large enough for the
    /// biggest packet (anything longer is cut to fit). Default 256 KiB.
    pub block_size: u32,
    /// Number of blocks in the ring. Default 32 (so 8 MiB of ring by default).
    ///
    /// The ring is mapped into the process and counts in its resident memory from the
    /// start. 8 MiB holds about 30 ms of traffic at 1 M packets/s of 200-byte media
    /// frames (100 ms at 300 k packets/s): the slack the capture thread needs when the
    /// scheduler keeps it off a CPU. A host with more media, or a busier CPU, raises
    /// the count (`vtcq_kernel_drops_total` tells).
    pub block_count: u32,
    /// The kernel retires a block that is not full after this many milliseconds, which bounds
    /// the latency between a packet's arrival and its delivery. Default 100 ms. Zero lets the
    /// kernel pick a value from the link speed.
    pub block_timeout_ms: u32,
}

impl CaptureConfig {
    /// Default [`block_size`](Self::block_size): 256 KiB (an order-6 allocation for the
    /// kernel, easier to find than a 1 MiB one on a fragmented host, and retired four
    /// times as often under load, so the capture thread starts on a burst sooner).
    pub const DEFAULT_BLOCK_SIZE: u32 = 256 << 10;
    /// Default [`block_count`](Self::block_count): 32.
    pub const DEFAULT_BLOCK_COUNT: u32 = 32;
    /// Default [`block_timeout_ms`](Self::block_timeout_ms): 100 ms.
    pub const DEFAULT_BLOCK_TIMEOUT_MS: u32 = 100;

    /// A configuration that captures all UDP on `interface` with the default ring.
    pub fn new(interface: impl Into<String>) -> CaptureConfig {
        CaptureConfig {
            interface: interface.into(),
            port_ranges: Vec::new(),
            block_size: Self::DEFAULT_BLOCK_SIZE,
            block_count: Self::DEFAULT_BLOCK_COUNT,
            block_timeout_ms: Self::DEFAULT_BLOCK_TIMEOUT_MS,
        }
    }
}

impl Default for CaptureConfig {
    /// The default ring with an empty interface name (which [`Capture::open`] rejects): use
    /// it as `CaptureConfig { interface: ..., ..Default::default() }`.
    fn default() -> CaptureConfig {
        CaptureConfig::new(String::new())
    }
}

/// One captured packet, borrowed from the ring for the duration of the callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Kernel receive time (software timestamp, `CLOCK_REALTIME`), in nanoseconds since the
    /// Unix epoch. For a packet this host sent, the time it passed the capture point on its
    /// way out.
    pub timestamp_ns: i64,
    /// The frame from its link-layer header on (see [`Capture::link_type`]), at most the
    /// first 256 KiB (and never more than fits in a ring block). A VLAN tag that the NIC or
    /// the kernel stripped is put back, so the frame is what was on the wire.
    pub data: &'a [u8],
    /// The length of the packet on the wire; more than `data.len()` when it was cut.
    pub original_len: u32,
}

/// The kernel's counters for the socket, cumulative since [`Capture::open`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Packets that passed the filter, including the dropped ones (the kernel counts a
    /// dropped packet in both fields).
    pub packets: u64,
    /// Packets that passed the filter but were dropped because the ring was full: the
    /// agent did not keep up.
    pub drops: u64,
    /// How many times the ring filled up and the kernel froze it until a block came back.
    pub freeze_count: u64,
}
