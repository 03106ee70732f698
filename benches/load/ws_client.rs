//! The WebSocket load client of benches/load/ws.sh: N connections each echoing one message at a
//! time for a while (round trips per second), or N idle WebSockets held open while the server's
//! resident memory is read. The frame is built and masked once; echoes are counted by their
//! frame heads, so the client's own work per round trip is a write and a read.
//!
//!   load_ws_client --url ws://127.0.0.1:8000/ws/echo --connections 100 --size 16 --duration 4
//!   load_ws_client --url ws://127.0.0.1:8000/ws/echo --idle 1000 --pid 1234
//!   load_ws_client --h2 --url ws://127.0.0.1:8000/ws/echo --connections 100 --size 16
//!
//! `--h2` opens the WebSockets over HTTP/2 (RFC 8441, h2c with prior knowledge): one
//! connection, `--connections` streams on it, each echoing one message at a time; the client
//! keeps to the server's flow-control windows and opens its own wide.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Args {
    host: String,
    path: String,
    connections: usize,
    size: usize,
    duration: Duration,
    idle: Option<usize>,
    pid: Option<u32>,
    h2: bool,
}

fn args() -> Args {
    let argv: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        argv.iter()
            .position(|a| a == flag)
            .and_then(|i| argv.get(i + 1))
            .cloned()
    };
    let url = value("--url").unwrap_or_else(|| "ws://127.0.0.1:8000/ws/echo".into());
    let rest = url.strip_prefix("ws://").expect("a ws:// URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    Args {
        host: host.to_string(),
        path: if path.is_empty() {
            "/".into()
        } else {
            path.to_string()
        },
        connections: value("--connections").map_or(100, |v| v.parse().expect("--connections N")),
        size: value("--size").map_or(16, |v| v.parse().expect("--size BYTES")),
        duration: Duration::from_secs_f64(
            value("--duration").map_or(4.0, |v| v.parse().expect("--duration SECS")),
        ),
        idle: value("--idle").map(|v| v.parse().expect("--idle N")),
        pid: value("--pid").map(|v| v.parse().expect("--pid PID")),
        h2: argv.iter().any(|a| a == "--h2"),
    }
}

/// Connect and complete the handshake.
async fn open(host: &str, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(host).await.expect("connect");
    stream.set_nodelay(true).unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            stream.read(&mut byte).await.unwrap(),
            1,
            "closed in the handshake"
        );
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    stream
}

