//! HTTP/2 over real sockets: the demo from real clients (curl with prior knowledge and over
//! TLS, nghttp, h2load, Python's httpx), the flags, and one test per attack of the DoS classes,
//! each checking the server's answer, its memory, and that another connection is served
//! meanwhile. The protocol's rules themselves are pinned in crates/rasgi-h2/tests/conn.rs;
//! the driver's (scopes, bodies, shutdown) in tests/http2_driver.rs.

mod support;

use std::process::Command;
use std::time::Duration;

use rasgi::h2::frame::{
    flag, kind, setting, write_continuation, write_data, write_headers, write_ping,
    write_rst_stream, write_settings, write_window_update, ErrorCode, Frame, Setting,
};
use support::binary::{binary, Rasgi, TempDir};
use support::h2::H2;

/// What a client may make the server spend: resident memory may grow by at most this during
/// an attack (the same attacks without limits cost hundreds of MiB).
const ATTACK_MEMORY_KIB: u64 = 24 * 1024;

fn curl(args: &[&str]) -> std::process::Output {
    Command::new("curl")
        .args(["-s", "--max-time", "20"])
        .args(args)
        .output()
        .expect("curl runs")
}

fn text(output: &std::process::Output) -> String {
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn demo() -> Rasgi {
    Rasgi::start(&["--no-access-log"])
}

// ----- real clients -----

#[test]
fn curl_with_prior_knowledge_gets_every_demo_route_over_h2() {
    let rasgi = demo();
    let url = |path| rasgi.url(path);
    let h2 = [
        "--http2-prior-knowledge",
        "-w",
        "\n%{http_version} %{http_code}",
    ];
    let out = text(&curl(&[&h2[..], &[&url("/")]].concat()));
    assert_eq!(out, "Hello, World!\n2 200");
    // The middleware stack ran per stream, as over HTTP/1.1.
    let head = text(&curl(&["--http2-prior-knowledge", "-i", &url("/")]));
    for field in [
        "server: rasgi",
        "x-request-id: ",
        "x-process-time: ",
        "x-custom-header: ",
    ] {
        assert!(head.contains(field), "{field} in {head}");
    }
    // A request body larger than the stream's 1 MiB window: the server gives the window back
    // as the app reads.
    let dir = TempDir::new("h2-echo");
    let upload = dir.0.join("upload");
    let payload: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&upload, &payload).unwrap();
    let echoed = curl(&[
        "--http2-prior-knowledge",
        "--data-binary",
        &format!("@{}", upload.display()),
        &url("/echo"),
    ]);
    assert!(echoed.status.success(), "{echoed:?}");
    assert_eq!(echoed.stdout.len(), payload.len());
    assert!(echoed.stdout == payload, "the body came back as sent");
    // A response larger than every initial window.
    let big = curl(&["--http2-prior-knowledge", &url("/big?size=5000000")]);
    assert_eq!(big.stdout.len(), 5_000_000);
    let sse = text(&curl(
        &[&h2[..], &[&url("/sse?events=3&interval_ms=1")]].concat(),
    ));
    assert!(sse.contains("data: event 2"), "{sse}");
    assert!(sse.ends_with("2 200"), "{sse}");
    // HEAD: the head alone, whatever the app sends.
    let head = curl(&["--http2-prior-knowledge", "-I", &url("/big?size=1000")]);
    let head = text(&head);
    assert!(head.starts_with("HTTP/2 200"), "{head}");
    assert!(!head.contains("xxxx"), "{head}");
}

#[test]
fn rfc9113_3_1_an_upgrade_to_h2c_is_served_as_http_1_1() {
    // RFC 9113 deprecates the Upgrade mechanism: curl's `--http2` on an http:// URL asks for
    // it, and gets HTTP/1.1.
    let rasgi = demo();
    let out = text(&curl(&[
        "--http2",
        "-w",
        " %{http_version}",
        &rasgi.url("/"),
    ]));
    assert_eq!(out, "Hello, World! 1.1");
}

