//! The SRTCP keys of one sender, across re-keying: a bounded ring of master keys, each
//! with its derived SRTCP context. See the [module documentation](super) for the policy.

use std::fmt;
use std::time::Duration;

use super::srtcp::{SrtcpContext, Unprotected};
use super::{MasterKey, UnprotectError};
use crate::Timestamp;

/// Identifies a key within its ring: assigned in order of addition, never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub u32);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key #{}", self.0)
    }
}

/// The ring's bounds, validated by [`KeyRingConfig::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyRingConfig {
    capacity: usize,
    overlap: Duration,
}

impl KeyRingConfig {
    /// The most keys a ring may hold.
    pub const MAX_CAPACITY: usize = 16;
    /// Default capacity: the current key, the one before it, and room for a re-INVITE that
    /// offers keys before the answer picks one.
    pub const DEFAULT_CAPACITY: usize = 4;
    /// Default overlap: how long a superseded key still authenticates. Long enough for
    /// reordered and delayed SRTCP around a switch (RTCP intervals are at most 7.5 s);
    /// a key only starts its overlap once a newer key has authenticated a packet.
    pub const DEFAULT_OVERLAP: Duration = Duration::from_secs(30);

    /// A capacity of 1 to [`Self::MAX_CAPACITY`] keys; `None` otherwise.
    pub fn new(capacity: usize, overlap: Duration) -> Option<Self> {
        (1..=Self::MAX_CAPACITY)
            .contains(&capacity)
            .then_some(KeyRingConfig { capacity, overlap })
    }

    /// The capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The overlap.
    pub fn overlap(&self) -> Duration {
        self.overlap
    }
}

impl Default for KeyRingConfig {
    fn default() -> Self {
        KeyRingConfig {
            capacity: Self::DEFAULT_CAPACITY,
            overlap: Self::DEFAULT_OVERLAP,
        }
    }
}

/// What [`KeyRing::add`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Added {
    /// A new key, and the oldest key it pushed out of a full ring, if any.
    New {
        /// The new key's id.
        id: KeyId,
        /// The key evicted to make room.
        evicted: Option<KeyId>,
    },
    /// The same key (suite, key, salt, MKI) was already in the ring: a re-INVITE that
    /// repeats its `a=crypto` line changes nothing.
    AlreadyPresent(KeyId),
}

/// A successful unprotect through the ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Matched {
    /// The key that authenticated the packet.
    pub key: KeyId,
    /// The packet's length, index and E flag.
    pub unprotected: Unprotected,
}

struct Entry {
    id: KeyId,
    key: MasterKey,
    srtcp: SrtcpContext,
    /// When a newer key first authenticated a packet: the start of this key's overlap.
    superseded_at: Option<Timestamp>,
}

/// The master keys of one sender (one direction of one channel), newest last.
pub struct KeyRing {
    config: KeyRingConfig,
    entries: Vec<Entry>,
    next_id: u32,
    evicted: u64,
    retired: u64,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("config", &self.config)
            .field(
                "keys",
                &self
                    .entries
                    .iter()
                    .map(|e| (e.id, e.key.suite(), e.superseded_at))
                    .collect::<Vec<_>>(),
            )
            .field("evicted", &self.evicted)
            .field("retired", &self.retired)
            .finish()
    }
}

impl Default for KeyRing {
    fn default() -> Self {
        KeyRing::new(KeyRingConfig::default())
    }
}

impl KeyRing {
    /// An empty ring. Its storage is allocated here, once.
    pub fn new(config: KeyRingConfig) -> Self {
        KeyRing {
            config,
            entries: Vec::with_capacity(config.capacity),
            next_id: 0,
            evicted: 0,
            retired: 0,
        }
    }

    /// Adds a key (a registration, a re-INVITE's new `a=crypto`). A key already in the
    /// ring is not added twice. In a full ring the oldest key makes room, and is counted.
    pub fn add(&mut self, key: MasterKey) -> Added {
        if let Some(existing) = self.entries.iter().find(|e| e.key.same_key_as(&key)) {
            return Added::AlreadyPresent(existing.id);
        }
        let evicted = if self.entries.len() == self.config.capacity {
            self.evicted += 1;
            Some(self.entries.remove(0).id)
        } else {
            None
        };
        let id = KeyId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        self.entries.push(Entry {
            id,
            srtcp: SrtcpContext::new(&key),
            key,
            superseded_at: None,
        });
        Added::New { id, evicted }
    }

    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// `true` when the ring holds no key.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Keys pushed out of a full ring so far.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Keys dropped at the end of their overlap so far.
    pub fn retired(&self) -> u64 {
        self.retired
    }

    /// The ids of the keys held, oldest first.
    pub fn key_ids(&self) -> impl Iterator<Item = KeyId> + '_ {
        self.entries.iter().map(|e| e.id)
    }

    /// Drops every key (their bytes are zeroed).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Authenticates and decrypts one SRTCP datagram captured at `now` with whichever key
    /// protected it, into `out` (the [`SrtcpContext::unprotect`] buffer contract: at least
    /// as long as the datagram). Keys whose overlap ended before `now` are dropped first.
    ///
    /// Keys with an MKI are candidates only when the datagram carries their MKI; keys
    /// without one are all candidates. Candidates are tried newest first. When a key
    /// authenticates a packet, every older key not yet superseded starts its overlap.
    pub fn unprotect(
        &mut self,
        now: Timestamp,
        srtcp: &[u8],
        out: &mut [u8],
    ) -> Result<Matched, UnprotectError> {
        self.retire(now);
        if self.entries.is_empty() {
            return Err(UnprotectError::NoKey);
        }
        let mut error = None;
        for position in (0..self.entries.len()).rev() {
            let entry = &self.entries[position];
            match entry.srtcp.unprotect(srtcp, out) {
                Ok(unprotected) => {
                    let key = entry.id;
                    for older in &mut self.entries[..position] {
                        older.superseded_at.get_or_insert(now);
                    }
                    return Ok(Matched { key, unprotected });
                }
                Err(e @ UnprotectError::OutputTooSmall { .. }) => return Err(e),
                // Not a candidate: the datagram names another key (checked before any tag
                // is computed).
                Err(UnprotectError::UnknownMki) => {}
                // Too short for this key's trailer; another key's may be shorter.
                Err(e @ UnprotectError::TooShort { .. }) => {
                    error.get_or_insert(e);
                }
                Err(e) => error = Some(e),
            }
        }
        Err(error.unwrap_or(UnprotectError::UnknownMki))
    }

    /// Drops the keys whose overlap ended before `now`.
    fn retire(&mut self, now: Timestamp) {
        let overlap = self.config.overlap;
        let before = self.entries.len();
        self.entries.retain(|e| {
            e.superseded_at
                .is_none_or(|since| now <= since.after(overlap))
        });
        self.retired += (before - self.entries.len()) as u64;
    }
}
