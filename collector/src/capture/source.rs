//! The buffered byte source under both readers.
//!
//! One `Vec<u8>` is reused for the whole file: a record is read into it, handed out as a
//! borrowed slice, and the space is recycled for the next record. The buffer only grows
//! when a record is larger than anything seen before, and then only as fast as bytes
//! actually arrive, so a lying length field in a short file cannot make us allocate the
//! full (already bounded) amount up front.

use std::io::{self, Read};
use std::ops::Range;

/// Initial buffer size: large enough for a jumbo frame plus its header, and a sensible
/// read size for files.
const INITIAL_BUFFER: usize = 64 * 1024;

/// A reader plus one reusable buffer. Invariant: `start <= end <= buf.len()`.
pub(crate) struct Source<R> {
    inner: R,
    buf: Vec<u8>,
    /// First byte not consumed yet.
    start: usize,
    /// End of the valid bytes read from `inner`.
    end: usize,
    /// File offset of `buf[start]`.
    offset: u64,
}

impl<R: Read> Source<R> {
    pub(crate) fn new(inner: R) -> Self {
        Source {
            inner,
            buf: vec![0; INITIAL_BUFFER],
            start: 0,
            end: 0,
            offset: 0,
        }
    }

    /// File offset of the first unconsumed byte (the bytes handed out so far).
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// The unconsumed bytes currently buffered.
    pub(crate) fn data(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or(&[])
    }

    /// The buffered unconsumed bytes from `0` to `len` as a range into the buffer, for
    /// handing them out after [`Source::consume`]. `None` if fewer are buffered.
    pub(crate) fn range(&self, from: usize, len: usize) -> Option<Range<usize>> {
        let a = self.start.checked_add(from)?;
        let b = a.checked_add(len)?;
        (b <= self.end).then_some(a..b)
    }

    /// Bytes previously located with [`Source::range`]. They stay valid until the next
    /// `fill` or `skip`.
    pub(crate) fn slice(&self, range: Range<usize>) -> Option<&[u8]> {
        self.buf.get(range)
    }

    /// Makes at least `n` unconsumed bytes available and returns how many are (`min(n,
    /// available)`); fewer than `n` only at end of file.
    pub(crate) fn fill(&mut self, n: usize) -> io::Result<usize> {
        while self.end - self.start < n {
            if self.buf.len() - self.start < n {
                // Not enough room after `start`: move the tail to the front (once), and
                // grow if the record is bigger than the whole buffer, but only when the
                // buffer is full. Growth at most doubles and only once the bytes have
                // arrived, so memory follows the bytes actually read, however few bytes
                // each `read` returns.
                if self.start > 0 {
                    self.buf.copy_within(self.start..self.end, 0);
                    self.end -= self.start;
                    self.start = 0;
                }
                if self.buf.len() < n && self.end == self.buf.len() {
                    let grown = self.buf.len().saturating_mul(2).min(n);
                    self.buf.resize(grown.max(INITIAL_BUFFER), 0);
                }
            }
            // There is room: `buf.len() - start >= n > end - start`, so `end < buf.len()`.
            let Some(spare) = self.buf.get_mut(self.end..) else {
                break;
            };
            match self.inner.read(spare) {
                Ok(0) => break,
                Ok(k) => self.end = (self.end + k).min(self.buf.len()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok((self.end - self.start).min(n))
    }

    /// Marks `n` buffered bytes (at most all of them) as consumed.
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.offset += n as u64;
    }

    /// Consumes `n` bytes without keeping them, reading through the buffer in chunks so a
    /// large skipped block does not grow it. Returns `false` if the file ended first.
    pub(crate) fn skip(&mut self, n: u64) -> io::Result<bool> {
        let mut left = n;
        loop {
            let avail = self.end - self.start;
            let take = usize::try_from(left).unwrap_or(usize::MAX).min(avail);
            self.consume(take);
            left -= take as u64;
            if left == 0 {
                return Ok(true);
            }
            // The buffer is empty now: refill it from the start.
            self.start = 0;
            self.end = 0;
            match self.inner.read(&mut self.buf) {
                Ok(0) => return Ok(false),
                Ok(k) => self.end = k.min(self.buf.len()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that returns one byte per `read`, like a slow pipe or socket.
    struct OneByte<'a>(&'a [u8]);

    impl Read for OneByte<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((&b, rest)), Some(slot)) => {
                    *slot = b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    /// Found by the `capture_reader` fuzz target (slow units, 300 MB RSS): the buffer
    /// doubled on every `read` call rather than when it was full, so a record length near
    /// `MAX_RECORD_LEN` in a file of a few hundred bytes, read from a source that returns
    /// a few bytes per call, allocated (and zeroed) hundreds of MiB.
    #[test]
    fn a_lying_length_grows_the_buffer_only_as_bytes_arrive() {
        let data = vec![7u8; 1000];
        let mut src = Source::new(OneByte(&data));
        assert_eq!(src.fill(200 * 1024 * 1024).ok(), Some(1000));
        assert_eq!(
            src.buf.len(),
            INITIAL_BUFFER,
            "grew without the bytes to fill it"
        );
        assert_eq!(src.data(), &data[..]);
    }

    #[test]
    fn a_record_larger_than_the_buffer_is_read_through_short_reads() {
        let data: Vec<u8> = (0..3 * INITIAL_BUFFER + 5).map(|i| i as u8).collect();
        let mut src = Source::new(OneByte(&data));
        assert_eq!(src.fill(10).ok(), Some(10));
        src.consume(3);
        let want = data.len() - 3;
        assert_eq!(src.fill(want).ok(), Some(want));
        assert_eq!(src.data(), &data[3..]);
        assert!(src.buf.len() <= 2 * data.len(), "{}", src.buf.len());
    }
}