#[test]
fn metrics_count_requests_by_http_version() {
    let rasgi = demo();
    text(&curl(&[&rasgi.url("/")]));
    for _ in 0..2 {
        text(&curl(&["--http2-prior-knowledge", &rasgi.url("/")]));
    }
    let metrics = text(&curl(&["--http2-prior-knowledge", &rasgi.url("/metrics")]));
    assert!(
        metrics.contains("rasgi_requests_by_version_total{http_version=\"1.1\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("rasgi_requests_by_version_total{http_version=\"2\"} 2\n"),
        "{metrics}"
    );
}

#[test]
fn curl_over_tls_picks_h2_by_alpn_and_http_1_1_still_works() {
    let dir = TempDir::new("h2-tls");
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = dir.0.join("cert.pem");
    let key = dir.0.join("key.pem");
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.key_pair.serialize_pem()).unwrap();
    let rasgi = Rasgi::start(&[
        "--no-access-log",
        "--ssl-certfile",
        cert.to_str().unwrap(),
        "--ssl-keyfile",
        key.to_str().unwrap(),
    ]);
    let resolve = format!("localhost:{}:127.0.0.1", rasgi.port);
    let url = format!("https://localhost:{}/whoami", rasgi.port);
    let ask = |version: &str| {
        text(&curl(&[
            version,
            "--cacert",
            cert.to_str().unwrap(),
            "--resolve",
            &resolve,
            "-w",
            "\n%{http_version}",
            &url,
        ]))
    };
    let over_h2 = ask("--http2");
    assert!(over_h2.ends_with("\n2"), "{over_h2}");
    assert!(over_h2.contains("\"scheme\":\"https\""), "{over_h2}");
    let over_h1 = ask("--http1.1");
    assert!(over_h1.ends_with("\n1.1"), "{over_h1}");
}

#[test]
fn nghttp_gets_the_demo_routes() {
    let rasgi = demo();
    let output = Command::new("nghttp")
        .args(["-v", "-n"])
        .arg(rasgi.url("/"))
        .arg(rasgi.url("/big?size=200000"))
        .arg(rasgi.url("/sse?events=2&interval_ms=1"))
        .output()
        .expect("nghttp runs (Debian's nghttp2-client)");
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{out}");
    assert_eq!(out.matches(":status: 200").count(), 3, "{out}");
    assert!(!out.contains("recv GOAWAY"), "{out}");
    let echo = Command::new("nghttp")
        .args(["-d", "-"])
        .arg(rasgi.url("/echo"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(b"over nghttp")?;
            child.wait_with_output()
        })
        .expect("nghttp runs");
    assert_eq!(String::from_utf8_lossy(&echo.stdout), "over nghttp");
}

#[test]
fn h2load_100000_requests_on_16_connections_10_streams_each_none_fail() {
    let rasgi = demo();
    let output = Command::new("h2load")
        .args(["-n", "100000", "-c", "16", "-m", "10"])
        .arg(rasgi.url("/"))
        .output()
        .expect("h2load runs (Debian's nghttp2-client)");
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{out}");
    assert!(
        out.contains("100000 succeeded, 0 failed, 0 errored, 0 timeout"),
        "{out}"
    );
    assert!(out.contains("status codes: 100000 2xx"), "{out}");
}

#[test]
fn pythons_httpx_speaks_h2_to_the_demo() {
    let python = support::h2::python_with_httpx();
    let rasgi = demo();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/h2_httpx.py");
    let output = Command::new(python)
        .arg(script)
        .arg(rasgi.url(""))
        .output()
        .expect("python runs");
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(out.trim(), "ok HTTP/2 / /echo /sse /big");
}

// ----- the flags -----

