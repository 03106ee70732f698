//! TLS over real sockets: a certificate made here with rcgen, curl against the binary, the
//! scope's scheme, plain HTTP on the TLS port, a stalled handshake, bad certificate files.

mod support;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rasgi::middleware::{HttpsRedirect, Stack};
use rasgi::protocol::{send_response, App, AppError, Headers, Receive, Scope, Sender};
use rasgi::server::{rustls, ServerConfig};
use support::binary::{binary, Rasgi, TempDir};
use support::{test_config, TestServer, PATIENCE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A self-signed certificate for `localhost`, and its files in `dir`.
struct Certificate {
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
    der: rustls::pki_types::CertificateDer<'static>,
    key_der: rustls::pki_types::PrivateKeyDer<'static>,
}

fn certificate(dir: &TempDir) -> Certificate {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = dir.0.join("cert.pem");
    let key = dir.0.join("key.pem");
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.key_pair.serialize_pem()).unwrap();
    Certificate {
        cert,
        key,
        der: made.cert.der().clone(),
        key_der: rustls::pki_types::PrivateKeyDer::Pkcs8(made.key_pair.serialize_der().into()),
    }
}

/// The binary serving HTTPS with `cert`.
fn serving_tls(cert: &Certificate) -> Rasgi {
    Rasgi::start(&[
        "--no-access-log",
        "--ssl-certfile",
        cert.cert.to_str().unwrap(),
        "--ssl-keyfile",
        cert.key.to_str().unwrap(),
    ])
}

fn curl_https(rasgi: &Rasgi, ca: &std::path::Path, path: &str) -> String {
    let output = Command::new("curl")
        .args(["-s", "--fail", "--max-time", "10", "--cacert"])
        .arg(ca)
        .arg("--resolve")
        .arg(format!("localhost:{}:127.0.0.1", rasgi.port))
        .arg(format!("https://localhost:{}{path}", rasgi.port))
        .output()
        .expect("curl runs");
    assert!(output.status.success(), "curl failed: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn curl_with_the_ca_talks_https_to_the_binary_and_the_scope_says_https() {
    let dir = TempDir::new("tls");
    let cert = certificate(&dir);
    let rasgi = serving_tls(&cert);
    assert_eq!(curl_https(&rasgi, &cert.cert, "/"), "Hello, World!");
    let whoami: serde_json::Value =
        serde_json::from_str(&curl_https(&rasgi, &cert.cert, "/whoami")).unwrap();
    assert_eq!(whoami["scheme"], "https");
}

#[test]
fn plain_http_on_the_tls_port_is_refused_cleanly() {
    use std::io::{Read, Write};
    let dir = TempDir::new("tls-plain");
    let cert = certificate(&dir);
    let rasgi = serving_tls(&cert);
    let mut stream = rasgi.connect();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{reply}");
    assert!(
        reply.ends_with("This port speaks HTTPS: use https:// URLs"),
        "{reply}"
    );
}

#[test]
fn bad_certificate_files_stop_the_binary_before_it_binds() {
    let dir = TempDir::new("tls-bad");
    let cert = certificate(&dir);
    let garbage = dir.0.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let missing = dir.0.join("missing.pem");
    let cases = [
        (
            missing.clone(),
            cert.key.clone(),
            "cannot read --ssl-certfile",
        ),
        (garbage.clone(), cert.key.clone(), "holds no certificate"),
        (
            cert.cert.clone(),
            missing.clone(),
            "cannot read --ssl-keyfile",
        ),
        (
            cert.cert.clone(),
            garbage.clone(),
            "cannot read --ssl-keyfile",
        ),
    ];
    for (certfile, keyfile, message) in cases {
        let output = Command::new(binary())
            .args(["--bind", "127.0.0.1:0", "--ssl-certfile"])
            .arg(&certfile)
            .arg("--ssl-keyfile")
            .arg(&keyfile)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{stderr}");
        assert!(
            !String::from_utf8_lossy(&output.stdout).contains("listening"),
            "nothing is bound"
        );
    }
}

/// Answers with the scheme it sees.
struct Scheme;

impl App for Scheme {
    async fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        _receive: R,
        mut send: S,
    ) -> Result<(), AppError> {
        let Scope::Http(scope) = scope else {
            return Ok(());
        };
        send_response(&mut send, 200, Headers::new(), scope.scheme.as_str()).await?;
        Ok(())
    }
}

fn tls_config(cert: &Certificate, handshake: Duration) -> ServerConfig {
    let mut tls = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der.clone()], cert.key_der.clone_key())
        .unwrap();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    ServerConfig {
        tls: Some(Arc::new(tls)),
        tls_handshake_timeout: handshake,
        ..test_config()
    }
}

async fn tls_client(
    cert: &Certificate,
    addr: std::net::SocketAddr,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der.clone()).unwrap();
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.unwrap()
}

#[tokio::test]
async fn https_redirect_leaves_tls_requests_alone() {
    let dir = TempDir::new("tls-redirect");
    let cert = certificate(&dir);
    let app = Stack::new().push(HttpsRedirect::new()).app(Scheme);
    let server = TestServer::with_config(app, tls_config(&cert, Duration::from_secs(5))).await;
    let mut stream = tls_client(&cert, server.addr).await;
    stream
        .write_all(b"GET /x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply).await;
    assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
    assert!(reply.ends_with("https"), "{reply}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_stalled_handshake_is_cut_off_at_the_timeout() {
    let dir = TempDir::new("tls-stall");
    let cert = certificate(&dir);
    let server = TestServer::with_config(Scheme, tls_config(&cert, Duration::from_secs(1))).await;
    for opening in [&b""[..], &[0x16, 0x03, 0x01][..]] {
        let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(opening).await.unwrap();
        let started = Instant::now();
        let mut sink = Vec::new();
        tokio::time::timeout(PATIENCE, stream.read_to_end(&mut sink))
            .await
            .expect("the server closes the stalled handshake")
            .ok();
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(900) && waited < Duration::from_secs(4),
            "{waited:?} for {opening:?}"
        );
    }
    server.stop().await.unwrap();
}
