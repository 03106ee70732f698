//! Sans-io HTTP/2 for rasgi, written from the RFCs: no runtime, no I/O, bytes in and bytes out.
//!
//! | module | what |
//! | --- | --- |
//! | [`frame`] | frames (RFC 9113 §4, §6): read with every size and field rule, and written; the error codes (§7) |
//! | [`request`] | the request rules of §8 over a decoded header list: pseudo-fields, names and values, connection-specific fields, CONNECT, trailers |
//! | [`block`] | header blocks in HEADERS and CONTINUATION frames, joined within bounds (§4.3, §6.10; CVE-2024-27316) |
//! | [`flow`] | flow-control windows: WINDOW_UPDATE, DATA, and SETTINGS_INITIAL_WINDOW_SIZE changes (§5.2, §6.9) |
//! | [`settings`] | an endpoint's settings: defaults, a SETTINGS frame applied, what a server announces (§6.5) |
//! | [`stream`] | a stream's states (§5.1) and the one transition function over every state and event |
//! | [`conn`] | a server's side of a connection: the preface, the streams' table, windows in use, limits, output |
//! | [`hpack`] | header compression (RFC 7541): integers, strings, Huffman, the tables, the decoder and the encoder |

#![warn(missing_docs)]

pub mod block;
pub mod conn;
pub mod flow;
pub mod frame;
pub mod hpack;
pub mod request;
pub mod settings;
pub mod stream;
