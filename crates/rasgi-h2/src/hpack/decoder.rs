//! A header block to fields (RFC 7541 §6): indexed fields, literals with and without indexing
//! and never indexed, and dynamic table size updates, against one dynamic table per connection.

use bytes::Bytes;

use super::table::{entry_size, DynamicTable, DEFAULT_TABLE_SIZE};
use super::{huffman, integer, DecodeError};

/// One decoded field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The name, as sent (HTTP/2 requires lowercase; the request rules check it).
    pub name: Bytes,
    /// The value.
    pub value: Bytes,
    /// Sent as never indexed (§6.2.3): an intermediary must keep it so.
    pub never_indexed: bool,
}

/// Decodes the header blocks of one connection, in order.
#[derive(Debug, Clone)]
pub struct Decoder {
    table: DynamicTable,
    /// The acknowledged SETTINGS_HEADER_TABLE_SIZE: no size update may pass it.
    limit: usize,
    /// The limit fell below the table's size: the next block must start with an update.
    update_required: bool,
    /// The largest header list kept (SETTINGS_MAX_HEADER_LIST_SIZE's meaning).
    max_list_size: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(DEFAULT_TABLE_SIZE)
    }
}

impl Decoder {
    /// A decoder whose table may reach `table_size` (the SETTINGS_HEADER_TABLE_SIZE in force),
    /// keeping header lists of any size.
    pub fn new(table_size: usize) -> Decoder {
        Decoder {
            table: DynamicTable::new(table_size),
            limit: table_size,
            update_required: false,
            max_list_size: usize::MAX,
        }
    }

    /// Keep header lists up to `bytes` (32 + name + value per field); past it, a block is
    /// decoded to its end but its fields are dropped and [`DecodeError::HeaderListTooLarge`]
    /// returned.
    pub fn with_max_header_list_size(mut self, bytes: usize) -> Decoder {
        self.max_list_size = bytes;
        self
    }

    /// The peer acknowledged a new SETTINGS_HEADER_TABLE_SIZE. Below the table's current
    /// maximum, the next block must start with a size update within it (§4.2).
    pub fn set_table_size_limit(&mut self, limit: usize) {
        if limit < self.table.max_size() {
            self.update_required = true;
        }
        self.limit = limit;
    }

    /// The dynamic table's current size (§4.1).
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    /// The dynamic table's entries, newest first.
    pub fn table_entries(&self) -> Vec<(Bytes, Bytes)> {
        self.table.entries().cloned().collect()
    }

    /// Decode one whole header block (a HEADERS frame's fragment and its CONTINUATIONs).
    pub fn decode(&mut self, block: &[u8]) -> Result<Vec<Field>, DecodeError> {
        let mut fields = Vec::new();
        let mut list_size = 0usize;
        let mut over = false;
        let mut at = 0;
        let mut before_fields = true;
        while at < block.len() {
            let first = block[at];
            if first & 0xe0 == 0x20 {
                // §6.3: a dynamic table size update, only before the block's first field.
                if !before_fields {
                    return Err(DecodeError::SizeUpdateNotFirst);
                }
                let (size, used) = integer::decode(&block[at..], 5)?;
                at += used;
                if size > self.limit {
                    return Err(DecodeError::SizeUpdateTooLarge {
                        size,
                        limit: self.limit,
                    });
                }
                self.table.set_max_size(size);
                self.update_required = false;
                continue;
            }
            if self.update_required {
                return Err(DecodeError::SizeUpdateMissing);
            }
            before_fields = false;
            let field = if first & 0x80 != 0 {
                // §6.1: an indexed field.
                let (index, used) = integer::decode(&block[at..], 7)?;
                at += used;
                let (name, value) = self.table.get(index).ok_or(DecodeError::BadIndex(index))?;
                Field {
                    name,
                    value,
                    never_indexed: false,
                }
            } else if first & 0x40 != 0 {
                // §6.2.1: a literal added to the table.
                let (name, value) = self.literal(block, &mut at, 6)?;
                self.table.insert(name.clone(), value.clone());
                Field {
                    name,
                    value,
                    never_indexed: false,
                }
            } else {
                // §6.2.2 and §6.2.3: a literal not added, perhaps never to be.
                let (name, value) = self.literal(block, &mut at, 4)?;
                Field {
                    name,
                    value,
                    never_indexed: first & 0x10 != 0,
                }
            };
            list_size = list_size.saturating_add(entry_size(&field.name, &field.value));
            if list_size > self.max_list_size {
                // Past the limit nothing more is kept, but the block is read to its end so
                // that the table stays in step.
                over = true;
                fields = Vec::new();
            }
            if !over {
                fields.push(field);
            }
        }
        if self.update_required {
            return Err(DecodeError::SizeUpdateMissing);
        }
        if over {
            return Err(DecodeError::HeaderListTooLarge {
                limit: self.max_list_size,
            });
        }
        Ok(fields)
    }

    /// A literal's name (by index, or as a string when the index is 0) and its value.
    fn literal(
        &self,
        block: &[u8],
        at: &mut usize,
        prefix: u8,
    ) -> Result<(Bytes, Bytes), DecodeError> {
        let (index, used) = integer::decode(&block[*at..], prefix)?;
        *at += used;
        let name = if index == 0 {
            string(block, at)?
        } else {
            self.table.get(index).ok_or(DecodeError::BadIndex(index))?.0
        };
        let value = string(block, at)?;
        Ok((name, value))
    }
}

/// A string literal (§5.2): a Huffman flag, a length, the octets.
fn string(block: &[u8], at: &mut usize) -> Result<Bytes, DecodeError> {
    let first = *block.get(*at).ok_or(DecodeError::Truncated)?;
    let (len, used) = integer::decode(&block[*at..], 7)?;
    *at += used;
    let raw = block.get(*at..*at + len).ok_or(DecodeError::Truncated)?;
    *at += len;
    if first & 0x80 == 0 {
        return Ok(Bytes::copy_from_slice(raw));
    }
    let mut decoded = Vec::new();
    huffman::decode(raw, &mut decoded)?;
    Ok(Bytes::from(decoded))
}
