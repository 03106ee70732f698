//! TLS connections: the handshake (within [`crate::ServerConfig::tls_handshake_timeout`]), then
//! the same driver as plain TCP over the decrypted stream, with `https` in the scope.
//!
//! The rule: a client that speaks plain HTTP to the TLS port gets a plain 400 saying so and a
//! close, and one that stalls its handshake is dropped at the timeout; neither holds the
//! connection or reaches the app.

use std::sync::Arc;

use rasgi_protocol::App;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

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
    let accepted =
        tokio::time::timeout_at(deadline, TlsAcceptor::from(tls).accept(&mut *stream)).await;
    let mut stream = match accepted {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => {
            tracing::debug!(%error, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!("TLS handshake did not finish within the timeout; closed");
            return;
        }
    };
    let peers = Peers { tls: true, ..peers };
    let (reader, writer) = tokio::io::split(&mut stream);
    if connection::serve(reader, writer, &peers, ctx).await == Ending::Abort {
        tracing::debug!("resetting a connection whose client stopped reading");
        let _ = stream.get_ref().0.set_zero_linger();
    }
}
