//! Mutual TLS and the `tls` extension over real sockets: a CA, a server certificate and client
//! certificates made here with rcgen; curl against the binary (`--ssl-ca-certs`,
//! `--ssl-cert-reqs`), and tokio-rustls against an in-process server for what each scope sees.

mod support;

use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use rasgi::protocol::{
    send_response, App, AppError, Event, Headers, Message, Receive, Scope, Sender, TlsInfo,
    WebSocketData,
};
use rasgi::server::{rustls, ServerConfig};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use support::binary::{binary, Rasgi, TempDir};
use support::{test_config, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A certificate authority made for one test.
struct Authority {
    cert: rcgen::Certificate,
    key: KeyPair,
    pem: std::path::PathBuf,
}

impl Authority {
    fn new(dir: &TempDir, name: &str) -> Authority {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        let pem = dir.0.join(format!("{name}.pem"));
        std::fs::write(&pem, cert.pem()).unwrap();
        Authority { cert, key, pem }
    }

    /// A certificate it signs: for `localhost` (a server), or for a client named by `subject`.
    fn issue(&self, dir: &TempDir, file: &str, subject: Option<&[(DnType, &str)]>) -> Issued {
        let key = KeyPair::generate().unwrap();
        let mut params = match subject {
            None => CertificateParams::new(vec!["localhost".to_string()]).unwrap(),
            Some(subject) => {
                let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
                params.distinguished_name = rcgen::DistinguishedName::new();
                for (kind, value) in subject {
                    params.distinguished_name.push(kind.clone(), *value);
                }
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
                params
            }
        };
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        let pem = dir.0.join(format!("{file}.pem"));
        let key_pem = dir.0.join(format!("{file}.key"));
        std::fs::write(&pem, cert.pem()).unwrap();
        std::fs::write(&key_pem, key.serialize_pem()).unwrap();
        Issued {
            der: cert.der().clone(),
            key_der: rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            pem,
            key_pem,
        }
    }
}

/// A certificate and its key, in files and in DER.
struct Issued {
    der: rustls::pki_types::CertificateDer<'static>,
    key_der: rustls::pki_types::PrivateKeyDer<'static>,
    pem: std::path::PathBuf,
    key_pem: std::path::PathBuf,
}

/// The subject the client certificates carry: RFC 4514's special characters included.
const ALICE: &[(DnType, &str)] = &[
    (DnType::CountryName, "GB"),
    (DnType::OrganizationName, "Sue, Grabbit and Runn"),
    (DnType::OrganizationalUnitName, "R&D+Ops"),
    (DnType::CommonName, "alice"),
];

/// The three parties of a mutual-TLS test: the CA clients must come from, a server certificate
/// (signed by that CA), a good client and a client of another CA.
struct Parties {
    dir: TempDir,
    ca: Authority,
    server: Issued,
    good: Issued,
    stranger: Issued,
}

fn parties(tag: &str) -> Parties {
    let dir = TempDir::new(tag);
    let ca = Authority::new(&dir, "rasgi-test-ca");
    let other = Authority::new(&dir, "another-ca");
    let server = ca.issue(&dir, "server", None);
    let good = ca.issue(&dir, "alice", Some(ALICE));
    let stranger = other.issue(&dir, "mallory", Some(&[(DnType::CommonName, "mallory")]));
    Parties {
        dir,
        ca,
        server,
        good,
        stranger,
    }
}

fn serving(parties: &Parties, cert_reqs: &str) -> Rasgi {
    Rasgi::start(&[
        "--no-access-log",
        "--ssl-certfile",
        parties.server.pem.to_str().unwrap(),
        "--ssl-keyfile",
        parties.server.key_pem.to_str().unwrap(),
        "--ssl-ca-certs",
        parties.ca.pem.to_str().unwrap(),
        "--ssl-cert-reqs",
        cert_reqs,
    ])
}

/// curl to `path` over HTTPS, trusting the test CA, with `client`'s certificate if any.
fn curl(rasgi: &Rasgi, parties: &Parties, client: Option<&Issued>, path: &str) -> Output {
    let mut command = Command::new("curl");
    command
        .args(["-s", "--fail", "--max-time", "10", "--cacert"])
        .arg(&parties.ca.pem)
        .arg("--resolve")
        .arg(format!("localhost:{}:127.0.0.1", rasgi.port));
    if let Some(client) = client {
        command
            .arg("--cert")
            .arg(&client.pem)
            .arg("--key")
            .arg(&client.key_pem);
    }
    command
        .arg(format!("https://localhost:{}{path}", rasgi.port))
        .output()
        .expect("curl runs")
}

fn whoami(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "curl failed: {output:?}");
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The subject of the certificate in `pem` as OpenSSL writes RFC 2253 (RFC 4514's ancestor,
/// the same text for these names).
fn openssl_subject(pem: &std::path::Path) -> String {
    let output = Command::new("openssl")
        .args(["x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in"])
        .arg(pem)
        .output()
        .expect("openssl runs");
    assert!(output.status.success(), "{output:?}");
    let line = String::from_utf8(output.stdout).unwrap();
    line.trim_end()
        .strip_prefix("subject=")
        .expect("subject=")
        .to_string()
}

#[test]
fn ssl_cert_reqs_2_refuses_a_client_without_a_certificate_and_one_of_another_ca() {
    let parties = parties("mtls-required");
    let rasgi = serving(&parties, "2");
    let without = curl(&rasgi, &parties, None, "/whoami");
    assert!(
        !without.status.success(),
        "served without a certificate: {without:?}"
    );
    assert!(without.stdout.is_empty(), "{without:?}");
    let stranger = curl(&rasgi, &parties, Some(&parties.stranger), "/whoami");
    assert!(
        !stranger.status.success(),
        "served another CA's client: {stranger:?}"
    );
    assert!(stranger.stdout.is_empty(), "{stranger:?}");
    // The refusals cost the server nothing: a good client is served next.
    let who = whoami(&curl(&rasgi, &parties, Some(&parties.good), "/whoami"));
    assert_eq!(who["scheme"], "https");
    assert_eq!(
        who["tls"]["client_cert_name"],
        openssl_subject(&parties.good.pem).as_str()
    );
}

#[test]
fn whoami_names_the_client_certificate_the_version_and_the_cipher_suite() {
    let parties = parties("mtls-whoami");
    let rasgi = serving(&parties, "2");
    let who = whoami(&curl(&rasgi, &parties, Some(&parties.good), "/whoami"));
    let tls = &who["tls"];
    assert_eq!(
        tls["client_cert_name"], "CN=alice,OU=R&D\\+Ops,O=Sue\\, Grabbit and Runn,C=GB",
        "{who}"
    );
    assert_eq!(tls["version"], "TLSv1.3", "{who}");
    let suite = tls["cipher_suite"].as_str().unwrap();
    assert!(
        [
            "TLS_AES_128_GCM_SHA256",
            "TLS_AES_256_GCM_SHA384",
            "TLS_CHACHA20_POLY1305_SHA256"
        ]
        .contains(&suite),
        "{who}"
    );
    // TLS 1.2 is named as such, with its own suite.
    let output = Command::new("curl")
        .args([
            "-s",
            "--fail",
            "--max-time",
            "10",
            "--tlsv1.2",
            "--tls-max",
            "1.2",
        ])
        .arg("--cacert")
        .arg(&parties.ca.pem)
        .arg("--cert")
        .arg(&parties.good.pem)
        .arg("--key")
        .arg(&parties.good.key_pem)
        .arg("--resolve")
        .arg(format!("localhost:{}:127.0.0.1", rasgi.port))
        .arg(format!("https://localhost:{}/whoami", rasgi.port))
        .output()
        .unwrap();
    let who = whoami(&output);
    assert_eq!(who["tls"]["version"], "TLSv1.2", "{who}");
    assert!(
        who["tls"]["cipher_suite"]
            .as_str()
            .unwrap()
            .starts_with("TLS_ECDHE_"),
        "{who}"
    );
}

#[test]
fn ssl_cert_reqs_1_serves_a_client_without_a_certificate_but_refuses_a_bad_one() {
    let parties = parties("mtls-optional");
    let rasgi = serving(&parties, "1");
    let who = whoami(&curl(&rasgi, &parties, None, "/whoami"));
    assert_eq!(
        who["tls"]["client_cert_name"],
        serde_json::Value::Null,
        "{who}"
    );
    assert_eq!(who["tls"]["version"], "TLSv1.3", "{who}");
    let stranger = curl(&rasgi, &parties, Some(&parties.stranger), "/whoami");
    assert!(
        !stranger.status.success(),
        "served another CA's client: {stranger:?}"
    );
    let who = whoami(&curl(&rasgi, &parties, Some(&parties.good), "/whoami"));
    assert_eq!(
        who["tls"]["client_cert_name"],
        openssl_subject(&parties.good.pem).as_str()
    );
}

#[test]
fn ssl_cert_reqs_0_asks_for_no_certificate() {
    let parties = parties("mtls-none");
    let rasgi = serving(&parties, "0");
    // curl offers its certificate only when asked: the server does not ask.
    let who = whoami(&curl(&rasgi, &parties, Some(&parties.good), "/whoami"));
    assert_eq!(
        who["tls"]["client_cert_name"],
        serde_json::Value::Null,
        "{who}"
    );
    let who = whoami(&curl(&rasgi, &parties, None, "/whoami"));
    assert_eq!(who["scheme"], "https");
}

#[test]
fn whoami_over_plain_http_has_a_null_tls() {
    let rasgi = Rasgi::start(&["--no-access-log"]);
    let reply = support::binary::request(&rasgi, "GET", "/whoami", &[], b"");
    let who: serde_json::Value = serde_json::from_str(&reply.text()).unwrap();
    assert_eq!(who["scheme"], "http");
    assert!(who.as_object().unwrap().contains_key("tls"), "{who}");
    assert_eq!(who["tls"], serde_json::Value::Null);
}

/// Runs the binary with `flags` (and a server certificate) and expects it to stop with a usage
/// error naming `flag`.
fn refused(parties: &Parties, flags: &[&str], flag: &str) {
    let output = Command::new(binary())
        .args(["--bind", "127.0.0.1:0"])
        .args(flags)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{flags:?}: {output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(flag), "{flags:?}: {stderr}");
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("listening"),
        "nothing is bound"
    );
    let _ = &parties.dir;
}

#[test]
fn bad_ssl_ca_certs_and_ssl_cert_reqs_values_exit_2_naming_the_flag() {
    let parties = parties("mtls-flags");
    let cert = parties.server.pem.to_str().unwrap();
    let key = parties.server.key_pem.to_str().unwrap();
    let ca = parties.ca.pem.to_str().unwrap();
    let garbage = parties.dir.0.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let garbage = garbage.to_str().unwrap();
    let missing = parties.dir.0.join("missing.pem");
    let missing = missing.to_str().unwrap();
    let tls = ["--ssl-certfile", cert, "--ssl-keyfile", key];
    let with = |extra: &[&'static str]| -> Vec<&str> {
        tls.iter().copied().chain(extra.iter().copied()).collect()
    };
    for bad in ["3", "256", "two", ""] {
        let mut flags = with(&["--ssl-ca-certs"]);
        flags.extend([ca, "--ssl-cert-reqs", bad]);
        refused(&parties, &flags, "--ssl-cert-reqs");
    }
    refused(
        &parties,
        &with(&["--ssl-cert-reqs", "2"]),
        "--ssl-cert-reqs 2 needs --ssl-ca-certs",
    );
    refused(
        &parties,
        &with(&["--ssl-cert-reqs", "1"]),
        "--ssl-cert-reqs 1 needs --ssl-ca-certs",
    );
    for file in [missing, garbage] {
        let mut flags = with(&["--ssl-cert-reqs", "2", "--ssl-ca-certs"]);
        flags.push(file);
        refused(&parties, &flags, "--ssl-ca-certs");
    }
    // Client certificates without a server certificate mean nothing: refused, not ignored.
    refused(&parties, &["--ssl-ca-certs", ca], "--ssl-certfile");
    refused(&parties, &["--ssl-cert-reqs", "2"], "--ssl-certfile");
}

/// Keeps the TLS record of each scope it is called with, and answers HTTP with the client's
/// name and WebSockets with one text message of it.
#[derive(Clone, Default)]
struct Records(Arc<Mutex<Vec<Option<TlsInfo>>>>);

impl App for Records {
    async fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        mut receive: R,
        mut send: S,
    ) -> Result<(), AppError> {
        match scope {
            Scope::Http(scope) => {
                self.0.lock().unwrap().push(scope.tls().cloned());
                let name = scope.tls().and_then(|tls| tls.client_cert_name.clone());
                send_response(&mut send, 200, Headers::new(), name.unwrap_or_default()).await?;
            }
            Scope::WebSocket(scope) => {
                self.0.lock().unwrap().push(scope.tls().cloned());
                let name = scope.tls().and_then(|tls| tls.client_cert_name.clone());
                let _connect = receive.receive().await;
                send.send(Message::WebSocketAccept {
                    subprotocol: None,
                    headers: Headers::new(),
                })
                .await?;
                send.send(Message::WebSocketSend(WebSocketData::Text(
                    name.unwrap_or_default().into(),
                )))
                .await?;
                while !matches!(receive.receive().await, Event::WebSocketDisconnect { .. }) {}
            }
            Scope::Lifespan(_) => {}
        }
        Ok(())
    }
}

