//! The Linux implementation: `AF_PACKET` + `TPACKET_V3`.

mod ring;
mod sys;

use std::ffi::CString;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::filter::{self, Framing};
use crate::{CaptureConfig, CaptureError, KernelStats, Packet, LINKTYPE_ETHERNET, LINKTYPE_RAW};
use ring::{Ring, TP_STATUS_VLAN_TPID_VALID, TP_STATUS_VLAN_VALID};

/// `IFNAMSIZ`: interface names are shorter than this.
const IFNAMSIZ: usize = 16;
/// The ring's nominal frame size. `TPACKET_V3` packs packets of any size into a block, but
/// the kernel still checks `tp_frame_size`/`tp_frame_nr` against the block geometry.
const FRAME_SIZE: u32 = 2048;
/// `ETH_P_ALL`: every protocol.
const ETH_P_ALL: u16 = 0x0003;
/// `sll_pkttype` of a packet this host sent.
const PACKET_OUTGOING: u8 = 4;

// ARPHRD_* device types (uapi/linux/if_arp.h).
const ARPHRD_ETHER: u16 = 1;
const ARPHRD_PPP: u16 = 512;
const ARPHRD_RAWIP: u16 = 519;
const ARPHRD_TUNNEL: u16 = 768;
const ARPHRD_TUNNEL6: u16 = 769;
const ARPHRD_LOOPBACK: u16 = 772;
const ARPHRD_SIT: u16 = 776;
const ARPHRD_NONE: u16 = 0xfffe;

/// A live capture on one interface: an `AF_PACKET` socket with a `TPACKET_V3` receive ring
/// and a BPF filter. Dropping it unmaps the ring and closes the socket.
///
/// The socket is opened in the network namespace of the calling thread; once open, the
/// capture can move to any thread.
pub struct Capture {
    // Field order is drop order: unmap the ring, then close the socket.
    ring: Ring,
    fd: OwnedFd,
    interface: String,
    link_type: u32,
    /// On loopback every packet passes the tap twice (once going out, once coming in):
    /// keep only the incoming copy.
    skip_outgoing: bool,
    totals: KernelStats,
    /// Where a frame gets its stripped VLAN tag back; grows to the largest such frame once.
    scratch: Vec<u8>,
}

impl fmt::Debug for Capture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Capture")
            .field("interface", &self.interface)
            .field("link_type", &self.link_type)
            .field("fd", &self.fd)
            .field("ring", &self.ring)
            .field("totals", &self.totals)
            .finish_non_exhaustive()
    }
}

impl AsFd for Capture {
    /// The packet socket, for callers that want to wait on it in their own event loop
    /// (it becomes readable when a block is retired); then call
    /// [`Capture::next_batch`] with a zero timeout.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Checks what the kernel would otherwise reject with a less helpful error.
fn validate(config: &CaptureConfig, page_size: usize) -> Result<(CString, u32), String> {
    let name = &config.interface;
    if name.is_empty() {
        return Err("no interface given".into());
    }
    if name.len() >= IFNAMSIZ {
        return Err(format!(
            "interface names are at most {} bytes long",
            IFNAMSIZ - 1
        ));
    }
    let cname = CString::new(name.as_bytes()).map_err(|_| "interface name contains NUL")?;
    let block_size = config.block_size as usize;
    if block_size == 0 || !block_size.is_multiple_of(page_size) || block_size > i32::MAX as usize {
        return Err(format!(
            "block size {} is not a positive multiple of the page size ({page_size} bytes)",
            config.block_size
        ));
    }
    if config.block_count == 0 {
        return Err("block count is 0".into());
    }
    let frames = (config.block_size / FRAME_SIZE)
        .checked_mul(config.block_count)
        .filter(|_| {
            block_size
                .checked_mul(config.block_count as usize)
                .is_some()
        })
        .ok_or_else(|| {
            format!(
                "a ring of {} blocks of {} bytes is too large",
                config.block_count, config.block_size
            )
        })?;
    Ok((cname, frames))
}

impl Capture {
    /// Opens a capture on `config.interface`.
    ///
    /// Steps: `socket(AF_PACKET, SOCK_RAW, 0)` (protocol 0: the socket receives nothing
    /// yet), select `TPACKET_V3`, set up and map the receive ring, attach the BPF filter
    /// built for the device's framing, and only then `bind` to the interface with
    /// `ETH_P_ALL`. Because reception starts at the `bind`, after the filter is in place,
    /// no unfiltered packet can reach the ring and there is nothing to drain.
    ///
    /// Timestamps are the kernel's software receive timestamps (`CLOCK_REALTIME`), which
    /// `TPACKET_V3` always fills in nanoseconds; hardware timestamps are not requested (the
    /// NIC's clock need not be synchronised with the system clock).
    ///
    /// Needs `CAP_NET_RAW` in the network namespace's user namespace; without it the error
    /// is [`CaptureError::PermissionDenied`], whose message says so.
    pub fn open(config: &CaptureConfig) -> Result<Capture, CaptureError> {
        let interface = config.interface.as_str();
        let page_size = sys::page_size();
        let (cname, frame_count) =
            validate(config, page_size).map_err(|reason| CaptureError::InvalidConfig {
                interface: interface.to_owned(),
                reason,
            })?;
        let no_such_interface = || CaptureError::NoSuchInterface {
            interface: interface.to_owned(),
        };
        let os = |operation: &'static str| {
            move |e: io::Error| {
                if e.raw_os_error() == Some(libc::ENODEV) {
                    no_such_interface()
                } else {
                    CaptureError::os(interface, operation, e)
                }
            }
        };

