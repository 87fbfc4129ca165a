//! The pcap / pcapng reader over arbitrary bytes, read whole and through a reader that
//! hands out one to a few bytes per `read` call (the streaming buffer's refill path). Both
//! must see the same frames and end the same way.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use vtcq_collector::capture::{CaptureError, CaptureReader, MAX_RECORD_LEN};

/// A reader that returns at most `step` bytes per call.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// What a pass saw: per frame (timestamp, link type, interface, bytes, original length),
/// and how it ended.
type Pass = (Vec<(i64, u32, u32, Vec<u8>, u32)>, String);

fn read_all<R: Read>(reader: R, input_len: usize) -> Pass {
    let mut frames = Vec::new();
    let mut reader = match CaptureReader::new(reader) {
        Ok(r) => r,
        Err(e) => return (frames, format!("{e:?}")),
    };
    let _ = format!("{reader:?}");
    let end = loop {
        let before = reader.bytes_consumed();
        match reader.next_frame() {
            Ok(Some(frame)) => {
                assert!(frame.data.len() <= MAX_RECORD_LEN as usize);
                // A frame's bytes come out of the input: never more than it holds.
                assert!(frame.data.len() <= input_len);
                frames.push((
                    frame.timestamp.as_nanos(),
                    frame.link_type.to_linktype(),
                    frame.interface,
                    frame.data.to_vec(),
                    frame.original_len,
                ));
                assert!(reader.bytes_consumed() > before, "a frame that consumed nothing");
            }
            Ok(None) => break "end".to_owned(),
            Err(e @ (CaptureError::Truncated { .. } | CaptureError::Malformed { .. })) => {
                break format!("{e:?}")
            }
            Err(e) => panic!("only truncation or malformation can come from bytes: {e:?}"),
        }
        assert!(reader.bytes_consumed() <= input_len as u64);
        assert_eq!(reader.frames_read(), frames.len() as u64);
        let _ = (reader.interfaces().len(), reader.format());
    };
    // After the end or an error, the reader stays finished.
    assert!(matches!(reader.next_frame(), Ok(None)));
    (frames, end)
}

fuzz_target!(|data: &[u8]| {
    let whole = read_all(data, data.len());
    let step = 1 + usize::from(data.last().copied().unwrap_or(0) % 7);
    let trickled = read_all(Trickle { data, step }, data.len());
    assert_eq!(whole, trickled, "the result depends on how the bytes arrive");
});
