//! A small blocking HTTP/2 client for black-box tests, written from rasgi-h2's frame writers and
//! HPACK encoder: it sends exactly the frames a test asks for, right or wrong, and reads back
//! what the server sent.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rasgi::h2::conn::PREFACE;
use rasgi::h2::frame::{
    read_frame, write_data, write_headers, write_settings, ErrorCode, Frame, Setting,
};
use rasgi::h2::hpack::{Decoder, Encoder};

/// A connection to an HTTP/2 server.
pub struct H2 {
    pub stream: TcpStream,
    pub encoder: Encoder,
    decoder: Decoder,
    buf: BytesMut,
    /// Every frame read so far.
    pub seen: Vec<Frame>,
    /// How many of `seen` [`H2::tunnel_bytes`] has looked through.
    taken: usize,
}

/// What a stream got back.
#[derive(Debug, Default)]
pub struct H2Response {
    pub status: u16,
    pub fields: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub reset: Option<ErrorCode>,
}

impl H2Response {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl H2 {
    /// Connect, send the preface and `settings`, and read the server's SETTINGS.
    pub fn connect(port: u16, settings: &[Setting]) -> H2 {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut h2 = H2 {
            stream,
            encoder: Encoder::new(4096),
            decoder: Decoder::new(4096),
            buf: BytesMut::new(),
            seen: Vec::new(),
            taken: 0,
        };
        let mut out = PREFACE.to_vec();
        write_settings(&mut out, settings);
        h2.send(&out);
        let first = h2.read_until(Duration::from_secs(5), |f| {
            matches!(f, Frame::Settings { ack: false, .. })
        });
        assert!(first, "the server's SETTINGS: {:?}", h2.seen);
        h2
    }

    /// Connect with windows as large as HTTP/2 allows, so that responses never wait for this
    /// client.
    pub fn open(port: u16) -> H2 {
        let mut h2 = H2::connect(
            port,
            &[Setting {
                id: rasgi::h2::frame::setting::INITIAL_WINDOW_SIZE,
                value: 0x7fff_ffff,
            }],
        );
        let mut out = Vec::new();
        rasgi::h2::frame::write_window_update(&mut out, 0, 0x7fff_ffff - 65_535);
        h2.send(&out);
        h2
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Send, tolerating a peer that closed or stopped reading (`false` then).
    pub fn try_send(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok()
    }

    /// A header block for `fields`.
    pub fn block(&mut self, fields: &[(&str, &str)]) -> Vec<u8> {
        let mut block = Vec::new();
        self.encoder.encode(
            fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
            &mut block,
        );
        block
    }

    /// The HEADERS of a request on `id`.
    pub fn request_frames(
        &mut self,
        id: u32,
        method: &str,
        path: &str,
        end_stream: bool,
    ) -> Vec<u8> {
        let block = self.block(&[
            (":method", method),
            (":scheme", "http"),
            (":path", path),
            (":authority", "localhost"),
        ]);
        let mut out = Vec::new();
        write_headers(&mut out, id, &block, end_stream, 16_384);
        out
    }

    /// Read frames until `done` says so, the connection closes, or `limit` passes; whether
    /// `done` was met.
    pub fn read_until(&mut self, limit: Duration, mut done: impl FnMut(&Frame) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            while let Some(frame) = read_frame(&mut self.buf, 1 << 24).expect("a valid frame") {
                let met = done(&frame);
                self.seen.push(frame);
                if met {
                    return true;
                }
            }
            if Instant::now() > deadline {
                return false;
            }
            let mut chunk = [0u8; 65_536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return false,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => return false,
            }
        }
    }

    /// The GOAWAY read so far (or within `limit`), as (last stream, code).
    pub fn goaway(&mut self, limit: Duration) -> Option<(u32, ErrorCode)> {
        let find = |seen: &[Frame]| {
            seen.iter().find_map(|f| match f {
                Frame::GoAway {
                    last_stream_id,
                    code,
                    ..
                } => Some((*last_stream_id, *code)),
                _ => None,
            })
        };
        if let Some(found) = find(&self.seen) {
            return Some(found);
        }
        self.read_until(limit, |f| matches!(f, Frame::GoAway { .. }));
        find(&self.seen)
    }