#[test]
fn http_1_serves_http_1_1_only_and_http_2_serves_h2_only() {
    use std::io::{Read, Write};
    let only_one = Rasgi::start(&["--no-access-log", "--http", "1"]);
    // The preface is an HTTP/1.1 request of version 2.0 there.
    let mut raw = only_one.connect();
    raw.write_all(rasgi::h2::conn::PREFACE).unwrap();
    let mut answer = Vec::new();
    let _ = raw.read_to_end(&mut answer);
    assert!(
        answer.starts_with(b"HTTP/1.1 505 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let refused = curl(&["--http2-prior-knowledge", &only_one.url("/")]);
    assert!(!refused.status.success());
    assert_eq!(text(&curl(&[&only_one.url("/")])), "Hello, World!");

    let only_two = Rasgi::start(&["--no-access-log", "--http", "2"]);
    let refused = curl(&[
        "--http1.1",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &only_two.url("/"),
    ]);
    assert_eq!(String::from_utf8_lossy(&refused.stdout), "505");
    let served = curl(&[
        "--http2-prior-knowledge",
        "-w",
        " %{http_version}",
        &only_two.url("/"),
    ]);
    assert_eq!(text(&served), "Hello, World! 2");
}

#[test]
fn the_http2_flags_are_announced_and_bad_values_exit_2_naming_the_flag() {
    let rasgi = Rasgi::start(&[
        "--no-access-log",
        "--http2-max-concurrent-streams",
        "7",
        "--http2-max-headers-size",
        "9000",
        "--http2-initial-stream-window-size",
        "70000",
        "--http2-initial-connection-window-size",
        "200000",
    ]);
    let mut h2 = H2::connect(rasgi.port, &[]);
    h2.read_until(Duration::from_secs(5), |f| {
        matches!(f, Frame::WindowUpdate { .. })
    });
    let Some(Frame::Settings { settings, .. }) = h2.seen.first() else {
        panic!("{:?}", h2.seen);
    };
    let value = |id| settings.iter().find(|s| s.id == id).map(|s| s.value);
    assert_eq!(value(setting::MAX_CONCURRENT_STREAMS), Some(7));
    assert_eq!(value(setting::MAX_HEADER_LIST_SIZE), Some(9000));
    assert_eq!(value(setting::INITIAL_WINDOW_SIZE), Some(70_000));
    assert!(h2.seen.iter().any(|f| matches!(
        f,
        Frame::WindowUpdate { stream_id: 0, increment } if *increment == 200_000 - 65_535
    )));
    for (flag, value) in [
        ("--http", "3"),
        ("--http2-max-concurrent-streams", "0"),
        ("--http2-max-headers-size", "-1"),
        ("--http2-initial-stream-window-size", "2147483648"),
        ("--http2-initial-connection-window-size", "1000"),
    ] {
        let output = Command::new(binary())
            .args(["--bind", "127.0.0.1:0", flag, value])
            .output()
            .expect("rasgi runs");
        assert_eq!(output.status.code(), Some(2), "{flag} {value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(flag), "{flag} {value}: {stderr}");
    }
}

// ----- attacks: one per DoS class, named after its CVE -----

/// Run `attack` on a fresh connection to `rasgi`; the server's memory must stay within
/// [`ATTACK_MEMORY_KIB`] of where it was, and another connection must be served meanwhile.
fn under_attack(rasgi: &Rasgi, attack: impl FnOnce(&mut H2)) -> H2 {
    let pid = rasgi.child.id();
    // Warm the server up (its pools, its first connection) before the baseline.
    assert_eq!(
        H2::open(rasgi.port).exchange(1, "GET", "/", None).status,
        200
    );
    let before = H2::rss_kib(pid);
    let mut attacker = H2::connect(rasgi.port, &[]);
    attack(&mut attacker);
    let grown = H2::rss_kib(pid).saturating_sub(before);
    assert!(grown <= ATTACK_MEMORY_KIB, "the server grew by {grown} KiB");
    let other = H2::open(rasgi.port).exchange(1, "GET", "/", None);
    assert_eq!(other.status, 200, "another connection is served");
    attacker
}

fn calm(h2: &mut H2) {
    assert_eq!(
        h2.goaway(Duration::from_secs(10)).map(|g| g.1),
        Some(ErrorCode::EnhanceYourCalm),
        "{:?}",
        h2.seen.iter().rev().take(3).collect::<Vec<_>>()
    );
}

#[test]
fn cve_2023_44487_rapid_reset_is_answered_with_goaway_enhance_your_calm() {
    let rasgi = demo();
    let mut attacker = under_attack(&rasgi, |h2| {
        let mut out = Vec::new();
        for n in 0..2_000u32 {
            let id = 2 * n + 1;
            out.extend(h2.request_frames(
                id,
                "GET",
                "/stream?chunks=100&size=1000&interval_ms=100",
                true,
            ));
            write_rst_stream(&mut out, id, ErrorCode::Cancel);
        }
        h2.try_send(&out);
    });
    calm(&mut attacker);
}

#[test]
fn cve_2025_8671_made_you_reset_is_answered_with_goaway_enhance_your_calm() {
    let rasgi = demo();
    let mut attacker = under_attack(&rasgi, |h2| {
        let mut out = Vec::new();
        for n in 0..1_000u32 {
            let id = 2 * n + 1;
            out.extend(h2.request_frames(id, "POST", "/echo", false));
            // A WINDOW_UPDATE of 0 is a stream error: the server itself must reset the stream.
            out.extend_from_slice(&[0, 0, 4, kind::WINDOW_UPDATE, 0]);
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&0u32.to_be_bytes());
        }
        h2.try_send(&out);
    });
    calm(&mut attacker);
}

#[test]
fn cve_2024_27316_a_continuation_flood_is_answered_with_goaway_enhance_your_calm() {
    let rasgi = demo();
    let mut attacker = under_attack(&rasgi, |h2| {
        let mut out = Vec::new();
        out.extend_from_slice(&[0, 0, 1, kind::HEADERS, flag::END_STREAM]);
        out.extend_from_slice(&1u32.to_be_bytes());
        out.push(0x82);
        for _ in 0..100_000 {
            write_continuation(&mut out, 1, &[0x00, 1, b'a', 1, b'b'], false);
        }
        h2.try_send(&out);
    });
    calm(&mut attacker);
}

#[test]
fn cve_2016_6581_an_hpack_bomb_is_answered_431_and_the_connection_goes_on() {
    let rasgi = demo();
    let mut attacker = under_attack(&rasgi, |h2| {
        let big = "b".repeat(4_000);
        let mut block = h2.block(&[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "localhost"),
            ("x-bomb", &big),
        ]);
        // Its table entry, referenced 16,000 times: 64 MB of header list from 16 KB.
        block.extend(std::iter::repeat_n(0x80 | 62, 16_000));
        let mut out = Vec::new();
        write_headers(&mut out, 1, &block, true, 16_384);
        h2.send(&out);
        let response = h2.response(1, Duration::from_secs(10));
        assert_eq!(response.status, 431);
    });
    assert_eq!(attacker.exchange(3, "GET", "/", None).status, 200);
}

#[test]
fn cve_2019_9511_data_dribble_gets_no_more_than_the_window_and_nothing_is_buffered() {
    let rasgi = demo();
    under_attack(&rasgi, |h2| {
        // A client that opens its window one byte at a time on a 64 MB response.
        let mut out = Vec::new();
        write_settings(
            &mut out,
            &[Setting {
                id: setting::INITIAL_WINDOW_SIZE,
                value: 1,
            }],
        );
        out.extend(h2.request_frames(1, "GET", "/stream?chunks=1000&size=65536", true));
        h2.send(&out);
        for _ in 0..500 {
            let mut update = Vec::new();
            write_window_update(&mut update, 1, 1);
            if !h2.try_send(&update) {
                break;
            }
        }
        h2.read_until(Duration::from_secs(1), |_| false);
        let data: usize = h2
            .seen
            .iter()
            .map(|f| match f {
                Frame::Data {
                    stream_id: 1, data, ..
                } => data.len(),
                _ => 0,
            })
            .sum();
        assert!(data <= 501, "{data} bytes went out past the window");
    });
}

#[test]
fn cve_2019_9512_a_ping_flood_is_answered_with_goaway_enhance_your_calm() {
    let rasgi = demo();
    let mut attacker = under_attack(&rasgi, |h2| {
        let mut out = Vec::new();
        for _ in 0..20_000 {
            write_ping(&mut out, *b"pingpong", false);
        }
        h2.try_send(&out);
    });
    calm(&mut attacker);
}

#[test]
fn cve_2019_9512_a_ping_flood_that_reads_nothing_stops_the_server_reading() {
    // Requests now and then keep the frame budget from ending it: what bounds the server is
    // that it stops reading once the answers it cannot write back up.
    let rasgi = demo();
    under_attack(&rasgi, |h2| {
        h2.stream
            .set_write_timeout(Some(Duration::from_secs(3)))
            .unwrap();
        let mut written = 0usize;
        let mut stopped = false;
        for n in 0..2_000u32 {
            let mut out = h2.request_frames(2 * n + 1, "GET", "/", true);
            for _ in 0..5_000 {
                write_ping(&mut out, [0; 8], false);
            }
            if !h2.try_send(&out) {
                stopped = true;
                break;
            }
            written += out.len();
        }
        assert!(stopped, "the server read all {written} bytes");
        assert!(
            written < 64 << 20,
            "{written} bytes went in before it stopped"
        );
    });
}

#[test]
fn cve_2019_9513_a_priority_resource_loop_is_answered_with_goaway_enhance_your_calm() {
    let rasgi = demo();
    let mut attacker = under_attack(&rasgi, |h2| {
        let mut out = Vec::new();
        for n in 0..20_000u32 {
            let id = 2 * (n % 64) + 1;
            out.extend_from_slice(&[0, 0, 5, kind::PRIORITY, 0]);
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&(2 * ((n + 1) % 64) + 1).to_be_bytes());
            out.push(255);
        }
        h2.try_send(&out);
    });
    calm(&mut attacker);
}

