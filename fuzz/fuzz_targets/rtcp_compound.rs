//! RTCP compound packets: `Compound::parse`, then every sub-packet, report block, XR
//! block, DLRR sub-block, SDES chunk and item, BYE source and reason, through every
//! accessor. Each typed view is also validated on its own and must agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vtcq_collector::wire::rtcp::{
    is_rtcp_header, App, Compound, CompoundKind, ExtendedReport, Feedback, Goodbye, Packet,
    ReceiverReport, ReportBlock, SenderReport, SourceDescription, XrBlock,
};

/// `inner` lies within `outer`.
fn within(outer: &[u8], inner: &[u8]) {
    if inner.is_empty() {
        return;
    }
    let (o, i) = (outer.as_ptr_range(), inner.as_ptr_range());
    assert!(o.start <= i.start && i.end <= o.end, "a view outside the datagram");
}

fn report_blocks(blocks: impl ExactSizeIterator<Item = ReportBlock>, rc: u8) {
    assert_eq!(blocks.len(), usize::from(rc));
    for block in blocks {
        assert!((-(1 << 23)..(1 << 23)).contains(&block.cumulative_lost));
        // A block survives a write/read round trip through a receiver report.
        let mut out = Vec::new();
        vtcq_collector::wire::rtcp::write_receiver_report(&mut out, 1, &[block]);
        let rr = ReceiverReport::new_checked(&out).expect("a written RR parses");
        assert_eq!(rr.report_blocks().next(), Some(block));
    }
}

fn packet(data: &[u8], sub: &[u8], p: &Packet<'_>) {
    let rc = sub[0] & 0x1f;
    match p {
        Packet::SenderReport(sr) => {
            let _ = (sr.ssrc(), sr.ntp_timestamp(), sr.rtp_timestamp(), sr.packet_count(), sr.octet_count());
            within(data, sr.profile_extension());
            report_blocks(sr.report_blocks(), rc);
        }
        Packet::ReceiverReport(rr) => {
            let _ = rr.ssrc();
            within(data, rr.profile_extension());
            report_blocks(rr.report_blocks(), rc);
        }
        Packet::SourceDescription(sdes) => {
            let mut chunks = 0;
            for chunk in sdes.chunks() {
                chunks += 1;
                assert!(chunks <= usize::from(rc));
                let Ok((_ssrc, items)) = chunk else { continue };
                let mut errors = 0;
                for item in items {
                    match item {
                        Ok((_kind, value)) => {
                            assert_eq!(errors, 0);
                            assert!(value.len() <= 255);
                            within(data, value);
                        }
                        Err(_) => errors += 1,
                    }
                }
                assert!(errors <= 1);
            }
        }
        Packet::Goodbye(bye) => {
            let sources: Vec<u32> = bye.sources().collect();
            assert_eq!(sources.len(), usize::from(rc));
            if let Some(reason) = bye.reason() {
                assert!(!reason.is_empty() && reason.len() <= 255);
                within(data, reason);
            }
        }
        Packet::App(app) => {
            let _ = (app.subtype(), app.ssrc(), app.name());
            within(data, app.data());
        }
        Packet::ExtendedReport(xr) => {
            let _ = xr.ssrc();
            let mut ended = false;
            for block in xr.blocks() {
                assert!(!ended, "a block after an overflow");
                match block {
                    Ok(XrBlock::ReceiverReferenceTime { ntp_timestamp }) => {
                        let _ = ntp_timestamp;
                    }
                    Ok(XrBlock::Dlrr(dlrr)) => {
                        for sub in dlrr.sub_blocks() {
                            let _ = (sub.ssrc, sub.last_rr, sub.delay_since_last_rr);
                        }
                    }
                    Ok(XrBlock::Other { block_type, body }) => {
                        assert!(block_type != 4 && block_type != 5);
                        within(data, body);
                    }
                    Err(vtcq_collector::wire::rtcp::RtcpError::XrBlockOverflow) => ended = true,
                    Err(_) => {}
                }
            }
        }
        Packet::TransportFeedback(fb) | Packet::PayloadFeedback(fb) => {
            let _ = (fb.packet_type(), fb.fmt(), fb.sender_ssrc(), fb.media_ssrc());
            within(data, fb.fci());
        }
        Packet::Unknown { packet_type, body } => {
            assert!((192..=223).contains(packet_type));
            assert!(!(200..=207).contains(packet_type));
            within(data, body);
        }
    }
}

/// The typed views agree with `Packet::new_checked` on the same bytes.
fn typed_views_agree(sub: &[u8], p: &Packet<'_>) {
    match p {
        Packet::SenderReport(v) => assert_eq!(SenderReport::new_checked(sub).as_ref(), Ok(v)),
        Packet::ReceiverReport(v) => assert_eq!(ReceiverReport::new_checked(sub).as_ref(), Ok(v)),
        Packet::SourceDescription(v) => {
            assert_eq!(SourceDescription::new_checked(sub).as_ref(), Ok(v))
        }
        Packet::Goodbye(v) => assert_eq!(Goodbye::new_checked(sub).as_ref(), Ok(v)),
        Packet::App(v) => assert_eq!(App::new_checked(sub).as_ref(), Ok(v)),
        Packet::ExtendedReport(v) => assert_eq!(ExtendedReport::new_checked(sub).as_ref(), Ok(v)),
        Packet::TransportFeedback(v) | Packet::PayloadFeedback(v) => {
            assert_eq!(Feedback::new_checked(sub).as_ref(), Ok(v))
        }
        Packet::Unknown { .. } => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = is_rtcp_header(data);
    let compound = Compound::parse(data);
    let kind = compound.kind();
    assert_eq!(kind == CompoundKind::Plain, compound.break_error().is_none());
    if data.is_empty() {
        assert_eq!(kind, CompoundKind::Malformed);
    }
    let mut items = 0usize;
    let mut trailing_error = false;
    // Every sub-packet of the walk is at least 4 bytes: bounded by data.len() / 4 + 1.
    let mut offset = 0usize;
    for item in compound.packets() {
        items += 1;
        assert!(items <= data.len() / 4 + 1);
        assert!(!trailing_error, "a packet after the break error");
        match item {
            Ok(p) => {
                let sub = &data[offset..];
                typed_views_agree(sub, &p);
                packet(data, sub, &p);
                let _ = p.packet_type();
            }
            Err(_) => {}
        }
        // Advance by the sub-packet's declared size while the walk's prefix lasts.
        match data.get(offset..offset + 4) {
            Some(h) if h[0] >> 6 == 2 && (192..=223).contains(&h[1]) => {
                let size = (usize::from(u16::from_be_bytes([h[2], h[3]])) + 1) * 4;
                if offset + size <= data.len() {
                    offset += size;
                } else {
                    trailing_error = true;
                }
            }
            _ => trailing_error = true,
        }
    }
    match kind {
        CompoundKind::Srtcp => assert_eq!(items, 0),
        CompoundKind::Plain => assert_eq!(offset, data.len()),
        CompoundKind::Malformed => assert!(items >= 1),
    }
});
