//! The encoder's tables, searched by hash: where a field is in the static table (Appendix A)
//! or in the dynamic table (§2.3.2) is one map lookup away, not a scan of every entry.
//!
//! The dynamic table keeps the rules of §4 (its size counted as §4.1 counts it, the oldest
//! entries evicted first, an entry larger than the table emptying it), so it stays the same as
//! the peer decoder's. Beside its entries it keeps two maps, from a hash of a field and from a
//! hash of a name to the newest entry with them, by serial number: the n-th entry ever added
//! has serial n, and the entry with serial s sits at position `added - 1 - s`, newest first.
//! A map's serial is checked against the entry it names before it is used, so a hash shared by
//! two fields costs a miss, never a wrong index; an evicted entry leaves the maps with it, so
//! they hold no more keys than the table has entries.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use bytes::Bytes;

use super::table::{entry_size, STATIC};

/// Where a field was found: its index, and whether the value matched too (or the name alone).
pub(crate) type Found = Option<(usize, bool)>;

/// The encoder's dynamic table, with its hash maps.
#[derive(Debug, Clone)]
pub(crate) struct IndexedTable {
    entries: VecDeque<Entry>,
    size: usize,
    max_size: usize,
    /// Entries added so far.
    added: u64,
    /// A field's hash to the serial of the newest entry with it.
    fields: HashMap<u64, u64, Identity>,
    /// A name's hash to the serial of the newest entry with it.
    names: HashMap<u64, u64, Identity>,
}

#[derive(Debug, Clone)]
struct Entry {
    name: Bytes,
    value: Bytes,
    name_hash: u64,
    field_hash: u64,
    /// The entry was sent by its index at least once.
    reused: bool,
}

/// A field about to be looked up: its hashes, computed once.
pub(crate) struct Key<'a> {
    name: &'a [u8],
    value: &'a [u8],
    name_hash: u64,
    field_hash: u64,
}

impl<'a> Key<'a> {
    pub(crate) fn new(name: &'a [u8], value: &'a [u8]) -> Key<'a> {
        let name_hash = hash(0, name);
        Key {
            name,
            value,
            name_hash,
            field_hash: hash(name_hash, value),
        }
    }
}

impl IndexedTable {
    pub(crate) fn new(max_size: usize) -> IndexedTable {
        IndexedTable {
            entries: VecDeque::new(),
            size: 0,
            max_size,
            added: 0,
            fields: HashMap::default(),
            names: HashMap::default(),
        }
    }

    /// The entries' sizes summed.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// The size the table may reach.
    pub(crate) fn max_size(&self) -> usize {
        self.max_size
    }

    /// A new maximum size; entries are evicted until the table fits it.
    pub(crate) fn set_max_size(&mut self, max_size: usize) {
        self.max_size = max_size;
        self.evict_to(max_size);
    }

    /// Where `key` is: the exact field preferred, the static table searched first. An exact
    /// match in the dynamic table is counted as a reuse of its entry.
    pub(crate) fn find(&mut self, key: &Key<'_>) -> Found {
        let by_name = match find_static(key) {
            Some((index, true)) => return Some((index, true)),
            found => found.map(|(index, _)| index),
        };
        if let Some(position) = self.position(&self.fields, key.field_hash) {
            let entry = &mut self.entries[position];
            if entry.name == key.name && entry.value == key.value {
                entry.reused = true;
                return Some((position + 62, true));
            }
        }
        if by_name.is_some() {
            return by_name.map(|index| (index, false));
        }
        self.newest_named(key)
            .map(|position| (position + 62, false))
    }

    /// Whether the newest entry named as `key` is was never sent by its index: a value of
    /// this name did not repeat.
    pub(crate) fn last_value_was_not_reused(&self, key: &Key<'_>) -> bool {
        self.newest_named(key)
            .is_some_and(|position| !self.entries[position].reused)
    }

    /// Add `key` at the front, evicting to make room (§4.4).
    pub(crate) fn insert(&mut self, key: &Key<'_>) {
        let size = entry_size(key.name, key.value);
        if size > self.max_size {
            self.evict_to(0);
            return;
        }
        self.evict_to(self.max_size - size);
        self.size += size;
        let serial = self.added;
        self.added += 1;
        self.fields.insert(key.field_hash, serial);
        self.names.insert(key.name_hash, serial);
        self.entries.push_front(Entry {
            name: Bytes::copy_from_slice(key.name),
            value: Bytes::copy_from_slice(key.value),
            name_hash: key.name_hash,
            field_hash: key.field_hash,
            reused: false,
        });
    }

    /// The entries, newest first (for tests).
    #[cfg(test)]
    fn entries(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.entries.iter().map(|e| (&e.name[..], &e.value[..]))
    }

    fn evict_to(&mut self, target: usize) {
        while self.size > target {
            let entry = self
                .entries
                .pop_back()
                .expect("a table over its size has entries");
            self.size -= entry_size(&entry.name, &entry.value);
            // The evicted entry's serial: the oldest of those added.
            let serial = self.added - 1 - self.entries.len() as u64;
            if self.fields.get(&entry.field_hash) == Some(&serial) {
                self.fields.remove(&entry.field_hash);
            }
            if self.names.get(&entry.name_hash) == Some(&serial) {
                self.names.remove(&entry.name_hash);
            }
        }
    }

    /// The position (0 = newest) of the entry a map names under `hash`, if it is still in the
    /// table.
    fn position(&self, map: &HashMap<u64, u64, Identity>, hash: u64) -> Option<usize> {
        let serial = *map.get(&hash)?;
        let position = self.added.checked_sub(1)?.checked_sub(serial)? as usize;
        (position < self.entries.len()).then_some(position)
    }

