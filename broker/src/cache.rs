//! The `Broker.get` cache: workers kept under (sub-principal, id), counted
//! per principal.
//!
//! An entry's key is whom the worker acts for (a principal, or a
//! sub-principal `<principal>/<name>`: each has its own ids) and the id; its
//! *owner* is the authenticated principal, against whose `cached_ids` quota
//! (`crate::quota`) every entry of its sub-principals counts too. When an
//! owner needs room, the cache forgets its least recently used entry whose
//! worker nobody but the cache holds (an entry whose worker a client holds
//! stays, so a second `get` of its id still reaches the same worker). The
//! cache is generic over the worker type so that it needs nothing of the
//! service that uses it.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

/// A cache key: (whom the worker acts for, id).
pub type Key = (String, String);

/// What [`Cache::lookup`] found.
pub enum Lookup<W> {
    /// Nothing under this key.
    Miss,
    /// The worker cached under the key, with the same code.
    Hit(Rc<W>),
    /// A worker with other code is cached under the key.
    Conflict,
}

struct Entry<W> {
    /// What `get` compares: the code, in a canonical form.
    canonical: Vec<u8>,
    worker: Rc<W>,
    /// The authenticated principal the entry counts against.
    owner: String,
    /// When it was last used (a tick of [`Cache::clock`]).
    used: u64,
}

/// Workers by key, and each owner's keys by last use.
pub struct Cache<W> {
    entries: HashMap<Key, Entry<W>>,
    by_owner: HashMap<String, BTreeMap<u64, Key>>,
    clock: u64,
}

impl<W> Default for Cache<W> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            by_owner: HashMap::new(),
            clock: 0,
        }
    }
}

impl<W> Cache<W> {
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// The worker under `key` if its code is `canonical`; marks it used.
    pub fn lookup(&mut self, key: &Key, canonical: &[u8]) -> Lookup<W> {
        let now = self.tick();
        let Some(entry) = self.entries.get_mut(key) else {
            return Lookup::Miss;
        };
        if entry.canonical != canonical {
            return Lookup::Conflict;
        }
        if let Some(order) = self.by_owner.get_mut(&entry.owner) {
            order.remove(&entry.used);
            order.insert(now, key.clone());
        }
        entry.used = now;
        Lookup::Hit(entry.worker.clone())
    }

    /// Caches `worker` under `key` for `owner`, unless something is cached
    /// there already (a `get` that finished meanwhile): then looks that up
    /// instead.
    pub fn insert(
        &mut self,
        owner: &str,
        key: Key,
        canonical: Vec<u8>,
        worker: Rc<W>,
    ) -> Lookup<W> {
        if self.entries.contains_key(&key) {
            return self.lookup(&key, &canonical);
        }
        let used = self.tick();
        self.by_owner
            .entry(owner.to_string())
            .or_default()
            .insert(used, key.clone());
        self.entries.insert(
            key,
            Entry {
                canonical,
                worker: worker.clone(),
                owner: owner.to_string(),
                used,
            },
        );
        Lookup::Hit(worker)
    }

    /// How many entries count against `owner`.
    pub fn count(&self, owner: &str) -> usize {
        self.by_owner.get(owner).map_or(0, BTreeMap::len)
    }

    /// Forgets `owner`'s least recently used entry whose worker only the
    /// cache holds, and returns that worker (the caller drops it, outside
    /// any borrow of the cache); `None` when every entry's worker is held
    /// elsewhere.
    pub fn forget_unused(&mut self, owner: &str) -> Option<Rc<W>> {
        let order = self.by_owner.get_mut(owner)?;
        let entries = &self.entries;
        let (used, key) = order
            .iter()
            .find(|(_, key)| {
                entries
                    .get(*key)
                    .is_some_and(|e| Rc::strong_count(&e.worker) == 1)
            })
            .map(|(used, key)| (*used, key.clone()))?;
        order.remove(&used);
        if order.is_empty() {
            self.by_owner.remove(owner);
        }
        self.entries.remove(&key).map(|entry| entry.worker)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(sub: &str, id: &str) -> Key {
        (sub.to_string(), id.to_string())
    }

    #[test]
    fn sub_principals_count_against_their_owner() {
        let mut cache = Cache::default();
        for i in 0..3 {
            let sub = format!("alice/sub{i}");
            assert!(matches!(
                cache.insert("alice", key(&sub, "w"), vec![1], Rc::new(i)),
                Lookup::Hit(_)
            ));
        }
        assert_eq!(cache.count("alice"), 3);
        assert_eq!(cache.count("alice/sub0"), 0);
        assert_eq!(cache.count("bob"), 0);
    }

    #[test]
    fn forgets_the_least_recently_used_unheld_entry() {
        let mut cache = Cache::default();
        let held = Rc::new("a");
        cache.insert("p", key("p", "a"), vec![1], held.clone());
        cache.insert("p", key("p", "b"), vec![1], Rc::new("b"));
        cache.insert("p", key("p", "c"), vec![1], Rc::new("c"));
        // "b" is used again, so "c" is now the least recently used unheld one.
        assert!(matches!(cache.lookup(&key("p", "b"), &[1]), Lookup::Hit(_)));
        assert_eq!(cache.forget_unused("p").as_deref(), Some(&"c"));
        assert_eq!(cache.forget_unused("p").as_deref(), Some(&"b"));
        // "a" is held by someone else: it stays.
        assert!(cache.forget_unused("p").is_none());
        assert_eq!(cache.count("p"), 1);
        drop(held);
        assert_eq!(cache.forget_unused("p").as_deref(), Some(&"a"));
        assert_eq!(cache.count("p"), 0);
        assert!(cache.by_owner.is_empty() && cache.entries.is_empty());
    }

    #[test]
    fn other_code_under_a_cached_id_conflicts() {
        let mut cache = Cache::default();
        cache.insert("p", key("p", "a"), vec![1], Rc::new(1));
        assert!(matches!(
            cache.lookup(&key("p", "a"), &[2]),
            Lookup::Conflict
        ));
        assert!(matches!(
            cache.insert("p", key("p", "a"), vec![2], Rc::new(2)),
            Lookup::Conflict
        ));
        assert!(matches!(cache.lookup(&key("p", "b"), &[1]), Lookup::Miss));
    }
}