    /// A whole exchange on stream `id`: the request (a body if `body` is some), then the
    /// response, its window kept open.
    pub fn exchange(
        &mut self,
        id: u32,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> H2Response {
        let mut out = self.request_frames(id, method, path, body.is_none());
        if let Some(body) = body {
            let mut pieces = body.chunks(16_384).peekable();
            if pieces.peek().is_none() {
                write_data(&mut out, id, b"", true);
            }
            while let Some(piece) = pieces.next() {
                write_data(&mut out, id, piece, pieces.peek().is_none());
            }
        }
        self.send(&out);
        self.response(id, Duration::from_secs(10))
    }

    /// Read until stream `id`'s response head (or its reset) comes, for a response whose body
    /// is read apart ([`H2::tunnel_bytes`]).
    pub fn head(&mut self, id: u32, limit: Duration) -> H2Response {
        let start = self.seen.len();
        let came = self.read_until(limit, |f| match f {
            Frame::Headers { stream_id, .. } | Frame::RstStream { stream_id, .. } => {
                *stream_id == id
            }
            _ => false,
        });
        assert!(came, "no head on stream {id}: {:?}", &self.seen[start..]);
        let mut response = self.collect(start, id);
        response.body.clear();
        response
    }

    /// The DATA bytes of stream `id` not taken before, reading until there are at least
    /// `at_least` of them or the stream ends; and whether it ended (END_STREAM or a reset).
    pub fn tunnel_bytes(&mut self, id: u32, at_least: usize, limit: Duration) -> (Vec<u8>, bool) {
        let on_id = |f: &Frame| match f {
            Frame::Data {
                stream_id,
                end_stream,
                data,
                ..
            } if *stream_id == id => Some((data.len(), *end_stream)),
            Frame::RstStream { stream_id, .. } if *stream_id == id => Some((0, true)),
            _ => None,
        };
        let (mut have, mut ended) = (0, false);
        for (len, end) in self.seen[self.taken..].iter().filter_map(on_id) {
            have += len;
            ended |= end;
        }
        if have < at_least && !ended {
            self.read_until(limit, |f| {
                if let Some((len, end)) = on_id(f) {
                    have += len;
                    ended |= end;
                }
                have >= at_least || ended
            });
        }
        let mut bytes = Vec::new();
        for frame in &self.seen[self.taken..] {
            if let Frame::Data {
                stream_id, data, ..
            } = frame
            {
                if *stream_id == id {
                    bytes.extend_from_slice(data);
                }
            }
        }
        self.taken = self.seen.len();
        (bytes, ended)
    }

    /// Read stream `id`'s response until it ends (END_STREAM or a reset).
    pub fn response(&mut self, id: u32, limit: Duration) -> H2Response {
        let start = self.seen.len();
        let ended = self.read_until(limit, |f| match f {
            Frame::Data {
                stream_id,
                end_stream,
                ..
            }
            | Frame::Headers {
                stream_id,
                end_stream,
                ..
            } => *stream_id == id && *end_stream,
            Frame::RstStream { stream_id, .. } => *stream_id == id,
            _ => false,
        });
        assert!(ended, "stream {id} did not end: {:?}", &self.seen[start..]);
        self.collect(start, id)
    }

    /// Stream `id`'s response in the frames read since `start`.
    fn collect(&mut self, start: usize, id: u32) -> H2Response {
        let mut response = H2Response::default();
        let frames: Vec<Frame> = self.seen[start..].to_vec();
        for frame in frames {
            match frame {
                Frame::Headers {
                    stream_id,
                    fragment,
                    ..
                } if stream_id == id => {
                    for field in self.decoder.decode(&fragment).expect("a valid block") {
                        let (name, value) = (
                            String::from_utf8_lossy(&field.name).into_owned(),
                            String::from_utf8_lossy(&field.value).into_owned(),
                        );
                        if name == ":status" {
                            response.status = value.parse().unwrap();
                        } else {
                            response.fields.push((name, value));
                        }
                    }
                }
                Frame::Headers { fragment, .. } => {
                    self.decoder.decode(&fragment).expect("a valid block");
                }
                Frame::Data {
                    stream_id, data, ..
                } if stream_id == id => {
                    response.body.extend_from_slice(&data);
                }
                Frame::RstStream { stream_id, code } if stream_id == id => {
                    response.reset = Some(code)
                }
                _ => {}
            }
        }
        response
    }

    /// Resident memory of process `pid`, in KiB.
    pub fn rss_kib(pid: u32) -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .expect("proc status")
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }
}

/// A venv with `httpx[http2]`, made once per test run in cargo's temp dir for tests.
pub fn python_with_httpx() -> std::path::PathBuf {
    let venv = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("h2-venv");
    let python = venv.join("bin/python");
    let ready = |python: &std::path::Path| {
        std::process::Command::new(python)
            .args(["-c", "import httpx, h2"])
            .status()
            .is_ok_and(|s| s.success())
    };
    // Tests run in parallel: one of them makes the venv, under a lock file.
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(venv.with_extension("lock"))
        .expect("lock file");
    let fd = std::os::fd::AsRawFd::as_raw_fd(&lock);
    // SAFETY: `fd` is the lock file's, open for the call.
    unsafe { libc::flock(fd, libc::LOCK_EX) };
    if !ready(&python) {
        let made = std::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 -m venv");
        assert!(made.success(), "python3 -m venv failed");
        let installed = std::process::Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "httpx[http2]>=0.27,<1"])
            .status()
            .expect("pip install httpx[http2]");
        assert!(installed.success(), "pip install httpx[http2] failed");
    }
    assert!(
        ready(&python),
        "httpx is not importable in {}",
        venv.display()
    );
    python
}
