//! Shared inputs for the vtcq benchmarks and load tools: captures made by the project's
//! own generator ([`vtcq_sim`]), held in memory so the benchmarks measure the
//! packet path, not the disk, or streamed to a pcap file for the end-to-end comparisons.
//!
//! The large capture is [`LoadSpec`]: many concurrent three-channel calls between one bot
//! address ([`BOT_IP`]) and one device address per call, each call a separate run of the
//! simulator with its own seed, ports, SSRCs, loss, delay, jitter (often wider than the
//! packet spacing, so RTP arrives reordered) and RTCP interval, merged in capture order.
#![forbid(unsafe_code)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use vtcq_collector::capture::{CaptureError, CaptureReader, LinkType, PcapWriter};
use vtcq_collector::summary::MediaKind;
use vtcq_collector::wire::rtcp::{
    write_receiver_report, write_sdes_cname, write_sender_report, ReportBlock,
};
use vtcq_collector::Timestamp;
use vtcq_sim::{generate, CallSpec, ChannelSpec, Rng};

/// The frames of the shipped sample call (about 4 500 Ethernet frames, 20 s, 3 channels).
pub fn sample_frames() -> Vec<(Timestamp, Vec<u8>)> {
    generate(&CallSpec::sample()).frames
}

/// A typical RTCP compound as a bot or a device sends it: an SR and an RR with one report
/// block each and an SDES CNAME (108 bytes), the input of the SRTCP benchmarks.
pub fn typical_rtcp_compound() -> Vec<u8> {
    let block = ReportBlock {
        ssrc: 0x0BAD_CAFE,
        fraction_lost: 3,
        cumulative_lost: 120,
        extended_highest_sequence: 0x0001_2345,
        jitter: 240,
        last_sr: 0x1234_5678,
        delay_since_last_sr: 0x0002_0000,
    };
    let ssrc = 0x5EC0_DE01;
    let mut compound = Vec::new();
    write_sender_report(
        &mut compound,
        ssrc,
        0xE812_3456_789A_BCDE,
        160_000,
        500,
        80_000,
        &[block],
    );
    write_receiver_report(&mut compound, ssrc, &[block]);
    write_sdes_cname(&mut compound, ssrc, "bot@cvi.example");
    compound
}

/// Frames held back to back in one buffer (as the daemon's capture arena holds a ring
/// batch), with their capture times. Iterating it touches memory in order.
#[derive(Clone, Debug, Default)]
pub struct FrameArena {
    data: Vec<u8>,
    /// (capture time, start in `data`, length).
    frames: Vec<(Timestamp, usize, usize)>,
}

impl FrameArena {
    /// An empty arena.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one frame.
    pub fn push(&mut self, at: Timestamp, frame: &[u8]) {
        let start = self.data.len();
        self.data.extend_from_slice(frame);
        self.frames.push((at, start, frame.len()));
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True without frames.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Bytes of frame data.
    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    /// Capture time of frame `i`.
    pub fn timestamp(&self, i: usize) -> Option<Timestamp> {
        self.frames.get(i).map(|f| f.0)
    }

    /// Frame `i`.
    pub fn get(&self, i: usize) -> Option<(Timestamp, &[u8])> {
        let &(at, start, len) = self.frames.get(i)?;
        Some((at, self.data.get(start..start + len)?))
    }

    /// The frames in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (Timestamp, &[u8])> + '_ {
        self.frames
            .iter()
            .map(|&(at, start, len)| (at, self.data.get(start..start + len).unwrap_or(&[])))
    }

    /// Frees what was reserved beyond the contents.
    pub fn shrink_to_fit(&mut self) {
        self.data.shrink_to_fit();
        self.frames.shrink_to_fit();
    }
}

/// The bot's address in every generated load capture (`vtcq analyze --local 192.0.2.10`).
pub const BOT_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
/// First local RTP port; call `i` uses `BASE + 6i` (audio), `+2` (video), `+4` (screen).
pub const LOCAL_PORT_BASE: u16 = 20_000;
/// Most calls a load spec may have: the local ports must fit below 65 536.
pub const MAX_CALLS: usize = (65_535 - LOCAL_PORT_BASE as usize) / 6;

