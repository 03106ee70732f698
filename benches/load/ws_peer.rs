//! The WebSocket echo servers rasgi is measured against (benches/load/ws.sh): the same echo
//! (every text or binary message back as it came) on `fastwebsockets` over hyper, or on
//! `tokio-tungstenite`, each on a one-thread tokio runtime, as the shipped rasgi runs with
//! `--workers 1`.
//!
//!   load_ws_peer --impl fastwebsockets|tungstenite --bind 127.0.0.1:8002

use std::net::SocketAddr;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

async fn fastwebsockets_echo(
    mut request: Request<Incoming>,
) -> Result<Response<Empty<Bytes>>, fastwebsockets::WebSocketError> {
    let (response, upgrade) = fastwebsockets::upgrade::upgrade(&mut request)?;
    tokio::spawn(async move {
        let Ok(ws) = upgrade.await else { return };
        let mut ws = fastwebsockets::FragmentCollector::new(ws);
        while let Ok(frame) = ws.read_frame().await {
            match frame.opcode {
                fastwebsockets::OpCode::Close => break,
                fastwebsockets::OpCode::Text | fastwebsockets::OpCode::Binary => {
                    let written = ws.write_frame(frame).await;
                    if written.is_err() {
                        break;
                    }
                }
                _ => {}
            }
        }
    });
    Ok(response)
}

async fn fastwebsockets_conn(stream: TcpStream) {
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service_fn(fastwebsockets_echo))
        .with_upgrades()
        .await;
}

async fn tungstenite_conn(stream: TcpStream) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    while let Some(Ok(message)) = ws.next().await {
        if message.is_text() || message.is_binary() {
            if ws.send(message).await.is_err() {
                break;
            }
        } else if message.is_close() {
            break;
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let which = value("--impl").unwrap_or_else(|| "fastwebsockets".into());
    let bind: SocketAddr = value("--bind")
        .unwrap_or_else(|| "127.0.0.1:8002".into())
        .parse()
        .expect("--bind HOST:PORT");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let listener = TcpListener::bind(bind).await.expect("bind");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            match which.as_str() {
                "tungstenite" => tokio::spawn(tungstenite_conn(stream)),
                _ => tokio::spawn(fastwebsockets_conn(stream)),
            };
        }
    });
}
