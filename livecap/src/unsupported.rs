//! Stand-in for systems without `AF_PACKET`: [`Capture::open`] always fails with
//! [`CaptureError::Unsupported`], so a `Capture` never exists.

use std::convert::Infallible;
use std::time::Duration;

use crate::{CaptureConfig, CaptureError, KernelStats, Packet};

/// A live capture. Only implemented on Linux; elsewhere it cannot be opened.
#[derive(Debug)]
pub struct Capture {
    never: Infallible,
}

impl Capture {
    /// Always fails with [`CaptureError::Unsupported`]: live capture needs Linux.
    pub fn open(config: &CaptureConfig) -> Result<Capture, CaptureError> {
        Err(CaptureError::Unsupported {
            interface: config.interface.clone(),
        })
    }

    /// The interface this capture is bound to.
    pub fn interface(&self) -> &str {
        match self.never {}
    }

    /// The `LINKTYPE_*` of captured frames.
    pub fn link_type(&self) -> u32 {
        match self.never {}
    }

    /// Waits for the next block of packets (see the Linux documentation).
    pub fn next_batch(
        &mut self,
        _timeout: Duration,
        _on_packet: impl FnMut(Packet<'_>),
    ) -> Result<usize, CaptureError> {
        match self.never {}
    }

    /// The kernel's counters, cumulative since open.
    pub fn stats(&mut self) -> Result<KernelStats, CaptureError> {
        match self.never {}
    }

    /// The link speed of `interface` in Mbit/s: unknown (`None`) on this system.
    pub fn interface_speed_mbps(_interface: &str) -> Option<u64> {
        None
    }
}

/// Writes frames onto an interface. Only implemented on Linux.
#[derive(Debug)]
pub struct FrameSender {
    never: Infallible,
}

impl FrameSender {
    /// Always fails with [`CaptureError::Unsupported`].
    pub fn open(interface: &str) -> Result<FrameSender, CaptureError> {
        Err(CaptureError::Unsupported {
            interface: interface.to_owned(),
        })
    }

    /// Sends one frame.
    pub fn send(&self, _frame: &[u8]) -> Result<(), CaptureError> {
        match self.never {}
    }
}
