//! The system calls, each in a small safe wrapper. This module and `ring.rs` hold all of the
//! crate's `unsafe` code.

use std::ffi::CStr;
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::sock_filter;

// Kernel ABI of AF_PACKET rings (uapi/linux/if_packet.h). Spelled out here rather than taken
// from `libc` so that the ring code does not depend on which `libc` release exposes them.

/// `PACKET_RX_RING` socket option.
pub(crate) const PACKET_RX_RING: libc::c_int = 5;
/// `PACKET_STATISTICS` socket option.
pub(crate) const PACKET_STATISTICS: libc::c_int = 6;
/// `PACKET_VERSION` socket option.
pub(crate) const PACKET_VERSION: libc::c_int = 10;
/// `TPACKET_V3` (enum tpacket_versions).
pub(crate) const TPACKET_V3: libc::c_int = 2;

/// `struct tpacket_req3`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TpacketReq3 {
    pub block_size: u32,
    pub block_nr: u32,
    pub frame_size: u32,
    pub frame_nr: u32,
    pub retire_blk_tov: u32,
    pub sizeof_priv: u32,
    pub feature_req_word: u32,
}

/// `struct tpacket_stats_v3`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TpacketStatsV3 {
    pub packets: u32,
    pub drops: u32,
    pub freeze_q_cnt: u32,
}

/// Returns the error of the last failed system call of this thread.
fn last_error() -> io::Error {
    io::Error::last_os_error()
}

/// `socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0)`: a packet socket that receives nothing
/// until it is bound with a protocol.
pub(crate) fn packet_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket() takes no pointers; any argument values are sound.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(last_error());
    }
    // SAFETY: `fd` was just returned by socket(), is open, and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `if_nametoindex(name)`; `Ok(None)` when there is no such interface.
pub(crate) fn interface_index(name: &CStr) -> io::Result<Option<u32>> {
    // SAFETY: `name` is a valid NUL-terminated string that outlives the call.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index != 0 {
        return Ok(Some(index));
    }
    let err = last_error();
    match err.raw_os_error() {
        Some(libc::ENODEV) | Some(libc::ENXIO) => Ok(None),
        _ => Err(err),
    }
}

/// The device's hardware type (`ARPHRD_*`) via `ioctl(SIOCGIFHWADDR)`.
pub(crate) fn hardware_type(fd: BorrowedFd<'_>, name: &CStr) -> io::Result<u16> {
    // SAFETY: `ifreq` is plain old data (a char array and a union of plain structs), for which
    // all-zero bytes are a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    let bytes = name.to_bytes();
    if bytes.len() >= req.ifr_name.len() {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    for (dst, &src) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = src as libc::c_char;
    }
    // SAFETY: SIOCGIFHWADDR reads the NUL-terminated name (the array was zeroed and the name
    // is shorter than it) and writes a `struct sockaddr` into the union of `req`, which is a
    // valid, exclusively borrowed `struct ifreq` for the whole call.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFHWADDR as _, &mut req) };
    if rc < 0 {
        return Err(last_error());
    }
    // SAFETY: after a successful SIOCGIFHWADDR the kernel has written `ifru_hwaddr`; every
    // member of the union is plain data, so reading it is sound in any case.
    Ok(unsafe { req.ifr_ifru.ifru_hwaddr.sa_family })
}

/// `setsockopt(fd, level, name, value, sizeof *value)`.
pub(crate) fn set_option<T: Copy>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    let len = libc::socklen_t::try_from(size_of::<T>())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `value` points to `len` readable bytes for the duration of the call; the kernel
    // only reads them.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast::<libc::c_void>(),
            len,
        )
    };
    if rc < 0 {
        return Err(last_error());
    }
    Ok(())
}

/// Reads a fixed-size socket option. Only used with plain integer structures, for which
/// any bytes the kernel writes form a valid value.
fn get_option<T: Copy + Default>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
) -> io::Result<T> {
    let mut value = T::default();
    let mut len = libc::socklen_t::try_from(size_of::<T>())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `value` is a valid, exclusively borrowed `T` of `len` bytes and `len` is a
    // valid `socklen_t`; the kernel writes at most `len` bytes. `T` is only instantiated with
    // `c_int` and `TpacketStatsV3`, all-integer types valid for any bytes.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&mut value as *mut T).cast::<libc::c_void>(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(last_error());
    }
    Ok(value)
}

