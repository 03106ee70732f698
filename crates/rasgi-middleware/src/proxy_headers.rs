//! ProxyHeaders: behind a reverse proxy, take the client's address and scheme from
//! `X-Forwarded-For` / `X-Forwarded-Proto`, or from RFC 7239 `Forwarded` — but only when the
//! connection comes from a trusted proxy. Anyone can send these headers; believing them from an
//! untrusted peer would let a client forge its address.
//!
//! The client is the rightmost address in the chain that is not itself a trusted proxy (as
//! uvicorn does), so a client cannot hide behind a forged leftmost entry.

use std::net::{IpAddr, SocketAddr};

use rasgi_protocol::{Headers, HttpScope, Scheme, Scope};

use crate::{ConfigError, Decision, Step};

/// Trusts forwarding headers from the listed peers.
#[derive(Debug, Clone)]
pub struct ProxyHeaders {
    trust_all: bool,
    trusted: Vec<IpAddr>,
}

impl ProxyHeaders {
    /// Trust these proxies: IP addresses, or `*` for any peer.
    pub fn new<'a>(
        trusted: impl IntoIterator<Item = &'a str>,
    ) -> Result<ProxyHeaders, ConfigError> {
        let mut proxy = ProxyHeaders {
            trust_all: false,
            trusted: Vec::new(),
        };
        for entry in trusted {
            match entry.trim() {
                "*" => proxy.trust_all = true,
                address => proxy.trusted.push(address.parse().map_err(|_| {
                    ConfigError::Invalid(format!("not an IP address: {address:?}"))
                })?),
            }
        }
        Ok(proxy)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.trust_all || self.trusted.contains(&ip)
    }

    /// Apply the forwarding headers to `scope` if its peer is trusted.
    pub fn apply(&self, scope: &mut HttpScope) {
        self.apply_to(&scope.headers, &mut scope.client, &mut scope.scheme);
    }

    /// Apply the forwarding `headers` to a scope's `client` and `scheme` (HTTP or WebSocket).
    fn apply_to(&self, headers: &Headers, client: &mut Option<SocketAddr>, scheme: &mut Scheme) {
        // Most requests carry no forwarding field: looked for first, before the peer.
        let forwarding = |name: &[u8]| {
            name.eq_ignore_ascii_case(b"forwarded")
                || name.eq_ignore_ascii_case(b"x-forwarded-for")
                || name.eq_ignore_ascii_case(b"x-forwarded-proto")
        };
        if !headers.iter().any(|(name, _)| forwarding(name)) {
            return;
        }
        let Some(peer) = *client else { return };
        if !self.trusts(peer.ip()) {
            return;
        }
        // Every field, in order: a proxy that appends its own field (rather than extending
        // the client's) must not leave the client's forged first field as the only one read.
        let forwarded = field_values(headers, "forwarded");
        let (for_chain, proto) = if forwarded.is_empty() {
            let chain = field_values(headers, "x-forwarded-for")
                .iter()
                .flat_map(|v| v.split(','))
                .map(|s| s.trim().to_string())
                .collect();
            let proto = field_values(headers, "x-forwarded-proto")
                .iter()
                .flat_map(|v| v.split(','))
                .next_back()
                .map(|v| v.trim().to_ascii_lowercase());
            (chain, proto)
        } else {
            parse_forwarded(&forwarded)
        };
        match proto.as_deref() {
            Some("https") | Some("wss") => *scheme = Scheme::Https,
            Some("http") | Some("ws") => *scheme = Scheme::Http,
            _ => {}
        }
        let addresses: Vec<SocketAddr> = for_chain.iter().filter_map(|h| parse_node(h)).collect();
        let forwarded_client = addresses
            .iter()
            .rev()
            .find(|addr| !self.trusts(addr.ip()))
            .or(addresses.first());
        if let Some(forwarded) = forwarded_client {
            *client = Some(*forwarded);
        }
    }
}

/// Every value of the header `name`, in order (values that are not text are skipped).
fn field_values<'s>(headers: &'s Headers, name: &'s str) -> Vec<&'s str> {
    headers
        .get_all(name)
        .filter_map(|v| std::str::from_utf8(v).ok())
        .collect()
}

