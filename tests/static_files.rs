//! `--static-dir` over real sockets: ranges (RFC 9110 §14), conditional requests (§13), HEAD,
//! every way out of the directory, a file changed while it is sent, `sendfile` seen by strace,
//! the memory of many large downloads at once, and the same files over TLS.

mod support;

use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

use support::binary::{binary, parse_reply, request, Rasgi, Reply, TempDir};

/// The bytes of a file of `len` bytes that tells where each byte was (`i % 251`).
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// A directory of files to serve, and a binary serving it.
struct Served {
    dir: TempDir,
    rasgi: Rasgi,
}

/// `files` (relative name, contents) in a new directory, served with `flags`.
fn serving(tag: &str, files: &[(&str, &[u8])], flags: &[&str]) -> Served {
    let dir = TempDir::new(tag);
    let root = dir.0.join("public");
    for (name, contents) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }
    let mut all = vec!["--no-access-log", "--static-dir", root.to_str().unwrap()];
    all.extend_from_slice(flags);
    let rasgi = Rasgi::start(&all);
    Served { dir, rasgi }
}

impl Served {
    fn root(&self) -> std::path::PathBuf {
        self.dir.0.join("public")
    }

    fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        request(&self.rasgi, "GET", path, headers, b"")
    }
}

#[test]
fn a_file_is_served_whole_with_its_type_length_and_validators() {
    let body = pattern(100_000);
    let served = serving(
        "static-whole",
        &[("app.js", &body), ("sub/page.html", b"<p>hi</p>")],
        &[],
    );
    let reply = served.get("/static/app.js", &[]);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, body);
    assert_eq!(reply.header("content-length"), Some("100000"));
    assert_eq!(
        reply.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(reply.header("accept-ranges"), Some("bytes"));
    let etag = reply.header("etag").expect("an etag");
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let modified = std::fs::metadata(served.root().join("app.js"))
        .unwrap()
        .modified()
        .unwrap();
    let secs = modified
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expected = rasgi::server::date::format_imf_fixdate(secs);
    assert_eq!(
        reply.header("last-modified").unwrap().as_bytes(),
        &expected[..]
    );
    let page = served.get("/static/sub/page.html", &[]);
    assert_eq!((page.status, page.text().as_str()), (200, "<p>hi</p>"));
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
}

#[test]
fn rfc9110_14_ranges_first_middle_suffix_and_past_the_end() {
    let body = pattern(10_000);
    let served = serving("static-ranges", &[("data.bin", &body)], &[]);
    let cases: [(&str, usize, usize); 5] = [
        ("bytes=0-99", 0, 100),
        ("bytes=5000-5999", 5000, 1000),
        ("bytes=-300", 9700, 300),
        ("bytes=9990-", 9990, 10),
        // A last position past the end means the end (§14.1.2).
        ("bytes=9000-20000", 9000, 1000),
    ];
    for (range, start, len) in cases {
        let reply = served.get("/static/data.bin", &[("Range", range)]);
        assert_eq!(reply.status, 206, "{range}");
        assert_eq!(reply.body, &body[start..start + len], "{range}");
        let last = start + len - 1;
        let content_range = format!("bytes {start}-{last}/10000");
        assert_eq!(
            reply.header("content-range"),
            Some(content_range.as_str()),
            "{range}"
        );
        assert_eq!(
            reply.header("content-length"),
            Some(len.to_string().as_str()),
            "{range}"
        );
    }
    for range in ["bytes=10000-", "bytes=20000-30000", "bytes=-0"] {
        let reply = served.get("/static/data.bin", &[("Range", range)]);
        assert_eq!(reply.status, 416, "{range}");
        assert_eq!(
            reply.header("content-range"),
            Some("bytes */10000"),
            "{range}"
        );
    }
    // Several ranges, another unit, or nonsense: the whole file (§14.2).
    for range in ["bytes=0-1,5-6", "items=0-5", "bytes=5-1", "bytes=x-"] {
        let reply = served.get("/static/data.bin", &[("Range", range)]);
        assert_eq!((reply.status, reply.body.len()), (200, 10_000), "{range}");
    }
}