        // Resolve the name first: that needs no privilege, so a typo is reported as such.
        let ifindex = sys::interface_index(&cname)
            .map_err(os("look up the interface"))?
            .ok_or_else(no_such_interface)?;
        let fd = sys::packet_socket().map_err(os("open AF_PACKET socket"))?;
        let hardware_type =
            sys::hardware_type(fd.as_fd(), &cname).map_err(os("read the device type"))?;
        let (link_type, framing) = match hardware_type {
            ARPHRD_ETHER | ARPHRD_LOOPBACK => (LINKTYPE_ETHERNET, Framing::Ethernet),
            ARPHRD_NONE | ARPHRD_RAWIP | ARPHRD_PPP | ARPHRD_TUNNEL | ARPHRD_TUNNEL6
            | ARPHRD_SIT => (LINKTYPE_RAW, Framing::RawIp),
            other => {
                return Err(CaptureError::UnsupportedLinkType {
                    interface: interface.to_owned(),
                    hardware_type: other,
                })
            }
        };

        sys::set_option(
            fd.as_fd(),
            libc::SOL_PACKET,
            sys::PACKET_VERSION,
            &sys::TPACKET_V3,
        )
        .map_err(os("select TPACKET_V3"))?;
        let request = sys::TpacketReq3 {
            block_size: config.block_size,
            block_nr: config.block_count,
            frame_size: FRAME_SIZE,
            frame_nr: frame_count,
            retire_blk_tov: config.block_timeout_ms,
            sizeof_priv: 0,
            feature_req_word: 0,
        };
        sys::set_option(fd.as_fd(), libc::SOL_PACKET, sys::PACKET_RX_RING, &request)
            .map_err(os("set up the receive ring"))?;
        let block_size = config.block_size as usize;
        let block_count = config.block_count as usize;
        let map = sys::Mapping::map(fd.as_fd(), block_size * block_count)
            .map_err(os("map the receive ring"))?;
        let ring = Ring::new(map, block_size, block_count).ok_or_else(|| {
            CaptureError::os(
                interface,
                "map the receive ring",
                io::Error::from_raw_os_error(libc::EINVAL),
            )
        })?;

        let program = filter::build(framing, &config.port_ranges);
        sys::attach_filter(fd.as_fd(), &program).map_err(os("attach the BPF filter"))?;
        sys::bind_packet(fd.as_fd(), ifindex, ETH_P_ALL).map_err(os("bind to the interface"))?;

