//! The request rules of RFC 9113 §8 over a decoded header list: pseudo-fields (§8.3.1),
//! field names and values (§8.2.1), connection-specific fields (§8.2.2), CONNECT (§8.5) and
//! extended CONNECT (RFC 8441 §4), `content-length`, and trailers (§8.1). A list that breaks
//! one is malformed: a stream error of type PROTOCOL_ERROR (§8.1.1), never the connection's.

use bytes::Bytes;

use crate::hpack::Field;

/// Why a request's header list is malformed (§8.1.1): the stream is reset with PROTOCOL_ERROR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed request: {0}")]
pub struct Malformed(pub &'static str);

/// A request's head, its pseudo-fields taken out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// `:method`.
    pub method: Bytes,
    /// `:scheme` (absent for CONNECT).
    pub scheme: Option<Bytes>,
    /// `:path` (absent for CONNECT).
    pub path: Option<Bytes>,
    /// `:authority`, or the `host` field when it is absent.
    pub authority: Option<Bytes>,
    /// `:protocol`, for an extended CONNECT (RFC 8441).
    pub protocol: Option<Bytes>,
    /// The regular fields, in order.
    pub fields: Vec<Field>,
    /// `content-length`, when sent (every value the same).
    pub content_length: Option<u64>,
}

/// Check a request's header list. `extended_connect`: this server advertised
/// SETTINGS_ENABLE_CONNECT_PROTOCOL, so `:protocol` is allowed on CONNECT.
pub fn check_request(list: Vec<Field>, extended_connect: bool) -> Result<RequestHead, Malformed> {
    let mut method = None;
    let mut scheme = None;
    let mut path = None;
    let mut authority = None;
    let mut protocol = None;
    let mut fields = Vec::with_capacity(list.len());
    let mut content_length = None;
    let mut host = None;
    for field in list {
        check_name(&field.name)?;
        check_value(&field.value)?;
        if let Some(pseudo) = field.name.strip_prefix(b":") {
            if !fields.is_empty() {
                return Err(Malformed("a pseudo-field after a regular field"));
            }
            let slot = match pseudo {
                b"method" => &mut method,
                b"scheme" => &mut scheme,
                b"path" => &mut path,
                b"authority" => &mut authority,
                b"protocol" => &mut protocol,
                _ => return Err(Malformed("an unknown or response pseudo-field")),
            };
            if slot.replace(field.value).is_some() {
                return Err(Malformed("a pseudo-field twice"));
            }
            continue;
        }
        match &field.name[..] {
            b"connection" | b"proxy-connection" | b"keep-alive" | b"transfer-encoding"
            | b"upgrade" => return Err(Malformed("a connection-specific field")),
            b"te" if field.value != "trailers" => {
                return Err(Malformed("te other than trailers"));
            }
            b"content-length" => {
                let value = parse_length(&field.value)?;
                if content_length
                    .replace(value)
                    .is_some_and(|earlier| earlier != value)
                {
                    return Err(Malformed("content-length values that differ"));
                }
            }
            b"host" if host.replace(field.value.clone()).is_some() => {
                return Err(Malformed("host twice"));
            }
            _ => {}
        }
        fields.push(field);
    }
    let method = method.ok_or(Malformed("no :method"))?;
    if let (Some(authority), Some(host)) = (&authority, &host) {
        if !authority.eq_ignore_ascii_case(host) {
            return Err(Malformed(":authority and host differ"));
        }
    }
    if authority.as_ref().is_some_and(|a| a.contains(&b'@')) {
        return Err(Malformed(":authority with userinfo"));
    }
    if method == "CONNECT" {
        match (&protocol, extended_connect) {
            // RFC 8441 §4: an extended CONNECT has every pseudo-field of a request.
            (Some(_), true) => {
                if scheme.is_none() || missing(&path) || authority.is_none() {
                    return Err(Malformed(
                        "an extended CONNECT without :scheme, :path or :authority",
                    ));
                }
            }
            (Some(_), false) => return Err(Malformed(":protocol without extended CONNECT")),
            // §8.5: only :method and :authority.
            (None, _) => {
                if scheme.is_some() || path.is_some() || authority.is_none() {
                    return Err(Malformed(
                        "a CONNECT with :scheme or :path, or without :authority",
                    ));
                }
            }
        }
    } else {
        if protocol.is_some() {
            return Err(Malformed(":protocol on a method other than CONNECT"));
        }
        if scheme.is_none() {
            return Err(Malformed("no :scheme"));
        }
        if missing(&path) {
            return Err(Malformed("no :path, or an empty one"));
        }
    }
    Ok(RequestHead {
        method,
        scheme,
        path,
        authority: authority.or(host),
        protocol,
        fields,
        content_length,
    })
}

/// Check a trailer section (§8.1): no pseudo-fields, and the name and value rules.
pub fn check_trailers(list: &[Field]) -> Result<(), Malformed> {
    for field in list {
        check_name(&field.name)?;
        check_value(&field.value)?;
        if field.name.starts_with(b":") {
            return Err(Malformed("a pseudo-field in trailers"));
        }
    }
    Ok(())
}

/// §8.2.1: no octet 0x00–0x20, uppercase 0x41–0x5a or 0x7f–0xff; a colon only first.
fn check_name(name: &[u8]) -> Result<(), Malformed> {
    if name.is_empty() {
        return Err(Malformed("an empty field name"));
    }
    let rest = name.strip_prefix(b":").unwrap_or(name);
    if rest.is_empty() || !rest.iter().all(|&b| NAME_OCTET[usize::from(b)]) {
        return Err(Malformed("a field name with uppercase or forbidden octets"));
    }
    Ok(())
}

/// §8.2.1: no NUL, LF or CR; no space or tab first or last.
fn check_value(value: &[u8]) -> Result<(), Malformed> {
    if value.iter().any(|&b| VALUE_FORBIDDEN[usize::from(b)]) {
        return Err(Malformed("a field value with NUL, CR or LF"));
    }
    let edge = |b: Option<&u8>| matches!(b, Some(b' ' | b'\t'));
    if edge(value.first()) || edge(value.last()) {
        return Err(Malformed("a field value with surrounding whitespace"));
    }
    Ok(())
}

/// The octets a field name may hold after its first (§8.2.1): 0x21–0x7e but uppercase and
/// the colon. One look per octet.
const NAME_OCTET: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0x21;
    while b < 0x7f {
        table[b] = !(b as u8).is_ascii_uppercase() && b != b':' as usize;
        b += 1;
    }
    table
};

/// The octets no field value may hold (§8.2.1).
const VALUE_FORBIDDEN: [bool; 256] = {
    let mut table = [false; 256];
    table[0] = true;
    table[b'\n' as usize] = true;
    table[b'\r' as usize] = true;
    table
};

fn parse_length(value: &[u8]) -> Result<u64, Malformed> {
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return Err(Malformed("a content-length that is not a number"));
    }
    Ok(value.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

/// Whether an optional value is absent or empty.
fn missing(value: &Option<Bytes>) -> bool {
    value.as_ref().is_none_or(Bytes::is_empty)
}
