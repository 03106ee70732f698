//! Scopes: what a connection-level call is about. [`Scope::Http`] describes one request,
//! [`Scope::WebSocket`] one WebSocket connection, [`Scope::Lifespan`] the server's startup and
//! shutdown.
//!
//! The rule: a middleware that only cares about HTTP passes every other scope through first,
//! untouched.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;

use crate::{BackgroundTasks, ByteStr, Extensions, Headers, State, TlsInfo};

/// What an app is called for.
// The HTTP variant is the hot one and travels by value down the middleware stack; boxing it to
// shrink the rare lifespan variant would cost an allocation per request.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Scope {
    /// One HTTP request.
    Http(HttpScope),
    /// One WebSocket connection, from its opening handshake to its close.
    WebSocket(WebSocketScope),
    /// The server's lifespan: startup, then shutdown.
    Lifespan(LifespanScope),
}

/// `http` or `https`, as the client used it (the ProxyHeaders middleware may change it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS (terminated in front of rasgi).
    Https,
}

impl Scheme {
    /// `"http"` or `"https"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// One HTTP request, as ASGI's HTTP connection scope describes it.
#[derive(Debug)]
pub struct HttpScope {
    /// `"1.0"` or `"1.1"`.
    pub http_version: &'static str,
    /// The method, uppercase as sent (`GET`, `POST`, ...).
    pub method: ByteStr,
    /// `http` or `https`.
    pub scheme: Scheme,
    /// The path, percent-decoded as UTF-8 (invalid sequences replaced), without `root_path`
    /// removed.
    pub path: ByteStr,
    /// The path exactly as sent, still percent-encoded.
    pub raw_path: Bytes,
    /// The bytes after `?`, not decoded.
    pub query_string: Bytes,
    /// Where the app is mounted (`--root-path`), empty by default.
    pub root_path: ByteStr,
    /// The request's header fields: lowercase names, order and duplicates kept.
    pub headers: Headers,
    /// The client's address, when the transport has one.
    pub client: Option<SocketAddr>,
    /// The server's address, when the transport has one.
    pub server: Option<SocketAddr>,
    /// The lifespan state, shared by every request.
    pub state: State,
    /// Typed values for this request (request ids, users, ...).
    pub extensions: Extensions,
    /// The tasks to run after this request's response has been sent.
    pub background: BackgroundTasks,
}

impl HttpScope {
    /// A scope for `method` and `target` (`/path?query`), with everything else empty: for
    /// tests and in-memory clients. Servers fill every field from the request.
    pub fn new(method: &str, target: &str) -> HttpScope {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        HttpScope {
            http_version: "1.1",
            method: ByteStr::from(method.to_string()),
            scheme: Scheme::Http,
            path: ByteStr::from(percent_decode(path.as_bytes())),
            raw_path: Bytes::copy_from_slice(path.as_bytes()),
            query_string: Bytes::copy_from_slice(query.as_bytes()),
            root_path: ByteStr::default(),
            headers: Headers::new(),
            client: None,
            server: None,
            state: State::new(),
            extensions: Extensions::new(),
            background: BackgroundTasks::new(),
        }
    }

    /// The first value of a request header, if it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get_str(name)
    }

    /// The TLS session the request came over (asgiref's `tls` extension); `None` on a plain
    /// connection.
    pub fn tls(&self) -> Option<&TlsInfo> {
        self.extensions.get::<Arc<TlsInfo>>().map(|tls| &**tls)
    }

    /// The value of a query parameter (`?name=value`), percent-decoded (`+` as space).
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_string
            .split(|&b| b == b'&')
            .filter_map(|pair| {
                let (key, value) = match pair.iter().position(|&b| b == b'=') {
                    Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                    None => (pair, &b""[..]),
                };
                (form_decode(key) == name).then(|| form_decode(value))
            })
            .next()
    }
}

