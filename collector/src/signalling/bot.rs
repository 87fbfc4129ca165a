//! Which side of the calls is the bot: a pure function over media plans.
//!
//! A CVI bot answers (or places) calls with many VTC devices from one host, so its media
//! address is a side of every call, while each device is a side of its own calls only.
//! The rule: count, for each media address, the distinct addresses it negotiated media
//! with. The bot is the address with the most distinct peers when that count is at least
//! two and no other address ties with it. With a single call (or calls between the same
//! two addresses) both sides look alike: the answer lists both, and the caller must say
//! (`--local`).

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::plan::{MediaPlan, Side};

/// What the plans say about the bot's media address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BotInference {
    /// This address talks to several devices.
    Address(IpAddr),
    /// The plans cannot tell these addresses apart.
    Ambiguous(Vec<IpAddr>),
    /// No plan has a media address on both sides.
    Unknown,
}

/// The media address of each side of a call: the first RTP endpoint it declared on any
/// channel.
fn side_address(plan: &MediaPlan, side: Side) -> Option<IpAddr> {
    plan.channels
        .iter()
        .find_map(|c| c.side(side).endpoints.first())
        .map(|e| e.ip())
}

/// Infers the bot's media address from the calls' plans (see the module documentation).
pub fn infer_bot_address(plans: &[MediaPlan]) -> BotInference {
    let mut peers: BTreeMap<IpAddr, Vec<IpAddr>> = BTreeMap::new();
    for plan in plans {
        let (Some(caller), Some(callee)) = (
            side_address(plan, Side::Caller),
            side_address(plan, Side::Callee),
        ) else {
            continue;
        };
        if caller == callee {
            continue; // a loopback test call says nothing about sides
        }
        for (a, b) in [(caller, callee), (callee, caller)] {
            let list = peers.entry(a).or_default();
            if !list.contains(&b) {
                list.push(b);
            }
        }
    }
    let Some(most) = peers.values().map(Vec::len).max() else {
        return BotInference::Unknown;
    };
    let leaders: Vec<IpAddr> = peers
        .iter()
        .filter(|(_, p)| p.len() == most)
        .map(|(a, _)| *a)
        .collect();
    match leaders.as_slice() {
        [only] if most >= 2 => BotInference::Address(*only),
        _ => BotInference::Ambiguous(leaders),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::signalling::plan::{Party, PlannedChannel};
    use crate::Timestamp;

    fn plan(caller: &str, callee: &str) -> MediaPlan {
        let mut p = MediaPlan::new(
            "c".into(),
            Party::default(),
            Party::default(),
            Timestamp::default(),
        );
        let mut channel: PlannedChannel = test_channel();
        channel
            .caller
            .endpoints
            .push(format!("{caller}:4000").parse().unwrap());
        channel
            .callee
            .endpoints
            .push(format!("{callee}:5000").parse().unwrap());
        p.channels.push(channel);
        p
    }

    fn test_channel() -> PlannedChannel {
        PlannedChannel {
            position: 0,
            media: "audio".into(),
            proto: "RTP/AVP".into(),
            kind: None,
            caller: Default::default(),
            callee: Default::default(),
            active: true,
        }
    }

    #[test]
    fn the_address_that_talks_to_several_devices_is_the_bot() {
        // The bot answers two devices and calls a third.
        let plans = [
            plan("198.51.100.1", "192.0.2.10"),
            plan("198.51.100.2", "192.0.2.10"),
            plan("192.0.2.10", "198.51.100.3"),
        ];
        assert_eq!(
            infer_bot_address(&plans),
            BotInference::Address("192.0.2.10".parse().unwrap())
        );
    }

    #[test]
    fn one_call_or_none_cannot_tell() {
        let one = [plan("198.51.100.1", "192.0.2.10")];
        assert_eq!(
            infer_bot_address(&one),
            BotInference::Ambiguous(vec![
                "192.0.2.10".parse().unwrap(),
                "198.51.100.1".parse().unwrap()
            ])
        );
        assert_eq!(infer_bot_address(&[]), BotInference::Unknown);
        // Two devices each calling two bots: a tie.
        let tie = [
            plan("198.51.100.1", "192.0.2.10"),
            plan("198.51.100.1", "192.0.2.11"),
            plan("198.51.100.2", "192.0.2.10"),
            plan("198.51.100.2", "192.0.2.11"),
        ];
        assert!(matches!(infer_bot_address(&tie), BotInference::Ambiguous(v) if v.len() == 4));
    }
}
