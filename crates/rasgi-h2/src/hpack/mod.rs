//! HPACK, header compression for HTTP/2 (RFC 7541).
//!
//! | file | what |
//! | --- | --- |
//! | `integer.rs` | integers with an N-bit prefix (§5.1) |
//! | `huffman.rs` | the Huffman code of Appendix B, both ways (§5.2) |
//! | `table.rs` | the static table (Appendix A) and the dynamic table (§2.3, §4) |
//! | `error.rs` | why a block could not be decoded |
//! | `decoder.rs` | a header block to fields (§6), with the header list's size counted as §4.1 counts it |
//! | `index.rs` | the encoder's tables, searched by hash |
//! | `encoder.rs` | fields to a header block |
//!
//! Every decoding failure is a [`DecodeError`]; HTTP/2 answers each with COMPRESSION_ERROR, a
//! connection error (RFC 9113 §4.3), except [`DecodeError::HeaderListTooLarge`], after which
//! the decoder's table is still in step with the peer's and the stream alone can be refused.

mod decoder;
mod encoder;
mod error;
mod huffman;
mod index;
mod integer;
mod table;

pub use decoder::{Decoder, Field};
pub use encoder::Encoder;
pub use error::DecodeError;
pub use table::{entry_size, DEFAULT_TABLE_SIZE};

/// Huffman coding of a string on its own (RFC 7541 §5.2), for tests and tools.
pub mod huffman_code {
    pub use super::huffman::{decode, encode, encoded_len};
}
