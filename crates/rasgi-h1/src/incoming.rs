//! The request a connection hands its app: a parsed head made into an owned [`Request`], and
//! the rules about the head that need its parts (the target forms of RFC 9112 §3.2, an
//! upgrade offer).
//!
//! The rule this module keeps: **a request costs one field list and no copies**. Every part is
//! a zero-copy slice of the bytes the head arrived in, the common methods and field names are
//! static text, the parser's slots are the thread's, and field lists are reused across the
//! requests and responses of a thread. It decides nothing about the exchange: that is
//! [`crate::conn`]'s.

use bytes::{Bytes, BytesMut};

use crate::request::{parse_request_head, BodyKind, HeaderSpan, Span, Version};
use crate::{H1Error, Limits, Status};

/// The most header fields the parser has slots for; [`Limits::max_headers`] may lower it.
const MAX_HEADER_SLOTS: usize = 128;

/// Field lists a thread keeps for reuse (see [`SPARE_FIELD_LISTS`]).
const MAX_SPARE_FIELD_LISTS: usize = 64;
/// A list with room for more fields than this is not kept: one huge response must not pin
/// its room on the thread.
const MAX_SPARE_FIELD_CAPACITY: usize = 32;

thread_local! {
    /// The parser's field slots, one set per thread: zeroing 4 KiB of slots for every request
    /// costs more than parsing a small head, and a set per connection would be 4 KiB idle.
    static HEADER_SLOTS: std::cell::RefCell<[HeaderSpan; MAX_HEADER_SLOTS]> =
        const { std::cell::RefCell::new([HeaderSpan::EMPTY; MAX_HEADER_SLOTS]) };

    /// The field lists of written response heads, emptied, for the next request heads parsed
    /// on this thread: a request and its response allocate one list between them, not two.
    /// Per thread rather than per connection, so an idle connection keeps none.
    static SPARE_FIELD_LISTS: std::cell::RefCell<Vec<Vec<(Bytes, Bytes)>>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// An empty field list, reused when the thread has one.
fn field_list() -> Vec<(Bytes, Bytes)> {
    SPARE_FIELD_LISTS
        .with_borrow_mut(Vec::pop)
        .unwrap_or_default()
}

/// Keep `fields`' room for a later [`field_list`].
pub(crate) fn give_back_field_list(mut fields: Vec<(Bytes, Bytes)>) {
    if fields.capacity() == 0 || fields.capacity() > MAX_SPARE_FIELD_CAPACITY {
        return;
    }
    fields.clear();
    SPARE_FIELD_LISTS.with_borrow_mut(|spare| {
        if spare.len() < MAX_SPARE_FIELD_LISTS {
            spare.push(fields);
        }
    });
}

/// A request head, owned: every part is a zero-copy slice of the bytes it arrived in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method, as sent (static text for the [`common_method`]s).
    pub method: Bytes,
    /// The target's path, still percent-encoded; for an absolute-form target
    /// (`http://host/path`, RFC 9112 §3.2.2) the path part.
    pub path: Bytes,
    /// The target after the first `?`.
    pub query: Bytes,
    /// The header fields in order, names lowercased.
    pub headers: Vec<(Bytes, Bytes)>,
    /// HTTP/1.0 or HTTP/1.1.
    pub version: Version,
}

/// What the parsed head says beyond the [`Request`] itself: what the connection's transitions
/// decide by.
pub(crate) struct HeadParts {
    /// Where the method is in the head.
    pub method: Span,
    /// Where the target's path is in the head.
    pub path: Span,
    /// Where the query is in the head.
    pub query: Span,
    /// HTTP/1.0 or HTTP/1.1.
    pub version: Version,
    /// How the body is framed.
    pub body: BodyKind,
    /// The connection may serve another request after this one.
    pub persistent: bool,
    /// The client waits for `100 Continue` before it sends the body.
    pub expect_continue: bool,
    /// How many `Host` fields came.
    pub host_count: usize,
    /// How many fields came.
    pub field_count: usize,
}

