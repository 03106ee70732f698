//! GZip: compress responses for clients that accept gzip, chunk by chunk.
//!
//! - A body that arrives whole and is smaller than `minimum_size` (default 500) is left alone,
//!   and so are responses that already have a `content-encoding`, 206 responses, and the
//!   configured content types. A HEAD response is not compressed (no body goes out), but gets
//!   the `Vary` its GET would get.
//! - A whole body is compressed at once and gets its new `content-length`.
//! - A streamed body is compressed message by message and **flushed at every `more_body`
//!   message** (a zlib sync flush), so server-sent events and long polls arrive as they are sent
//!   instead of waiting in the compressor (the bug of tower-http#292 and Starlette's gzip).
//! - `Accept-Encoding` q-values are honoured (`gzip;q=0` refuses gzip); `Vary:
//!   Accept-Encoding` is added to every response that could have been compressed.

use bytes::Bytes;
use rasgi_protocol::{Scope, SendError};

use crate::cors::add_vary_field;
use crate::gzip_stream::GzipStream;
use crate::{ConfigError, Decision, ResponseHook, ResponseStart, Step};

/// Default for `GZip`'s `minimum_size` ([`GZip::new`]): 500 bytes, Starlette's; smaller bodies
/// gain little and cost a compressor.
pub const DEFAULT_MINIMUM_SIZE: usize = 500;
/// Default compression level: 6, zlib's own balance of speed and size.
pub const DEFAULT_LEVEL: u32 = 6;

/// The gzip middleware.
#[derive(Debug, Clone)]
pub struct GZip {
    minimum_size: usize,
    level: u32,
    excluded_content_types: Vec<String>,
}

impl Default for GZip {
    fn default() -> Self {
        GZip {
            minimum_size: DEFAULT_MINIMUM_SIZE,
            level: DEFAULT_LEVEL,
            excluded_content_types: Vec::new(),
        }
    }
}

impl GZip {
    /// Gzip with `minimum_size` and `level` (0 to 9).
    pub fn new(minimum_size: usize, level: u32) -> Result<GZip, ConfigError> {
        if level > 9 {
            return Err(ConfigError::Invalid(format!(
                "gzip level {level} is not in 0..=9"
            )));
        }
        Ok(GZip {
            minimum_size,
            level,
            ..GZip::default()
        })
    }

    /// Leave responses of these content types (matched by prefix, like `image/`) alone.
    pub fn exclude_content_types<'a>(mut self, types: impl IntoIterator<Item = &'a str>) -> GZip {
        self.excluded_content_types = types.into_iter().map(str::to_ascii_lowercase).collect();
        self
    }

    fn excluded(&self, content_type: &str) -> bool {
        self.excluded_content_types.iter().any(|t| {
            content_type.len() >= t.len()
                && content_type.as_bytes()[..t.len()].eq_ignore_ascii_case(t.as_bytes())
        })
    }
}

/// Whether `accept_encoding` admits gzip (an explicit q=0 refuses it; `*` stands in for it).
pub fn accepts_gzip(accept_encoding: &str) -> bool {
    let mut gzip = None;
    let mut any = None;
    for item in accept_encoding.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .or_else(|| p.trim().strip_prefix("Q="))
            })
            .filter_map(|q| q.trim().parse::<f32>().ok())
            .next()
            .unwrap_or(1.0);
        match coding.as_str() {
            "gzip" | "x-gzip" => gzip = Some(q > 0.0),
            "*" => any = Some(q > 0.0),
            _ => {}
        }
    }
    gzip.or(any).unwrap_or(false)
}

/// One response's compression: the negotiation's outcome and the stream's state.
pub struct Compress<'a> {
    config: &'a GZip,
    accepts: bool,
    head: bool,
    output: Output,
}

/// What happens to the bodies of one response.
enum Output {
    /// They go on as they are.
    Unchanged,
    /// They go through the stream, boxed: a response that compresses allocates anyway, and
    /// every other one carries (and moves) only the box's room in its sender.
    Stream(Box<GzipStream>),
    /// A whole body compressed in `on_start`, handed out by `on_body`.
    Whole(Bytes),
}

