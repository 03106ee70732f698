//! TrustedHost: only requests whose `Host` is allowed reach the app; others get
//! 400 "Invalid host header" (Starlette's TrustedHostMiddleware). Patterns are exact host names,
//! `*.example.com` (any subdomain), or `*` (anything). With `www_redirect`, a request for
//! `example.com` is redirected to `www.example.com` when only the latter is allowed.
//!
//! A request without `Host` (HTTP/1.0 allows one; the server serves it) has the empty host,
//! which only `*` allows: it is refused with 400 otherwise, as Starlette refuses it.

use futures::future::Either;
use std::future::Future;

use rasgi_protocol::{App, AppError, Headers, Receive, Scope, Sender};

use crate::hook::respond;
use crate::{ConfigError, Middleware};

/// Refuses requests for hosts not in the list.
#[derive(Debug, Clone)]
pub struct TrustedHost {
    patterns: Vec<String>,
    www_redirect: bool,
}

impl TrustedHost {
    /// Allow these host patterns (lowercase host names, `*.domain`, or `*`).
    pub fn new<'a>(
        patterns: impl IntoIterator<Item = &'a str>,
    ) -> Result<TrustedHost, ConfigError> {
        let mut checked = Vec::new();
        for pattern in patterns {
            let pattern = pattern.trim().to_ascii_lowercase();
            let name = pattern.strip_prefix("*.").unwrap_or(&pattern);
            let valid = pattern == "*"
                || (!name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-.[]:".contains(&b)));
            if !valid {
                return Err(ConfigError::InvalidHostPattern(pattern));
            }
            checked.push(pattern);
        }
        if checked.is_empty() {
            return Err(ConfigError::Invalid(
                "TrustedHost needs at least one pattern".into(),
            ));
        }
        Ok(TrustedHost {
            patterns: checked,
            www_redirect: false,
        })
    }

    /// Redirect `host` to `www.host` when only the `www.` form is allowed.
    pub fn www_redirect(mut self, on: bool) -> TrustedHost {
        self.www_redirect = on;
        self
    }

    /// Whether `host` (without port; any case) is allowed.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.as_bytes();
        self.patterns.iter().any(|pattern| {
            pattern == "*"
                || pattern.as_bytes().eq_ignore_ascii_case(host)
                || pattern.strip_prefix('*').is_some_and(|suffix| {
                    host.len() > suffix.len()
                        && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
                })
        })
    }
}

/// `host[:port]` → `host`; IPv6 literals keep their brackets.
pub fn host_without_port(host: &str) -> &str {
    let host = host.trim();
    if host.starts_with('[') {
        host.find(']').map_or(host, |end| &host[..=end])
    } else {
        host.split(':').next().unwrap_or(host)
    }
}

impl Middleware for TrustedHost {
    fn describe(&self) -> String {
        format!("TrustedHost({})", self.patterns.join(", "))
    }

    fn call<A: App, R: Receive, S: Sender>(
        &self,
        inner: &A,
        scope: Scope,
        receive: R,
        send: S,
    ) -> impl Future<Output = Result<(), AppError>> + Send {
        let http = match &scope {
            Scope::Http(http) => http,
            // A WebSocket handshake with a bad Host is refused with the same 400 (a denial
            // response); there is nothing to redirect a WebSocket to.
            Scope::WebSocket(ws) => {
                let host = ws.header("host").map(host_without_port).unwrap_or_default();
                if self.allows(host) {
                    return Either::Left(inner.call(scope, receive, send));
                }
                let headers = Headers::new().with("content-type", "text/plain; charset=utf-8");
                return Either::Right(respond(send, 400, headers, "Invalid host header"));
            }
            Scope::Lifespan(_) => return Either::Left(inner.call(scope, receive, send)),
        };
        let host = http
            .header("host")
            .map(host_without_port)
            .unwrap_or_default();
        if self.allows(host) {
            return Either::Left(inner.call(scope, receive, send));
        }
        let www = format!("www.{}", host.to_ascii_lowercase());
        let (status, headers, body) = if self.www_redirect && !host.is_empty() && self.allows(&www)
        {
            let query = if http.query_string.is_empty() {
                String::new()
            } else {
                format!("?{}", String::from_utf8_lossy(&http.query_string))
            };
            let port = http
                .header("host")
                .and_then(|h| h.rsplit_once(':'))
                .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
                .map(|(_, port)| format!(":{port}"))
                .unwrap_or_default();
            let location = format!(
                "{}://{www}{port}{}{query}",
                http.scheme.as_str(),
                String::from_utf8_lossy(&http.raw_path)
            );
            (301, Headers::new().with("location", location), "")
        } else {
            let headers = Headers::new().with("content-type", "text/plain; charset=utf-8");
            (400, headers, "Invalid host header")
        };
        Either::Right(respond(send, status, headers, body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_subdomains_only() {
        let trusted = TrustedHost::new(["example.com", "*.example.org"]).unwrap();
        assert!(trusted.allows("example.com"));
        assert!(!trusted.allows("www.example.com"));
        assert!(trusted.allows("api.example.org"));
        assert!(!trusted.allows("example.org"));
        assert!(!trusted.allows("evilexample.org"));
    }

    #[test]
    fn ports_are_ignored_and_ipv6_kept() {
        assert_eq!(host_without_port("Example.com:8000"), "Example.com");
        assert_eq!(host_without_port("[::1]:8000"), "[::1]");
        assert_eq!(host_without_port("127.0.0.1"), "127.0.0.1");
    }

    #[test]
    fn bad_patterns_are_refused_at_construction() {
        assert!(TrustedHost::new(["exa mple.com"]).is_err());
        assert!(TrustedHost::new(Vec::<&str>::new()).is_err());
    }
}
