//! Sans-io HTTP/2 for rasgi, written from the RFCs: no runtime, no I/O, bytes in and bytes out.
//!
//! | module | what |
//! | --- | --- |
//! | [`hpack`] | header compression (RFC 7541): integers, strings, Huffman, the tables, the decoder and the encoder |
//!
//! The framing (RFC 9113 §4–§6) and the connection's state machine come next, on top of this.

#![warn(missing_docs)]

pub mod hpack;