/// Parse a head from `buf`: on success its bytes are split off `buf` and made into the
/// [`Request`]; `Ok(None)` while the head is incomplete.
pub(crate) fn parse_head(
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<(Request, HeadParts)>, H1Error> {
    HEADER_SLOTS.with_borrow_mut(|slots| {
        let head = match parse_request_head(buf, slots, limits)? {
            Status::Partial => return Ok(None),
            Status::Complete(head) => head,
        };
        let len = head.len;
        let parts = HeadParts {
            method: head.method,
            path: head.path,
            query: head.query,
            version: head.version,
            body: head.body,
            persistent: head.persistent,
            expect_continue: head.expect_continue,
            host_count: head.host_count,
            field_count: head.headers.len(),
        };
        // Every slice of the head holds the read buffer by an atomic count, taken when it
        // is made and given back when it is dropped: the method and the common names are
        // static text instead, and the path takes the head's own hold.
        let bytes = buf.split_to(len).freeze();
        let slice = |span: Span| bytes.slice(span.start..span.end);
        let mut headers = field_list();
        headers.extend(slots[..parts.field_count].iter().map(|field| {
            let name = known_name(&bytes[field.name.start..field.name.end])
                .unwrap_or_else(|| slice(field.name));
            (name, slice(field.value))
        }));
        let method = common_method(&bytes[parts.method.start..parts.method.end])
            .map_or_else(|| slice(parts.method), |m| Bytes::from_static(m.as_bytes()));
        let query = slice(parts.query);
        let request = Request {
            method,
            path: span_of(bytes, parts.path),
            query,
            headers,
            version: parts.version,
        };
        Ok::<_, H1Error>(Some((request, parts)))
    })
}

/// How far a head in progress has been looked at. The parser is restartable, not resumable: it
/// reads a head from its first byte. So it runs again only when that can change its answer
/// soon enough: when the bytes have doubled since it last ran (every error is still found, and
/// the work stays linear), when a possible end of the head arrives (`\n\r\n`, or `\n\n`,
/// which it refuses), or when a limit is passed. Only the new bytes are searched.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct HeadScan {
    /// The buffer's length when the parser last answered "partial"; 0: it has not run yet.
    parsed_len: usize,
    /// Bytes already searched for the end of the head.
    searched: usize,
    /// A line end has been seen (the request line is complete).
    line_end_seen: bool,
}

impl HeadScan {
    /// Whether the parser should run over `buf` now.
    pub(crate) fn worth_parsing(&mut self, buf: &[u8], limits: &Limits) -> bool {
        if self.parsed_len == 0 {
            // The first look at this head (nearly always the whole head): parse it.
            return true;
        }
        let from = self.searched.saturating_sub(2);
        let new = &buf[from.min(buf.len())..];
        self.searched = buf.len();
        self.line_end_seen |= new.contains(&b'\n');
        buf.len() >= 2 * self.parsed_len
            || new.windows(2).any(|w| w == b"\n\n")
            || new.windows(3).any(|w| w == b"\n\r\n")
            || buf.len() > limits.max_head_bytes
            || (!self.line_end_seen && buf.len() > limits.max_request_line_bytes)
    }

    /// The parser answered "partial" for `len` bytes.
    pub(crate) fn parsed(&mut self, buf: &[u8]) {
        if self.parsed_len == 0 {
            self.line_end_seen = buf.contains(&b'\n');
        }
        self.parsed_len = buf.len();
        self.searched = buf.len();
    }
}