#[test]
fn cve_2019_9514_a_reset_flood_is_answered_with_goaway_enhance_your_calm() {
    let rasgi = demo();
    let mut attacker = under_attack(&rasgi, |h2| {
        let mut out = Vec::new();
        for n in 0..1_000u32 {
            // A request without :path is malformed: each one solicits a RST_STREAM.
            let block = h2.block(&[(":method", "GET"), (":scheme", "http")]);
            write_headers(&mut out, 2 * n + 1, &block, true, 16_384);
        }
        h2.try_send(&out);
    });
    calm(&mut attacker);
}

#[test]
fn cve_2019_9515_a_settings_flood_is_answered_with_goaway_enhance_your_calm() {
    let rasgi = demo();
    let mut attacker = under_attack(&rasgi, |h2| {
        let mut out = Vec::new();
        for _ in 0..20_000 {
            write_settings(
                &mut out,
                &[Setting {
                    id: setting::HEADER_TABLE_SIZE,
                    value: 4096,
                }],
            );
        }
        h2.try_send(&out);
    });
    calm(&mut attacker);
}

#[test]
fn cve_2019_9516_zero_length_headers_are_refused_and_cost_nothing() {
    let rasgi = demo();
    let mut attacker = under_attack(&rasgi, |h2| {
        let mut out = Vec::new();
        for n in 0..100u32 {
            // 2,000 empty fields: 32 octets each as the list is counted, past 16 KiB.
            let mut block = h2.block(&[
                (":method", "GET"),
                (":scheme", "http"),
                (":path", "/"),
                (":authority", "localhost"),
            ]);
            for _ in 0..2_000 {
                block.extend_from_slice(&[0x00, 0x00, 0x00]);
            }
            write_headers(&mut out, 2 * n + 1, &block, true, 16_384);
        }
        h2.send(&out);
        let response = h2.response(199, Duration::from_secs(10));
        assert!(
            response.status == 431 || response.reset.is_some(),
            "{response:?}"
        );
    });
    // Refused streams past the budget end the connection; until then it serves.
    let _ = attacker.goaway(Duration::from_millis(100));
}