/// Many concurrent three-channel calls, all to the bot at [`BOT_IP`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadSpec {
    /// Concurrent calls.
    pub calls: usize,
    /// Media duration of every call.
    pub seconds: u64,
    /// Master seed; call `i` derives its own.
    pub seed: u64,
    /// Time over which the call starts are spread.
    pub stagger: Duration,
}

impl LoadSpec {
    /// `calls` calls of `seconds` each, starts spread over at most 10 s (and at most a
    /// sixth of the duration, so that the calls overlap).
    pub fn new(calls: usize, seconds: u64) -> Self {
        LoadSpec {
            calls: calls.min(MAX_CALLS),
            seconds,
            seed: 0x10AD_5EED,
            stagger: Duration::from_millis((seconds * 1000 / 6).min(10_000)),
        }
    }

    /// The default large capture: 200 calls of 60 s, about 2.6 million frames.
    pub fn large() -> Self {
        Self::new(200, 60)
    }

    /// The simulated call number `i`. Different seeds, device addresses (198.18.0.0/15,
    /// RFC 2544's benchmarking range), local ports, SSRCs, first sequence numbers, codecs,
    /// loss, delay, jitter and RTCP intervals; staggered starts.
    pub fn call(&self, i: usize) -> CallSpec {
        let mut rng = Rng(self.seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut between = |lo: f64, hi: f64| lo + (hi - lo) * rng.unit();
        let ms = |x: f64| Duration::from_micros((x * 1000.0) as u64);
        let outbound_loss = between(0.0, 0.03);
        let inbound_loss = between(0.0, 0.05);
        let outbound_delay = ms(between(5.0, 60.0));
        let inbound_delay = ms(between(5.0, 60.0));
        // Audio packets are 20 ms apart, video fragments 1 ms: jitter beyond that reorders.
        let outbound_jitter = ms(between(2.0, 25.0));
        let inbound_jitter = ms(between(5.0, 60.0));
        let rtcp_interval = ms(between(1_500.0, 5_000.0));
        let offset_secs = between(-100_000.0, 100_000.0) as i64;
        let start_offset = Duration::from_nanos(
            (self.stagger.as_nanos() as u64 / self.calls.max(1) as u64) * i as u64
                + (between(0.0, 1.0) * 1e6) as u64,
        );
        let opus = rng.next_u64().is_multiple_of(2);
        let audio_mux = rng.next_u64().is_multiple_of(3);
        let video_ppf = 1 + (rng.next_u64() % 3) as u32;
        let video_bytes = 500 + (rng.next_u64() % 600) as usize;
        let mut ssrc = || (rng.next_u64() as u32) | 1;
        let ssrcs = [ssrc(), ssrc(), ssrc(), ssrc(), ssrc(), ssrc()];
        let mut seq = || rng.next_u64() as u16;
        let seqs = [seq(), seq(), seq(), seq(), seq(), seq()];
        let port = LOCAL_PORT_BASE + 6 * i as u16;
        let remote_ip = Ipv4Addr::new(
            198,
            18 + (i / 62_500) as u8,
            (i / 250 % 250) as u8,
            (i % 250) as u8 + 1,
        );
        let channel = |kind, local_port, remote_port, n: usize| ChannelSpec {
            kind,
            local_port,
            remote_port,
            rtcp_mux: true,
            payload_type: 96,
            clock_rate: 90_000,
            frame_interval: Duration::from_nanos(33_333_333),
            packets_per_frame: video_ppf,
            payload_bytes: video_bytes,
            outbound_media: true,
            inbound_media: true,
            xr: false,
            local_ssrc: ssrcs[2 * n],
            remote_ssrc: ssrcs[2 * n + 1],
            local_first_seq: seqs[2 * n],
            remote_first_seq: seqs[2 * n + 1],
        };
        let audio = ChannelSpec {
            rtcp_mux: audio_mux,
            payload_type: if opus { 111 } else { 0 },
            clock_rate: if opus { 48_000 } else { 8_000 },
            frame_interval: Duration::from_millis(20),
            packets_per_frame: 1,
            payload_bytes: if opus { 120 } else { 160 },
            ..channel(MediaKind::Audio, port, 40_000, 0)
        };
        let video = channel(MediaKind::Video, port + 2, 40_002, 1);
        let screen = ChannelSpec {
            payload_type: 97,
            frame_interval: Duration::from_millis(200),
            packets_per_frame: 1,
            payload_bytes: 1_100,
            outbound_media: false,
            xr: true,
            ..channel(MediaKind::ScreenSharing, port + 4, 40_004, 2)
        };
        CallSpec {
            local_ip: IpAddr::V4(BOT_IP),
            remote_ip: IpAddr::V4(remote_ip),
            // 2026-11-28T09:00:00Z
            start: Timestamp::from_nanos(1_796_029_200_000_000_000).after(start_offset),
            duration: Duration::from_secs(self.seconds),
            channels: vec![audio, video, screen],
            outbound_delay,
            inbound_delay,
            outbound_jitter,
            inbound_jitter,
            outbound_loss,
            inbound_loss,
            rtcp_interval,
            remote_clock_offset_secs: offset_secs,
            send_bye: true,
            seed: self.seed.wrapping_add(i as u64),
        }
    }
}

/// What a generated load capture holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadTotals {
    /// Frames written.
    pub frames: u64,
    /// Bytes of frame data.
    pub bytes: u64,
    /// RTP packets captured (sent by the bot, delivered from the devices).
    pub rtp_packets: u64,
    /// RTP packets the devices sent (captured or lost before the capture point).
    pub inbound_sent: u64,
    /// Channels.
    pub channels: u64,
}

