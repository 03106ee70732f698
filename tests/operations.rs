//! What an operator relies on, against the binary: `HEAD` for every `GET` route (with curl),
//! `/whoami` behind trusted and untrusted peers, and the metric names `/metrics` shows after
//! known traffic.

mod support;

use std::process::Command;

use support::binary::{request, Rasgi};

/// The demo's `GET` routes, with the status each answers.
const GET_ROUTES: [(&str, u16); 11] = [
    ("/", 200),
    ("/health", 200),
    ("/whoami", 200),
    ("/stream?chunks=2&size=4&interval_ms=1", 200),
    ("/sse?events=2&interval_ms=1", 200),
    ("/big?size=1000", 200),
    ("/error", 500),
    ("/panic", 500),
    ("/rate-limited", 429),
    ("/metrics", 200),
    ("/no-such-route", 404),
];

/// `curl -s` with `flags` for `path`; (status, header names and values, body).
fn curl(rasgi: &Rasgi, flags: &[&str], path: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let output = Command::new("curl")
        .args(["-s", "--max-time", "10"])
        .args(flags)
        .arg(rasgi.url(path))
        .output()
        .expect("curl runs");
    let raw = output.stdout;
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head from curl for {path}: {raw:?}"));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.to_ascii_lowercase(), v.trim().to_string())
        })
        .collect();
    (status, headers, raw[end + 4..].to_vec())
}

/// Header fields whose values change from one response to the next.
fn stable(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(n, _)| !matches!(n.as_str(), "date" | "x-request-id" | "x-process-time"))
        .filter(|(n, _)| n != "connection")
        .cloned()
        .collect()
}

#[test]
fn curl_head_works_for_every_get_route_with_the_same_headers_and_no_body() {
    let rasgi = Rasgi::start(&["--no-access-log"]);
    for (path, status) in GET_ROUTES {
        let (head_status, head_headers, head_body) = curl(&rasgi, &["-I"], path);
        let (get_status, get_headers, _) = curl(&rasgi, &["-i"], path);
        assert_eq!((head_status, get_status), (status, status), "{path}");
        assert!(head_body.is_empty(), "{path}: HEAD has no body");
        let names = |headers: &[(String, String)]| {
            headers.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>()
        };
        assert_eq!(names(&head_headers), names(&get_headers), "{path}");
        if !path.starts_with("/metrics") && path != "/whoami" {
            assert_eq!(stable(&head_headers), stable(&get_headers), "{path}");
        }
    }
}

fn whoami(rasgi: &Rasgi, headers: &[(&str, &str)]) -> serde_json::Value {
    let reply = request(rasgi, "GET", "/whoami", headers, b"");
    assert_eq!(reply.status, 200);
    serde_json::from_slice(&reply.body).expect("JSON")
}

const FORWARDED: [(&str, &str); 2] = [
    ("X-Forwarded-For", "203.0.113.9"),
    ("X-Forwarded-Proto", "https"),
];

#[test]
fn whoami_believes_forwarding_headers_from_a_trusted_peer_only() {
    // The default trusts 127.0.0.1: the test's own connection.
    let trusting = Rasgi::start(&["--no-access-log"]);
    let seen = whoami(&trusting, &FORWARDED);
    assert_eq!(seen["client"], "203.0.113.9:0");
    assert_eq!(seen["scheme"], "https");
    let plain = whoami(&trusting, &[]);
    assert!(plain["client"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert_eq!(plain["scheme"], "http");

    for flags in [
        &["--no-access-log", "--forwarded-allow-ips", "192.0.2.1"][..],
        &["--no-access-log", "--no-proxy-headers"],
    ] {
        let untrusting = Rasgi::start(flags);
        let seen = whoami(&untrusting, &FORWARDED);
        assert!(
            seen["client"].as_str().unwrap().starts_with("127.0.0.1:"),
            "{flags:?}: {seen}"
        );
        assert_eq!(seen["scheme"], "http", "{flags:?}");
    }
    let any = Rasgi::start(&["--no-access-log", "--forwarded-allow-ips", "*"]);
    assert_eq!(whoami(&any, &FORWARDED)["client"], "203.0.113.9:0");
}

#[test]
fn metrics_name_requests_durations_in_flight_panics_and_timeouts() {
    let rasgi = Rasgi::start(&["--no-access-log"]);
    for _ in 0..2 {
        assert_eq!(request(&rasgi, "GET", "/", &[], b"").status, 200);
    }
    assert_eq!(request(&rasgi, "POST", "/echo", &[], b"hi").status, 200);
    assert_eq!(request(&rasgi, "GET", "/panic", &[], b"").status, 500);
    let metrics = request(&rasgi, "GET", "/metrics", &[], b"").text();
    for line in [
        "# TYPE rasgi_request_duration_seconds histogram",
        "rasgi_request_duration_seconds_bucket{method=\"GET\",status=\"200\",le=\"+Inf\"} 2",
        "rasgi_request_duration_seconds_count{method=\"GET\",status=\"200\"} 2",
        "rasgi_request_duration_seconds_count{method=\"POST\",status=\"200\"} 1",
        "rasgi_request_duration_seconds_count{method=\"GET\",status=\"500\"} 1",
        "# TYPE rasgi_requests_in_flight gauge",
        "rasgi_requests_in_flight 1",
        "rasgi_requests_total{status=\"200\"} 3",
        "rasgi_panics_total 1",
        "rasgi_body_timeouts_total 0",
        "rasgi_send_timeouts_total 0",
        "rasgi_background_batches_waiting 0",
    ] {
        assert!(metrics.contains(line), "missing {line:?} in\n{metrics}");
    }
    let sum_line = metrics
        .lines()
        .find(|l| {
            l.starts_with("rasgi_request_duration_seconds_sum{method=\"GET\",status=\"200\"}")
        })
        .expect("a sum");
    let sum: f64 = sum_line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(sum > 0.0 && sum < 10.0, "{sum_line}");
    // Buckets are cumulative: never fewer at a larger bound.
    let buckets: Vec<u64> = metrics
        .lines()
        .filter(|l| {
            l.starts_with("rasgi_request_duration_seconds_bucket{method=\"GET\",status=\"200\"")
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(buckets.len(), 12);
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
}

#[test]
fn fd_serves_on_a_socket_handed_over_by_the_parent() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fd = listener.as_raw_fd();
    let dir = support::binary::TempDir::new("fd");
    let mut command = Command::new(support::binary::binary());
    command
        .args(["--fd", "3", "--no-access-log", "--log-file"])
        .arg(dir.0.join("demo.log"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    // SAFETY: between fork and exec only dup2 and fcntl run, which are async-signal-safe; they
    // put the listening socket at fd 3 without close-on-exec (dup2 onto itself keeps the flag,
    // hence the fcntl), as systemd's socket activation does.
    unsafe {
        command.pre_exec(move || {
            if (fd != 3 && libc::dup2(fd, 3) == -1) || libc::fcntl(3, libc::F_SETFD, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().expect("spawn rasgi");
    drop(listener);
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains(&addr.to_string()), "{line}");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
    assert!(reply.ends_with("Hello, World!"), "{reply}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn fd_that_is_no_listening_socket_is_a_clear_error() {
    let output = Command::new(support::binary::binary())
        .args(["--fd", "97"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot listen on file descriptor 97"),
        "{stderr}"
    );
}