#[test]
fn cve_2019_9517_internal_data_buffering_stays_within_the_windows() {
    // A client that opens many large responses and a zero window: nothing is queued for it
    // beyond what the windows allow, so the apps wait instead of the server buffering.
    let rasgi = demo();
    under_attack(&rasgi, |h2| {
        let mut out = Vec::new();
        write_settings(
            &mut out,
            &[Setting {
                id: setting::INITIAL_WINDOW_SIZE,
                value: 0,
            }],
        );
        for n in 0..150u32 {
            out.extend(h2.request_frames(2 * n + 1, "GET", "/stream?chunks=1000&size=65536", true));
        }
        h2.send(&out);
        h2.read_until(Duration::from_secs(2), |_| false);
        let data: usize = h2
            .seen
            .iter()
            .map(|f| match f {
                Frame::Data { data, .. } => data.len(),
                _ => 0,
            })
            .sum();
        assert_eq!(data, 0, "no window, no data");
    });
}

#[test]
fn cve_2019_9518_empty_frames_are_answered_with_goaway_enhance_your_calm() {
    let rasgi = demo();
    let mut attacker = under_attack(&rasgi, |h2| {
        let mut out = h2.request_frames(1, "POST", "/echo", false);
        for _ in 0..20_000 {
            write_data(&mut out, 1, b"", false);
        }
        h2.try_send(&out);
    });
    calm(&mut attacker);
}

#[test]
fn a_small_data_flood_is_answered_with_goaway_enhance_your_calm() {
    let rasgi = demo();
    let mut attacker = under_attack(&rasgi, |h2| {
        let mut out = h2.request_frames(1, "POST", "/echo", false);
        for _ in 0..20_000 {
            write_data(&mut out, 1, b"x", false);
        }
        h2.try_send(&out);
    });
    calm(&mut attacker);
}

#[test]
fn a_window_update_flood_is_answered_with_goaway_enhance_your_calm() {
    let rasgi = demo();
    let mut attacker = under_attack(&rasgi, |h2| {
        let mut out = Vec::new();
        for _ in 0..20_000 {
            write_window_update(&mut out, 0, 1);
        }
        h2.try_send(&out);
    });
    calm(&mut attacker);
}
