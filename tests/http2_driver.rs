//! The HTTP/2 driver over a real socket, in-process: each stream is one ASGI `http` scope
//! with `http_version` "2", the request layer judges it as it judges HTTP/1.1, bodies follow
//! flow control both ways, background tasks run after the final DATA, and shutdown is GOAWAY
//! twice.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rasgi::h2::frame::{write_data, write_ping, write_window_update, ErrorCode, Frame};
use rasgi::protocol::{send_response, App, AppError, Headers, Receive, Scope, Sender};
use support::apps::Probe;
use support::h2::H2;
use support::TestServer;

async fn probe() -> (TestServer, Probe) {
    let probe = Probe::default();
    (TestServer::start(probe.clone()).await, probe)
}

/// Run a blocking client against the server, off the runtime's threads.
async fn client<T: Send + 'static>(run: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(run).await.expect("client")
}

#[tokio::test]
async fn rfc9113_8_3_1_each_stream_is_an_http_scope_of_version_2() {
    let (server, _) = probe().await;
    let port = server.addr.port();
    let response = client(move || {
        let mut h2 = H2::open(port);
        h2.exchange(1, "GET", "/scope?x=1&y=%20", None)
    })
    .await;
    assert_eq!(response.status, 200);
    assert_eq!(
        String::from_utf8_lossy(&response.body),
        "2 GET /scope raw=/scope query=x=1&y=%20 client=true root="
    );
}

#[tokio::test]
async fn rfc9113_8_3_1_authority_reaches_the_app_as_host() {
    struct Host;
    impl App for Host {
        async fn call<R: Receive, S: Sender>(
            &self,
            scope: Scope,
            _: R,
            mut send: S,
        ) -> Result<(), AppError> {
            let Scope::Http(scope) = scope else {
                return Ok(());
            };
            let hosts: Vec<String> = scope
                .headers
                .get_all("host")
                .map(|h| String::from_utf8_lossy(h).into_owned())
                .collect();
            send_response(&mut send, 200, Headers::new(), hosts.join(",")).await?;
            Ok(())
        }
    }
    let server = TestServer::start(Host).await;
    let port = server.addr.port();
    let body = client(move || H2::open(port).exchange(1, "GET", "/", None).body).await;
    assert_eq!(String::from_utf8_lossy(&body), "localhost");
}

#[tokio::test]
async fn a_request_body_streams_to_the_app_and_back() {
    let (server, _) = probe().await;
    let port = server.addr.port();
    let response = client(move || {
        let mut h2 = H2::open(port);
        h2.exchange(1, "POST", "/echo", Some(&vec![b'z'; 200_000]))
    })
    .await;
    assert_eq!(response.status, 200);
    assert_eq!(response.body.len(), 200_000);
}

#[tokio::test]
async fn an_app_error_before_its_start_is_a_500_and_after_it_a_reset() {
    let (server, _) = probe().await;
    let port = server.addr.port();
    let (before, returned, after, early) = client(move || {
        let mut h2 = H2::open(port);
        (
            h2.exchange(1, "GET", "/error-before", None),
            h2.exchange(3, "GET", "/return-before", None),
            h2.exchange(5, "GET", "/error-after", None),
            h2.exchange(7, "GET", "/return-early", None),
        )
    })
    .await;
    assert_eq!(before.status, 500);
    assert_eq!(
        String::from_utf8_lossy(&before.body),
        "Internal Server Error"
    );
    assert_eq!(returned.status, 500);
    assert_eq!(after.status, 200);
    assert_eq!(after.reset, Some(ErrorCode::InternalError));
    assert_eq!(early.reset, Some(ErrorCode::InternalError));
}

#[tokio::test]
async fn messages_out_of_order_are_refused_to_the_app_as_over_http_1_1() {
    let (server, probe) = probe().await;
    let port = server.addr.port();
    let response = client(move || H2::open(port).exchange(1, "GET", "/out-of-order", None)).await;
    let body = String::from_utf8_lossy(&response.body);
    assert!(body.starts_with("Err(OutOfOrder("), "{body}");
    assert!(
        probe.log.contains("after end: Err(OutOfOrder("),
        "{:?}",
        probe.log.lines()
    );
    let split = client(move || H2::open(port).exchange(1, "GET", "/splitting", None)).await;
    assert_eq!(String::from_utf8_lossy(&split.body), "Err(InvalidHeader)");
}

