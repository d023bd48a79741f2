//! One byte-budgeted cache, for everything the server keeps only while it fits: compressed forms
//! of documents, post pages rendered for requests, archive pages rendered for requests.
//!
//! Each value says what it costs in bytes ([`Cost`]); the cache holds at most its budget of
//! them. Eviction is `quick_cache`'s (CLOCK-Pro): a value read again stays longer than one read
//! once, so a feed that is polled keeps its compressed form while a crawler's one-off requests
//! pass through. The cache is thread-safe and shared by reference: its owner (the server's
//! state, or the archive pages) decides its budget; nothing here is process-global.

use std::hash::Hash;

use quick_cache::sync::Cache;
use quick_cache::{OptionsBuilder, Weighter};

/// What a cached value costs, in bytes (its payload and its bookkeeping).
pub trait Cost {
    fn cost(&self) -> usize;
}

/// Bytes below which a cache is not split into shards (each shard gets its share of the
/// budget, and a value bigger than its shard's share is not kept).
const SHARD_BYTES: usize = 4 << 20;

#[derive(Clone)]
struct ByCost;

impl<K, V: Cost> Weighter<K, V> for ByCost {
    fn weight(&self, _key: &K, value: &V) -> u64 {
        // Never 0: a zero-weight value would never be evicted.
        value.cost().max(1) as u64
    }
}

/// A map of values kept while their cost fits in a byte budget.
pub struct ByteCache<K, V> {
    /// `None` with a budget of 0: nothing is kept.
    inner: Option<Cache<K, V, ByCost>>,
    budget: usize,
}

impl<K: Eq + Hash + Clone, V: Cost + Clone> ByteCache<K, V> {
    /// A cache of at most `budget` bytes, expecting values of about `typical` bytes.
    pub fn new(budget: usize, typical: usize) -> ByteCache<K, V> {
        let shards = (budget / SHARD_BYTES).clamp(1, 16).next_power_of_two();
        let inner = (budget > 0)
            .then(|| {
                OptionsBuilder::new()
                    .shards(shards)
                    .estimated_items_capacity((budget / typical.max(1)).max(1))
                    .weight_capacity(budget as u64)
                    .build()
                    .ok()
            })
            .flatten()
            .map(|options| {
                Cache::with_options(options, ByCost, Default::default(), Default::default())
            });
        ByteCache { inner, budget }
    }

    /// The value at `key`, counted as a use.
    pub fn get(&self, key: &K) -> Option<V> {
        self.inner.as_ref()?.get(key)
    }

    /// The value at `key`, not counted as a use.
    pub fn peek(&self, key: &K) -> Option<V> {
        self.inner.as_ref()?.peek(key)
    }

    /// Keeps `value` at `key` (replacing what was there) if it fits.
    pub fn insert(&self, key: K, value: V) {
        if let Some(c) = &self.inner {
            c.insert(key, value);
        }
    }

    /// The value at `key`, or the one `make` gives, kept if it fits. Concurrent callers for the
    /// same key wait for the first one's value instead of making their own.
    pub fn get_or_insert_with(&self, key: &K, make: impl FnOnce() -> V) -> V {
        match &self.inner {
            Some(c) => c
                .get_or_insert_with(key, || Ok::<V, std::convert::Infallible>(make()))
                .unwrap_or_else(|never| match never {}),
            None => make(),
        }
    }

    /// Forgets the value at `key`.
    pub fn remove(&self, key: &K) {
        if let Some(c) = &self.inner {
            c.remove(key);
        }
    }

    /// Values held and their cost in bytes.
    pub fn held(&self) -> (usize, usize) {
        self.inner
            .as_ref()
            .map_or((0, 0), |c| (c.len(), c.weight() as usize))
    }

    /// The budget, in bytes.
    pub fn budget(&self) -> usize {
        self.budget
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Blob(usize);

    impl Cost for Blob {
        fn cost(&self) -> usize {
            self.0
        }
    }

    #[test]
    fn holds_at_most_its_budget() {
        let cache: ByteCache<u32, Blob> = ByteCache::new(1000, 100);
        for k in 0..100 {
            cache.insert(k, Blob(100));
            assert!(cache.held().1 <= 1000, "{:?} after {k}", cache.held());
        }
        let (items, _) = cache.held();
        assert!((5..=10).contains(&items), "{:?}", cache.held());
        assert_eq!(cache.get(&99), Some(Blob(100)), "the newest is kept");
    }

    #[test]
    fn a_value_read_again_outlives_one_read_once() {
        let cache: ByteCache<u32, Blob> = ByteCache::new(1000, 100);
        cache.insert(0, Blob(100));
        for k in 1..200 {
            assert_eq!(cache.get(&0), Some(Blob(100)), "polled value lost at {k}");
            cache.insert(k, Blob(100));
        }
    }

    #[test]
    fn a_value_bigger_than_the_budget_is_not_kept() {
        let cache: ByteCache<u32, Blob> = ByteCache::new(1000, 100);
        cache.insert(1, Blob(2000));
        assert_eq!(cache.get(&1), None);
        assert_eq!(cache.held(), (0, 0));
    }

    #[test]
    fn a_zero_budget_keeps_nothing_but_still_makes() {
        let cache: ByteCache<u32, Blob> = ByteCache::new(0, 100);
        assert_eq!(cache.get_or_insert_with(&1, || Blob(5)), Blob(5));
        assert_eq!(cache.get(&1), None);
    }

    #[test]
    fn made_once_then_read() {
        let cache: ByteCache<u32, Blob> = ByteCache::new(1000, 100);
        let mut made = 0;
        for _ in 0..3 {
            cache.get_or_insert_with(&7, || {
                made += 1;
                Blob(10)
            });
        }
        assert_eq!(made, 1);
        cache.remove(&7);
        assert_eq!(cache.peek(&7), None);
    }
}
