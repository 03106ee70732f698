//! Where ASGI meets HTTP/1.1: the scope a request accepted by the state machine becomes
//! ([`http_scope`]), and an app's message handed to the machine ([`send_message`]). The server
//! and `rasgi::testing::TestClient` both go through here, so an app meets one contract.

use std::sync::Arc;

use bytes::Bytes;
use rasgi_h1::conn::{Flush, Request, SendRefused};
use rasgi_h1::ServerConn;
use rasgi_protocol::scope::percent_decode;
use rasgi_protocol::{
    BackgroundTasks, ByteStr, Extensions, Headers, HttpScope, Message, Scheme, SendError, State,
    TlsInfo, WebSocketScope,
};

/// Everything the driver knows about the connection that a scope needs.
pub struct ScopeParts<'a> {
    /// The client's address.
    pub client: Option<std::net::SocketAddr>,
    /// The server's address.
    pub server: Option<std::net::SocketAddr>,
    /// The lifespan state.
    pub state: &'a State,
    /// Where the app is mounted.
    pub root_path: &'a ByteStr,
    /// `http`, or `https` on a TLS connection.
    pub scheme: Scheme,
    /// The TLS session, for the scope's extensions.
    pub tls: Option<&'a Arc<TlsInfo>>,
}

/// The extensions every scope starts with: the TLS session on a TLS connection.
fn extensions(parts: &ScopeParts<'_>) -> Extensions {
    let mut extensions = Extensions::new();
    if let Some(tls) = parts.tls {
        extensions.insert(Arc::clone(tls));
    }
    extensions
}

/// The ASGI scope for a request the state machine accepted, with its response's `background`
/// tasks.
pub fn http_scope(
    request: Request,
    parts: ScopeParts<'_>,
    background: BackgroundTasks,
) -> HttpScope {
    HttpScope {
        http_version: request.version.as_str(),
        method: method(request.method),
        scheme: parts.scheme,
        path: decoded_path(&request.path),
        raw_path: request.path,
        query_string: request.query,
        root_path: parts.root_path.clone(),
        headers: Headers::from_fields(request.headers),
        client: parts.client,
        server: parts.server,
        state: parts.state.clone(),
        extensions: extensions(&parts),
        background,
    }
}

/// The ASGI scope for an HTTP/2 request (`http_version` `"2"`): the pseudo-fields taken out,
/// `:authority` given as the `host` field (first) when the request has none, and `:path`
/// split at its `?`.
pub fn h2_scope(
    head: rasgi_h2::request::RequestHead,
    parts: ScopeParts<'_>,
    background: BackgroundTasks,
) -> HttpScope {
    let H2Request {
        method,
        path,
        query,
        fields,
    } = h2_request(head);
    HttpScope {
        http_version: "2",
        // The method is its own allocation already (the HPACK decoder's): nothing to let go.
        method: ascii(method),
        scheme: parts.scheme,
        path: decoded_path(&path),
        raw_path: path,
        query_string: query,
        root_path: parts.root_path.clone(),
        headers: Headers::from_fields(fields),
        client: parts.client,
        server: parts.server,
        state: parts.state.clone(),
        extensions: extensions(&parts),
        background,
    }
}

/// The ASGI scope for a WebSocket opened by an HTTP/2 extended CONNECT (RFC 8441), as
/// [`h2_scope`] makes an `http` one.
pub fn h2_websocket_scope(
    request: H2Request,
    parts: ScopeParts<'_>,
    subprotocols: Vec<String>,
) -> WebSocketScope {
    WebSocketScope {
        http_version: "2",
        scheme: parts.scheme,
        path: decoded_path(&request.path),
        raw_path: request.path,
        query_string: request.query,
        root_path: parts.root_path.clone(),
        headers: Headers::from_fields(request.fields),
        subprotocols,
        client: parts.client,
        server: parts.server,
        state: parts.state.clone(),
        extensions: extensions(&parts),
    }
}

/// An HTTP/2 request's head as a scope wants it.
pub struct H2Request {
    /// `:method`.
    pub method: Bytes,
    /// `:path` before its `?` (`/` when it has none).
    pub path: Bytes,
    /// `:path` after its `?`.
    pub query: Bytes,
    /// The regular fields, with `:authority` as `host` first when the request has no `host`.
    pub fields: Vec<(Bytes, Bytes)>,
}