#[test]
fn rfc9110_13_conditional_requests_answer_304_while_the_file_is_unchanged() {
    let served = serving("static-conditional", &[("a.css", b"body{}")], &[]);
    let first = served.get("/static/a.css", &[]);
    let etag = first.header("etag").unwrap().to_string();
    let modified = first.header("last-modified").unwrap().to_string();
    let not_modified = |reply: &Reply| {
        assert_eq!(reply.status, 304, "{reply:?}");
        assert!(reply.body.is_empty());
        assert_eq!(reply.header("etag"), Some(etag.as_str()));
        assert_eq!(reply.header("last-modified"), Some(modified.as_str()));
    };
    not_modified(&served.get("/static/a.css", &[("If-None-Match", &etag)]));
    not_modified(&served.get(
        "/static/a.css",
        &[("If-None-Match", &format!("\"x\", W/{etag}"))],
    ));
    not_modified(&served.get("/static/a.css", &[("If-None-Match", "*")]));
    not_modified(&served.get("/static/a.css", &[("If-Modified-Since", &modified)]));
    not_modified(&served.get(
        "/static/a.css",
        &[("If-Modified-Since", "Fri, 01 Jan 2100 00:00:00 GMT")],
    ));
    let changed = served.get("/static/a.css", &[("If-None-Match", "\"other\"")]);
    assert_eq!((changed.status, changed.text().as_str()), (200, "body{}"));
    let older = served.get(
        "/static/a.css",
        &[("If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT")],
    );
    assert_eq!(older.status, 200);
    // If-None-Match decides when both are sent (§13.2.2).
    let both = served.get(
        "/static/a.css",
        &[
            ("If-None-Match", "\"other\""),
            ("If-Modified-Since", &modified),
        ],
    );
    assert_eq!(both.status, 200);
    // A new version of the file has new validators.
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(served.root().join("a.css"), b"body{color:red}").unwrap();
    let new = served.get("/static/a.css", &[("If-None-Match", &etag)]);
    assert_eq!((new.status, new.text().as_str()), (200, "body{color:red}"));
    // If-Range: the range only while the client's validator still holds (§13.1.5).
    let stale = served.get(
        "/static/a.css",
        &[("Range", "bytes=0-3"), ("If-Range", &etag)],
    );
    assert_eq!((stale.status, stale.body.len()), (200, 15));
    let current = new.header("etag").unwrap();
    let fresh = served.get(
        "/static/a.css",
        &[("Range", "bytes=0-3"), ("If-Range", current)],
    );
    assert_eq!((fresh.status, fresh.text().as_str()), (206, "body"));
}

#[test]
fn head_has_the_fields_of_get_and_no_body() {
    let body = pattern(5000);
    let served = serving("static-head", &[("f.txt", &body)], &[]);
    let mut stream = served.rasgi.connect();
    // Two HEADs and a GET on one connection: a body sent for a HEAD would be read as the next
    // response's head.
    stream
        .write_all(
            b"HEAD /static/f.txt HTTP/1.1\r\nHost: localhost\r\n\r\n\
              HEAD /static/f.txt HTTP/1.1\r\nHost: localhost\r\nRange: bytes=0-9\r\n\r\n\
              GET /static/f.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw);
    let heads: Vec<&str> = text.matches("HTTP/1.1 ").collect();
    assert_eq!(heads.len(), 3, "{text}");
    let first_end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = parse_reply(&raw[..first_end]);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("5000"));
    assert!(raw[first_end..].starts_with(b"HTTP/1.1 206 "), "{text}");
    assert!(raw.ends_with(&body), "the GET's body ends the stream");
    assert_eq!(
        raw.len() - body.len(),
        text.split("\r\n\r\n")
            .take(3)
            .map(|h| h.len() + 4)
            .sum::<usize>()
    );
}

