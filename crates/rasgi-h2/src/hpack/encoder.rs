//! Fields to a header block. The choices, per field: a field already in a table is sent as
//! its index; `authorization` and `proxy-authorization` are never indexed (§7.1.3); a field
//! larger than the whole table is sent without indexing; with
//! [`Encoder::skip_one_off_values`], so is a field whose name's newest entry in the table was
//! never sent again; any other is added to the table, its name by index when a table has it.
//! Strings are Huffman-coded when that is no longer. The tables are searched by hash
//! (`index.rs`).

use super::index::{IndexedTable, Key};
use super::table::{entry_size, DEFAULT_TABLE_SIZE};
use super::{huffman, integer};

/// Encodes the header blocks of one connection, in order.
#[derive(Debug, Clone)]
pub struct Encoder {
    table: IndexedTable,
    huffman: bool,
    skip_one_off: bool,
    /// Table size updates owed at the next block's start: the smallest size since the last
    /// block, then the size now (§4.2).
    pending: Option<(usize, usize)>,
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder::new(DEFAULT_TABLE_SIZE)
    }
}

impl Encoder {
    /// An encoder whose table may reach `table_size`, as the peer's decoder's may.
    pub fn new(table_size: usize) -> Encoder {
        Encoder {
            table: IndexedTable::new(table_size),
            huffman: true,
            skip_one_off: false,
            pending: None,
        }
    }

    /// Send a field without indexing when the newest entry with its name was never sent
    /// again: values made for one message (a request id, a timing, a length) then stay out of
    /// the table, and the fields that do repeat are not evicted by them. A name whose values
    /// do repeat (a `date` for a whole second) keeps being indexed.
    pub fn skip_one_off_values(mut self) -> Encoder {
        self.skip_one_off = true;
        self
    }

    /// Send every string as it is, never Huffman-coded.
    pub fn without_huffman(mut self) -> Encoder {
        self.huffman = false;
        self
    }

    /// Use a table of `size` from the next block on (at most the peer's
    /// SETTINGS_HEADER_TABLE_SIZE); the block starts with the update.
    pub fn set_table_size(&mut self, size: usize) {
        let smallest = self
            .pending
            .map_or(size, |(smallest, _)| smallest.min(size));
        self.pending = Some((smallest, size));
        self.table.set_max_size(size);
    }

    /// The dynamic table's current size (§4.1).
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    /// Append the block for `fields` to `out` (names as any bytes the caller holds them in).
    pub fn encode<'a, N: AsRef<[u8]>>(
        &mut self,
        fields: impl IntoIterator<Item = (N, &'a [u8])>,
        out: &mut Vec<u8>,
    ) {
        if let Some((smallest, now)) = self.pending.take() {
            if smallest < now {
                integer::encode(smallest, 5, 0x20, out);
            }
            integer::encode(now, 5, 0x20, out);
        }
        for (name, value) in fields {
            self.field(name.as_ref(), value, out);
        }
    }

    fn field(&mut self, name: &[u8], value: &[u8], out: &mut Vec<u8>) {
        let sensitive = name == b"authorization" || name == b"proxy-authorization";
        let key = Key::new(name, value);
        let found = self.table.find(&key);
        if let (Some((index, true)), false) = (found, sensitive) {
            integer::encode(index, 7, 0x80, out);
            return;
        }
        let name_index = found.map(|(index, _)| index);
        let (prefix, flags) = if sensitive {
            (4, 0x10)
        } else if entry_size(name, value) > self.table.max_size()
            || (self.skip_one_off && self.table.last_value_was_not_reused(&key))
        {
            (4, 0x00)
        } else {
            (6, 0x40)
        };
        match name_index {
            Some(index) => integer::encode(index, prefix, flags, out),
            None => {
                out.push(flags);
                self.string(name, out);
            }
        }
        self.string(value, out);
        if flags == 0x40 {
            self.table.insert(&key);
        }
    }

    fn string(&self, text: &[u8], out: &mut Vec<u8>) {
        let coded = huffman::encoded_len(text);
        if self.huffman && coded <= text.len() {
            integer::encode(coded, 7, 0x80, out);
            huffman::encode_in(text, coded, out);
        } else {
            integer::encode(text.len(), 7, 0x00, out);
            out.extend_from_slice(text);
        }
    }
}
