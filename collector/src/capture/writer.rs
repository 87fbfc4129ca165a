//! Classic pcap writer: little-endian, nanosecond timestamps.

use std::fmt;
use std::io::{self, Write};

use super::LinkType;
use crate::time::Timestamp;

/// Nanosecond-resolution pcap magic, written little-endian.
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;

/// Writes frames as a classic pcap file (little-endian, nanosecond magic, version 2.4).
///
/// It writes straight to `W`, two `write_all` calls per frame: wrap files in a
/// [`std::io::BufWriter`].
pub struct PcapWriter<W: Write> {
    inner: W,
    snaplen: u32,
}

impl<W: Write> fmt::Debug for PcapWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PcapWriter")
            .field("snaplen", &self.snaplen)
            .finish_non_exhaustive()
    }
}

impl<W: Write> PcapWriter<W> {
    /// Writes the 24-byte file header. Frames longer than `snaplen` are cut to it when
    /// written (their original length is kept); `0` means no limit.
    pub fn new(mut writer: W, link_type: LinkType, snaplen: u32) -> io::Result<Self> {
        let mut header = [0u8; 24];
        header[0..4].copy_from_slice(&MAGIC_NANOS.to_le_bytes());
        header[4..6].copy_from_slice(&2u16.to_le_bytes()); // version major
        header[6..8].copy_from_slice(&4u16.to_le_bytes()); // version minor
                                                           // Bytes 8..16 stay zero: thiszone (timestamps are UTC) and sigfigs.
        header[16..20].copy_from_slice(&snaplen.to_le_bytes());
        header[20..24].copy_from_slice(&link_type.to_linktype().to_le_bytes());
        writer.write_all(&header)?;
        Ok(PcapWriter {
            inner: writer,
            snaplen,
        })
    }

    /// Appends one record. Timestamps outside what pcap's unsigned 32-bit seconds can
    /// hold (before 1970, after 2106) are clamped to the nearest representable time;
    /// data longer than `u32::MAX` bytes is an `InvalidInput` error.
    pub fn write_frame(&mut self, timestamp: Timestamp, data: &[u8]) -> io::Result<()> {
        let original_len = u32::try_from(data.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too long"))?;
        let caplen = if self.snaplen == 0 {
            original_len
        } else {
            original_len.min(self.snaplen)
        };
        let nanos = timestamp.as_nanos();
        let secs = nanos.div_euclid(1_000_000_000);
        let (secs, frac) = match u32::try_from(secs) {
            // rem_euclid of a positive divisor is in 0..1e9, which fits u32.
            Ok(s) => (
                s,
                u32::try_from(nanos.rem_euclid(1_000_000_000)).unwrap_or(0),
            ),
            Err(_) if secs < 0 => (0, 0),
            Err(_) => (u32::MAX, 999_999_999),
        };
        let mut header = [0u8; 16];
        header[0..4].copy_from_slice(&secs.to_le_bytes());
        header[4..8].copy_from_slice(&frac.to_le_bytes());
        header[8..12].copy_from_slice(&caplen.to_le_bytes());
        header[12..16].copy_from_slice(&original_len.to_le_bytes());
        self.inner.write_all(&header)?;
        // caplen <= data.len() by construction.
        self.inner
            .write_all(data.get(..caplen as usize).unwrap_or(data))
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.inner.flush()?;
        Ok(self.inner)
    }
}
