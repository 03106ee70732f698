//! The rasgi server the load script measures: the scenarios' routes as a bare app, or behind the
//! demo's full middleware stack (`--stack`).
//!
//!   load_rasgi --bind 127.0.0.1:8080 [--stack | --floor [--floor-fields N] [--floor-checked]]
//!              [--workers N] [--reuseport]
//!
//! `--floor` is a yardstick for the stack, not a stack anyone would serve: one step that adds
//! the four fields the demo stack puts on a hello (`x-custom-header`, `x-process-time`,
//! `x-request-id`, `vary`) as constants, in the same two layers (the steps, then ServerErrors).
//! It computes nothing (no clock, no id, no host or origin check), so its instruction count is
//! the least a stack that answers like the demo's can cost with today's per-field price.
//! `--floor-fields N` makes it add N fields (the four again from the first): the slope between
//! two counts is what one field added by a middleware costs. They are constants checked at
//! compile time; with `--floor-checked`, each value is checked as it is pushed, as a value made
//! per request is.
//!
//! `--workers 1` runs one current-thread runtime, like the hyper baseline. With more workers,
//! `--reuseport` runs one current-thread runtime per worker, each with its own SO_REUSEPORT
//! listener; without it, one multi-thread runtime shares one listener.

#![recursion_limit = "256"]

use std::sync::Arc;

use rasgi::demo::{DemoConfig, RequestCounts};
use rasgi::middleware::{Decision, ResponseHook, ResponseStart, ServerErrors, Stack, Step};
use rasgi::prelude::*;
use rasgi::protocol::{FieldLine, FieldName, Message, SendError};

/// `GET /` hello, `GET /stream` 1 MiB in 64 KiB chunks, `POST /echo`, `GET /big` 100 KiB text.
#[derive(Clone)]
struct Scenarios;

impl App for Scenarios {
    async fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        mut receive: R,
        mut send: S,
    ) -> Result<(), AppError> {
        let Scope::Http(scope) = scope else {
            return Ok(());
        };
        let text = || Headers::new().with("content-type", "text/plain");
        match scope.path.as_str() {
            "/" | "/hello" => {
                send_response(&mut send, 200, text(), Bytes::from_static(b"Hello, World!")).await?
            }
            "/stream" => {
                send.send(Message::start(
                    200,
                    Headers::new().with("content-type", "application/octet-stream"),
                ))
                .await?;
                let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
                for _ in 0..16 {
                    send.send(Message::chunk(chunk.clone())).await?;
                }
                send.send(Message::body(Bytes::new())).await?;
            }
            "/echo" => {
                send.send(Message::start(
                    200,
                    Headers::new().with("content-type", "application/octet-stream"),
                ))
                .await?;
                loop {
                    match receive.receive().await {
                        Event::Request { body, more_body } => {
                            send.send(Message::Body { body, more_body }).await?;
                            if !more_body {
                                break;
                            }
                        }
                        _ => return Err("client left".into()),
                    }
                }
            }
            "/big" => {
                let body: Vec<u8> = b"rasgi streams, compresses and never buffers. "
                    .iter()
                    .copied()
                    .cycle()
                    .take(100 * 1024)
                    .collect();
                send_response(&mut send, 200, text(), body).await?;
            }
            _ => send_response(&mut send, 404, text(), "Not Found").await?,
        }
        Ok(())
    }
}

/// `--floor`'s one step: the demo stack's response fields for a hello, as constants.
struct Floor;

/// The fields [`Floor`] adds, values of the demo's shapes and lengths, in this order and
/// again from the first until `--floor-fields` (4 unless given) are added.
const FLOOR_VALUES: [(FieldName, &str); 4] = [
    (FieldName::new("x-custom-header"), "Custom Header Value"),
    (FieldName::new("x-process-time"), "0.000014"),
    (
        FieldName::new("x-request-id"),
        "78aa27ec19d12af60a255ad16001cad2",
    ),
    (FieldName::new("vary"), "Origin"),
];

/// The same fields checked at compile time, whole; `--floor-checked` pushes [`FLOOR_VALUES`]
/// instead, each value checked as it is pushed, as a value made per request is.
const FLOOR_FIELDS: [FieldLine; 4] = {
    const fn line(at: usize) -> FieldLine {
        FieldLine::from_static(FLOOR_VALUES[at].0.as_str(), FLOOR_VALUES[at].1)
    }
    [line(0), line(1), line(2), line(3)]
};

