//! Zero-copy views of the packets vtcq reads.
//!
//! Every view follows one contract (borrowed from smoltcp): `new_checked` validates the
//! lengths once, and after that no accessor panics, whatever the bytes say.

mod bytes;
pub mod demux;
pub mod link;
pub mod rtcp;
pub mod rtp;
pub mod tcp;