        Ok(Capture {
            ring,
            fd,
            interface: interface.to_owned(),
            link_type,
            skip_outgoing: hardware_type == ARPHRD_LOOPBACK,
            totals: KernelStats::default(),
            scratch: Vec::new(),
        })
    }

    /// The interface this capture is bound to.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// The `LINKTYPE_*` of [`Packet::data`]: [`LINKTYPE_ETHERNET`] (1) for Ethernet-like
    /// devices and loopback, [`LINKTYPE_RAW`] (101) for devices without a link-layer header
    /// (`tun`, WireGuard, PPP, IP tunnels).
    pub fn link_type(&self) -> u32 {
        self.link_type
    }

    /// Waits up to `timeout` for the kernel to retire the next block of the ring, calls
    /// `on_packet` for each packet in it (in arrival order), then hands the block back to
    /// the kernel. Returns the number of packets delivered: 0 when the timeout expired
    /// first. A zero `timeout` only checks whether a block is ready.
    ///
    /// A block is retired when it is full or `block_timeout_ms` after its first packet, so
    /// a packet reaches `on_packet` at most about that long after it arrived.
    ///
    /// On loopback, where the kernel shows every packet once going out and once coming in,
    /// only the incoming copy is delivered.
    ///
    /// Errors: [`CaptureError::InterfaceDown`] once when the interface goes down, or was
    /// down when the capture was opened (the capture resumes by itself when it comes back
    /// up, so keep calling); other socket errors as [`CaptureError::Io`].
    pub fn next_batch(
        &mut self,
        timeout: Duration,
        mut on_packet: impl FnMut(Packet<'_>),
    ) -> Result<usize, CaptureError> {
        self.ring.recover();
        self.wait_for_block(timeout)?;

        let Capture {
            ring,
            link_type,
            skip_outgoing,
            scratch,
            ..
        } = self;
        let Some(block) = ring.take_current() else {
            return Ok(0);
        };
        let mut delivered = 0usize;
        // A malformed block (which a correct kernel never writes) ends the walk early; the
        // packets before the fault were delivered, the block goes back all the same.
        let _ = ring::walk_block(block, |frame| {
            if *skip_outgoing && frame.pkttype == PACKET_OUTGOING {
                return;
            }
            let timestamp_ns = i64::from(frame.sec) * 1_000_000_000 + i64::from(frame.nsec);
            let mut data = frame.data;
            let mut original_len = frame.len;
            if frame.status & TP_STATUS_VLAN_VALID != 0 && *link_type == LINKTYPE_ETHERNET {
                if let Some((addresses, rest)) = frame.data.split_at_checked(12) {
                    let tpid = if frame.status & TP_STATUS_VLAN_TPID_VALID != 0 {
                        frame.vlan_tpid
                    } else {
                        0x8100
                    };
                    scratch.clear();
                    scratch.extend_from_slice(addresses);
                    scratch.extend_from_slice(&tpid.to_be_bytes());
                    scratch.extend_from_slice(&frame.vlan_tci.to_be_bytes());
                    scratch.extend_from_slice(rest);
                    data = scratch.as_slice();
                    original_len = original_len.saturating_add(4);
                }
            }
            on_packet(Packet {
                timestamp_ns,
                data,
                original_len,
            });
            delivered += 1;
        });
        ring.release_current();
        Ok(delivered)
    }

    /// Polls the socket until the current block is retired or `timeout` passes.
    fn wait_for_block(&mut self, timeout: Duration) -> Result<(), CaptureError> {
        let deadline = Instant::now().checked_add(timeout);
        loop {
            if self.ring.current_ready() {
                return Ok(());
            }
            let remaining = deadline.map_or(Duration::MAX, |d| {
                d.saturating_duration_since(Instant::now())
            });
            if remaining.is_zero() {
                return Ok(());
            }
            // Round up so that a sub-millisecond rest does not spin.
            let ms = remaining.as_nanos().div_ceil(1_000_000);
            let ms = libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX);
            let revents = match sys::poll_in(self.fd.as_fd(), ms) {
                Ok(revents) => revents,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(CaptureError::os(&self.interface, "wait for packets", e)),
            };
            if revents & libc::POLLNVAL != 0 {
                return Err(CaptureError::os(
                    &self.interface,
                    "wait for packets",
                    io::Error::from_raw_os_error(libc::EBADF),
                ));
            }
            if revents & libc::POLLERR != 0 {
                let errno = sys::take_socket_error(self.fd.as_fd())
                    .map_err(|e| CaptureError::os(&self.interface, "wait for packets", e))?;
                match errno {
                    0 => {}
                    libc::ENETDOWN => {
                        return Err(CaptureError::InterfaceDown {
                            interface: self.interface.clone(),
                        })
                    }
                    libc::ENODEV | libc::ENXIO => {
                        return Err(CaptureError::NoSuchInterface {
                            interface: self.interface.clone(),
                        })
                    }
                    errno => {
                        return Err(CaptureError::os(
                            &self.interface,
                            "wait for packets",
                            io::Error::from_raw_os_error(errno),
                        ))
                    }
                }
            }
        }
    }