/// A server requiring client certificates of `parties.ca`, serving `app`.
async fn mutual_server(parties: &Parties, app: Records) -> TestServer {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(parties.ca.cert.der().clone()).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
        .build()
        .unwrap();
    let mut tls = rustls::ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![parties.server.der.clone(), parties.ca.cert.der().clone()],
            parties.server.key_der.clone_key(),
        )
        .unwrap();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let config = ServerConfig {
        tls: Some(Arc::new(tls)),
        ..test_config()
    };
    TestServer::with_config(app, config).await
}

async fn mutual_client(
    parties: &Parties,
    addr: std::net::SocketAddr,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(parties.ca.cert.der().clone()).unwrap();
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_client_auth_cert(
            vec![parties.good.der.clone(), parties.ca.cert.der().clone()],
            parties.good.key_der.clone_key(),
        )
        .unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.unwrap()
}

#[tokio::test]
async fn every_scope_of_a_tls_connection_carries_the_same_session_record() {
    let parties = parties("mtls-scope");
    let app = Records::default();
    let server = mutual_server(&parties, app.clone()).await;
    let mut stream = mutual_client(&parties, server.addr).await;
    let mut reply = Vec::new();
    stream
        .write_all(b"GET /a HTTP/1.1\r\nHost: localhost\r\n\r\nGET /b HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let _ = stream.read_to_end(&mut reply).await;
    let reply = String::from_utf8_lossy(&reply);
    let expected = openssl_subject(&parties.good.pem);
    assert_eq!(reply.matches(expected.as_str()).count(), 2, "{reply}");
    let records = app.0.lock().unwrap().clone();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0], records[1], "one session, one record");
    let tls = records[0].clone().expect("a TLS record");
    assert_eq!(tls.server_cert.as_deref(), Some(&parties.server.der[..]));
    let chain: Vec<&[u8]> = tls.client_cert_chain.iter().map(|c| &c[..]).collect();
    assert_eq!(chain, [&parties.good.der[..], &parties.ca.cert.der()[..]]);
    assert_eq!(tls.client_cert_name.as_deref(), Some(expected.as_str()));
    assert_eq!(tls.client_cert_error, None);
    assert_eq!(tls.tls_version, 0x0304);
    assert!(tls.cipher_suite_name().is_some(), "{:#x}", tls.cipher_suite);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_websocket_over_tls_sees_the_client_certificate() {
    let parties = parties("mtls-ws");
    let app = Records::default();
    let server = mutual_server(&parties, app.clone()).await;
    let mut stream = mutual_client(&parties, server.addr).await;
    stream
        .write_all(support::ws::handshake_request("/ws", &[]).as_bytes())
        .await
        .unwrap();
    let expected = openssl_subject(&parties.good.pem);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(expected.as_str()) {
        let n = tokio::time::timeout(support::PATIENCE, stream.read(&mut buf))
            .await
            .expect("the message arrives")
            .unwrap();
        assert!(n > 0, "closed before the message: {got:?}");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(
        got.starts_with(b"HTTP/1.1 101 "),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    let records = app.0.lock().unwrap().clone();
    let tls = records[0]
        .clone()
        .expect("a TLS record in the websocket scope");
    assert_eq!(tls.client_cert_name.as_deref(), Some(expected.as_str()));
    drop(stream);
    server.stop().await.unwrap();
}