/// The `for=` chain and the `proto=` of the last element of RFC 7239 `Forwarded` fields, read
/// in order as one list.
fn parse_forwarded(values: &[&str]) -> (Vec<String>, Option<String>) {
    let mut chain = Vec::new();
    let mut proto = None;
    for element in values.iter().flat_map(|value| value.split(',')) {
        for pair in element.split(';') {
            let Some((key, val)) = pair.split_once('=') else {
                continue;
            };
            let val = val.trim().trim_matches('"').to_string();
            match key.trim().to_ascii_lowercase().as_str() {
                "for" => chain.push(val),
                "proto" => proto = Some(val.to_ascii_lowercase()),
                _ => {}
            }
        }
    }
    (chain, proto)
}

/// An address from a forwarding header: `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:80`,
/// `2001:db8::1`. Obfuscated identifiers (`_hidden`, `unknown`) give `None`.
fn parse_node(node: &str) -> Option<SocketAddr> {
    if let Ok(addr) = node.parse::<SocketAddr>() {
        return Some(addr);
    }
    let bare = node.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 0))
}

impl Step for ProxyHeaders {
    type Hook<'a> = ();

    fn describe(&self) -> String {
        if self.trust_all {
            "ProxyHeaders(trusting *)".into()
        } else {
            let list: Vec<String> = self.trusted.iter().map(IpAddr::to_string).collect();
            format!("ProxyHeaders(trusting {})", list.join(", "))
        }
    }

    fn on_request(&self, scope: &mut Scope) -> Decision<()> {
        match scope {
            Scope::Http(http) => self.apply(http),
            Scope::WebSocket(ws) => self.apply_to(&ws.headers, &mut ws.client, &mut ws.scheme),
            Scope::Lifespan(_) => {}
        }
        Decision::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope_from(peer: &str, headers: &[(&'static str, &'static str)]) -> HttpScope {
        let mut scope = HttpScope::new("GET", "/");
        scope.client = Some(peer.parse().unwrap());
        for (n, v) in headers {
            scope.headers.append(*n, *v);
        }
        scope
    }

    #[test]
    fn trusted_peer_forwarding_headers_are_applied() {
        let proxy = ProxyHeaders::new(["10.0.0.1"]).unwrap();
        let mut scope = scope_from(
            "10.0.0.1:5000",
            &[
                ("x-forwarded-for", "203.0.113.7, 10.0.0.1"),
                ("x-forwarded-proto", "https"),
            ],
        );
        proxy.apply(&mut scope);
        assert_eq!(scope.client, Some("203.0.113.7:0".parse().unwrap()));
        assert_eq!(scope.scheme, Scheme::Https);
    }

    #[test]
    fn untrusted_peers_are_ignored() {
        let proxy = ProxyHeaders::new(["10.0.0.1"]).unwrap();
        let mut scope = scope_from(
            "198.51.100.9:5000",
            &[
                ("x-forwarded-for", "1.2.3.4"),
                ("x-forwarded-proto", "https"),
            ],
        );
        proxy.apply(&mut scope);
        assert_eq!(scope.client, Some("198.51.100.9:5000".parse().unwrap()));
        assert_eq!(scope.scheme, Scheme::Http);
    }

    #[test]
    fn a_forged_leftmost_entry_does_not_win() {
        let proxy = ProxyHeaders::new(["10.0.0.1"]).unwrap();
        let mut scope = scope_from(
            "10.0.0.1:5000",
            &[("x-forwarded-for", "6.6.6.6, 203.0.113.7")],
        );
        proxy.apply(&mut scope);
        assert_eq!(scope.client, Some("203.0.113.7:0".parse().unwrap()));
    }

    #[test]
    fn rfc_7239_forwarded_is_understood() {
        let proxy = ProxyHeaders::new(["*"]).unwrap();
        let mut scope = scope_from(
            "10.0.0.1:5000",
            &[("forwarded", "for=\"[2001:db8::1]:4711\";proto=https")],
        );
        proxy.apply(&mut scope);
        assert_eq!(scope.client, Some("[2001:db8::1]:4711".parse().unwrap()));
        assert_eq!(scope.scheme, Scheme::Https);
    }

    #[test]
    fn bad_trusted_entries_are_refused() {
        assert!(ProxyHeaders::new(["not-an-ip"]).is_err());
    }
}
