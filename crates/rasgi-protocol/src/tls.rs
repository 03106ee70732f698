//! asgiref's `tls` extension: what the TLS connection a request came over says of itself, one
//! [`TlsInfo`] per connection, shared by each of its scopes through their extensions.
//!
//! A server puts an `Arc<TlsInfo>` in the extensions of every scope of a TLS connection, and
//! nothing on a plain one; [`HttpScope::tls`](crate::HttpScope::tls) and
//! [`WebSocketScope::tls`](crate::WebSocketScope::tls) read it.

use bytes::Bytes;

/// The TLS session of a connection, as the `tls` extension describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsInfo {
    /// The server's certificate (DER), the first of the chain it presented.
    pub server_cert: Option<Bytes>,
    /// The client's certificate chain (DER), its own certificate first; empty when it sent
    /// none.
    pub client_cert_chain: Vec<Bytes>,
    /// The subject of the client's certificate as RFC 4514 text (`CN=alice,O=Example`), when
    /// it sent one whose subject could be read.
    pub client_cert_name: Option<String>,
    /// Why the client's certificate could not be used, when it sent one that could not (the
    /// handshake itself refuses a certificate that does not verify).
    pub client_cert_error: Option<String>,
    /// The protocol version's code point: `0x0303` for TLS 1.2, `0x0304` for TLS 1.3.
    pub tls_version: u16,
    /// The cipher suite's IANA code point (`0x1301` is `TLS_AES_128_GCM_SHA256`).
    pub cipher_suite: u16,
}

impl TlsInfo {
    /// The version as OpenSSL and Python name it: `TLSv1.2`, `TLSv1.3` (`unknown` for
    /// another code point).
    pub fn version_name(&self) -> &'static str {
        match self.tls_version {
            0x0301 => "TLSv1",
            0x0302 => "TLSv1.1",
            0x0303 => "TLSv1.2",
            0x0304 => "TLSv1.3",
            _ => "unknown",
        }
    }

    /// The cipher suite's IANA name, for the suites of TLS 1.3 and the AEAD suites of TLS 1.2
    /// with forward secrecy (those rustls offers); `None` for another.
    pub fn cipher_suite_name(&self) -> Option<&'static str> {
        Some(match self.cipher_suite {
            0x1301 => "TLS_AES_128_GCM_SHA256",
            0x1302 => "TLS_AES_256_GCM_SHA384",
            0x1303 => "TLS_CHACHA20_POLY1305_SHA256",
            0xc02b => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            0xc02c => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            0xc02f => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            0xc030 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            0xcca8 => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
            0xcca9 => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_named_as_openssl_names_it() {
        let named = |tls_version| {
            TlsInfo {
                tls_version,
                ..TlsInfo::default()
            }
            .version_name()
        };
        assert_eq!(named(0x0303), "TLSv1.2");
        assert_eq!(named(0x0304), "TLSv1.3");
        assert_eq!(named(0x7f1c), "unknown");
    }

    #[test]
    fn the_cipher_suite_is_named_as_iana_names_it() {
        let named = |cipher_suite| {
            TlsInfo {
                cipher_suite,
                ..TlsInfo::default()
            }
            .cipher_suite_name()
        };
        assert_eq!(named(0x1301), Some("TLS_AES_128_GCM_SHA256"));
        assert_eq!(named(0xc02f), Some("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"));
        assert_eq!(named(0x0000), None);
    }
}