/// One WebSocket connection, as ASGI's websocket connection scope describes it. The fields
/// mean what they mean in [`HttpScope`]; a WebSocket has no method and no background tasks.
#[derive(Debug)]
pub struct WebSocketScope {
    /// `"1.1"`: the handshake is an HTTP/1.1 request.
    pub http_version: &'static str,
    /// [`Scheme::Http`] for `ws`, [`Scheme::Https`] for `wss`; see [`WebSocketScope::scheme_str`].
    pub scheme: Scheme,
    /// The path, percent-decoded as UTF-8.
    pub path: ByteStr,
    /// The path exactly as sent.
    pub raw_path: Bytes,
    /// The bytes after `?`, not decoded.
    pub query_string: Bytes,
    /// Where the app is mounted.
    pub root_path: ByteStr,
    /// The handshake's header fields: lowercase names, order and duplicates kept.
    pub headers: Headers,
    /// The subprotocols the client offered (`Sec-WebSocket-Protocol`), in its order.
    pub subprotocols: Vec<String>,
    /// The client's address.
    pub client: Option<SocketAddr>,
    /// The server's address.
    pub server: Option<SocketAddr>,
    /// The lifespan state.
    pub state: State,
    /// Typed values for this connection.
    pub extensions: Extensions,
}

impl WebSocketScope {
    /// A scope for `target` (`/path?query`), with everything else empty: for tests.
    pub fn new(target: &str) -> WebSocketScope {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        WebSocketScope {
            http_version: "1.1",
            scheme: Scheme::Http,
            path: ByteStr::from(percent_decode(path.as_bytes())),
            raw_path: Bytes::copy_from_slice(path.as_bytes()),
            query_string: Bytes::copy_from_slice(query.as_bytes()),
            root_path: ByteStr::default(),
            headers: Headers::new(),
            subprotocols: Vec::new(),
            client: None,
            server: None,
            state: State::new(),
            extensions: Extensions::new(),
        }
    }

    /// `"ws"` or `"wss"`, as ASGI names the scheme of a WebSocket.
    pub fn scheme_str(&self) -> &'static str {
        match self.scheme {
            Scheme::Http => "ws",
            Scheme::Https => "wss",
        }
    }

    /// The first value of a handshake header, if it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get_str(name)
    }

    /// The TLS session the WebSocket runs over (asgiref's `tls` extension); `None` on a plain
    /// connection.
    pub fn tls(&self) -> Option<&TlsInfo> {
        self.extensions.get::<Arc<TlsInfo>>().map(|tls| &**tls)
    }
}

/// The lifespan scope: the state the app fills at startup for every request to see.
#[derive(Debug, Clone, Default)]
pub struct LifespanScope {
    /// Shared with every [`HttpScope::state`].
    pub state: State,
}

/// Percent-decode `raw` as UTF-8, replacing invalid sequences (as uvicorn's `unquote` does).
pub fn percent_decode(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match (raw[i], raw.get(i + 1..i + 3)) {
            (b'%', Some(&[high, low])) if high.is_ascii_hexdigit() && low.is_ascii_hexdigit() => {
                out.push(hex(high) << 4 | hex(low));
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    match String::from_utf8(out) {
        Ok(text) => text,
        Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
    }
}

fn form_decode(raw: &[u8]) -> String {
    if raw.contains(&b'+') {
        let spaced: Vec<u8> = raw
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        percent_decode(&spaced)
    } else {
        percent_decode(raw)
    }
}

fn hex(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_is_utf8_and_repairs_invalid_sequences() {
        assert_eq!(percent_decode(b"/caf%C3%A9"), "/café");
        assert_eq!(percent_decode(b"/a%2Fb"), "/a/b");
        assert_eq!(percent_decode(b"/bad%FF"), "/bad\u{fffd}");
        assert_eq!(percent_decode(b"/half%4"), "/half%4");
    }

    #[test]
    fn query_params_decode_plus_and_percent() {
        let scope = HttpScope::new("GET", "/x?email=a%40b.c&q=hello+world&flag");
        assert_eq!(scope.query_param("email").as_deref(), Some("a@b.c"));
        assert_eq!(scope.query_param("q").as_deref(), Some("hello world"));
        assert_eq!(scope.query_param("flag").as_deref(), Some(""));
        assert_eq!(scope.query_param("missing"), None);
    }
}
