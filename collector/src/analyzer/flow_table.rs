//! The flow table: every flow the analyzer holds, found by its two endpoints, admitted
//! within a bound.
//!
//! Every network-fed collection is bounded (README, "Hostile traffic and bounds"). Past
//! [`AnalyzerConfig::max_flows`](super::AnalyzerConfig::max_flows) a new flow evicts the
//! oldest flow without valid RTP, in O(1) amortised: the candidates wait in a FIFO in
//! order of creation, and flows on a registered call's port are skipped a few times. So a
//! flood of new flows costs a hash insert and a pop per datagram, not a scan. When every
//! flow carries valid RTP the new flow is refused. Both are counted.

use std::collections::VecDeque;
use std::net::{SocketAddr, SocketAddrV4};

use rustc_hash::{FxHashMap, FxHashSet};

use super::counters::Counters;
use super::flow::{Flow, Side};
use crate::Timestamp;

/// How many candidates one admission looks at before evicting a protected flow anyway:
/// keeps admission O(1) even when a flood aims at a registered port.
const EVICTION_SCAN: usize = 8;

/// The index key of the flow between two endpoints: for two IPv4 endpoints (nearly all
/// media), each packed into 48 bits (address, port), which hashes and compares in a few
/// instructions and keeps an index entry at 24 bytes; the endpoints themselves otherwise.
/// Either way the pair is ordered as [`Flow`] orders its endpoints.
#[derive(Clone, Copy, Debug)]
enum FlowKey {
    V4(u64, u64),
    Other(SocketAddr, SocketAddr),
}

impl FlowKey {
    /// The two endpoints' ports.
    fn ports(&self) -> [u16; 2] {
        match self {
            FlowKey::V4(x, y) => [*x as u16, *y as u16],
            FlowKey::Other(a, b) => [a.port(), b.port()],
        }
    }

    /// The key of the flow between `a` and `b`, and the side of that flow `a` is on
    /// (found without reading the flow).
    #[inline]
    fn of(a: SocketAddr, b: SocketAddr) -> (FlowKey, Side) {
        if let (SocketAddr::V4(x), SocketAddr::V4(y)) = (a, b) {
            // `SocketAddrV4` orders by address, then port: so do these integers.
            let pack =
                |s: SocketAddrV4| (u64::from(u32::from(*s.ip())) << 16) | u64::from(s.port());
            let (x, y) = (pack(x), pack(y));
            return if x <= y {
                (FlowKey::V4(x, y), Side::Low)
            } else {
                (FlowKey::V4(y, x), Side::High)
            };
        }
        if a <= b {
            (FlowKey::Other(a, b), Side::Low)
        } else {
            (FlowKey::Other(b, a), Side::High)
        }
    }
}

/// The flows, their indexes and the admission queue.
#[derive(Debug)]
pub(super) struct FlowTable {
    flows: Vec<Flow>,
    /// Ordered IPv4 endpoint pair ([`FlowKey::V4`]) -> index into `flows`.
    index_v4: FxHashMap<(u64, u64), usize>,
    /// Any other ordered endpoint pair -> index into `flows`.
    index: FxHashMap<(SocketAddr, SocketAddr), usize>,
    /// Flows in order of creation, the eviction candidates. Entries of flows that since
    /// validated or went away are dropped lazily, when met.
    admission: VecDeque<FlowKey>,
    /// Local ports of registered calls: their unvalidated flows are evicted last, so a
    /// flood of new flows cannot keep a starting call in probation for ever.
    protected_ports: FxHashSet<u16>,
    max_flows: usize,
}

impl FlowTable {
    /// An empty table holding at most `max_flows` flows (at least one).
    pub(super) fn new(max_flows: usize) -> Self {
        FlowTable {
            flows: Vec::new(),
            index_v4: FxHashMap::default(),
            index: FxHashMap::default(),
            admission: VecDeque::new(),
            protected_ports: FxHashSet::default(),
            max_flows: max_flows.max(1),
        }
    }

    /// Every flow held, in the order the table keeps them.
    pub(super) fn flows(&self) -> &[Flow] {
        &self.flows
    }

    /// The flow at `index` (from [`FlowTable::find`] or [`FlowTable::find_or_admit`]).
    #[inline]
    pub(super) fn flow_mut(&mut self, index: usize) -> &mut Flow {
        &mut self.flows[index]
    }

    /// Every flow, to finish them.
    pub(super) fn flows_mut(&mut self) -> &mut [Flow] {
        &mut self.flows
    }

