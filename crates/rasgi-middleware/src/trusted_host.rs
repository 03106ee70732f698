//! TrustedHost: only requests whose `Host` is allowed reach the app; others get
//! 400 "Invalid host header" (Starlette's TrustedHostMiddleware). Patterns are exact host names,
//! `*.example.com` (any subdomain), or `*` (anything). With `www_redirect`, a request for
//! `example.com` is redirected to `www.example.com` when only the latter is allowed.
//!
//! A request without `Host` (HTTP/1.0 allows one; the server serves it) has the empty host,
//! which only `*` allows: it is refused with 400 otherwise, as Starlette refuses it.

use rasgi_protocol::{Headers, Scope};

use crate::{ConfigError, Decision, Response, Step};

/// Refuses requests for hosts not in the list.
#[derive(Debug, Clone)]
pub struct TrustedHost {
    /// The patterns as given (lowercased), for the printout.
    patterns: Vec<String>,
    /// `*` was given: every host is allowed.
    any: bool,
    /// Exact host names.
    exact: Vec<Box<[u8]>>,
    /// `*.domain` patterns as `.domain`: a host that ends with one (and is longer) is allowed.
    suffixes: Vec<Box<[u8]>>,
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
        let (mut exact, mut suffixes) = (Vec::new(), Vec::new());
        for pattern in &checked {
            match pattern.strip_prefix('*') {
                Some("") => {}
                Some(suffix) => suffixes.push(suffix.as_bytes().into()),
                None => exact.push(pattern.as_bytes().into()),
            }
        }
        Ok(TrustedHost {
            any: checked.iter().any(|p| p == "*"),
            patterns: checked,
            exact,
            suffixes,
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
        self.allows_bytes(host.as_bytes())
    }

    fn allows_bytes(&self, host: &[u8]) -> bool {
        self.any
            || self
                .exact
                .iter()
                // Hosts nearly always come in the lowercase of the patterns: exact first.
                .any(|name| **name == *host || name.eq_ignore_ascii_case(host))
            || self.suffixes.iter().any(|suffix| {
                host.len() > suffix.len()
                    && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
            })
    }
}

/// `host[:port]` → `host`; IPv6 literals keep their brackets.
pub fn host_without_port(host: &str) -> &str {
    let bare = bare_host(host.as_bytes());
    // `bare_host` cuts at ASCII bytes only, so the cut is on a character boundary.
    let at = bare.as_ptr() as usize - host.as_ptr() as usize;
    &host[at..at + bare.len()]
}

/// [`host_without_port`] on the field's bytes.
fn bare_host(host: &[u8]) -> &[u8] {
    let host = host.trim_ascii();
    let end = if host.first() == Some(&b'[') {
        host.iter()
            .position(|&b| b == b']')
            .map_or(host.len(), |end| end + 1)
    } else {
        host.iter().position(|&b| b == b':').unwrap_or(host.len())
    };
    &host[..end]
}

impl Step for TrustedHost {
    type Hook<'a> = ();

    fn describe(&self) -> String {
        format!("TrustedHost({})", self.patterns.join(", "))
    }

    fn on_request(&self, scope: &mut Scope) -> Decision<()> {
        let headers = match &*scope {
            Scope::Http(http) => &http.headers,
            Scope::WebSocket(ws) => &ws.headers,
            Scope::Lifespan(_) => return Decision::Continue(()),
        };
        let host = headers.get("host").map_or(&b""[..], |host| bare_host(host));
        if self.allows_bytes(host) {
            return Decision::Continue(());
        }
        self.refuse(scope)
    }
}

impl TrustedHost {
    /// The answer to a request for a host not allowed: a redirect to its `www.` form, or 400.
    /// Out of line, so that the allowed request's path stays short.
    #[cold]
    #[inline(never)]
    fn refuse(&self, scope: &Scope) -> Decision<()> {
        let refusal = || {
            let headers = Headers::new().with("content-type", "text/plain; charset=utf-8");
            Decision::Respond(Response::new(400, headers, "Invalid host header"))
        };
        let http = match scope {
            Scope::Http(http) => http,
            // There is nothing to redirect a WebSocket to: the same 400 (a denial response).
            _ => return refusal(),
        };
        let host = http
            .header("host")
            .map(host_without_port)
            .unwrap_or_default();
        let www = format!("www.{}", host.to_ascii_lowercase());
        if self.www_redirect && !host.is_empty() && self.allows(&www) {
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
            Decision::Respond(Response::new(
                301,
                Headers::new().with("location", location),
                "",
            ))
        } else {
            refusal()
        }
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
