//! TLS connections: the handshake (within [`crate::ServerConfig::tls_handshake_timeout`]), then
//! the same driver as plain TCP over the decrypted stream, with `https` in the scope and the
//! session described in each scope's extensions ([`TlsInfo`], asgiref's `tls` extension).
//!
//! The rule: a client that speaks plain HTTP to the TLS port gets a plain 400 saying so and a
//! close, and one that stalls its handshake is dropped at the timeout; neither holds the
//! connection or reaches the app.

mod name;

use std::sync::Arc;

use bytes::Bytes;
use rasgi_protocol::{App, TlsInfo};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::rustls::server::{Acceptor, ServerConnection};
use tokio_rustls::LazyConfigAcceptor;

use crate::connection;
use crate::context::{ConnContext, Ending, Peers};

/// The first byte of a TLS record that carries a handshake (RFC 8446 §5.1).
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// The answer to plain HTTP on the TLS port (as nginx answers it).
const PLAIN_HTTP: &[u8] = b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\n\
content-length: 41\r\nconnection: close\r\n\r\nThis port speaks HTTPS: use https:// URLs";

/// Serve one TCP connection over TLS.
pub(crate) async fn serve<A: App>(stream: &mut TcpStream, peers: Peers, ctx: &Arc<ConnContext<A>>) {
    let Some(tls) = ctx.config.tls.clone() else {
        return;
    };
    let deadline = tokio::time::Instant::now() + ctx.config.tls_handshake_timeout;
    let mut first = [0u8; 1];
    match tokio::time::timeout_at(deadline, stream.peek(&mut first)).await {
        Ok(Ok(1)) if first[0] == TLS_HANDSHAKE_RECORD => {}
        Ok(Ok(1)) => {
            tracing::debug!("plain HTTP on the TLS port; answered 400");
            if stream.write_all(PLAIN_HTTP).await.is_ok() {
                let _ = stream.shutdown().await;
            }
            return;
        }
        _ => {
            tracing::debug!("no TLS handshake within the timeout; closed");
            return;
        }
    }
    // The ClientHello is read first, so that the certificate the configuration chooses for it
    // is known: the scope names it.
    let handshake = async {
        let start = LazyConfigAcceptor::new(Acceptor::default(), &mut *stream).await?;
        let server_cert = tls
            .cert_resolver
            .resolve(start.client_hello())
            .and_then(|chosen| chosen.cert.first().map(|cert| Bytes::copy_from_slice(cert)));
        let stream = start.into_stream(tls).await?;
        Ok::<_, std::io::Error>((stream, server_cert))
    };
    let (mut stream, server_cert) = match tokio::time::timeout_at(deadline, handshake).await {
        Ok(Ok(accepted)) => accepted,
        Ok(Err(error)) => {
            tracing::debug!(%error, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!("TLS handshake did not finish within the timeout; closed");
            return;
        }
    };
    let peers = Peers {
        tls: true,
        tls_info: Some(Arc::new(session(stream.get_ref().1, server_cert))),
        ..peers
    };
    let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
    let (reader, writer) = tokio::io::split(&mut stream);
    let ending = if h2 {
        connection::serve_http2(reader, writer, &peers, ctx).await
    } else {
        connection::serve(reader, writer, &peers, ctx).await
    };
    if ending == Ending::Abort {
        tracing::debug!("resetting a connection whose client stopped reading");
        let _ = stream.get_ref().0.set_zero_linger();
    }
}

/// What the `tls` extension says of a finished handshake.
fn session(conn: &ServerConnection, server_cert: Option<Bytes>) -> TlsInfo {
    let client_cert_chain: Vec<Bytes> = conn
        .peer_certificates()
        .unwrap_or_default()
        .iter()
        .map(|cert| Bytes::copy_from_slice(cert))
        .collect();
    let (client_cert_name, client_cert_error) = match client_cert_chain.first() {
        Some(cert) => match name::subject(cert) {
            Ok(name) => (Some(name), None),
            Err(error) => (None, Some(error.to_string())),
        },
        None => (None, None),
    };
    TlsInfo {
        server_cert,
        client_cert_chain,
        client_cert_name,
        client_cert_error,
        tls_version: conn.protocol_version().map_or(0, u16::from),
        cipher_suite: conn
            .negotiated_cipher_suite()
            .map_or(0, |suite| u16::from(suite.suite())),
    }
}
