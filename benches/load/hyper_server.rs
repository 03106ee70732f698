//! The baseline: hyper 1.x serving the same routes as `load_rasgi`, on the same runtime flavour
//! (one current-thread runtime per worker), with `pipeline_flush(true)`.
//!
//!   load_hyper --bind 127.0.0.1:8081 [--workers N] [--minimal] [--h2]
//!
//! `--minimal` is hyper at its fastest, the baseline for hello and pipelined: every request is
//! answered "Hello, World!" as a `Full<Bytes>` body, with no router and no boxed body.
//! `--h2` serves HTTP/2 with prior knowledge (`hyper::server::conn::http2::Builder`, its
//! default settings) instead of HTTP/1.1.

use std::convert::Infallible;
use std::io::Write;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

type Body = http_body_util::combinators::BoxBody<Bytes, hyper::Error>;

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never: Infallible| match never {})
        .boxed()
}

async fn handle(request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let text = |body: Body| {
        Response::builder()
            .header("content-type", "text/plain")
            .body(body)
            .expect("response")
    };
    let response = match request.uri().path() {
        "/" | "/hello" => text(full(Bytes::from_static(b"Hello, World!"))),
        "/stream" => {
            let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
            let chunks = futures::stream::iter(
                (0..16).map(move |_| Ok::<_, hyper::Error>(Frame::data(chunk.clone()))),
            );
            Response::builder()
                .header("content-type", "application/octet-stream")
                .body(StreamBody::new(chunks).boxed())
                .expect("response")
        }
        "/sse" => sse(request.uri().query().unwrap_or("")),
        "/echo" => Response::builder()
            .header("content-type", "application/octet-stream")
            .body(request.into_body().boxed())
            .expect("response"),
        "/big" => {
            let body: Vec<u8> = b"rasgi streams, compresses and never buffers. "
                .iter()
                .copied()
                .cycle()
                .take(100 * 1024)
                .collect();
            let gzip = request
                .headers()
                .get("accept-encoding")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("gzip"));
            if gzip {
                let mut encoder =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
                encoder.write_all(&body).expect("vec write");
                let compressed = encoder.finish().expect("vec write");
                Response::builder()
                    .header("content-type", "text/plain")
                    .header("content-encoding", "gzip")
                    .header("vary", "Accept-Encoding")
                    .body(full(compressed))
                    .expect("response")
            } else {
                text(full(body))
            }
        }
        _ => Response::builder()
            .status(404)
            .body(full("Not Found"))
            .expect("response"),
    };
    Ok(response)
}

/// `GET /sse?events=N&interval_ms=MS`: the demo's server-sent events, as a hyper user streams
/// them: a task produces the events into a channel, and the body is fed by the channel.
fn sse(query: &str) -> Response<Body> {
    let param = |name: &str, default: u64| {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == name)
            .and_then(|(_, value)| value.parse().ok())
            .unwrap_or(default)
    };
    let (events, interval) = (param("events", 5), param("interval_ms", 500));
    let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(1);
    tokio::task::spawn(async move {
        for i in 0..events {
            if i > 0 && interval > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(interval)).await;
            }
            let event = Bytes::from(format!("id: {i}\ndata: event {i}\n\n"));
            if sender.send(event).await.is_err() {
                return;
            }
        }
    });
    let frames = futures::stream::unfold(receiver, |mut receiver| async move {
        let event = receiver.recv().await?;
        Some((Ok::<_, hyper::Error>(Frame::data(event)), receiver))
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(StreamBody::new(frames).boxed())
        .expect("response")
}

/// `--minimal`: the same hello for every request, nothing else.
async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::builder()
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from_static(b"Hello, World!")))
        .expect("response"))
}

async fn serve(listener: tokio::net::TcpListener, minimal: bool, h2: bool) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        if h2 {
            tokio::task::spawn(async move {
                let builder =
                    hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new());
                let io = TokioIo::new(stream);
                let _ = if minimal {
                    builder
                        .serve_connection(io, hyper::service::service_fn(hello))
                        .await
                } else {
                    builder
                        .serve_connection(io, hyper::service::service_fn(handle))
                        .await
                };
            });
            continue;
        }
        tokio::task::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.pipeline_flush(true);
            let io = TokioIo::new(stream);
            let _ = if minimal {
                builder
                    .serve_connection(io, hyper::service::service_fn(hello))
                    .await
            } else {
                builder
                    .serve_connection(io, hyper::service::service_fn(handle))
                    .await
            };
        });
    }
}

fn main() {
    let mut bind = "127.0.0.1:8081".to_string();
    let mut workers = 1usize;
    let mut minimal = false;
    let mut h2 = false;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--bind" => bind = it.next().expect("--bind HOST:PORT"),
            "--workers" => workers = it.next().and_then(|n| n.parse().ok()).expect("--workers N"),
            "--minimal" => minimal = true,
            "--h2" => h2 = true,
            other => panic!("unknown argument {other}"),
        }
    }
    println!("load_hyper on {bind} (workers: {workers}, minimal: {minimal}, h2: {h2})");
    let addr: std::net::SocketAddr = bind.parse().expect("IP:port");
    let threads: Vec<_> = (0..workers)
        .map(|_| {
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(async move {
                    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
                    socket.set_reuseport(true).expect("reuseport");
                    socket.set_reuseaddr(true).expect("reuseaddr");
                    socket.bind(addr).expect("bind");
                    serve(socket.listen(1024).expect("listen"), minimal, h2).await;
                });
            })
        })
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
}
