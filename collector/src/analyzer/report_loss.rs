//! Loss from RTCP report blocks (SEMANTICS.md "Loss"): the interval between two
//! consecutive blocks of one reporter SSRC about one reported SSRC gives one sample,
//! `Δcumulative lost / Δextended highest sequence`.

use crate::rtt::SR_HISTORY;
use crate::stats::LossSamples;
use crate::wire::rtcp::ReportBlock;

/// Pairs (reporter SSRC, reported SSRC) one side remembers; past it the oldest pair is
/// forgotten (its next block starts afresh, like a first block).
const MAX_PAIRS: usize = SR_HISTORY * 4;

/// The last block of one reporter about one SSRC: where the next interval starts.
#[derive(Clone, Copy, Debug)]
struct LossBaseline {
    reporter: u32,
    about: u32,
    extended_highest: u32,
    cumulative_lost: i32,
}

/// The loss baselines of one side's report blocks (few pairs: a linear scan).
#[derive(Clone, Debug, Default)]
pub(crate) struct LossBaselines {
    pairs: Vec<LossBaseline>,
}

impl LossBaselines {
    /// Files the loss a block of `reporter` reports into `loss`: the interval since the
    /// pair's previous block when there is one, else the block's fraction lost (which adds
    /// to the maximum only). The block becomes the pair's baseline.
    pub(crate) fn record(&mut self, reporter: u32, block: &ReportBlock, loss: &mut LossSamples) {
        let found = self
            .pairs
            .iter_mut()
            .find(|b| b.reporter == reporter && b.about == block.ssrc);
        match found {
            None => {
                loss.record_percent_only(f64::from(block.fraction_lost) / 256.0 * 100.0);
                if self.pairs.len() >= MAX_PAIRS {
                    self.pairs.remove(0);
                }
                self.pairs.push(LossBaseline {
                    reporter,
                    about: block.ssrc,
                    extended_highest: block.extended_highest_sequence,
                    cumulative_lost: block.cumulative_lost,
                });
            }
            Some(baseline) => {
                let expected = i64::from(block.extended_highest_sequence)
                    - i64::from(baseline.extended_highest);
                if expected > 0 {
                    let lost = (i64::from(block.cumulative_lost)
                        - i64::from(baseline.cumulative_lost))
                    .max(0);
                    loss.record_interval(lost, expected);
                }
                // expected ≤ 0: no new packets or a sequence reset; either way a new baseline.
                baseline.extended_highest = block.extended_highest_sequence;
                baseline.cumulative_lost = block.cumulative_lost;
            }
        }
    }
}
