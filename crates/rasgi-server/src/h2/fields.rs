//! The fields every HTTP/2 response of a connection carries besides the app's, and the check
//! an app's own fields pass before they are sent.

use std::sync::Arc;

use bytes::Bytes;
use rasgi_protocol::SendError;

/// What every response of the connection carries besides the app's fields.
pub(super) struct ServerFields {
    /// `server: rasgi`.
    pub server: bool,
    /// `date`.
    pub date: bool,
    /// The operator's fields.
    pub default: Option<Arc<Vec<(Bytes, Bytes)>>>,
}

/// The fields of a response the WebSocket driver answers a handshake with: the server's own,
/// then `headers`.
pub(super) fn answer_fields(
    fields: &ServerFields,
    headers: &[(Bytes, Bytes)],
) -> Vec<(Bytes, Bytes)> {
    let mut all = Vec::with_capacity(headers.len() + 2);
    if fields.server {
        all.push((Bytes::from_static(b"server"), Bytes::from_static(b"rasgi")));
    }
    if fields.date {
        let line = crate::date::line();
        let date = Bytes::copy_from_slice(&line[6..6 + crate::date::DATE_LEN]);
        all.push((Bytes::from_static(b"date"), date));
    }
    all.extend(fields.default.iter().flat_map(|d| d.iter().cloned()));
    all.extend(headers.iter().cloned());
    all
}

/// The app's fields must be valid field names and values.
pub(super) fn check_fields(fields: &[(Bytes, Bytes)]) -> Result<(), SendError> {
    for (name, value) in fields {
        if rasgi_h1::validate_header(name, value).is_err() {
            return Err(SendError::InvalidHeader);
        }
    }
    Ok(())
}