/// The request-target forms of RFC 9112 §3.2 a server accepts, given the target's path (up to
/// its first `?`) and query: origin-form (`/path?query`), asterisk-form (`*`) for OPTIONS only,
/// and absolute-form (`http://host/path`), for which the authority and the path are returned:
/// the host stands for `Host` (§3.2.2). Authority-form belongs to CONNECT, refused before this.
/// A fragment (`#`) is never part of a target (§3.2), and an absolute-form target needs a host.
pub(crate) fn target_form(
    method: &[u8],
    path: &Bytes,
    query: &[u8],
) -> Result<Option<(Bytes, Bytes)>, ()> {
    if path.contains(&b'#') || query.contains(&b'#') {
        return Err(());
    }
    if path.starts_with(b"/") {
        return Ok(None);
    }
    if &path[..] == b"*" && query.is_empty() {
        return if method == b"OPTIONS" {
            Ok(None)
        } else {
            Err(())
        };
    }
    for scheme in [&b"http://"[..], b"https://"] {
        if path.len() >= scheme.len() && path[..scheme.len()].eq_ignore_ascii_case(scheme) {
            let rest = path.slice(scheme.len()..);
            let end = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
            let authority = rest.slice(..end);
            // `user@host` is not sent to servers in http(s) URIs (RFC 9110 §4.2.4).
            if authority.is_empty() || authority.contains(&b'@') {
                return Err(());
            }
            let path = match end {
                end if end == rest.len() => Bytes::from_static(b"/"),
                end => rest.slice(end..),
            };
            return Ok(Some((authority, path)));
        }
    }
    Err(())
}

/// An absolute-form target's host replaces any `Host` field (RFC 9112 §3.2.2).
pub(crate) fn use_target_host(headers: &mut Vec<(Bytes, Bytes)>, host: Bytes) {
    headers.retain(|(name, _)| &name[..] != b"host");
    headers.push((Bytes::from_static(b"host"), host));
}

/// Whether the request asks to switch protocols: an `upgrade` field and `upgrade` among the
/// `connection` options (RFC 9110 §7.8).
pub(crate) fn offers_upgrade(headers: &[(Bytes, Bytes)]) -> bool {
    let mut upgrade = false;
    let mut connection_upgrade = false;
    for (name, value) in headers {
        if &name[..] == b"upgrade" {
            upgrade = true;
        } else if &name[..] == b"connection" {
            connection_upgrade |= value
                .split(|&b| b == b',')
                .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"upgrade"));
        }
    }
    upgrade && connection_upgrade
}

/// `span` of `bytes`, keeping `bytes`' own hold on the buffer (no count taken or given).
fn span_of(mut bytes: Bytes, span: Span) -> Bytes {
    bytes.truncate(span.end);
    bytes::Buf::advance(&mut bytes, span.start);
    bytes
}

/// `method` as static text when it is one of the common methods (a request's method is one of
/// these or a slice of its read buffer: [`Request::method`]).
pub fn common_method(method: &[u8]) -> Option<&'static str> {
    Some(match method {
        b"GET" => "GET",
        b"POST" => "POST",
        b"HEAD" => "HEAD",
        b"PUT" => "PUT",
        b"DELETE" => "DELETE",
        b"OPTIONS" => "OPTIONS",
        b"PATCH" => "PATCH",
        _ => return None,
    })
}

/// Request field names common enough to be worth matching (already lowercased by the parser),
/// by length: each is static text instead of a slice of the read buffer.
fn known_name(name: &[u8]) -> Option<Bytes> {
    let candidates: &[&'static [u8]] = match name.len() {
        2 => &[b"te"],
        3 => &[b"dnt"],
        4 => &[b"host"],
        6 => &[b"accept", b"cookie", b"origin", b"expect", b"pragma"],
        7 => &[b"referer", b"upgrade"],
        8 => &[b"priority"],
        10 => &[b"user-agent", b"connection"],
        12 => &[b"content-type", b"x-request-id"],
        13 => &[b"cache-control", b"authorization", b"if-none-match"],
        14 => &[
            b"content-length",
            b"sec-fetch-dest",
            b"sec-fetch-mode",
            b"sec-fetch-site",
        ],
        15 => &[b"accept-encoding", b"accept-language", b"x-forwarded-for"],
        17 => &[
            b"transfer-encoding",
            b"if-modified-since",
            b"x-forwarded-proto",
            b"sec-websocket-key",
        ],
        21 => &[b"sec-websocket-version"],
        22 => &[b"sec-websocket-protocol"],
        24 => &[b"sec-websocket-extensions"],
        25 => &[b"upgrade-insecure-requests"],
        _ => return None,
    };
    candidates
        .iter()
        .find(|known| **known == name)
        .map(|known| Bytes::from_static(known))
}
