//! The RTP header view: `RtpPacket::new_checked` and every accessor.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vtcq_collector::wire::demux::{classify, PayloadClass};
use vtcq_collector::wire::rtp::{RtpPacket, FIXED_HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    let _ = classify(data);
    let Ok(packet) = RtpPacket::new_checked(data) else {
        if data.len() >= FIXED_HEADER_LEN && classify(data) == PayloadClass::Rtp {
            // The demultiplexer may call it RTP; the view still decides. Nothing to check.
        }
        return;
    };
    assert_eq!(packet.version(), 2);
    assert_eq!(packet.as_bytes(), data);
    let _ = (
        packet.marker(),
        packet.payload_type(),
        packet.sequence_number(),
        packet.timestamp(),
        packet.ssrc(),
    );
    // Header, payload and padding tile the packet exactly.
    let header_len = packet.header_len();
    let padding_len = packet.padding_len();
    let payload = packet.payload();
    assert!(header_len >= FIXED_HEADER_LEN);
    assert_eq!(header_len + payload.len() + padding_len, data.len());
    assert_eq!(payload, &data[header_len..data.len() - padding_len]);
    assert_eq!(packet.padding(), padding_len > 0);
    // The CSRC list has CC entries and they are the words after the fixed header.
    let csrcs: Vec<u32> = packet.csrcs().collect();
    assert_eq!(csrcs.len(), usize::from(packet.csrc_count()));
    for (i, csrc) in csrcs.iter().enumerate() {
        let at = FIXED_HEADER_LEN + 4 * i;
        assert_eq!(csrc.to_be_bytes(), data[at..at + 4]);
    }
    match (packet.extension(), packet.extension_profile(), packet.extension_data()) {
        (false, None, None) => {}
        (true, Some(_), Some(ext)) => {
            assert_eq!(ext.len() % 4, 0);
            // Extension data sits inside the header.
            let base = data.as_ptr() as usize;
            let start = ext.as_ptr() as usize - base;
            assert!(start + ext.len() == header_len);
            // Elements: each inside the extension data, iteration ends after an error.
            let mut total = 0usize;
            let mut errors = 0;
            for element in packet.extension_elements() {
                match element {
                    Ok(e) => {
                        assert_eq!(errors, 0, "an element after an error");
                        assert!(e.id != 0);
                        total += e.data.len();
                        let at = e.data.as_ptr() as usize;
                        assert!(e.data.is_empty() || (at >= base + start && at + e.data.len() <= base + header_len));
                    }
                    Err(_) => errors += 1,
                }
            }
            assert!(errors <= 1);
            assert!(total <= ext.len());
        }
        other => panic!("extension accessors disagree: {other:?}"),
    }
});
