//! Feeding a capture file through the analyzer (the offline path of `vtcq analyze`).

use std::io::Read;

use crate::analyzer::Analyzer;
use crate::capture::{CaptureError, CaptureReader};
use crate::Timestamp;

/// How a capture file ended.
#[derive(Debug)]
pub enum CaptureEnd {
    /// At a clean end of file.
    Complete,
    /// Cut in the middle of a record (a stopped capture): everything before was analysed.
    CutShort {
        /// Byte offset of the incomplete record.
        offset: u64,
    },
    /// A damaged record: everything before it was analysed.
    Damaged {
        /// Byte offset of the damaged record.
        offset: u64,
        /// What was wrong with it.
        reason: &'static str,
    },
}

/// What a pass over a capture file produced besides the analyzer's state.
#[derive(Debug)]
pub struct CaptureSummary {
    /// Frames read.
    pub frames: u64,
    /// How the file ended.
    pub end: CaptureEnd,
    /// Link speed of the capture interface (pcapng `if_speed`), bytes per second.
    pub link_speed_bytes_per_sec: Option<u64>,
    /// Capture time of the last frame.
    pub last_timestamp: Option<Timestamp>,
}

/// Feeds every frame of `reader` to `analyzer`. `progress(bytes, frames)` is called every
/// 64 Ki frames. A cut or damaged tail ends the pass with what was read so far; only an
/// I/O error is an error.
pub fn analyze_capture<R: Read>(
    reader: &mut CaptureReader<R>,
    analyzer: &mut Analyzer,
    mut progress: impl FnMut(u64, u64),
) -> Result<CaptureSummary, CaptureError> {
    let end = loop {
        match reader.next_frame() {
            Ok(Some(frame)) => {
                analyzer.process_frame(frame.timestamp, frame.link_type, frame.data);
                let frames = reader.frames_read();
                if frames.is_multiple_of(65_536) {
                    progress(reader.bytes_consumed(), frames);
                }
            }
            Ok(None) => break CaptureEnd::Complete,
            Err(CaptureError::Truncated { offset, .. }) => break CaptureEnd::CutShort { offset },
            Err(CaptureError::Malformed { offset, reason }) => {
                break CaptureEnd::Damaged { offset, reason }
            }
            Err(other) => return Err(other),
        }
    };
    let link_speed_bytes_per_sec = reader
        .interfaces()
        .iter()
        .find_map(|i| i.speed_bits_per_sec)
        .map(|bits| bits / 8);
    Ok(CaptureSummary {
        frames: reader.frames_read(),
        end,
        link_speed_bytes_per_sec,
        // The analyzer already keeps the latest capture time it was fed.
        last_timestamp: analyzer.time_span().map(|(_, last)| last),
    })
}
