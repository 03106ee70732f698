//! The `rasgi` binary as a user runs it: flags, real curl, signals, memory.

mod support;

use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

use support::binary::{binary, dechunk, request, Rasgi};

#[test]
fn help_lists_every_flag() {
    let output = Command::new(binary()).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--bind",
        "--uds",
        "--workers",
        "--timeout-keep-alive",
        "--timeout-graceful-shutdown",
        "--limit-concurrency",
        "--max-body-bytes",
        "--root-path",
        "--no-access-log",
        "--log-file",
        "--email-delay-ms",
        "--allowed-hosts",
        "--cors-origins",
        "--ws-max-size",
        "--ws-ping-interval",
        "--ws-ping-timeout",
        "--no-ws-per-message-deflate",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
}

#[test]
fn bad_flags_get_a_message_and_exit_2() {
    for args in [
        &["--no-such-flag"][..],
        &["--workers", "0"],
        &["--timeout-keep-alive", "-1"],
        &["--max-body-bytes", "lots"],
        &["--ws-max-size", "big"],
        &["--ws-ping-interval", "-1"],
        &["--ws-ping-timeout", "soon"],
        &["--use-colors=yes"],
        &["--no-use-colors=no"],
        &["--no-server-header=1"],
        &["--no-date-header=x"],
        &["--ssl-cert-reqs", "3"],
    ] {
        let output = Command::new(binary()).args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let message = String::from_utf8_lossy(&output.stderr);
        assert!(message.contains("error"), "{args:?}: {message}");
        let flag = args[0].split('=').next().unwrap();
        assert!(message.contains(flag), "{args:?}: {message}");
    }
}

#[test]
fn prints_the_address_it_bound_and_serves_hello() {
    let rasgi = Rasgi::start(&["--no-access-log"]);
    assert_ne!(rasgi.port, 0);
    let reply = request(&rasgi, "GET", "/", &[], b"");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "Hello, World!");
    assert!(reply
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
}

#[test]
fn access_log_has_one_line_per_request_unless_switched_off() {
    let rasgi = Rasgi::start(&[]);
    request(&rasgi, "GET", "/health", &[], b"");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !rasgi.stderr().contains("\"GET /health HTTP/1.1\" 200") {
        assert!(
            std::time::Instant::now() < deadline,
            "no access line: {}",
            rasgi.stderr()
        );
        std::thread::sleep(Duration::from_millis(10));
    }

    let quiet = Rasgi::start(&["--no-access-log"]);
    request(&quiet, "GET", "/health", &[], b"");
    request(&quiet, "GET", "/nope", &[], b"");
    // Both responses are complete; a logging server would have written its lines by now.
    std::thread::sleep(Duration::from_millis(200));
    assert!(!quiet.stderr().contains("GET /health"));
}

