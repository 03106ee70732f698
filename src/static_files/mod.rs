//! [`StaticFiles`]: an app that serves the files of a directory, as Starlette's `StaticFiles`
//! does, with the server sending each file itself ([`Message::PathSend`]: `sendfile(2)` on a
//! plain socket).
//!
//! What a request gets (RFC 9110):
//! - `GET` and `HEAD` of a regular file: 200 with `content-type` (by extension),
//!   `content-length`, `last-modified`, `etag` and `accept-ranges: bytes`; any other method is
//!   405 with `allow: GET, HEAD`;
//! - `If-None-Match` (weak comparison), else `If-Modified-Since`: 304 when the file is
//!   unchanged (§13.2.2's order);
//! - one `Range: bytes=` range: 206 with `content-range` (§14.4), 416 with `content-range:
//!   bytes */LEN` when no byte of the file is in it; several ranges are answered with the whole
//!   file (§14.2 lets a server ignore them), and so is a range under an `If-Range` that no
//!   longer holds;
//! - 404 for a directory, anything not a regular file, and any path that leaves the directory
//!   (see `resolve.rs`).
//!
//! The file is opened and its metadata read on the calling task (as nginx does without its
//! thread pool): cheap for files the kernel has cached, a disk seek otherwise. What is sent is
//! the file as opened: one replaced while it is sent is sent as it was; one cut shorter ends the
//! connection (the length was promised).

mod request;
mod resolve;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use rasgi_protocol::{
    send_response, App, AppError, FileBody, Headers, HttpScope, Message, Receive, Scope, SendError,
    Sender,
};

use request::{if_range_holds, none_match, parse_range, ranged, Ranged};

/// Serves the files of one directory.
#[derive(Debug, Clone)]
pub struct StaticFiles {
    /// The directory, canonical.
    root: PathBuf,
}

impl StaticFiles {
    /// Serve the files under `directory` (which must exist and be a directory).
    pub fn new(directory: impl AsRef<Path>) -> std::io::Result<StaticFiles> {
        let root = std::fs::canonicalize(directory.as_ref())?;
        if !root.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{} is not a directory", root.display()),
            ));
        }
        Ok(StaticFiles { root })
    }

    /// The directory served.
    pub fn directory(&self) -> &Path {
        &self.root
    }

    /// Answer `scope` with the file `raw_path` names: a path below the directory, still
    /// percent-encoded as the request sent it, without a leading `/` (a router that mounts the
    /// files at `/static/` passes what follows it).
    pub async fn serve<S: Sender>(
        &self,
        scope: &HttpScope,
        raw_path: &[u8],
        send: &mut S,
    ) -> Result<(), SendError> {
        let method = &*scope.method;
        if method != "GET" && method != "HEAD" {
            let headers = text_plain().with("allow", "GET, HEAD");
            return send_response(send, 405, headers, "Method Not Allowed").await;
        }
        let Some(found) = resolve::open(&self.root, raw_path) else {
            return send_response(send, 404, text_plain(), "Not Found").await;
        };
        let len = found.meta.len();
        let modified = found
            .meta
            .modified()
            .ok()
            .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
            .unwrap_or_default();
        let etag = format!(
            "\"{:x}-{:x}.{:x}\"",
            len,
            modified.as_secs(),
            modified.subsec_nanos()
        );
        let last_modified_bytes = rasgi_server::date::format_imf_fixdate(modified.as_secs());
        let last_modified = std::str::from_utf8(&last_modified_bytes).unwrap_or_default();
        let validators = Headers::new()
            .with("etag", etag.clone())
            .with("last-modified", last_modified.to_string());

        if unchanged(scope, &etag, modified.as_secs()) {
            return send_response(send, 304, validators, "").await;
        }
        let range = scope
            .header("range")
            .filter(|_| {
                scope
                    .header("if-range")
                    .is_none_or(|value| if_range_holds(value, &etag, last_modified))
            })
            .and_then(parse_range);
        let mut headers = validators
            .with("content-type", content_type(&found.path))
            .with("accept-ranges", "bytes");
        let file = Arc::new(found.file);
        let (status, body) = match ranged(range, len) {
            Ranged::Whole => (200, FileBody::range(file, 0, len)),
            Ranged::Part { start, len: part } => {
                let last = start + part - 1;
                headers.set("content-range", format!("bytes {start}-{last}/{len}"));
                (206, FileBody::range(file, start, part))
            }
            Ranged::Unsatisfiable => {
                let headers = text_plain().with("content-range", format!("bytes */{len}"));
                return send_response(send, 416, headers, "Range Not Satisfiable").await;
            }
        };
        send.send(Message::start(status, headers)).await?;
        send.send(Message::PathSend(body)).await
    }
}

/// The files of the directory, for any path: `GET /a/b.css` is the file `a/b.css`.
impl App for StaticFiles {
    async fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        _receive: R,
        mut send: S,
    ) -> Result<(), AppError> {
        if let Scope::Http(scope) = scope {
            let raw = scope.raw_path.strip_prefix(b"/").unwrap_or(&scope.raw_path);
            self.serve(&scope, raw, &mut send).await?;
        }
        Ok(())
    }
}

/// Whether the request's preconditions say the client's copy is current (RFC 9110 §13.2.2:
/// `If-None-Match` when present, `If-Modified-Since` otherwise).
fn unchanged(scope: &HttpScope, etag: &str, modified_secs: u64) -> bool {
    if let Some(value) = scope.header("if-none-match") {
        return none_match(value, etag);
    }
    scope
        .header("if-modified-since")
        .and_then(rasgi_server::date::parse_http_date)
        .is_some_and(|since| modified_secs <= since)
}

fn text_plain() -> Headers {
    Headers::new().with("content-type", "text/plain; charset=utf-8")
}

/// The media type of a file by its extension (the common web types; others are bytes).
pub fn content_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match extension.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "txt" | "md" => "text/plain; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "ogg" => "audio/ogg",
        "wav" => "audio/wav",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_content_type_follows_the_extension_in_any_case() {
        assert_eq!(
            content_type(Path::new("a/index.HTML")),
            "text/html; charset=utf-8"
        );
        assert_eq!(
            content_type(Path::new("app.js")),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("logo.svg")), "image/svg+xml");
        assert_eq!(
            content_type(Path::new("README")),
            "application/octet-stream"
        );
        assert_eq!(
            content_type(Path::new("x.unknown")),
            "application/octet-stream"
        );
    }
}