    #[inline]
    fn lookup(&self, key: &FlowKey) -> Option<usize> {
        match key {
            FlowKey::V4(x, y) => self.index_v4.get(&(*x, *y)).copied(),
            FlowKey::Other(a, b) => self.index.get(&(*a, *b)).copied(),
        }
    }

    fn insert_key(&mut self, key: FlowKey, index: usize) {
        match key {
            FlowKey::V4(x, y) => self.index_v4.insert((x, y), index),
            FlowKey::Other(a, b) => self.index.insert((a, b), index),
        };
    }

    fn remove_key(&mut self, key: &FlowKey) {
        match key {
            FlowKey::V4(x, y) => self.index_v4.remove(&(*x, *y)),
            FlowKey::Other(a, b) => self.index.remove(&(*a, *b)),
        };
    }

    /// The flow between `a` and `b`, if held, and the side `a` is on.
    #[inline]
    pub(super) fn find(&self, a: SocketAddr, b: SocketAddr) -> Option<(usize, Side)> {
        let (key, side) = FlowKey::of(a, b);
        self.lookup(&key).map(|index| (index, side))
    }

    /// The flow between `a` and `b` (admitted if new), and the side `a` is on; `None`
    /// when the bound refuses a new flow (counted).
    #[inline]
    pub(super) fn find_or_admit(
        &mut self,
        a: SocketAddr,
        b: SocketAddr,
        now: Timestamp,
        counters: &mut Counters,
    ) -> Option<(usize, Side)> {
        let (key, side) = FlowKey::of(a, b);
        if let Some(index) = self.lookup(&key) {
            return Some((index, side));
        }
        if self.flows.len() >= self.max_flows && !self.evict_one(counters) {
            counters.flows_refused += 1;
            return None;
        }
        let index = self.flows.len();
        self.flows.push(Flow::new(a, b, now));
        self.insert_key(key, index);
        self.admission.push_back(key);
        Some((index, side))
    }

    /// Evicts the oldest flow without valid RTP, preferring unprotected ones. Looks at
    /// [`EVICTION_SCAN`] live candidates at most; false when none could go.
    fn evict_one(&mut self, counters: &mut Counters) -> bool {
        let mut seen = 0;
        while let Some(key) = self.admission.pop_front() {
            let Some(index) = self.lookup(&key) else {
                continue; // taken since: a stale entry
            };
            if self.flows[index].has_rtp() {
                continue; // validated: never evicted, so no longer a candidate
            }
            seen += 1;
            let protected = key.ports().iter().any(|p| self.protected_ports.contains(p));
            if protected && seen < EVICTION_SCAN {
                self.admission.push_back(key);
                continue;
            }
            self.remove_key(&key);
            self.flows.swap_remove(index);
            if let Some(moved) = self.flows.get(index) {
                let [a, b] = moved.endpoints();
                self.insert_key(FlowKey::of(a, b).0, index);
            }
            counters.flows_evicted += 1;
            return true;
        }
        false
    }

    /// Sets the registered calls' local ports, whose flows are evicted last.
    pub(super) fn set_protected_ports(&mut self, ports: impl IntoIterator<Item = u16>) {
        self.protected_ports = ports.into_iter().collect();
    }

    /// Removes and returns the flows `keep_out` selects.
    pub(super) fn take(&mut self, mut keep_out: impl FnMut(&Flow) -> bool) -> Vec<Flow> {
        // In place: this runs every second in the daemon, over up to `max_flows`.
        let mut taken = Vec::new();
        let mut i = 0;
        while i < self.flows.len() {
            if keep_out(&self.flows[i]) {
                taken.push(self.flows.swap_remove(i));
            } else {
                i += 1;
            }
        }
        if taken.is_empty() {
            return taken;
        }
        // Taking keeps the others' relative order only up to the swaps: rebuild the index.
        self.index_v4.clear();
        self.index.clear();
        for i in 0..self.flows.len() {
            let [a, b] = self.flows[i].endpoints();
            self.insert_key(FlowKey::of(a, b).0, i);
        }
        let mut admission = std::mem::take(&mut self.admission);
        admission.retain(|key| self.lookup(key).is_some());
        self.admission = admission;
        taken
    }

    /// Entries waiting in the admission queue (stale ones included).
    #[cfg(test)]
    pub(super) fn admission_queue_len(&self) -> usize {
        self.admission.len()
    }
}
