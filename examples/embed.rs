//! Embedding: `serve_connection` serves any byte stream — here an in-memory duplex pipe and a
//! Unix socket pair — with no listener at all.
//!
//! cargo run --example embed

use rasgi::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Hello;

impl App for Hello {
    async fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        _: R,
        mut send: S,
    ) -> Result<(), AppError> {
        if let Scope::Http(scope) = scope {
            send_response(
                &mut send,
                200,
                Headers::new(),
                format!("hello from {}", scope.path),
            )
            .await?;
        }
        Ok(())
    }
}

async fn exchange<IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut client: IO,
    path: &str,
) -> std::io::Result<String> {
    client
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: embedded\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    let mut response = String::new();
    client.read_to_string(&mut response).await?;
    Ok(response)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let (client, server_side) = tokio::io::duplex(16 * 1024);
    let served = tokio::spawn(serve_connection(server_side, Hello));
    println!("duplex:\n{}\n", exchange(client, "/in-memory").await?);
    served.await?;

    let (client, server_side) = tokio::net::UnixStream::pair()?;
    let served = tokio::spawn(serve_connection(server_side, Hello));
    println!("unix socket pair:\n{}", exchange(client, "/unix").await?);
    served.await?;
    Ok(())
}
