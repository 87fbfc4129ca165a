//! Big-endian readers shared by the wire views.
//!
//! The contract: no function here panics, whatever the buffer and the offset (an offset
//! near `usize::MAX` included). Two flavours, for the two moments of a view's life:
//!
//! - `read_be16` / `read_be32` while parsing bytes nobody checked yet: `None` when the
//!   field is not wholly inside the buffer, so the parser can say what was cut short.
//! - `be16` / `be32` / `be64` in the accessors of a view whose lengths `new_checked`
//!   already validated: an out-of-range field cannot happen there, and if it could, 0
//!   beats a panic on bytes from the network.

/// The `N` bytes at `at`, `None` when they are not all inside `buf`.
#[inline]
fn array<const N: usize>(buf: &[u8], at: usize) -> Option<[u8; N]> {
    buf.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// The big-endian `u16` at `at`, `None` when it is not wholly inside `buf`.
#[inline]
pub(crate) fn read_be16(buf: &[u8], at: usize) -> Option<u16> {
    array(buf, at).map(u16::from_be_bytes)
}

/// The big-endian `u32` at `at`, `None` when it is not wholly inside `buf`.
#[inline]
pub(crate) fn read_be32(buf: &[u8], at: usize) -> Option<u32> {
    array(buf, at).map(u32::from_be_bytes)
}

/// The big-endian `u16` at `at` of a validated view; 0 if out of range.
#[inline]
pub(crate) fn be16(buf: &[u8], at: usize) -> u16 {
    read_be16(buf, at).unwrap_or(0)
}

/// The big-endian `u32` at `at` of a validated view; 0 if out of range.
#[inline]
pub(crate) fn be32(buf: &[u8], at: usize) -> u32 {
    read_be32(buf, at).unwrap_or(0)
}

/// The big-endian `u64` at `at` of a validated view; 0 if out of range.
#[inline]
pub(crate) fn be64(buf: &[u8], at: usize) -> u64 {
    array(buf, at).map_or(0, u64::from_be_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_inside_the_buffer_are_read_big_endian() {
        let buf = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09];
        assert_eq!(read_be16(&buf, 0), Some(0x0102));
        assert_eq!(read_be32(&buf, 5), Some(0x0607_0809));
        assert_eq!(be16(&buf, 7), 0x0809);
        assert_eq!(be32(&buf, 1), 0x0203_0405);
        assert_eq!(be64(&buf, 1), 0x0203_0405_0607_0809);
    }

    #[test]
    fn fields_past_the_end_are_none_or_zero_never_a_panic() {
        let buf = [0xFF; 8];
        for at in [7, 8, 9, usize::MAX - 1, usize::MAX] {
            assert_eq!(read_be16(&buf, at), None, "{at}");
            assert_eq!(read_be32(&buf, at), None, "{at}");
            assert_eq!(be16(&buf, at), 0, "{at}");
            assert_eq!(be32(&buf, at), 0, "{at}");
            assert_eq!(be64(&buf, at), 0, "{at}");
        }
        assert_eq!(read_be32(&buf, 5), None, "a field cut by the end");
        assert_eq!(be64(&buf, 1), 0);
        assert_eq!(be64(&[], 0), 0);
    }
}