#[test]
fn directories_and_every_way_out_of_the_directory_are_404() {
    let served = serving(
        "static-escape",
        &[("ok.txt", b"ok"), ("sub/inner.txt", b"inner")],
        &[],
    );
    let secret = served.dir.0.join("secret.txt");
    std::fs::write(&secret, b"secret").unwrap();
    std::os::unix::fs::symlink(&secret, served.root().join("outside.txt")).unwrap();
    std::os::unix::fs::symlink(served.dir.0.clone(), served.root().join("up")).unwrap();
    std::os::unix::fs::symlink(
        served.root().join("ok.txt"),
        served.root().join("inside.txt"),
    )
    .unwrap();
    for path in [
        "/static/",
        "/static/sub",
        "/static/sub/",
        "/static/../secret.txt",
        "/static/sub/../../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/%2E%2E/secret.txt",
        "/static/.%2e/secret.txt",
        "/static/sub/%2e%2e/%2e%2e/secret.txt",
        "/static/..%2fsecret.txt",
        "/static/sub%2f..%2f..%2fsecret.txt",
        "/static/..%5csecret.txt",
        "/static/outside.txt",
        "/static/up/secret.txt",
        "/static/ok.txt%00.png",
        "/static//etc/passwd",
        "/static/missing.txt",
    ] {
        let reply = served.get(path, &[]);
        assert_eq!(reply.status, 404, "{path}: {}", reply.text());
        assert!(!reply.text().contains("secret"), "{path}");
    }
    // Links that stay inside are followed; encoded names are decoded.
    assert_eq!(served.get("/static/inside.txt", &[]).text(), "ok");
    assert_eq!(served.get("/static/sub/inner%2etxt", &[]).text(), "inner");
    // Only GET and HEAD.
    let post = request(&served.rasgi, "POST", "/static/ok.txt", &[], b"x");
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
}

#[test]
fn gzip_passes_a_file_through_untouched() {
    let body = b"a line of text that compresses well\n".repeat(200);
    let served = serving("static-gzip", &[("log.txt", &body)], &[]);
    let reply = served.get("/static/log.txt", &[("Accept-Encoding", "gzip")]);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-encoding"), None);
    assert_eq!(reply.body, body);
    // The demo's other middleware still edit the start.
    assert!(reply.header("x-request-id").is_some());
}

/// Read the head of a response from `stream`, and what came after it.
fn read_head(stream: &mut std::net::TcpStream) -> (Reply, Vec<u8>) {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "closed before the head");
        raw.extend_from_slice(&buf[..n]);
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = raw.split_off(end + 4);
            return (parse_reply(&raw), rest);
        }
    }
}

