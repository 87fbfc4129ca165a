//! Read-outs of a whole capture that are not channels: the per-stream table (comparable
//! to `tshark -z rtp,streams`) and the guess of the bot's address for `vtcq analyze`.

use std::net::{IpAddr, SocketAddr};

use super::flow::Side;
use super::Analyzer;
use crate::Timestamp;

/// One RTP stream as `--streams` lists it (comparable to `tshark -z rtp,streams`).
#[derive(Clone, Debug, PartialEq)]
pub struct StreamRow {
    /// Source address.
    pub src: SocketAddr,
    /// Destination address.
    pub dst: SocketAddr,
    /// SSRC.
    pub ssrc: u32,
    /// Latest payload type.
    pub payload_type: u8,
    /// Clock rate in use, if known.
    pub clock_rate: Option<u32>,
    /// Packets captured.
    pub packets: u64,
    /// Expected minus captured (negative with duplicates).
    pub lost: i64,
    /// Duplicates detected.
    pub duplicates: u64,
    /// Max and mean A.8 jitter in ms.
    pub jitter_ms: Option<(f64, f64)>,
    /// First and last capture time.
    pub first: Timestamp,
    /// Last capture time.
    pub last: Timestamp,
}

/// What `vtcq analyze` can tell about the bot's address without being told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalInference {
    /// One address is an endpoint of every RTP flow, and no other is.
    Unique {
        /// The address.
        addr: IpAddr,
        /// Number of RTP flows it is on.
        flows: usize,
    },
    /// Several addresses fit: the user has to pick.
    Ambiguous {
        /// The addresses that could be local.
        candidates: Vec<IpAddr>,
    },
    /// No RTP at all.
    NoRtp,
}

impl Analyzer {
    /// The RTP streams, in order of first packet (like `tshark -z rtp,streams`, valid ones
    /// only).
    pub fn stream_rows(&self) -> Vec<StreamRow> {
        let mut rows: Vec<StreamRow> = self
            .flows()
            .iter()
            .flat_map(|flow| {
                Side::BOTH.into_iter().flat_map(move |side| {
                    let src = flow.endpoint(side);
                    let dst = flow.endpoint(side.peer());
                    flow.side(side).valid_streams().map(move |s| {
                        let (first, last) = s.span();
                        StreamRow {
                            src,
                            dst,
                            ssrc: s.ssrc(),
                            payload_type: s.payload_type(),
                            clock_rate: s.clock_rate().map(|r| r.0),
                            packets: s.packets(),
                            lost: s.lost_signed(),
                            duplicates: s.duplicates(),
                            jitter_ms: s.jitter_max_mean_ms(),
                            first,
                            last,
                        }
                    })
                })
            })
            .collect();
        rows.sort_by_key(|r| r.first);
        rows
    }

    /// Guesses the bot's address: the one address that is an endpoint of every RTP flow.
    pub fn infer_local(&self) -> LocalInference {
        let flows: Vec<[IpAddr; 2]> = self
            .flows()
            .iter()
            .filter(|f| f.has_rtp())
            .map(|f| f.endpoints().map(|e| e.ip()))
            .collect();
        let Some(first) = flows.first() else {
            return LocalInference::NoRtp;
        };
        let mut common: Vec<IpAddr> = first.to_vec();
        common.dedup();
        common.retain(|ip| flows.iter().all(|f| f.contains(ip)));
        if let [addr] = common[..] {
            return LocalInference::Unique {
                addr,
                flows: flows.len(),
            };
        }
        let mut candidates: Vec<IpAddr> = if common.is_empty() {
            flows.iter().flatten().copied().collect()
        } else {
            common
        };
        candidates.sort();
        candidates.dedup();
        LocalInference::Ambiguous { candidates }
    }
}
