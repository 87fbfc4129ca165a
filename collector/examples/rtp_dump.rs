//! Prints capture time, sequence number and RTP timestamp of every RTP packet (debugging aid).
use std::fs::File;

use vtcq_collector::capture::CaptureReader;
use vtcq_collector::wire::link::decode_udp;
use vtcq_collector::wire::rtp::RtpPacket;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: rtp_dump FILE")?;
    let mut reader = CaptureReader::new(File::open(&path)?)?;
    let mut first = None;
    while let Some(frame) = reader.next_frame()? {
        let t0 = *first.get_or_insert(frame.timestamp);
        if let Ok(udp) = decode_udp(frame.link_type, frame.data) {
            if let Ok(rtp) = RtpPacket::new_checked(udp.payload) {
                println!(
                    "{:.6} {} -> {} seq {} ts {} pt {} ssrc {:08x}",
                    frame.timestamp.nanos_since(t0) as f64 / 1e9,
                    udp.src,
                    udp.dst,
                    rtp.sequence_number(),
                    rtp.timestamp(),
                    rtp.payload_type(),
                    rtp.ssrc()
                );
            }
        }
    }
    Ok(())
}