impl LoadTotals {
    fn add_call(&mut self, call: &vtcq_sim::SynthCall) {
        self.frames += call.frames.len() as u64;
        self.bytes += call.frames.iter().map(|f| f.1.len() as u64).sum::<u64>();
        for t in &call.truth {
            self.rtp_packets += t.outbound_sent + t.inbound_delivered;
            self.inbound_sent += t.inbound_sent;
            self.channels += 1;
        }
    }

    fn merge(&mut self, other: &LoadTotals) {
        self.frames += other.frames;
        self.bytes += other.bytes;
        self.rtp_packets += other.rtp_packets;
        self.inbound_sent += other.inbound_sent;
        self.channels += other.channels;
    }
}

/// Runs `work(i)` for every `i < n` on `threads` threads.
fn parallel<T: Send>(n: usize, threads: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..n).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, n.max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let result = work(i);
                if let Ok(mut all) = results.lock() {
                    all[i] = Some(result);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect()
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The whole load capture in memory, in capture order (ties by call number, then by the
/// call's own order). Memory is about the capture's size twice over while it is built.
pub fn load_frames(spec: &LoadSpec) -> (FrameArena, LoadTotals) {
    let calls = parallel(spec.calls, threads(), |i| {
        let call = generate(&spec.call(i));
        let mut totals = LoadTotals::default();
        totals.add_call(&call);
        let mut arena = FrameArena::new();
        for (at, frame) in &call.frames {
            arena.push(*at, frame);
        }
        (arena, totals)
    });
    let mut totals = LoadTotals::default();
    let mut merged = FrameArena::new();
    merged.data.reserve(calls.iter().map(|c| c.0.bytes()).sum());
    merged.frames.reserve(calls.iter().map(|c| c.0.len()).sum());
    let mut heap = BinaryHeap::new();
    for (i, (arena, t)) in calls.iter().enumerate() {
        totals.merge(t);
        if let Some(at) = arena.timestamp(0) {
            heap.push(Reverse((at, i, 0usize)));
        }
    }
    while let Some(Reverse((_, call, index))) = heap.pop() {
        let arena = &calls[call].0;
        if let Some((at, frame)) = arena.get(index) {
            merged.push(at, frame);
        }
        if let Some(at) = arena.timestamp(index + 1) {
            heap.push(Reverse((at, call, index + 1)));
        }
    }
    (merged, totals)
}

/// One call's part file being merged: its reader and a copy of its current frame.
struct Part {
    reader: CaptureReader<File>,
    frame: Vec<u8>,
}

impl Part {
    /// Reads the next frame into `self.frame`; its capture time, `None` at the end.
    fn advance(&mut self) -> Result<Option<Timestamp>, CaptureError> {
        match self.reader.next_frame()? {
            Some(frame) => {
                self.frame.clear();
                self.frame.extend_from_slice(frame.data);
                Ok(Some(frame.timestamp))
            }
            None => Ok(None),
        }
    }
}

fn capture_error(e: CaptureError) -> io::Error {
    match e {
        CaptureError::Io(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

/// Writes the load capture to `out` as a classic pcap (Ethernet, nanosecond timestamps),
/// without ever holding more than a call per thread in memory: each call is generated and
/// written to its own part file beside `out`, then the parts are merged in time order
/// through a heap (one small read buffer per part) and removed.
pub fn write_load_capture(spec: &LoadSpec, out: &Path) -> io::Result<LoadTotals> {
    let parts_dir = PathBuf::from(format!("{}.parts-{}", out.display(), std::process::id()));
    fs::create_dir_all(&parts_dir)?;
    let result = write_parts_and_merge(spec, out, &parts_dir);
    let _ = fs::remove_dir_all(&parts_dir);
    result
}

fn write_parts_and_merge(spec: &LoadSpec, out: &Path, parts_dir: &Path) -> io::Result<LoadTotals> {
    let part_path = |i: usize| parts_dir.join(format!("call-{i:05}.pcap"));
    let written = parallel(spec.calls, threads(), |i| -> io::Result<LoadTotals> {
        let call = generate(&spec.call(i));
        let mut totals = LoadTotals::default();
        totals.add_call(&call);
        let file = BufWriter::with_capacity(1 << 20, File::create(part_path(i))?);
        call.write_pcap(file)?;
        Ok(totals)
    });
    let mut totals = LoadTotals::default();
    for t in written {
        totals.merge(&t?);
    }

    let mut parts = Vec::with_capacity(spec.calls);
    let mut heap = BinaryHeap::new();
    for i in 0..spec.calls {
        let reader = CaptureReader::new(File::open(part_path(i))?).map_err(capture_error)?;
        let mut part = Part {
            reader,
            frame: Vec::with_capacity(2048),
        };
        if let Some(at) = part.advance().map_err(capture_error)? {
            heap.push(Reverse((at, i)));
        }
        parts.push(part);
    }
    let file = BufWriter::with_capacity(1 << 20, File::create(out)?);
    let mut pcap = PcapWriter::new(file, LinkType::Ethernet, 65_535)?;
    while let Some(Reverse((at, i))) = heap.pop() {
        let part = &mut parts[i];
        pcap.write_frame(at, &part.frame)?;
        if let Some(next) = part.advance().map_err(capture_error)? {
            heap.push(Reverse((next, i)));
        }
    }
    pcap.into_inner()?.flush()?;
    Ok(totals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_calls_differ_and_fit_their_ports() {
        let spec = LoadSpec::new(3, 2);
        let a = spec.call(0);
        let b = spec.call(1);
        assert_ne!(a.remote_ip, b.remote_ip);
        assert_ne!(a.channels[0].local_port, b.channels[0].local_port);
        assert_ne!(a.channels[1].remote_ssrc, b.channels[1].remote_ssrc);
        assert!(a.start < b.start);
        assert_eq!(LoadSpec::new(MAX_CALLS + 5, 1).calls, MAX_CALLS);
    }

    #[test]
    fn load_frames_are_in_capture_order() {
        let (frames, totals) = load_frames(&LoadSpec::new(3, 2));
        assert_eq!(frames.len() as u64, totals.frames);
        assert_eq!(totals.channels, 9);
        let times: Vec<Timestamp> = frames.iter().map(|f| f.0).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn written_capture_matches_the_in_memory_one() {
        let spec = LoadSpec::new(3, 2);
        let dir = std::env::temp_dir().join(format!("vtcq-benches-{}", std::process::id()));
        let _ = fs::create_dir_all(&dir);
        let path = dir.join("load.pcap");
        let totals = write_load_capture(&spec, &path).ok();
        let (frames, expected) = load_frames(&spec);
        assert_eq!(totals.as_ref(), Some(&expected));
        let mut read = FrameArena::new();
        if let Ok(mut reader) = File::open(&path)
            .map_err(CaptureError::Io)
            .and_then(CaptureReader::new)
        {
            while let Ok(Some(frame)) = reader.next_frame() {
                read.push(frame.timestamp, frame.data);
            }
        }
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(read.len(), frames.len());
        assert!(read.iter().zip(frames.iter()).all(|(a, b)| a == b));
    }
}
