//! The static table (RFC 7541 Appendix A) and the dynamic table (§2.3.2, §4).
//!
//! The two share one index space: 1 to 61 are static, 62 on are dynamic, newest first. The
//! dynamic table's size is the sum of its entries' sizes, 32 + name + value octets each (§4.1);
//! adding an entry evicts the oldest until it fits, and an entry larger than the whole table
//! empties it and is not added (§4.4).

use std::collections::VecDeque;

use bytes::Bytes;

/// The dynamic table's size before any SETTINGS_HEADER_TABLE_SIZE (RFC 9113 §6.5.2).
pub const DEFAULT_TABLE_SIZE: usize = 4096;

/// The entries of Appendix A, index 1 first.
pub(crate) const STATIC: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// An entry's size as §4.1 counts it: its name's and value's octets and 32.
pub fn entry_size(name: &[u8], value: &[u8]) -> usize {
    32 + name.len() + value.len()
}

/// The dynamic table: newest entry first.
#[derive(Debug, Clone)]
pub(crate) struct DynamicTable {
    entries: VecDeque<(Bytes, Bytes)>,
    size: usize,
    max_size: usize,
}

impl DynamicTable {
    pub(crate) fn new(max_size: usize) -> DynamicTable {
        DynamicTable {
            entries: VecDeque::new(),
            size: 0,
            max_size,
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

    /// Add an entry at the front, evicting to make room (§4.4).
    pub(crate) fn insert(&mut self, name: Bytes, value: Bytes) {
        let size = entry_size(&name, &value);
        if size > self.max_size {
            self.entries.clear();
            self.size = 0;
            return;
        }
        self.evict_to(self.max_size - size);
        self.size += size;
        self.entries.push_front((name, value));
    }

    fn evict_to(&mut self, target: usize) {
        while self.size > target {
            let (name, value) = self
                .entries
                .pop_back()
                .expect("a table over its size has entries");
            self.size -= entry_size(&name, &value);
        }
    }

    /// The entry at `index` of the shared index space (static first), if there is one.
    pub(crate) fn get(&self, index: usize) -> Option<(Bytes, Bytes)> {
        match index {
            0 => None,
            1..=61 => {
                let (name, value) = STATIC[index - 1];
                Some((
                    Bytes::from_static(name.as_bytes()),
                    Bytes::from_static(value.as_bytes()),
                ))
            }
            _ => self.entries.get(index - 62).cloned(),
        }
    }

    /// The entries, newest first (for tests).
    pub(crate) fn entries(&self) -> impl Iterator<Item = &(Bytes, Bytes)> {
        self.entries.iter()
    }
}
