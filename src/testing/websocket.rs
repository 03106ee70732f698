//! [`TestWebSocket`]: a WebSocket to an app in memory, as Starlette's
//! `TestClient.websocket_connect` gives. The server's own driver serves the connection over an
//! in-memory stream; this side is a WebSocket client ([`rasgi_ws::Session`] in the client
//! role), so the handshake's rules, the frames and the close codes are the real ones.

use bytes::{Bytes, BytesMut};
use rasgi_protocol::{App, Headers};
use rasgi_server::Peers;
use rasgi_ws::{Config, Data, Incoming, Role, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::{parse_head, TestClient, TestResponse};

/// A WebSocket about to be opened: fields and subprotocols to add.
pub struct WebSocketBuilder<'c, A: App> {
    client: &'c TestClient<A>,
    path: String,
    headers: Vec<(String, String)>,
    subprotocols: Vec<String>,
}

/// The handshake was not accepted.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WebSocketRefused {
    /// The app closed before accepting (the server answered 403), or answered with an HTTP
    /// response of its own (the Denial Response extension), or failed (500).
    #[error("the WebSocket was refused with {}", .0.status)]
    Denied(TestResponse),
    /// The connection ended before any answer.
    #[error("the connection ended during the handshake")]
    Lost,
}

/// The WebSocket is closed; the close frame's code and reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the WebSocket closed with {code} {reason:?}")]
pub struct WebSocketClosed {
    /// The close code (1006 when the connection ended without one).
    pub code: u16,
    /// The reason.
    pub reason: String,
}

impl<'c, A: App> WebSocketBuilder<'c, A> {
    pub(super) fn new(client: &'c TestClient<A>, path: &str) -> Self {
        WebSocketBuilder {
            client,
            path: path.to_string(),
            headers: Vec::new(),
            subprotocols: Vec::new(),
        }
    }

    /// Add a header field to the handshake.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Offer a subprotocol.
    pub fn subprotocol(mut self, name: &str) -> Self {
        self.subprotocols.push(name.to_string());
        self
    }

    /// Open the WebSocket.
    pub async fn connect(self) -> Result<TestWebSocket, WebSocketRefused> {
        let peers = Peers {
            client: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 50000))),
            server: None,
            tls: false,
            tls_info: None,
        };
        // The server side ends by itself once this side's stream is dropped (a 1006 to the app).
        let (mut io, _result) = self.client.connect(peers).await;
        let mut request = format!(
            "GET {} HTTP/1.1\r\nhost: testserver\r\nupgrade: websocket\r\nconnection: upgrade\r\n\
             sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n",
            self.path
        );
        if !self.subprotocols.is_empty() {
            request.push_str(&format!(
                "sec-websocket-protocol: {}\r\n",
                self.subprotocols.join(", ")
            ));
        }
        for (name, value) in &self.headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        io.write_all(request.as_bytes())
            .await
            .map_err(|_| WebSocketRefused::Lost)?;
        let mut buf = BytesMut::new();
        let head_end = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            if io.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                return Err(WebSocketRefused::Lost);
            }
        };
        let head = buf.split_to(head_end);
        let (status, headers) = parse_head(&head).ok_or(WebSocketRefused::Lost)?;
        if status != 101 {
            let length: usize = headers
                .get_str("content-length")
                .and_then(|l| l.parse().ok())
                .unwrap_or(0);
            while buf.len() < length {
                if io.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                    break;
                }
            }
            let body = buf.split_to(length.min(buf.len())).freeze();
            let complete = body.len() == length;
            return Err(WebSocketRefused::Denied(TestResponse {
                status,
                headers,
                body,
                error: None,
                complete,
            }));
        }
        Ok(TestWebSocket {
            io,
            buf,
            session: Session::new(
                Role::Client,
                Config {
                    max_message_bytes: usize::MAX,
                    deflate: None,
                },
            ),
            headers,
        })
    }
}

/// An open WebSocket to the app.
pub struct TestWebSocket {
    io: DuplexStream,
    buf: BytesMut,
    session: Session,
    /// The 101's header fields (the accept key, the subprotocol, the middleware's fields).
    pub headers: Headers,
}

impl TestWebSocket {
    /// A header of the 101.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get_str(name)
    }

    /// Send a text message.
    pub async fn send_text(&mut self, text: &str) -> Result<(), WebSocketClosed> {
        self.send(Data::Text(Bytes::copy_from_slice(text.as_bytes())))
            .await
    }

    /// Send a binary message.
    pub async fn send_bytes(&mut self, bytes: impl Into<Bytes>) -> Result<(), WebSocketClosed> {
        self.send(Data::Binary(bytes.into())).await
    }

    async fn send(&mut self, data: Data) -> Result<(), WebSocketClosed> {
        self.session.send(&data).map_err(|_| self.closed())?;
        self.write_out().await
    }

    /// Close with `code` (and wait for the app's answer).
    pub async fn close(&mut self, code: u16) -> Result<(), WebSocketClosed> {
        self.session.close(code, "").map_err(|_| self.closed())?;
        self.write_out().await?;
        // Read to the app's answering close.
        while !self.session.is_closed() {
            if self.next().await.is_err() {
                break;
            }
        }
        Ok(())
    }

    /// The next message, text or binary (pings are answered on the way); the close, once the
    /// app closed.
    pub async fn receive(&mut self) -> Result<Data, WebSocketClosed> {
        self.next().await
    }

    /// The next message, which must be text.
    pub async fn receive_text(&mut self) -> Result<String, WebSocketClosed> {
        match self.next().await? {
            Data::Text(bytes) => Ok(String::from_utf8(bytes.to_vec()).expect("checked UTF-8")),
            Data::Binary(bytes) => {
                panic!("expected a text message, got {} binary bytes", bytes.len())
            }
        }
    }

    /// The next message, which must be binary.
    pub async fn receive_bytes(&mut self) -> Result<Bytes, WebSocketClosed> {
        match self.next().await? {
            Data::Binary(bytes) => Ok(bytes),
            Data::Text(text) => panic!("expected a binary message, got text {text:?}"),
        }
    }

    async fn next(&mut self) -> Result<Data, WebSocketClosed> {
        loop {
            match self.session.read(&mut self.buf) {
                Ok(Some(Incoming::Message(data))) => return Ok(data),
                Ok(Some(Incoming::Close(frame))) => {
                    self.write_out().await.ok();
                    return Err(WebSocketClosed {
                        code: frame.code,
                        reason: frame.reason,
                    });
                }
                Ok(Some(Incoming::Ping | Incoming::Pong(_))) => {
                    self.write_out().await?;
                }
                Ok(None) if self.session.is_closed() => return Err(self.closed()),
                Ok(None) => {
                    if self.io.read_buf(&mut self.buf).await.unwrap_or(0) == 0 {
                        return Err(WebSocketClosed {
                            code: 1006,
                            reason: String::new(),
                        });
                    }
                }
                Err(error) => {
                    return Err(WebSocketClosed {
                        code: error.close_code(),
                        reason: error.to_string(),
                    })
                }
            }
        }
    }

    async fn write_out(&mut self) -> Result<(), WebSocketClosed> {
        let out = self.session.output().to_vec();
        self.session.wrote(out.len());
        if self.io.write_all(&out).await.is_err() {
            return Err(self.closed());
        }
        Ok(())
    }

    fn closed(&self) -> WebSocketClosed {
        match self.session.close_received() {
            Some(frame) => WebSocketClosed {
                code: frame.code,
                reason: frame.reason.clone(),
            },
            None => WebSocketClosed {
                code: 1006,
                reason: String::new(),
            },
        }
    }
}