impl ResponseHook for Compress<'_> {
    // The size first, inlined: it rules out most small responses before any field is looked
    // at, and before a call.
    #[inline]
    fn on_start(
        &mut self,
        start: &mut ResponseStart,
        first: &Bytes,
        more_body: bool,
    ) -> Result<(), SendError> {
        if more_body || first.len() >= self.config.minimum_size {
            self.start_large(start, first, more_body);
        }
        Ok(())
    }

    /// A file the server sends is never compressed: it leaves as it is on disk, without
    /// passing through the app (or this middleware).
    fn on_file(&mut self, _: &mut ResponseStart, _: u64) -> Result<(), SendError> {
        Ok(())
    }

    #[inline]
    fn on_body(&mut self, body: Bytes, more_body: bool) -> Bytes {
        if let Output::Unchanged = self.output {
            return body;
        }
        self.compressed(body, more_body)
    }
}

impl Compress<'_> {
    /// The start of a response large enough to compress, or streamed: compressed when its
    /// status and fields allow and the client accepts gzip.
    #[inline(never)]
    fn start_large(&mut self, start: &mut ResponseStart, first: &Bytes, more_body: bool) {
        let status = start.status;
        let eligible = (200..300).contains(&status)
            && status != 204
            && status != 206
            && start.field("content-encoding").is_none()
            && !start
                .field("content-type")
                .and_then(|t| std::str::from_utf8(t).ok())
                .is_some_and(|t| self.config.excluded(t));
        if !eligible {
            return;
        }
        add_vary_field(start, "Accept-Encoding");
        let headers = &mut start.headers;
        // HEAD: the `vary` a GET would get, but no compression (no body goes out, and the
        // encoding is a field RFC 9110 §9.3.2 lets a HEAD response leave out).
        if !self.accepts || self.head {
            return;
        }
        headers.set("content-encoding", "gzip");
        headers.remove("content-length");
        let encoder = GzipStream::new(self.config.level);
        if more_body {
            self.output = Output::Stream(Box::new(encoder));
        } else {
            let mut whole = Vec::new();
            encoder.finish(first, &mut whole);
            let whole = Bytes::from(whole);
            headers.set("content-length", whole.len().to_string());
            self.output = Output::Whole(whole);
        }
    }

    /// A body of a response this hook compresses (or compressed whole at its start).
    #[inline(never)]
    fn compressed(&mut self, body: Bytes, more_body: bool) -> Bytes {
        match std::mem::replace(&mut self.output, Output::Unchanged) {
            Output::Unchanged => body,
            Output::Whole(whole) => whole,
            Output::Stream(mut encoder) => {
                let mut out = Vec::new();
                if more_body {
                    encoder.write(&body, &mut out, true);
                    self.output = Output::Stream(encoder);
                } else {
                    (*encoder).finish(&body, &mut out);
                }
                Bytes::from(out)
            }
        }
    }
}

impl Step for GZip {
    type Hook<'a> = Option<Compress<'a>>;

    fn describe(&self) -> String {
        format!(
            "GZip(minimum_size: {}, level: {})",
            self.minimum_size, self.level
        )
    }

    fn on_request(&self, scope: &mut Scope) -> Decision<Option<Compress<'_>>> {
        Decision::Continue(match scope {
            Scope::Http(http) => Some(Compress {
                config: self,
                accepts: http.header("accept-encoding").is_some_and(accepts_gzip),
                head: http.method == "HEAD",
                output: Output::Unchanged,
            }),
            Scope::Lifespan(_) | Scope::WebSocket(_) => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hook_of_a_response_left_alone_is_small() {
        // Every response's sender carries the hook, compressed or not, and moves with it: the
        // stream's state is boxed, for the responses that compress.
        assert!(std::mem::size_of::<Option<Compress<'static>>>() <= 64);
    }

    #[test]
    fn accept_encoding_q_values_are_honoured() {
        assert!(accepts_gzip("gzip"));
        assert!(accepts_gzip("br, gzip;q=0.5"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("br"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("*, gzip;q=0"));
        assert!(!accepts_gzip("identity"));
    }
}
