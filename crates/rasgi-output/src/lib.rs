//! The bytes a connection owes its peer, for every protocol rasgi speaks: [`Output`], the one
//! queue HTTP/1.1's connection and a WebSocket's session write into and the server's one write
//! loop takes from, and the copy of short pieces into it.
//!
//! The rule this crate keeps: bytes leave in the order they were queued, and a write cut short
//! resumes where it stopped (what was written is taken off the front, nothing is written
//! twice). Small pieces (heads, small bodies and frames, framing) are copied into one buffer;
//! large bodies are queued as the app's own buffers, so they are not copied at all. Sans-io:
//! no socket, no runtime.
//!
//! | concept | file |
//! | --- | --- |
//! | the queue of bytes owed | `output.rs` |
//! | short pieces copied into reserved room (the one `unsafe` seam) | `pieces.rs` |

#![warn(missing_docs)]

mod output;
mod pieces;

pub use output::{Output, QUEUE_AS_IS_BYTES};
pub use pieces::{put_field, put_piece};
