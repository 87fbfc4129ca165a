//! Every link type down to UDP: `decode_udp` over arbitrary frames.
//!
//! Input: one selector byte (which `LINKTYPE_`), then the frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vtcq_collector::capture::LinkType;
use vtcq_collector::wire::link::{decode_udp, write_udp_frame};

/// The link types `decode_udp` knows, plus one it does not.
const LINKTYPES: [u32; 11] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, frame)) = data.split_first() else {
        return;
    };
    let link_type =
        LinkType::from_linktype(LINKTYPES[usize::from(selector) % LINKTYPES.len()]);
    let result = decode_udp(link_type, frame);
    // Pure function: the same bytes give the same answer.
    assert_eq!(result, decode_udp(link_type, frame));
    let udp = match result {
        Ok(udp) => udp,
        Err(e) => {
            // Display never panics and the classification is total.
            let _ = (e.to_string(), e.is_malformed());
            return;
        }
    };
    // The payload is a slice of the frame, never longer than the UDP length says.
    let frame_range = frame.as_ptr_range();
    let payload_range = udp.payload.as_ptr_range();
    assert!(frame_range.start <= payload_range.start && payload_range.end <= frame_range.end);
    assert!(udp.payload.len() <= udp.payload_len);
    assert!(udp.payload_len <= 65_535 - 8);
    assert_eq!(udp.src.is_ipv4(), udp.dst.is_ipv4());
    // What was decoded can be built again and decodes to the same datagram.
    if udp.payload.len() == udp.payload_len {
        let mut rebuilt = Vec::new();
        if write_udp_frame(&mut rebuilt, link_type, udp.src, udp.dst, udp.payload).is_ok() {
            let again = decode_udp(link_type, &rebuilt).expect("a built frame decodes");
            assert_eq!((again.src, again.dst, again.payload), (udp.src, udp.dst, udp.payload));
        }
    }
});