    /// The kernel's counters, cumulative since [`Capture::open`]. (The kernel resets its
    /// counters on every read; this adds them up.)
    pub fn stats(&mut self) -> Result<KernelStats, CaptureError> {
        let s = sys::packet_statistics(self.fd.as_fd())
            .map_err(|e| CaptureError::os(&self.interface, "read PACKET_STATISTICS", e))?;
        let t = &mut self.totals;
        t.packets = t.packets.saturating_add(u64::from(s.packets));
        t.drops = t.drops.saturating_add(u64::from(s.drops));
        t.freeze_count = t.freeze_count.saturating_add(u64::from(s.freeze_q_cnt));
        Ok(*t)
    }

    /// The link speed of `interface` in Mbit/s from `/sys/class/net/<interface>/speed`;
    /// `None` when unknown (virtual devices, link down, `-1`, no such interface, or a name
    /// that is not a plain interface name).
    ///
    /// `/sys` shows the network namespace it was mounted in, which is normally that of the
    /// process.
    pub fn interface_speed_mbps(interface: &str) -> Option<u64> {
        if interface.is_empty()
            || interface.len() >= IFNAMSIZ
            || interface == "."
            || interface == ".."
            || interface.contains(['/', '\0'])
        {
            return None;
        }
        let text = std::fs::read_to_string(format!("/sys/class/net/{interface}/speed")).ok()?;
        let mbps: i64 = text.trim().parse().ok()?;
        u64::try_from(mbps).ok().filter(|&m| m > 0)
    }
}

/// Writes whole link-layer frames onto an interface: test traffic (the flood and load
/// tests' generators), never used by the agent itself. Needs `CAP_NET_RAW`.
#[derive(Debug)]
pub struct FrameSender {
    fd: OwnedFd,
    interface: String,
}

impl FrameSender {
    /// A packet socket bound to `interface` for sending only (protocol 0 receives nothing).
    pub fn open(interface: &str) -> Result<FrameSender, CaptureError> {
        let cname = CString::new(interface).map_err(|_| CaptureError::InvalidConfig {
            interface: interface.to_owned(),
            reason: "the interface name contains a NUL byte".to_owned(),
        })?;
        let os =
            |operation: &'static str| move |e: io::Error| CaptureError::os(interface, operation, e);
        let ifindex = sys::interface_index(&cname)
            .map_err(os("look up the interface"))?
            .ok_or_else(|| CaptureError::NoSuchInterface {
                interface: interface.to_owned(),
            })?;
        let fd = sys::packet_socket().map_err(os("open AF_PACKET socket"))?;
        sys::bind_packet(fd.as_fd(), ifindex, 0).map_err(os("bind to the interface"))?;
        Ok(FrameSender {
            fd,
            interface: interface.to_owned(),
        })
    }