    fn newest_named(&self, key: &Key<'_>) -> Option<usize> {
        self.position(&self.names, key.name_hash)
            .filter(|&position| self.entries[position].name == key.name)
    }
}

/// Where `key` is in the static table.
fn find_static(key: &Key<'_>) -> Found {
    static NAMES: OnceLock<HashMap<u64, (u8, u8), Identity>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        let mut names = HashMap::default();
        for (i, (name, _)) in STATIC.iter().enumerate() {
            let (first, count) = names
                .entry(hash(0, name.as_bytes()))
                .or_insert((i as u8, 0));
            debug_assert_eq!(
                usize::from(*first + *count),
                i,
                "a name's entries are adjacent"
            );
            *count += 1;
        }
        names
    });
    let &(first, count) = names.get(&key.name_hash)?;
    let (first, count) = (usize::from(first), usize::from(count));
    if STATIC[first].0.as_bytes() != key.name {
        return None;
    }
    let exact = STATIC[first..first + count]
        .iter()
        .position(|(_, value)| value.as_bytes() == key.value);
    Some(match exact {
        Some(at) => (first + at + 1, true),
        None => (first + 1, false),
    })
}

/// A hash of `bytes`, eight at a time, continuing from `seed`. Not a defence against chosen
/// collisions, and it needs not be one: a collision costs a miss (see the module's rule), and
/// the maps never hold more keys than the table has entries.
fn hash(seed: u64, bytes: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mix = |h: u64, word: u64| (h.rotate_left(5) ^ word).wrapping_mul(K);
    let mut h = seed;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        h = mix(h, u64::from_le_bytes(word.try_into().expect("eight bytes")));
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        h = mix(h, u64::from_le_bytes(last));
    }
    mix(h, bytes.len() as u64)
}

/// The maps' keys are hashes already: they are used as they are.
type Identity = BuildHasherDefault<IdentityHasher>;

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(table: &mut IndexedTable, name: &str, value: &str) -> Found {
        table.find(&Key::new(name.as_bytes(), value.as_bytes()))
    }

    #[test]
    fn every_static_entry_is_found_at_its_index() {
        let mut table = IndexedTable::new(4096);
        for (i, (name, value)) in STATIC.iter().enumerate() {
            assert_eq!(find(&mut table, name, value), Some((i + 1, true)), "{name}");
            // By name alone: the name's first entry.
            let first = STATIC.iter().position(|(n, _)| n == name).unwrap() + 1;
            assert_eq!(
                find(&mut table, name, "a value of no entry"),
                Some((first, false))
            );
        }
        assert_eq!(find(&mut table, "x-not-in-any-table", ""), None);
    }

    #[test]
    fn rfc7541_2_3_3_dynamic_entries_are_found_newest_first_and_leave_with_eviction() {
        // Room for two entries of 32 + 1 + 7 = 40 octets.
        let mut table = IndexedTable::new(80);
        table.insert(&Key::new(b"a", b"value-1"));
        table.insert(&Key::new(b"b", b"value-2"));
        assert_eq!(find(&mut table, "a", "value-1"), Some((63, true)));
        assert_eq!(find(&mut table, "b", "value-2"), Some((62, true)));
        table.insert(&Key::new(b"a", b"value-3"));
        // `a: value-1` was evicted; the name is found in its newer entry.
        assert_eq!(find(&mut table, "a", "value-1"), Some((62, false)));
        assert_eq!(find(&mut table, "a", "value-3"), Some((62, true)));
        assert_eq!(find(&mut table, "b", "value-2"), Some((63, true)));
        table.insert(&Key::new(b"c", b"value-4"));
        table.insert(&Key::new(b"d", b"value-5"));
        assert_eq!(find(&mut table, "a", "value-3"), None);
        assert_eq!(find(&mut table, "b", "value-2"), None);
        assert_eq!(table.fields.len(), 2);
        assert_eq!(table.names.len(), 2);
        assert_eq!(
            table.entries().collect::<Vec<_>>(),
            [(&b"d"[..], &b"value-5"[..]), (b"c", b"value-4")]
        );
    }

    #[test]
    fn rfc7541_4_4_an_entry_larger_than_the_table_empties_it_and_the_maps() {
        let mut table = IndexedTable::new(64);
        table.insert(&Key::new(b"a", b"b"));
        table.insert(&Key::new(b"name", &[b'x'; 64]));
        assert_eq!(table.size(), 0);
        assert!(table.fields.is_empty() && table.names.is_empty());
        assert_eq!(find(&mut table, "a", "b"), None);
    }

    #[test]
    fn a_shared_hash_is_a_miss_never_a_wrong_index() {
        let mut table = IndexedTable::new(4096);
        table.insert(&Key::new(b"x-one", b"1"));
        // Point the map's entry for another field at `x-one`'s serial, as a collision would.
        let other = Key::new(b"x-two", b"2");
        table.fields.insert(other.field_hash, 0);
        table.names.insert(other.name_hash, 0);
        assert_eq!(table.find(&other), None);
    }

    #[test]
    fn a_value_sent_by_its_index_is_marked_reused() {
        let mut table = IndexedTable::new(4096);
        let first = Key::new(b"x-request-id", b"1");
        table.insert(&first);
        assert!(table.last_value_was_not_reused(&Key::new(b"x-request-id", b"2")));
        assert_eq!(table.find(&first), Some((62, true)));
        assert!(!table.last_value_was_not_reused(&Key::new(b"x-request-id", b"2")));
    }
}
