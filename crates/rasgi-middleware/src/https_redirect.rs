//! HttpsRedirect: plain-http requests are redirected to the same URL over https (307 by
//! default, which keeps the method and body; 308 when configured), keeping the path, the query
//! and any port other than 80 and 443.

use rasgi_protocol::{Headers, Scheme, Scope};

use crate::{ConfigError, Decision, Response, Step};

/// Redirects http to https.
#[derive(Debug, Clone)]
pub struct HttpsRedirect {
    status: u16,
}

impl Default for HttpsRedirect {
    fn default() -> Self {
        HttpsRedirect { status: 307 }
    }
}

impl HttpsRedirect {
    /// Redirect with 307 Temporary Redirect.
    pub fn new() -> HttpsRedirect {
        HttpsRedirect::default()
    }

    /// Redirect with `status`: 307 or 308 (both keep the method and body).
    pub fn with_status(status: u16) -> Result<HttpsRedirect, ConfigError> {
        match status {
            307 | 308 => Ok(HttpsRedirect { status }),
            other => Err(ConfigError::Invalid(format!(
                "redirect status {other} is not 307 or 308"
            ))),
        }
    }
}

/// The https URL for a request to `host` (as sent, maybe with a port), `raw_path` and `query`.
pub fn https_location(host: &str, raw_path: &[u8], query: &[u8]) -> String {
    // A port is the digits after the last colon, unless that colon is inside an IPv6 literal.
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port))
            if !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && (!host.starts_with('[') || name.ends_with(']')) =>
        {
            (name, (port != "80" && port != "443").then_some(port))
        }
        _ => (host, None),
    };
    let mut location = format!("https://{name}");
    if let Some(port) = port {
        location.push(':');
        location.push_str(port);
    }
    location.push_str(&String::from_utf8_lossy(raw_path));
    if !query.is_empty() {
        location.push('?');
        location.push_str(&String::from_utf8_lossy(query));
    }
    location
}

impl Step for HttpsRedirect {
    type Hook<'a> = ();

    fn describe(&self) -> String {
        format!("HttpsRedirect({})", self.status)
    }

    fn on_request(&self, scope: &mut Scope) -> Decision<()> {
        // A WebSocket over plain `ws` is refused with the same redirect, to `wss` (a denial
        // response; browsers do not follow it, but say why).
        let (scheme, headers, server, raw_path, query, websocket) = match &*scope {
            Scope::Http(h) => (
                h.scheme,
                &h.headers,
                h.server,
                &h.raw_path,
                &h.query_string,
                false,
            ),
            Scope::WebSocket(w) => (
                w.scheme,
                &w.headers,
                w.server,
                &w.raw_path,
                &w.query_string,
                true,
            ),
            Scope::Lifespan(_) => return Decision::Continue(()),
        };
        if scheme == Scheme::Https {
            return Decision::Continue(());
        }
        let host = headers
            .get_str("host")
            .map(str::to_string)
            .or_else(|| server.map(|addr| addr.to_string()))
            .unwrap_or_else(|| "localhost".to_string());
        let mut location = https_location(&host, raw_path, query);
        if websocket {
            location.replace_range(..5, "wss");
        }
        let headers = Headers::new().with("location", location);
        Decision::Respond(Response::new(self.status, headers, ""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_keep_path_query_and_non_default_ports() {
        assert_eq!(
            https_location("example.com", b"/a/b", b"x=1"),
            "https://example.com/a/b?x=1"
        );
        assert_eq!(
            https_location("example.com:80", b"/", b""),
            "https://example.com/"
        );
        assert_eq!(
            https_location("example.com:8080", b"/p", b""),
            "https://example.com:8080/p"
        );
        assert_eq!(
            https_location("[::1]:8443", b"/", b""),
            "https://[::1]:8443/"
        );
        assert_eq!(https_location("[::1]", b"/", b""), "https://[::1]/");
    }
}
