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
                // Not enough room after `start`: move the tail to the front, and grow if
                // the record is bigger than the whole buffer. Growth at most doubles per
                // step, so memory follows the bytes actually read.
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
                if self.buf.len() < n {
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