/// A masked binary frame of `size` bytes.
fn frame(size: usize) -> Vec<u8> {
    let key = [0x12, 0x34, 0x56, 0x78];
    let mut out = vec![0x82];
    if size < 126 {
        out.push(0x80 | size as u8);
    } else if size <= 0xFFFF {
        out.push(0x80 | 126);
        out.extend_from_slice(&(size as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(size as u64).to_be_bytes());
    }
    out.extend_from_slice(&key);
    out.extend((0..size).map(|i| (i as u8) ^ key[i % 4]));
    out
}

/// The length of the server's frame at the start of `buf`, once its head is there.
fn server_frame_len(buf: &[u8]) -> Option<usize> {
    let [_, second, ..] = *buf else { return None };
    match second & 0x7F {
        126 => buf
            .get(2..4)
            .map(|b| 4 + u16::from_be_bytes([b[0], b[1]]) as usize),
        127 => buf
            .get(2..10)
            .map(|b| 10 + u64::from_be_bytes(b.try_into().unwrap()) as usize),
        n => Some(2 + n as usize),
    }
}

async fn echo_loop(
    mut stream: TcpStream,
    frame: Arc<Vec<u8>>,
    until: Instant,
    count: Arc<AtomicU64>,
) {
    let mut buf = vec![0u8; 256 * 1024];
    let mut filled = 0;
    while Instant::now() < until {
        stream.write_all(&frame).await.expect("write");
        loop {
            if let Some(len) = server_frame_len(&buf[..filled]) {
                if filled >= len {
                    let opcode = buf[0] & 0x0F;
                    buf.copy_within(len..filled, 0);
                    filled -= len;
                    if opcode == 0x2 {
                        break;
                    }
                    continue;
                }
                if buf.len() < len {
                    buf.resize(len, 0);
                }
            }
            let n = stream.read(&mut buf[filled..]).await.expect("read");
            assert!(n > 0, "the server closed mid-run");
            filled += n;
        }
        count.fetch_add(1, Ordering::Relaxed);
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let args = args();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        if let Some(n) = args.idle {
            let pid = args.pid.expect("--idle needs --pid");
            // One first, so the server's one-time allocations are in `before`.
            let warm = open(&args.host, &args.path).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            let before = rss_kib(pid);
            let mut open_sockets = Vec::with_capacity(n);
            for _ in 0..n {
                open_sockets.push(open(&args.host, &args.path).await);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            let after = rss_kib(pid);
            let per = (after.saturating_sub(before)) as f64 * 1024.0 / n as f64;
            println!("{before} {after} {per:.0}");
            drop(open_sockets);
            drop(warm);
            return;
        }
        if args.h2 {
            let (rate, total) = h2::echo(
                &args.host,
                &args.path,
                args.connections,
                &frame(args.size),
                args.duration,
            )
            .await;
            println!("{rate:.0} {total}");
            return;
        }
        let frame = Arc::new(frame(args.size));
        let count = Arc::new(AtomicU64::new(0));
        let mut streams = Vec::new();
        for _ in 0..args.connections {
            streams.push(open(&args.host, &args.path).await);
        }
        let started = Instant::now();
        let until = started + args.duration;
        let tasks: Vec<_> = streams
            .into_iter()
            .map(|s| tokio::spawn(echo_loop(s, frame.clone(), until, count.clone())))
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let total = count.load(Ordering::Relaxed);
        let secs = started.elapsed().as_secs_f64();
        println!("{:.0} {total}", total as f64 / secs);
    });
}

/// The echo over HTTP/2 (RFC 8441).
mod h2 {
    use std::collections::VecDeque;
    use std::time::{Duration, Instant};

    use bytes::BytesMut;
    use rasgi::h2::conn::PREFACE;
    use rasgi::h2::frame::{
        read_frame, setting, write_data, write_headers, write_settings, write_settings_ack,
        write_window_update, Frame, Setting,
    };
    use rasgi::h2::hpack::Encoder;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::server_frame_len;

    /// The client's own windows: as wide as HTTP/2 allows, topped up every 16 MiB.
    const WIDE: u32 = 0x7fff_ffff;
    const TOP_UP: u32 = 16 << 20;
    /// The server's largest frame before its SETTINGS say otherwise.
    const FRAME: usize = 16_384;

    struct Stream {
        id: u32,
        /// The server's window for this stream.
        window: i64,
        /// Bytes of the message still to send.
        to_send: usize,
        /// The echo's bytes so far.
        got: Vec<u8>,
        /// Bytes received and not yet given back.
        unacked: u32,
    }

    /// Round trips per second and their count.
    pub async fn echo(
        host: &str,
        path: &str,
        streams: usize,
        frame: &[u8],
        duration: Duration,
    ) -> (f64, u64) {
        let socket = TcpStream::connect(host).await.expect("connect");
        socket.set_nodelay(true).unwrap();
        let (mut rd, mut wr) = socket.into_split();
        // Writes go through a task of their own, so that reading never waits on them.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
        let writer = tokio::spawn(async move {
            while let Some(bytes) = rx.recv().await {
                if wr.write_all(&bytes).await.is_err() {
                    return;
                }
            }
        });
        let mut out = PREFACE.to_vec();
        write_settings(
            &mut out,
            &[Setting {
                id: setting::INITIAL_WINDOW_SIZE,
                value: WIDE,
            }],
        );
        write_window_update(&mut out, 0, WIDE - 65_535);
        let mut encoder = Encoder::new(4096);
        let mut all: Vec<Stream> = (0..streams)
            .map(|n| Stream {
                id: 2 * n as u32 + 1,
                window: 65_535,
                to_send: 0,
                got: Vec::new(),
                unacked: 0,
            })
            .collect();
        for stream in &all {
            let mut block = Vec::new();
            let fields = [
                (":method", "CONNECT"),
                (":protocol", "websocket"),
                (":scheme", "http"),
                (":path", path),
                (":authority", "localhost"),
                ("sec-websocket-version", "13"),
            ];
            encoder.encode(
                fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
                &mut block,
            );
            write_headers(&mut out, stream.id, &block, false, FRAME);
        }
        tx.send(std::mem::take(&mut out)).unwrap();

        let mut conn_window: i64 = 65_535;
        let mut conn_unacked: u32 = 0;
        let mut opened = 0;
        let mut ready: VecDeque<usize> = VecDeque::new();
        let mut count = 0u64;
        let mut buf = BytesMut::with_capacity(1 << 20);
        let mut started = None;
        let mut until = Instant::now() + Duration::from_secs(3600);
        loop {
            if rd.read_buf(&mut buf).await.expect("read") == 0 {
                panic!("the server closed the connection");
            }
            while let Some(frame_in) = read_frame(&mut buf, 1 << 24).expect("a valid frame") {
                match frame_in {
                    Frame::Settings {
                        ack: false,
                        settings,
                    } => {
                        for one in settings {
                            if one.id == setting::INITIAL_WINDOW_SIZE {
                                let delta = i64::from(one.value) - 65_535;
                                for stream in &mut all {
                                    stream.window += delta;
                                }
                            }
                        }
                        write_settings_ack(&mut out);
                    }
                    Frame::WindowUpdate {
                        stream_id: 0,
                        increment,
                    } => {
                        conn_window += i64::from(increment);
                    }
                    Frame::WindowUpdate {
                        stream_id,
                        increment,
                    } => {
                        all[(stream_id / 2) as usize].window += i64::from(increment);
                    }
                    Frame::Headers { stream_id, .. } => {
                        opened += 1;
                        let n = (stream_id / 2) as usize;
                        all[n].to_send = frame.len();
                        ready.push_back(n);
                        if opened == streams {
                            started = Some(Instant::now());
                            until = Instant::now() + duration;
                        }
                    }
                    Frame::Data {
                        stream_id,
                        data,
                        flow_len,
                        ..
                    } => {
                        let n = (stream_id / 2) as usize;
                        let stream = &mut all[n];
                        stream.got.extend_from_slice(&data);
                        stream.unacked += flow_len;
                        conn_unacked += flow_len;
                        if stream.unacked >= TOP_UP {
                            write_window_update(&mut out, stream.id, stream.unacked);
                            stream.unacked = 0;
                        }
                        while let Some(len) = server_frame_len(&stream.got) {
                            if stream.got.len() < len {
                                break;
                            }
                            // The echo is the message sent: the same length, unmasked.
                            assert_eq!(len, frame.len() - 4, "an echo of another length");
                            stream.got.drain(..len);
                            count += 1;
                            if Instant::now() < until {
                                stream.to_send = frame.len();
                                ready.push_back(n);
                            }
                        }
                    }
                    Frame::GoAway { code, .. } => panic!("GOAWAY {code:?}"),
                    Frame::RstStream { stream_id, code } => {
                        panic!("stream {stream_id} reset: {code:?}")
                    }
                    _ => {}
                }
            }
            if conn_unacked >= TOP_UP {
                write_window_update(&mut out, 0, conn_unacked);
                conn_unacked = 0;
            }
            // Send what the windows take, oldest message first.
            let mut waiting = VecDeque::new();
            while let Some(n) = ready.pop_front() {
                let stream = &mut all[n];
                while stream.to_send > 0 && stream.window > 0 && conn_window > 0 {
                    let at = frame.len() - stream.to_send;
                    let len = stream
                        .to_send
                        .min(FRAME)
                        .min(stream.window as usize)
                        .min(conn_window as usize);
                    write_data(&mut out, stream.id, &frame[at..at + len], false);
                    stream.to_send -= len;
                    stream.window -= len as i64;
                    conn_window -= len as i64;
                }
                if stream.to_send > 0 {
                    waiting.push_back(n);
                }
            }
            ready = waiting;
            if !out.is_empty() {
                tx.send(std::mem::take(&mut out)).unwrap();
            }
            if started.is_some() && Instant::now() >= until && ready.is_empty() {
                break;
            }
        }
        drop(tx);
        writer.abort();
        let secs = started
            .expect("every stream opened")
            .elapsed()
            .as_secs_f64();
        (count as f64 / secs, count)
    }
}