/// How many fields [`Floor`] adds: `--floor-fields`, so that the slope between two counts is
/// what one more field costs.
static FLOOR_FIELD_COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(4);
/// `--floor-checked`: the fields' values are checked as they are pushed.
static FLOOR_CHECKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[derive(Default)]
struct FloorFields;

impl ResponseHook for FloorFields {
    fn on_start(&mut self, start: &mut ResponseStart, _: &Bytes, _: bool) -> Result<(), SendError> {
        let count = FLOOR_FIELD_COUNT.load(std::sync::atomic::Ordering::Relaxed);
        if FLOOR_CHECKED.load(std::sync::atomic::Ordering::Relaxed) {
            for i in 0..count {
                let (name, value) = FLOOR_VALUES[i % FLOOR_VALUES.len()];
                start
                    .lines
                    .push(name, value.as_bytes())
                    .map_err(|_| SendError::InvalidHeader)?;
            }
            return Ok(());
        }
        for i in 0..count {
            start.lines.push_line(&FLOOR_FIELDS[i % FLOOR_FIELDS.len()]);
        }
        Ok(())
    }
}

impl Step for Floor {
    type Hook<'a> = FloorFields;

    fn describe(&self) -> String {
        "Floor".into()
    }

    fn on_request(&self, _: &mut Scope) -> Decision<FloorFields> {
        Decision::Continue(FloorFields)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Bare,
    Stack,
    Floor,
}

struct Args {
    bind: String,
    keep_alive: u64,
    mode: Mode,
    workers: usize,
    reuseport: bool,
}

fn args() -> Args {
    let mut args = Args {
        bind: "127.0.0.1:8080".into(),
        keep_alive: 5,
        mode: Mode::Bare,
        workers: 1,
        reuseport: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--bind" => args.bind = it.next().expect("--bind HOST:PORT"),
            "--stack" => args.mode = Mode::Stack,
            "--floor" => args.mode = Mode::Floor,
            "--floor-checked" => FLOOR_CHECKED.store(true, std::sync::atomic::Ordering::Relaxed),
            "--floor-fields" => {
                let count = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--floor-fields N");
                FLOOR_FIELD_COUNT.store(count, std::sync::atomic::Ordering::Relaxed);
            }
            "--keep-alive" => {
                args.keep_alive = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--keep-alive SECS")
            }
            "--reuseport" => args.reuseport = true,
            "--workers" => {
                args.workers = it.next().and_then(|n| n.parse().ok()).expect("--workers N")
            }
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

fn config(keep_alive: u64) -> ServerConfig {
    ServerConfig {
        access_log: false,
        keep_alive_timeout: std::time::Duration::from_secs(keep_alive),
        ..ServerConfig::default()
    }
}

async fn serve_on(listener: Listener, mode: Mode, keep_alive: u64) {
    let served = match mode {
        Mode::Stack => {
            let app = rasgi::demo::stack(
                &DemoConfig::default(),
                Arc::new(RequestCounts::default()),
                Scenarios,
            )
            .expect("stack");
            Server::with_config(app, config(keep_alive))
                .serve(listener)
                .await
        }
        Mode::Floor => {
            let app = Stack::new()
                .step(Floor)
                .push(ServerErrors::new())
                .app(Scenarios);
            Server::with_config(app, config(keep_alive))
                .serve(listener)
                .await
        }
        Mode::Bare => {
            Server::with_config(Scenarios, config(keep_alive))
                .serve(listener)
                .await
        }
    };
    served.expect("serve");
}

fn reuseport_listener(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseport(true)?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

fn main() {
    let args = args();
    println!(
        "load_rasgi on {} (stack: {}, floor: {}, workers: {}, reuseport: {})",
        args.bind,
        args.mode == Mode::Stack,
        args.mode == Mode::Floor,
        args.workers,
        args.reuseport
    );
    if args.workers == 1 || !args.reuseport {
        let runtime = if args.workers == 1 {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(args.workers)
                .enable_all()
                .build()
        }
        .expect("runtime");
        runtime.block_on(async {
            let listener = Listener::bind(&args.bind).await.expect("bind");
            serve_on(listener, args.mode, args.keep_alive).await;
        });
        return;
    }
    let addr: std::net::SocketAddr = args.bind.parse().expect("an IP:port for --reuseport");
    let threads: Vec<_> = (0..args.workers)
        .map(|_| {
            let (mode, keep_alive) = (args.mode, args.keep_alive);
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(async move {
                    let listener = reuseport_listener(addr).expect("reuseport bind");
                    serve_on(Listener::Tcp(listener), mode, keep_alive).await;
                });
            })
        })
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
}
