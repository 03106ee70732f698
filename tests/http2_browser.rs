//! A browser on h2: headless Chromium (Debian's package; `.ci/run` installs it) loads a page
//! from the demo over TLS, with a certificate made here, and the page, a `fetch`, an
//! `EventSource` and 50 parallel fetches travel over h2 (RFC 9113 §3.2, h2 by ALPN), the 50 on
//! one connection.

mod support;

use std::net::SocketAddr;

use support::binary::{Rasgi, TempDir};

#[test]
fn rfc9113_3_2_headless_chromium_loads_a_page_fetches_and_an_event_stream_over_h2() {
    let dir = TempDir::new("h2-browser");
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let (cert, key) = (dir.0.join("cert.pem"), dir.0.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.key_pair.serialize_pem()).unwrap();
    let pages = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients");
    let rasgi = Rasgi::start(&[
        "--ssl-certfile",
        cert.to_str().unwrap(),
        "--ssl-keyfile",
        key.to_str().unwrap(),
        "--static-dir",
        pages,
    ]);

    // The certificate is self-signed: the browser is told to take it.
    let url = format!("https://127.0.0.1:{}/static/h2_page.html", rasgi.port);
    let report = support::browser::page_report(&rasgi, &url, &["--ignore-certificate-errors"]);
    let log = rasgi.stderr();

    // What the page saw: every request it made went over h2, and every body came whole.
    assert!(
        report.contains("/chromium/page-h2-fetch-h2-sse-ok-parallel-h2-whole-done"),
        "{report}\n{log}"
    );
    // What the server saw: the report (answered 404: no such route), the event stream and the
    // 50 fetches came over HTTP/2, the 50 from one client address and port: one connection.
    assert!(report.contains(" HTTP/2\" 404"), "{report}");
    assert!(log.contains("\"GET /sse HTTP/2\" 200"), "{log}");
    let parallel: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("\"GET /big HTTP/2\" 200"))
        .collect();
    assert_eq!(parallel.len(), 50, "{log}");
    // The access line's fourth word is the client's address and port.
    let client = |line: &str| -> SocketAddr {
        let word = line.split_whitespace().nth(3).unwrap_or_default();
        word.parse()
            .unwrap_or_else(|_| panic!("no client address in {line:?}"))
    };
    let clients: std::collections::HashSet<_> = parallel.iter().map(|l| client(l)).collect();
    assert_eq!(clients.len(), 1, "the 50 fetches came on {clients:?}");
}
