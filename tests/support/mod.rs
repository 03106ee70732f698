//! Helpers for black-box tests: a server on a free loopback port, and a raw HTTP/1.1 client
//! that reads responses byte-exactly (so framing mistakes show).

#![allow(dead_code)]

pub mod apps;
pub mod binary;
pub mod browser;
pub mod h2;
pub mod ws;

use std::net::SocketAddr;
use std::time::Duration;

use rasgi::protocol::App;
use rasgi::server::{Listener, Server, ServerConfig, ServerError, Shutdown};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// How long any single wait in a test may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A server running on this test's runtime.
pub struct TestServer {
    pub addr: SocketAddr,
    pub shutdown: Shutdown,
    pub executor: rasgi::background::Executor,
    pub state: rasgi::protocol::State,
    pub counters: rasgi::server::ServerCounters,
    pub task: JoinHandle<Result<(), ServerError>>,
}

impl TestServer {
    pub async fn start<A: App>(app: A) -> TestServer {
        TestServer::with_config(app, test_config()).await
    }

    pub async fn with_config<A: App>(app: A, config: ServerConfig) -> TestServer {
        TestServer::with_executor(app, config, rasgi::background::Executor::default()).await
    }

    pub async fn with_executor<A: App>(
        app: A,
        config: ServerConfig,
        executor: rasgi::background::Executor,
    ) -> TestServer {
        let listener = Listener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("tcp");
        let server = Server::with_config(app, config).executor(executor);
        let shutdown = server.shutdown_signal();
        let executor = server.background().clone();
        let state = server.state().clone();
        let counters = server.server_counters().clone();
        let task = tokio::spawn(async move { server.serve(listener).await });
        TestServer {
            addr,
            shutdown,
            executor,
            state,
            counters,
            task,
        }
    }

    pub async fn connect(&self) -> Client {
        Client::connect(self.addr).await
    }

    /// Trigger shutdown and wait for `serve` to return.
    pub async fn stop(self) -> Result<(), ServerError> {
        self.shutdown.trigger();
        tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("server stops in time")
            .expect("server task")
    }
}

/// The default settings, quiet.
pub fn test_config() -> ServerConfig {
    ServerConfig {
        access_log: false,
        ..ServerConfig::default()
    }
}

/// One parsed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Whether the body was chunked.
    pub chunked: bool,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A raw client connection.
pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.expect("connect");
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// GET `path` with Host, and read the response.
    pub async fn get(&mut self, path: &str) -> Response {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes())
            .await;
        self.response().await
    }

    /// Read more bytes; false at end of stream.
    async fn fill(&mut self) -> bool {
        self.buf.reserve(64 * 1024);
        let n = tokio::time::timeout(PATIENCE, self.stream.read_buf(&mut self.buf))
            .await
            .expect("server answers in time")
            .unwrap_or(0);
        n > 0
    }

    /// Bytes up to and including the next CRLF CRLF.
    async fn head_bytes(&mut self) -> Vec<u8> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                return self.buf.drain(..end + 4).collect();
            }
            assert!(
                self.fill().await,
                "connection closed before a response head: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        }
    }

    /// Read the status line and headers only (for 1xx, or HEAD).
    pub async fn head(&mut self) -> Response {
        let head = self.head_bytes().await;
        let text = String::from_utf8(head).expect("head is text");
        let mut lines = text.split("\r\n");
        let status_line = lines.next().expect("status line");
        assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
        let status = status_line[9..12].parse().expect("status");
        let headers = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (n, v) = l.split_once(':').expect("header");
                (n.to_ascii_lowercase(), v.trim().to_string())
            })
            .collect();
        Response {
            status,
            headers,
            body: Vec::new(),
            chunked: false,
        }
    }

    /// Read one whole response (its body framed by content-length, chunked, or close).
    pub async fn response(&mut self) -> Response {
        let mut response = self.head().await;
        if response.status < 200 || response.status == 204 || response.status == 304 {
            return response;
        }
        if let Some(length) = response.header("content-length") {
            let length: usize = length.parse().expect("content-length");
            response.body = self.exact(length).await;
        } else if response.header("transfer-encoding") == Some("chunked") {
            response.chunked = true;
            loop {
                let line = self.line().await;
                let size =
                    usize::from_str_radix(line.split(';').next().unwrap(), 16).expect("chunk size");
                if size == 0 {
                    while !self.line().await.is_empty() {}
                    break;
                }
                let data = self.exact(size).await;
                response.body.extend_from_slice(&data);
                assert_eq!(self.exact(2).await, b"\r\n", "chunk data ends with CRLF");
            }
        } else {
            while self.fill().await {}
            response.body = std::mem::take(&mut self.buf);
        }
        response
    }

    /// Read the response to a HEAD request (no body, whatever the headers say).
    pub async fn head_response(&mut self) -> Response {
        self.head().await
    }

    pub async fn line(&mut self) -> String {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..end + 2).collect();
                return String::from_utf8_lossy(&line[..end]).into_owned();
            }
            assert!(self.fill().await, "connection closed mid-line");
        }
    }

    pub async fn exact(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            assert!(
                self.fill().await,
                "connection closed mid-body ({} of {n} bytes)",
                self.buf.len()
            );
        }
        self.buf.drain(..n).collect()
    }

    /// The remaining chunks of a chunked body, joined (through the last chunk and trailers).
    pub async fn rest_of_chunked_body(&mut self) -> Vec<u8> {
        let mut body = Vec::new();
        loop {
            let line = self.line().await;
            let size =
                usize::from_str_radix(line.split(';').next().unwrap(), 16).expect("chunk size");
            if size == 0 {
                while !self.line().await.is_empty() {}
                return body;
            }
            body.extend_from_slice(&self.exact(size).await);
            assert_eq!(self.exact(2).await, b"\r\n");
        }
    }

    /// Whether the server closed the connection (reads EOF with nothing pending).
    pub async fn closed(&mut self) -> bool {
        self.buf.is_empty() && !self.fill().await
    }

    /// Everything until the server closes.
    pub async fn rest(&mut self) -> Vec<u8> {
        while self.fill().await {}
        std::mem::take(&mut self.buf)
    }
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