    /// Sends one frame (from its link-layer header on). `ENOBUFS` (the device queue is
    /// full) is returned like any error: the caller decides whether to retry.
    pub fn send(&self, frame: &[u8]) -> Result<(), CaptureError> {
        sys::send(self.fd.as_fd(), frame)
            .map(drop)
            .map_err(|e| CaptureError::os(&self.interface, "send a frame", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CaptureConfig;

    #[test]
    fn capture_can_move_between_threads() {
        fn assert_send<T: Send>() {}
        assert_send::<Capture>();
    }

    #[test]
    fn config_validation() {
        let page = 4096;
        let ok = CaptureConfig::new("eth0");
        assert!(validate(&ok, page).is_ok());
        let (_, frames) = validate(&ok, page).expect("default config is valid");
        assert_eq!(frames, (256 << 10) / FRAME_SIZE * 32);
        let bad = |c: CaptureConfig| validate(&c, page).expect_err("must be rejected");
        assert!(bad(CaptureConfig::default()).contains("no interface"));
        assert!(bad(CaptureConfig::new("a-very-long-interface-name")).contains("at most 15"));
        assert!(bad(CaptureConfig::new("eth\0")).contains("NUL"));
        assert!(bad(CaptureConfig {
            block_size: 5000,
            ..ok.clone()
        })
        .contains("page size"));
        assert!(bad(CaptureConfig {
            block_size: 0,
            ..ok.clone()
        })
        .contains("page size"));
        assert!(bad(CaptureConfig {
            block_count: 0,
            ..ok.clone()
        })
        .contains("block count"));
        assert!(bad(CaptureConfig {
            block_size: 1 << 30,
            block_count: u32::MAX,
            ..ok
        })
        .contains("too large"));
    }

    #[test]
    fn open_reports_bad_names_and_missing_interfaces_without_privileges() {
        let err = Capture::open(&CaptureConfig::new("")).expect_err("empty name");
        assert!(matches!(err, CaptureError::InvalidConfig { .. }), "{err}");
        let err =
            Capture::open(&CaptureConfig::new("vtcq-nosuch9")).expect_err("no such interface");
        assert!(matches!(err, CaptureError::NoSuchInterface { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "cannot capture on vtcq-nosuch9: no such network interface"
        );
    }

    #[test]
    fn interface_speed() {
        assert_eq!(Capture::interface_speed_mbps("../../etc"), None);
        assert_eq!(Capture::interface_speed_mbps(""), None);
        assert_eq!(Capture::interface_speed_mbps("vtcq-nosuch9"), None);
        // Loopback has no speed (reading it fails with EINVAL).
        assert_eq!(Capture::interface_speed_mbps("lo"), None);
    }

    #[test]
    fn permission_errors_name_the_capability() {
        let err = CaptureError::os(
            "eth0",
            "open AF_PACKET socket",
            io::Error::from_raw_os_error(libc::EPERM),
        );
        assert!(err.is_permission_denied());
        let msg = err.to_string();
        assert!(
            msg.starts_with("cannot open AF_PACKET socket on eth0: Operation not permitted"),
            "{msg}"
        );
        assert!(msg.contains("capturing needs CAP_NET_RAW"), "{msg}");
        let err = CaptureError::os("eth0", "x", io::Error::from_raw_os_error(libc::EACCES));
        assert!(err.is_permission_denied());
        let err = CaptureError::os("eth0", "x", io::Error::from_raw_os_error(libc::ENOMEM));
        assert!(!err.is_permission_denied());
    }

    /// The kernel's own classic-BPF checker accepts every program the builder emits. Any
    /// socket may attach a filter, so a UDP socket does, without privileges.
    #[test]
    fn the_kernel_accepts_the_filters() {
        use std::net::UdpSocket;
        let socket = UdpSocket::bind("127.0.0.1:0").expect("udp socket");
        let many: Vec<_> = (0..crate::filter::MAX_FILTER_RANGES as u16)
            .map(|i| 2 * i..=2 * i)
            .collect();
        for ranges in [vec![], vec![16384..=32767, 5004..=5004], many] {
            for framing in [Framing::Ethernet, Framing::RawIp] {
                let program = filter::build(framing, &ranges);
                sys::attach_filter(socket.as_fd(), &program).unwrap_or_else(|e| {
                    panic!(
                        "{framing:?}, {} ranges, {} insns: {e}",
                        ranges.len(),
                        program.len()
                    )
                });
            }
        }
    }
}