#[test]
fn serves_on_a_unix_socket() {
    let dir = support::binary::TempDir::new("uds");
    let socket = dir.0.join("rasgi.sock");
    let log = dir.0.join("demo.log");
    let mut child = Command::new(binary())
        .arg("--uds")
        .arg(&socket)
        .arg("--log-file")
        .arg(&log)
        .arg("--no-access-log")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stream = None;
    for _ in 0..500 {
        if let Ok(s) = std::os::unix::net::UnixStream::connect(&socket) {
            stream = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut stream = stream.expect("the socket appears");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).unwrap();
    assert!(out.ends_with("Hello, World!"), "{out}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn uds_never_deletes_a_file_that_is_not_a_socket() {
    let dir = support::binary::TempDir::new("uds-file");
    let precious = dir.0.join("precious.txt");
    std::fs::write(&precious, "keep me").unwrap();
    let output = Command::new(binary())
        .arg("--uds")
        .arg(&precious)
        .arg("--log-file")
        .arg(dir.0.join("demo.log"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot listen on"));
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me");
}

fn curl(args: &[&str]) -> (String, String) {
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .output()
        .expect("curl is installed");
    assert!(
        output.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn curl_upload_with_expect_100_continue() {
    let rasgi = Rasgi::start(&["--no-access-log"]);
    let dir = support::binary::TempDir::new("curl");
    let file = dir.0.join("upload.bin");
    let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, &payload).unwrap();
    let out = dir.0.join("echoed.bin");
    let (_, trace) = curl(&[
        "-v",
        "-H",
        "Expect: 100-continue",
        "-H",
        "Content-Type: application/octet-stream",
        "--data-binary",
        &format!("@{}", file.display()),
        "-o",
        out.to_str().unwrap(),
        &rasgi.url("/echo"),
    ]);
    assert!(trace.contains("< HTTP/1.1 100 Continue"), "{trace}");
    assert!(trace.contains("< HTTP/1.1 200 OK"), "{trace}");
    assert_eq!(std::fs::read(&out).unwrap(), payload);
}

#[test]
fn curl_chunked_upload_is_echoed() {
    let rasgi = Rasgi::start(&["--no-access-log"]);
    let (body, trace) = curl(&[
        "-v",
        "-H",
        "Transfer-Encoding: chunked",
        "-H",
        "Content-Type: text/plain",
        "--data-binary",
        "streamed upload body",
        &rasgi.url("/echo"),
    ]);
    assert!(trace.contains("> Transfer-Encoding: chunked"), "{trace}");
    assert_eq!(body, "streamed upload body");
}

#[test]
fn curl_reuses_the_keep_alive_connection() {
    let rasgi = Rasgi::start(&["--no-access-log"]);
    let (body, trace) = curl(&["-v", &rasgi.url("/"), &rasgi.url("/health")]);
    assert_eq!(body, "Hello, World!ok");
    assert!(
        trace.contains("Re-using existing connection") || trace.contains("Reusing existing"),
        "{trace}"
    );
    assert_eq!(trace.matches("Connected to").count(), 1, "{trace}");
}

#[test]
fn no_server_header_and_no_date_header_leave_those_fields_out() {
    let plain = Rasgi::start(&["--no-access-log"]);
    let reply = request(&plain, "GET", "/health", &[], b"");
    assert_eq!(reply.header("server"), Some("rasgi"));
    assert!(reply.header("date").is_some());
    let bare = Rasgi::start(&["--no-access-log", "--no-server-header", "--no-date-header"]);
    let reply = request(&bare, "GET", "/health", &[], b"");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("server"), None);
    assert_eq!(reply.header("date"), None);
}

/// Everything the binary wrote to stderr once it stopped after one `GET /health`.
fn stderr_after_one_request(flags: &[&str]) -> String {
    let mut rasgi = Rasgi::start(flags);
    assert_eq!(request(&rasgi, "GET", "/health", &[], b"").status, 200);
    rasgi.terminate();
    assert_eq!(rasgi.wait(Duration::from_secs(10)), Some(0));
    rasgi.stderr_once_stopped()
}

#[test]
fn log_level_sets_the_least_severe_messages_shown() {
    let info = stderr_after_one_request(&["--log-level", "info"]);
    assert!(info.contains("rasgi::access"), "{info}");
    assert!(!info.contains("DEBUG"), "{info}");
    let warning = stderr_after_one_request(&["--log-level", "warning"]);
    assert!(warning.contains("rasgi stopped"), "{warning}");
    assert!(!warning.contains("rasgi::access"), "{warning}");
    let debug = stderr_after_one_request(&["--log-level", "debug"]);
    assert!(
        debug.contains("rasgi::access") && debug.contains("DEBUG"),
        "{debug}"
    );
}

#[test]
fn use_colors_colours_the_log_lines_and_no_use_colors_or_a_pipe_does_not() {
    const ESCAPE: char = '\u{1b}';
    let colored = stderr_after_one_request(&["--use-colors"]);
    assert!(colored.contains(ESCAPE), "{colored:?}");
    let plain = stderr_after_one_request(&["--no-use-colors"]);
    assert!(!plain.contains(ESCAPE), "{plain:?}");
    // The test reads stderr through a pipe: no terminal, no colours.
    let piped = stderr_after_one_request(&["--log-level", "info"]);
    assert!(
        piped.contains("rasgi::access") && !piped.contains(ESCAPE),
        "{piped:?}"
    );
}

#[test]
fn limit_max_requests_serves_that_many_then_stops_gracefully_with_exit_0() {
    let mut rasgi = Rasgi::start(&["--limit-max-requests", "3"]);
    for _ in 0..2 {
        assert_eq!(request(&rasgi, "GET", "/health", &[], b"").status, 200);
    }
    let last = request(&rasgi, "GET", "/health", &[], b"");
    assert_eq!(last.status, 200);
    assert_eq!(rasgi.wait(Duration::from_secs(10)), Some(0));
    let stderr = rasgi.stderr_once_stopped();
    assert!(stderr.contains("served the request limit"), "{stderr}");
    assert_eq!(stderr.matches("rasgi::access").count(), 3, "{stderr}");
    let output = Command::new(binary())
        .args(["--bind", "127.0.0.1:0", "--limit-max-requests", "0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--limit-max-requests"));
}

#[test]
fn backlog_sets_the_listening_sockets_queue() {
    // `ss` gives a listening socket's backlog as its Send-Q.
    let queue = |port: u16| -> String {
        let out = Command::new("ss")
            .args(["-Hltn", &format!("sport = :{port}")])
            .output()
            .expect("ss (iproute2) is on the machine");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.split_whitespace()
            .nth(2)
            .unwrap_or_default()
            .to_string()
    };
    let default = Rasgi::start(&["--no-access-log"]);
    assert_eq!(queue(default.port), "2048");
    let small = Rasgi::start(&["--no-access-log", "--backlog", "77"]);
    assert_eq!(queue(small.port), "77");
    assert_eq!(request(&small, "GET", "/health", &[], b"").status, 200);
    let output = Command::new(binary())
        .args(["--bind", "127.0.0.1:0", "--backlog", "0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--backlog"));
}

#[test]
fn header_adds_its_fields_to_every_response_the_servers_own_too() {
    let rasgi = Rasgi::start(&[
        "--no-access-log",
        "--header",
        "X-Deployed-By: ops",
        "--header",
        "x-region:eu-west",
    ]);
    let reply = request(&rasgi, "GET", "/health", &[], b"");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-deployed-by"), Some("ops"));
    assert_eq!(reply.header("x-region"), Some("eu-west"));
    // A head the server refuses itself is answered with them too.
    let mut stream = rasgi.connect();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost a\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let refused = String::from_utf8_lossy(&raw);
    assert!(refused.starts_with("HTTP/1.1 400"), "{refused}");
    assert!(
        refused.contains("\r\nx-deployed-by: ops\r\n") && refused.contains("x-region: eu-west"),
        "{refused}"
    );
    for bad in ["no-colon", "x-bad: a\rb", "bad name: x"] {
        let output = Command::new(binary())
            .args(["--bind", "127.0.0.1:0", "--header", bad])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{bad:?}");
        let message = String::from_utf8_lossy(&output.stderr);
        assert!(message.contains("--header"), "{bad:?}: {message}");
    }
}

#[test]
fn a_log_level_uvicorn_does_not_name_exits_2_naming_the_flag() {
    let output = Command::new(binary())
        .args(["--bind", "127.0.0.1:0", "--log-level", "loud"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("--log-level") && message.contains("warning"),
        "{message}"
    );
}

#[test]
fn sigterm_stops_an_idle_server_at_once_and_says_so() {
    // The median of three runs, so that one slow start of the machine does not decide it.
    let mut took = Vec::new();
    for _ in 0..3 {
        let mut rasgi = Rasgi::start(&["--no-access-log"]);
        // Served once, so that the connection that was open is closed again by now.
        assert_eq!(request(&rasgi, "GET", "/health", &[], b"").status, 200);
        let started = Instant::now();
        rasgi.terminate();
        assert_eq!(rasgi.wait(Duration::from_secs(10)), Some(0));
        took.push(started.elapsed());
        let stderr = rasgi.stderr_once_stopped();
        let (stopping, stopped) = (
            stderr.find("rasgi shutting down").expect(&stderr),
            stderr.find("rasgi stopped").expect(&stderr),
        );
        assert!(stopping < stopped, "{stderr}");
    }
    took.sort();
    assert!(took[1] < Duration::from_millis(100), "{took:?}");
}

#[test]
fn sigterm_during_a_streaming_response_lets_it_finish() {
    let mut rasgi = Rasgi::start(&["--no-access-log"]);
    let mut stream = rasgi.connect();
    stream
        .write_all(
            b"GET /stream?chunks=20&size=10&interval_ms=50 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        )
        .unwrap();
    let mut first = [0u8; 64];
    let n = stream.read(&mut first).unwrap();
    assert!(n > 0 && first.starts_with(b"HTTP/1.1 200 OK"));
    rasgi.terminate();
    let mut rest = first[..n].to_vec();
    stream.read_to_end(&mut rest).unwrap();
    let head_end = rest.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&rest[..head_end]).to_lowercase();
    let body = dechunk(&rest[head_end + 4..]);
    assert_eq!(
        body.len(),
        200,
        "all 20 chunks of 10 bytes arrive after SIGTERM"
    );
    assert!(
        head.contains("connection: close") || rest.ends_with(b"0\r\n\r\n"),
        "{head}"
    );
    assert_eq!(rasgi.wait(Duration::from_secs(10)), Some(0));
}

#[test]
fn failing_startup_exits_non_zero_with_the_apps_message() {
    let output = Command::new(binary())
        .args([
            "--bind",
            "127.0.0.1:0",
            "--log-file",
            "/nonexistent-dir/rasgi/demo.log",
        ])
        .output()
        .unwrap();
    // 3, as uvicorn's startup failure.
    assert_eq!(output.status.code(), Some(3));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains(
            "lifespan startup failed: cannot open log file /nonexistent-dir/rasgi/demo.log"
        ),
        "{message}"
    );
}

#[test]
fn lifespan_on_requires_the_startup_and_off_never_runs_it() {
    let run = |mode: &str| {
        Command::new(binary())
            .args(["--bind", "127.0.0.1:0", "--lifespan", mode, "--log-file"])
            .arg("/nonexistent-dir/rasgi/demo.log")
            .output()
            .unwrap()
    };
    // The demo's startup opens its log file: with `on` (as with `auto`) a startup that fails
    // stops the server with 3.
    let on = run("on");
    assert_eq!(on.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&on.stderr).contains("lifespan startup failed"));
    // The startup opens (creates) the demo's log file; with `off` it never runs, and the
    // server serves all the same.
    let auto = Rasgi::start(&["--lifespan", "auto"]);
    assert_eq!(request(&auto, "GET", "/health", &[], b"").status, 200);
    assert!(auto.log_file.exists());
    let mut off = Rasgi::start(&["--lifespan", "off"]);
    assert_eq!(request(&off, "GET", "/health", &[], b"").status, 200);
    assert!(!off.log_file.exists());
    off.terminate();
    assert_eq!(off.wait(Duration::from_secs(10)), Some(0));
    let bad = run("sometimes");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--lifespan"));
}

#[test]
fn uploading_256_mib_through_echo_keeps_memory_bounded() {
    const TOTAL: usize = 256 << 20;
    let rasgi = Rasgi::start(&["--no-access-log"]);
    let stream = rasgi.connect();
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let head = format!("POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: {TOTAL}\r\nConnection: close\r\n\r\n");
        writer.write_all(head.as_bytes()).unwrap();
        let chunk = vec![b'z'; 64 * 1024];
        for _ in 0..TOTAL / chunk.len() {
            writer.write_all(&chunk).unwrap();
        }
    });
    let mut reader = stream;
    let mut received = 0usize;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        received += n;
    }
    sender.join().unwrap();
    assert!(
        received > TOTAL,
        "the whole body came back ({received} bytes with the head)"
    );
    let peak = rasgi.peak_rss_kib();
    assert!(
        peak < 64 * 1024,
        "peak memory {peak} KiB for a 256 MiB upload"
    );
}