#[tokio::test]
async fn rfc9113_8_1_trailers_and_early_hints_are_header_blocks() {
    let (server, _) = probe().await;
    let port = server.addr.port();
    let (trailers, hints, seen) = client(move || {
        let mut h2 = H2::open(port);
        let trailers = h2.exchange(1, "GET", "/trailers", None);
        let hints = h2.exchange(3, "GET", "/early-hints", None);
        (trailers, hints, h2.seen)
    })
    .await;
    assert_eq!(String::from_utf8_lossy(&trailers.body), "data");
    assert_eq!(trailers.field("x-checksum"), Some("42"));
    let blocks: Vec<(u32, bool)> = seen
        .iter()
        .filter_map(|f| match f {
            Frame::Headers {
                stream_id,
                end_stream,
                ..
            } => Some((*stream_id, *end_stream)),
            _ => None,
        })
        .collect();
    // Stream 1: the head, then the trailers ending it; stream 3: the 103, then the 200.
    assert_eq!(blocks, vec![(1, false), (1, true), (3, false), (3, false)]);
    assert_eq!(hints.status, 200);
    assert_eq!(hints.field("link"), Some("</a.css>; rel=preload"));
}

#[tokio::test]
async fn rfc9110_10_1_1_expect_100_continue_is_answered_when_the_app_reads() {
    let (server, _) = probe().await;
    let port = server.addr.port();
    let response = client(move || {
        let mut h2 = H2::open(port);
        let block = h2.block(&[
            (":method", "POST"),
            (":scheme", "http"),
            (":path", "/count"),
            (":authority", "localhost"),
            ("expect", "100-continue"),
        ]);
        let mut out = Vec::new();
        rasgi::h2::frame::write_headers(&mut out, 1, &block, false, 16_384);
        h2.send(&out);
        // The interim 100 comes once the app asks for the body, before the client sends it.
        let interim = h2.read_until(Duration::from_secs(5), |f| {
            matches!(f, Frame::Headers { .. })
        });
        assert!(interim, "a 100 before the body: {:?}", h2.seen);
        let mut body = Vec::new();
        write_data(&mut body, 1, b"twelve bytes", true);
        h2.send(&body);
        h2.response(1, Duration::from_secs(5))
    })
    .await;
    assert_eq!(response.status, 200);
    assert_eq!(String::from_utf8_lossy(&response.body), "12");
}

#[tokio::test]
async fn rfc9113_6_9_a_send_waits_for_window_and_nothing_more_is_queued() {
    struct Large;
    impl App for Large {
        async fn call<R: Receive, S: Sender>(
            &self,
            _: Scope,
            _: R,
            mut send: S,
        ) -> Result<(), AppError> {
            send_response(&mut send, 200, Headers::new(), vec![b'L'; 1 << 20]).await?;
            Ok(())
        }
    }
    let server = TestServer::start(Large).await;
    let port = server.addr.port();
    let (first, rest) = client(move || {
        // The client's default windows: 65,535 bytes, then what it gives back.
        let mut h2 = H2::connect(port, &[]);
        let request = h2.request_frames(1, "GET", "/", true);
        h2.send(&request);
        h2.read_until(Duration::from_millis(500), |_| false);
        let first: usize = data_len(&h2.seen);
        let mut update = Vec::new();
        write_window_update(&mut update, 0, (1 << 20) - 65_535);
        write_window_update(&mut update, 1, (1 << 20) - 65_535);
        h2.send(&update);
        let response = h2.response(1, Duration::from_secs(5));
        (first, response.body.len())
    })
    .await;
    assert_eq!(first, 65_535);
    assert_eq!(rest, (1 << 20) - 65_535);
}

fn data_len(frames: &[Frame]) -> usize {
    frames
        .iter()
        .map(|f| match f {
            Frame::Data { data, .. } => data.len(),
            _ => 0,
        })
        .sum()
}

