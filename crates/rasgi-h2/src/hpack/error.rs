//! Why a header block could not be decoded.

/// Why a header block could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The block ends inside a representation.
    #[error("the header block ends inside a field")]
    Truncated,
    /// An integer past 2^32 - 1 (§5.1).
    #[error("an integer in the header block is too large")]
    IntegerOverflow,
    /// A Huffman-coded string holds EOS (§5.2).
    #[error("a Huffman-coded string contains EOS")]
    HuffmanEos,
    /// A Huffman-coded string's padding is longer than 7 bits or not all ones (§5.2).
    #[error("a Huffman-coded string is padded wrongly")]
    HuffmanPadding,
    /// An index that is 0 or past the tables (§2.3.3).
    #[error("index {0} is in neither table")]
    BadIndex(usize),
    /// A table size update larger than SETTINGS_HEADER_TABLE_SIZE allows (§6.3).
    #[error("a table size update to {size} exceeds the limit {limit}")]
    SizeUpdateTooLarge {
        /// The size asked for.
        size: usize,
        /// The acknowledged SETTINGS_HEADER_TABLE_SIZE.
        limit: usize,
    },
    /// A table size update after a field of the block (§4.2).
    #[error("a table size update after the block's first field")]
    SizeUpdateNotFirst,
    /// A block after a smaller SETTINGS_HEADER_TABLE_SIZE that does not start with the size
    /// update the change requires (§4.2).
    #[error("the table size update the smaller limit requires is missing")]
    SizeUpdateMissing,
    /// The decoded header list is larger than the limit, counted as §4.1 counts entries. The
    /// block was decoded to its end, so the table is still in step with the peer's.
    #[error("the header list exceeds {limit} bytes")]
    HeaderListTooLarge {
        /// The limit.
        limit: usize,
    },
}