/// `PACKET_STATISTICS`: the counters since the previous read (reading resets them).
pub(crate) fn packet_statistics(fd: BorrowedFd<'_>) -> io::Result<TpacketStatsV3> {
    get_option::<TpacketStatsV3>(fd, libc::SOL_PACKET, PACKET_STATISTICS)
}

/// `SO_ERROR`: takes (and clears) the socket's pending error.
pub(crate) fn take_socket_error(fd: BorrowedFd<'_>) -> io::Result<libc::c_int> {
    get_option::<libc::c_int>(fd, libc::SOL_SOCKET, libc::SO_ERROR)
}

/// `SO_ATTACH_FILTER` with a classic-BPF program.
pub(crate) fn attach_filter(fd: BorrowedFd<'_>, program: &[sock_filter]) -> io::Result<()> {
    let len =
        u16::try_from(program.len()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let fprog = libc::sock_fprog {
        len,
        // The kernel copies the program and never writes through this pointer.
        filter: program.as_ptr().cast_mut(),
    };
    set_option(fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog)
}

/// `bind()` to an interface with a protocol (network byte order is done here).
pub(crate) fn bind_packet(fd: BorrowedFd<'_>, ifindex: u32, protocol: u16) -> io::Result<()> {
    // SAFETY: `sockaddr_ll` is plain old data, valid when zeroed.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as libc::c_ushort;
    addr.sll_protocol = protocol.to_be();
    addr.sll_ifindex =
        libc::c_int::try_from(ifindex).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let len = libc::socklen_t::try_from(size_of::<libc::sockaddr_ll>())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `addr` is a valid `sockaddr_ll` of `len` bytes, only read by the kernel.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_ll).cast::<libc::sockaddr>(),
            len,
        )
    };
    if rc < 0 {
        return Err(last_error());
    }
    Ok(())
}

/// `send()` one whole frame on a bound packet socket.
pub(crate) fn send(fd: BorrowedFd<'_>, frame: &[u8]) -> io::Result<usize> {
    // SAFETY: `frame` is a valid slice of `frame.len()` bytes, only read by the kernel.
    let rc = unsafe { libc::send(fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
    usize::try_from(rc).map_err(|_| last_error())
}

/// `poll()` one descriptor for input; returns `revents` (0 on timeout).
pub(crate) fn poll_in(fd: BorrowedFd<'_>, timeout_ms: libc::c_int) -> io::Result<libc::c_short> {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is one valid, exclusively borrowed `pollfd`, matching nfds = 1.
    let rc = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    if rc < 0 {
        return Err(last_error());
    }
    Ok(pfd.revents)
}

/// The size of a memory page.
pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf() takes no pointers and has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size)
        .ok()
        .filter(|&s| s > 0)
        .unwrap_or(4096)
}

/// A shared, read-write mapping of a packet socket's ring; unmapped on drop.
#[derive(Debug)]
pub(crate) struct Mapping {
    ptr: std::ptr::NonNull<u8>,
    len: usize,
}

impl Mapping {
    /// `mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)`.
    pub(crate) fn map(fd: BorrowedFd<'_>, len: usize) -> io::Result<Mapping> {
        // SAFETY: a fresh mapping at an address the kernel chooses aliases no Rust object;
        // the arguments are plain values.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(last_error());
        }
        let ptr = std::ptr::NonNull::new(ptr.cast::<u8>())
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))?;
        Ok(Mapping { ptr, len })
    }

    /// The start of the mapping.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The length of the mapping in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` describe a mapping created by `map` and not yet unmapped; the
        // mapping is owned by `self`, and no borrow of it can outlive `self`.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast::<libc::c_void>(), self.len);
        }
    }
}

// SAFETY: the mapping is plain memory owned by this value alone; nothing about it is tied to
// the thread that created it, so it may move to another thread.
unsafe impl Send for Mapping {}