/// Split an HTTP/2 request's head for its scope.
#[inline]
pub fn h2_request(head: rasgi_h2::request::RequestHead) -> H2Request {
    let target = head.path.unwrap_or_else(|| Bytes::from_static(b"/"));
    let (path, query) = match target.iter().position(|&b| b == b'?') {
        Some(at) => (target.slice(..at), target.slice(at + 1..)),
        None => (target, Bytes::new()),
    };
    let has_host = head.fields.iter().any(|field| field.name == "host");
    let mut fields = Vec::with_capacity(head.fields.len() + 1);
    if let (false, Some(authority)) = (has_host, head.authority) {
        fields.push((Bytes::from_static(b"host"), authority));
    }
    fields.extend(
        head.fields
            .into_iter()
            .map(|field| (field.name, field.value)),
    );
    H2Request {
        method: head.method,
        path,
        query,
        fields,
    }
}

/// The path percent-decoded, or shared with the buffer when it has nothing to decode.
fn decoded_path(raw: &Bytes) -> ByteStr {
    if raw.contains(&b'%') {
        ByteStr::from(percent_decode(raw))
    } else {
        ascii(raw.clone())
    }
}

/// The ASGI scope for a WebSocket handshake the state machine accepted as a request.
pub fn websocket_scope(
    request: Request,
    parts: ScopeParts<'_>,
    subprotocols: Vec<String>,
) -> WebSocketScope {
    WebSocketScope {
        http_version: request.version.as_str(),
        scheme: parts.scheme,
        path: decoded_path(&request.path),
        raw_path: request.path,
        query_string: request.query,
        root_path: parts.root_path.clone(),
        headers: Headers::from_fields(request.headers),
        subprotocols,
        client: parts.client,
        server: parts.server,
        state: parts.state.clone(),
        extensions: extensions(&parts),
    }
}

/// The method: the common ones as static text (no hold on the read buffer), others as sent.
fn method(bytes: Bytes) -> ByteStr {
    match rasgi_h1::conn::common_method(&bytes) {
        Some(common) => ByteStr::from_static(common),
        None => ascii(bytes),
    }
}

/// Text the parser has already restricted to visible ASCII.
fn ascii(bytes: Bytes) -> ByteStr {
    ByteStr::from_utf8(bytes).unwrap_or_default()
}

/// Hand one app message to the state machine: whether its bytes must leave now, or why it was
/// refused, in the protocol's terms.
pub fn send_message(conn: &mut ServerConn, message: Message) -> Result<Flush, SendError> {
    match message {
        Message::Informational { status, headers } => {
            conn.send_informational(status, headers.as_fields())
        }
        Message::Start {
            status,
            headers,
            trailers,
        } => conn.send_start(status, headers.into_fields(), trailers),
        Message::Body { body, more_body } => conn.send_body(body, more_body),
        Message::Trailers { headers } => conn.send_trailers(headers.as_fields()),
        // Only a request's own stream sends a file (`Wire::send`), not a WebSocket's refusal.
        Message::PathSend(_) => {
            return Err(SendError::OutOfOrder(
                "a file body cannot answer a WebSocket handshake",
            ))
        }
        Message::WebSocketAccept { .. }
        | Message::WebSocketSend(_)
        | Message::WebSocketClose { .. }
        | Message::StartupComplete
        | Message::StartupFailed(_)
        | Message::ShutdownComplete
        | Message::ShutdownFailed(_) => return Err(SendError::WrongScope),
    }
    .map_err(send_error)
}

/// The protocol's name for a refusal.
pub(crate) fn send_error(refused: SendRefused) -> SendError {
    match refused {
        SendRefused::Disconnected => SendError::Disconnected,
        SendRefused::OutOfOrder(what) => SendError::OutOfOrder(what),
        SendRefused::InvalidStatus(status) => SendError::InvalidStatus(status),
        SendRefused::InvalidHeader => SendError::InvalidHeader,
        SendRefused::InvalidContentLength => SendError::InvalidContentLength,
        SendRefused::BodyTooLong => SendError::BodyTooLong,
        SendRefused::BodyTooShort => SendError::BodyTooShort,
    }
}