#[tokio::test]
async fn background_tasks_run_after_the_streams_final_data_and_not_after_a_reset() {
    struct Tasks(Arc<AtomicBool>, Arc<AtomicBool>);
    impl App for Tasks {
        async fn call<R: Receive, S: Sender>(
            &self,
            scope: Scope,
            _: R,
            mut send: S,
        ) -> Result<(), AppError> {
            let Scope::Http(scope) = scope else {
                return Ok(());
            };
            let ran = if scope.path == "/ok" {
                Arc::clone(&self.0)
            } else {
                Arc::clone(&self.1)
            };
            scope.background.add("mark", async move {
                ran.store(true, Ordering::SeqCst);
                Ok(())
            });
            if scope.path == "/ok" {
                send_response(&mut send, 200, Headers::new(), "done").await?;
                Ok(())
            } else {
                send.send(rasgi::protocol::Message::start(200, Headers::new()))
                    .await?;
                Err("fails mid-body".into())
            }
        }
    }
    let (ok, failed) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let server = TestServer::start(Tasks(Arc::clone(&ok), Arc::clone(&failed))).await;
    let port = server.addr.port();
    let (good, bad) = client(move || {
        let mut h2 = H2::open(port);
        (
            h2.exchange(1, "GET", "/ok", None),
            h2.exchange(3, "GET", "/fail", None),
        )
    })
    .await;
    assert_eq!(String::from_utf8_lossy(&good.body), "done");
    assert_eq!(bad.reset, Some(ErrorCode::InternalError));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        ok.load(Ordering::SeqCst),
        "the complete response's task ran"
    );
    assert!(
        !failed.load(Ordering::SeqCst),
        "the cut response's task did not"
    );
}

#[tokio::test]
async fn rfc9113_6_8_shutdown_is_goaway_twice_and_streams_in_flight_finish() {
    let (server, probe) = probe().await;
    let port = server.addr.port();
    let h2 = client(move || {
        let mut h2 = H2::open(port);
        let request = h2.request_frames(1, "GET", "/gated", true);
        h2.send(&request);
        h2.read_until(Duration::from_secs(5), |f| {
            matches!(f, Frame::Headers { .. })
        });
        h2
    })
    .await;
    server.shutdown.trigger();
    let gate = Arc::clone(&probe.gate);
    let (h2, first) = client(move || {
        let mut h2 = h2;
        let first = h2.goaway(Duration::from_secs(5));
        h2.read_until(Duration::from_secs(5), |f| matches!(f, Frame::Ping { .. }));
        (h2, first)
    })
    .await;
    assert_eq!(first, Some((0x7fff_ffff, ErrorCode::NoError)));
    gate.add_permits(3);
    let (seen, body) = client(move || {
        let mut h2 = h2;
        let ping = h2.seen.iter().find_map(|f| match f {
            Frame::Ping { ack: false, data } => Some(*data),
            _ => None,
        });
        let mut ack = Vec::new();
        write_ping(&mut ack, ping.expect("a PING with the first GOAWAY"), true);
        h2.send(&ack);
        let response = h2.response(1, Duration::from_secs(5));
        h2.read_until(Duration::from_secs(5), |f| {
            matches!(
                f,
                Frame::GoAway {
                    last_stream_id: 1,
                    ..
                }
            )
        });
        (h2.seen, response.body)
    })
    .await;
    assert_eq!(String::from_utf8_lossy(&body), "part0 part1 part2 end");
    let goaways: Vec<u32> = seen
        .iter()
        .filter_map(|f| match f {
            Frame::GoAway { last_stream_id, .. } => Some(*last_stream_id),
            _ => None,
        })
        .collect();
    assert_eq!(goaways, vec![0x7fff_ffff, 1]);
    server.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn an_idle_connection_is_closed_with_goaway_after_the_keep_alive_timeout() {
    let config = rasgi::server::ServerConfig {
        keep_alive_timeout: Duration::from_millis(300),
        ..support::test_config()
    };
    let server = TestServer::with_config(Probe::default(), config).await;
    let port = server.addr.port();
    let goaway = client(move || {
        let mut h2 = H2::open(port);
        assert_eq!(h2.exchange(1, "GET", "/", None).status, 200);
        h2.goaway(Duration::from_secs(5))
    })
    .await;
    assert_eq!(goaway, Some((1, ErrorCode::NoError)));
}

#[tokio::test]
async fn a_reset_stream_tells_its_app_the_client_left() {
    let (server, probe) = probe().await;
    let port = server.addr.port();
    let gate = Arc::clone(&probe.gate);
    client(move || {
        let mut h2 = H2::open(port);
        let request = h2.request_frames(1, "GET", "/gated-stream", true);
        h2.send(&request);
        h2.read_until(Duration::from_secs(5), |f| {
            matches!(f, Frame::Headers { .. })
        });
        let mut reset = Vec::new();
        rasgi::h2::frame::write_rst_stream(&mut reset, 1, ErrorCode::Cancel);
        h2.send(&reset);
        std::thread::sleep(Duration::from_millis(100));
        gate.add_permits(1);
        std::thread::sleep(Duration::from_millis(200));
    })
    .await;
    assert!(
        probe.log.contains("gated-stream: client gone"),
        "{:?}",
        probe.log.lines()
    );
}