/// A client with a small receive buffer, so that the server is still sending when the test
/// changes the file.
fn slow_client(rasgi: &Rasgi, path: &str) -> (std::net::TcpStream, Reply, Vec<u8>) {
    let stream = rasgi.connect();
    let socket = std::os::fd::AsRawFd::as_raw_fd(&stream);
    let size: libc::c_int = 16 * 1024;
    // SAFETY: `socket` is open (owned by `stream`), and the option value is a live c_int of the
    // length given.
    let set = unsafe {
        libc::setsockopt(
            socket,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(set, 0);
    let mut stream = stream;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let (reply, rest) = read_head(&mut stream);
    (stream, reply, rest)
}

#[test]
fn a_file_cut_shorter_while_it_is_sent_ends_the_connection_short_and_nothing_hangs() {
    const LEN: usize = 32 << 20;
    let body = pattern(LEN);
    let served = serving("static-truncated", &[("big.bin", &body)], &[]);
    let (mut stream, reply, mut got) = slow_client(&served.rasgi, "/static/big.bin");
    assert_eq!(
        reply.header("content-length"),
        Some(LEN.to_string().as_str())
    );
    let mut buf = vec![0u8; 64 * 1024];
    while got.len() < 1 << 20 {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    // Cut the file to 4 MiB while the server is still sending it.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(served.root().join("big.bin"))
        .unwrap();
    file.set_len(4 << 20).unwrap();
    let started = Instant::now();
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the connection ended"
    );
    assert!(
        got.len() < LEN,
        "a shorter body, never a wrong one: {}",
        got.len()
    );
    assert_eq!(got[..], body[..got.len()], "what came is the file's start");
    // The server goes on serving: the file is now 4 MiB.
    let after = served.get("/static/big.bin", &[]);
    assert_eq!((after.status, after.body.len()), (200, 4 << 20));
    let stderr = served.rasgi.stderr();
    assert!(stderr.contains("could not be sent whole"), "{stderr}");
}

#[test]
fn a_file_replaced_while_it_is_sent_is_sent_as_it_was_opened() {
    const LEN: usize = 16 << 20;
    let body = pattern(LEN);
    let served = serving("static-replaced", &[("big.bin", &body)], &[]);
    let (mut stream, reply, mut got) = slow_client(&served.rasgi, "/static/big.bin");
    assert_eq!(reply.status, 200);
    // A deploy swaps the file in place (write a new one, rename it over the old).
    let fresh = served.dir.0.join("fresh.bin");
    std::fs::write(&fresh, vec![b'n'; 1000]).unwrap();
    std::fs::rename(&fresh, served.root().join("big.bin")).unwrap();
    stream.read_to_end(&mut got).unwrap();
    assert_eq!(got.len(), LEN);
    assert!(got == body, "the old file, whole");
    assert_eq!(served.get("/static/big.bin", &[]).body, vec![b'n'; 1000]);
}

#[test]
fn on_plain_tcp_the_file_goes_by_sendfile_not_through_user_space() {
    const LEN: usize = 8 << 20;
    let dir = TempDir::new("static-strace");
    let root = dir.0.join("public");
    std::fs::create_dir_all(&root).unwrap();
    let body = pattern(LEN);
    std::fs::write(root.join("big.bin"), &body).unwrap();
    let trace = dir.0.join("trace");
    let mut child = Command::new("strace")
        .args([
            "-f",
            "-qq",
            "-e",
            "trace=sendfile,write,writev,sendmsg,sendto,setsockopt",
            "-o",
        ])
        .arg(&trace)
        .arg(binary())
        .args([
            "--bind",
            "127.0.0.1:0",
            "--no-access-log",
            "--workers",
            "1",
            "--static-dir",
        ])
        .arg(&root)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("strace runs (apt package strace)");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let port: u16 = line
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .write_all(
            b"GET /static/big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n\
              GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let file_end = head_end + LEN;
    assert!(raw[..file_end].ends_with(&body));
    assert!(raw[file_end..].starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(raw.ends_with(b"ok"));
    let trace = std::fs::read_to_string(&trace).unwrap();
    // Each traced call's result: `... = N`.
    let total = |call: &str| -> usize {
        trace
            .lines()
            .filter(|l| {
                l.split_whitespace()
                    .nth(1)
                    .is_some_and(|c| c.starts_with(&format!("{call}(")))
            })
            .filter_map(|l| {
                l.rsplit("= ")
                    .next()?
                    .split_whitespace()
                    .next()?
                    .parse::<usize>()
                    .ok()
            })
            .sum()
    };
    assert_eq!(total("sendfile"), LEN, "{trace}");
    let written = total("write") + total("writev") + total("sendmsg") + total("sendto");
    assert!(written < 4096, "{written} bytes went by write: {trace}");
    // Small packets may wait to be coalesced only while the file goes: Nagle's algorithm is
    // switched on just before the first sendfile and off again before the next response.
    let lines: Vec<&str> = trace.lines().collect();
    let first = |what: &dyn Fn(&str) -> bool| lines.iter().position(|l| what(l));
    let last = |what: &dyn Fn(&str) -> bool| lines.iter().rposition(|l| what(l));
    let nodelay = |l: &str, on: &str| l.contains("TCP_NODELAY") && l.contains(on);
    let first_sendfile = first(&|l| l.contains("sendfile(")).unwrap();
    let last_sendfile = last(&|l| l.contains("sendfile(")).unwrap();
    let nagle_on = first(&|l| nodelay(l, "[0]")).expect("Nagle switched on for the file");
    let nagle_off = last(&|l| nodelay(l, "[1]")).expect("and off after it");
    let health = last(&|l| l.contains("HTTP/1.1 200 OK")).expect("the second response");
    assert!(nagle_on < first_sendfile, "{trace}");
    assert!(last_sendfile < nagle_off && nagle_off < health, "{trace}");
}

#[test]
fn a_hundred_concurrent_64_mib_downloads_hold_under_64_mib() {
    const LEN: usize = 64 << 20;
    const CLIENTS: usize = 100;
    let served = serving("static-memory", &[("big.bin", &pattern(LEN))], &[]);
    // Warm up one download (page cache, pools), then take the idle figure.
    assert_eq!(served.get("/static/big.bin", &[]).body.len(), LEN);
    let idle = served.rasgi.rss_kib();
    let port = served.rasgi.port;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            std::thread::spawn(move || {
                let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                stream
                    .write_all(b"GET /static/big.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                    .unwrap();
                let mut buf = vec![0u8; 256 * 1024];
                let (mut total, mut tail) = (0usize, Vec::new());
                loop {
                    let n = stream.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    total += n;
                    tail.extend_from_slice(&buf[..n]);
                    let keep = tail.len().saturating_sub(16);
                    tail.drain(..keep);
                }
                (total, tail)
            })
        })
        .collect();
    let mut peak_during = 0;
    let results: Vec<_> = clients
        .into_iter()
        .map(|client| {
            peak_during = peak_during.max(served.rasgi.rss_kib());
            client.join().unwrap()
        })
        .collect();
    let expected_tail = &pattern(LEN)[LEN - 16..];
    for (total, tail) in &results {
        assert!(*total > LEN, "a whole download: {total}");
        assert_eq!(&tail[..], expected_tail);
    }
    let peak = served.rasgi.peak_rss_kib();
    assert!(
        peak.saturating_sub(idle) < 64 * 1024,
        "peak {peak} KiB, idle {idle} KiB: {} KiB above idle",
        peak.saturating_sub(idle)
    );
    eprintln!("idle {idle} KiB, peak {peak} KiB, sampled during {peak_during} KiB");
}

#[test]
fn bad_static_dir_values_exit_2_naming_the_flag() {
    let dir = TempDir::new("static-flag");
    let file = dir.0.join("a-file");
    std::fs::write(&file, b"x").unwrap();
    for bad in [dir.0.join("missing"), file] {
        let output = Command::new(binary())
            .args(["--bind", "127.0.0.1:0", "--static-dir"])
            .arg(&bad)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("--static-dir"), "{stderr}");
    }
}

#[test]
fn without_static_dir_the_path_is_not_found() {
    let rasgi = Rasgi::start(&["--no-access-log"]);
    assert_eq!(
        request(&rasgi, "GET", "/static/Cargo.toml", &[], b"").status,
        404
    );
}

#[test]
fn over_tls_the_file_goes_in_bounded_pieces_whole_and_in_ranges() {
    const LEN: usize = 8 << 20;
    let dir = TempDir::new("static-tls");
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key) = (dir.0.join("cert.pem"), dir.0.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.key_pair.serialize_pem()).unwrap();
    let body = pattern(LEN);
    let served = serving(
        "static-tls-files",
        &[("big.bin", &body)],
        &[
            "--ssl-certfile",
            cert.to_str().unwrap(),
            "--ssl-keyfile",
            key.to_str().unwrap(),
        ],
    );
    let curl = |extra: &[&str]| {
        let output = Command::new("curl")
            .args(["-s", "--fail", "--max-time", "20", "--cacert"])
            .arg(&cert)
            .arg("--resolve")
            .arg(format!("localhost:{}:127.0.0.1", served.rasgi.port))
            .args(extra)
            .arg(format!(
                "https://localhost:{}/static/big.bin",
                served.rasgi.port
            ))
            .output()
            .expect("curl runs");
        assert!(output.status.success(), "curl failed: {:?}", output.status);
        output.stdout
    };
    assert!(curl(&[]) == body, "the whole file over TLS");
    assert_eq!(curl(&["-r", "1000-1999"]), &body[1000..2000]);
    assert_eq!(curl(&["-r", "-100"]), &body[LEN - 100..]);
}

#[tokio::test]
async fn static_files_is_an_app_of_its_own_under_the_test_client() {
    let dir = TempDir::new("static-app");
    let body = pattern(300_000);
    std::fs::write(dir.0.join("data.bin"), &body).unwrap();
    let files = rasgi::static_files::StaticFiles::new(&dir.0).unwrap();
    let client = rasgi::testing::TestClient::new(files);
    let whole = client.get("/data.bin").send().await;
    assert_eq!(whole.status, 200);
    assert!(whole.body == body, "{} bytes", whole.body.len());
    let part = client
        .get("/data.bin")
        .header("range", "bytes=100-199")
        .send()
        .await;
    assert_eq!((part.status, &part.body[..]), (206, &body[100..200]));
    assert_eq!(client.get("/nothing").send().await.status, 404);
    assert_eq!(client.get("/../etc/passwd").send().await.status, 404);
}
