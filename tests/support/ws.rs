//! A WebSocket client for black-box tests: the handshake written by hand, frames built byte by
//! byte (masked, as a client must), and the server's frames read and checked byte-exactly.

use std::net::SocketAddr;

use super::{Client, Response};

/// The RFC's sample key and the accept value that goes with it.
pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// A frame from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// FIN, RSV and opcode bits as sent.
    pub first: u8,
    pub payload: Vec<u8>,
}

impl Frame {
    pub fn opcode(&self) -> u8 {
        self.first & 0x0F
    }

    pub fn rsv1(&self) -> bool {
        self.first & 0x40 != 0
    }

    /// The code of a close frame (1005 for an empty one).
    pub fn close_code(&self) -> u16 {
        assert_eq!(self.opcode(), 0x8, "a close frame, not {self:?}");
        match self.payload[..] {
            [] => 1005,
            [high, low, ..] => u16::from_be_bytes([high, low]),
            _ => panic!("one-byte close payload"),
        }
    }
}

/// The bytes of a handshake request for `path` with the standard fields and `extra` lines.
pub fn handshake_request(path: &str, extra: &[&str]) -> String {
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n"
    );
    for line in extra {
        request.push_str(line);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request
}

/// A client frame: `first` (FIN, RSV, opcode) and `payload`, masked with a fixed key.
pub fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let key = [0xA1, 0xB2, 0xC3, 0xD4];
    let mut out = vec![first];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

/// A close frame's payload.
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason.as_bytes());
    payload
}

/// One client connection after a handshake.
pub struct WsClient {
    pub http: Client,
    /// The handshake's response.
    pub response: Response,
}

impl WsClient {
    /// Open a WebSocket to `path` with `extra` request lines; panics unless it is a 101.
    pub async fn open(addr: SocketAddr, path: &str, extra: &[&str]) -> WsClient {
        let client = WsClient::handshake(addr, &handshake_request(path, extra)).await;
        assert_eq!(client.response.status, 101, "{:?}", client.response);
        assert_eq!(client.response.header("sec-websocket-accept"), Some(ACCEPT));
        client
    }

    /// Send `request` and read the response head (a 101, or a refusal whose body is read).
    pub async fn handshake(addr: SocketAddr, request: &str) -> WsClient {
        let mut http = Client::connect(addr).await;
        http.send(request.as_bytes()).await;
        let mut response = http.head().await;
        if response.status != 101 {
            if let Some(length) = response.header("content-length") {
                response.body = http.exact(length.parse().unwrap()).await;
            }
        }
        WsClient { http, response }
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.http.send(bytes).await;
    }

    pub async fn send_frame(&mut self, first: u8, payload: &[u8]) {
        self.send_raw(&frame(first, payload)).await;
    }

    pub async fn text(&mut self, text: &str) {
        self.send_frame(0x81, text.as_bytes()).await;
    }

    pub async fn binary(&mut self, bytes: &[u8]) {
        self.send_frame(0x82, bytes).await;
    }

    pub async fn close(&mut self, code: u16, reason: &str) {
        self.send_frame(0x88, &close_payload(code, reason)).await;
    }

    /// The server's next frame; server frames are never masked.
    pub async fn read_frame(&mut self) -> Frame {
        let head = self.http.exact(2).await;
        assert_eq!(head[1] & 0x80, 0, "server frames are not masked");
        let len = match head[1] & 0x7F {
            126 => u16::from_be_bytes(self.http.exact(2).await.try_into().unwrap()) as usize,
            127 => u64::from_be_bytes(self.http.exact(8).await.try_into().unwrap()) as usize,
            n => n as usize,
        };
        Frame {
            first: head[0],
            payload: self.http.exact(len).await,
        }
    }

    /// The next frame that is not a ping (pings are answered).
    pub async fn read_data_frame(&mut self) -> Frame {
        loop {
            let frame = self.read_frame().await;
            if frame.opcode() != 0x9 {
                return frame;
            }
            self.send_frame(0x8A, &frame.payload).await;
        }
    }

    /// Expect a close frame with `code`, answer it, and see the connection end.
    pub async fn expect_close(&mut self, code: u16) {
        let frame = self.read_data_frame().await;
        assert_eq!(frame.close_code(), code, "{frame:?}");
        self.close(code, "").await;
        assert!(
            self.http.closed().await,
            "the server closes the connection after the close"
        );
    }

    /// Expect the connection to be failed with `code`: a close frame, then the end of the
    /// stream, without waiting for our answer.
    pub async fn expect_failed(&mut self, code: u16) {
        let frame = self.read_data_frame().await;
        assert_eq!(frame.close_code(), code, "{frame:?}");
        assert!(
            self.http.closed().await,
            "the server closes after failing the connection"
        );
    }
}
