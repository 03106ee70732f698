//! The TLS baseline: the smallest hyper 1.x hello (`Full<Bytes>`, no router) behind
//! tokio-rustls, on one current-thread runtime.
//!
//!   load_hyper_tls --bind 127.0.0.1:8443 --cert cert.pem --key key.pem

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rasgi::server::rustls;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut bind, mut cert, mut key) = (String::from("127.0.0.1:8443"), None, None);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--bind" => bind = args.next().expect("--bind ADDR"),
            "--cert" => cert = args.next(),
            "--key" => key = args.next(),
            other => panic!("unknown flag {other}"),
        }
    }
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert.expect("--cert"))
        .expect("cert file")
        .collect::<Result<_, _>>()
        .expect("certs");
    let key = PrivateKeyDer::from_pem_file(key.expect("--key")).expect("key");
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("tls config");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&bind).await.expect("bind");
        println!("load_hyper_tls listening on https://{bind}");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(stream).await else {
                    return;
                };
                let service =
                    hyper::service::service_fn(|_: Request<hyper::body::Incoming>| async {
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                            b"Hello, World!",
                        ))))
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}
