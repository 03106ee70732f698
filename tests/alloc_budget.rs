//! The allocation budget, counted, not timed: a counting global allocator watches the server
//! answer N requests on one keep-alive connection, for the bare hello app and for the demo's
//! full middleware stack. The client is a blocking std socket with fixed buffers on its own
//! thread, so it allocates nothing while the count runs.

#![recursion_limit = "256"]

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rasgi::demo::{DemoConfig, RequestCounts};
use rasgi::protocol::{send_response, App, AppError, Bytes, Headers, Receive, Scope, Sender};
use rasgi::server::{Listener, Server};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above, which is the system allocator's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `dealloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The bare hello app: one static body.
struct Hello;

impl App for Hello {
    async fn call<R: Receive, S: Sender>(
        &self,
        scope: Scope,
        _: R,
        mut send: S,
    ) -> Result<(), AppError> {
        if let Scope::Http(_) = scope {
            let headers = Headers::with_capacity(2).with("content-type", "text/plain");
            send_response(
                &mut send,
                200,
                headers,
                Bytes::from_static(b"Hello, World!"),
            )
            .await?;
        }
        Ok(())
    }
}

const WARM_UP: u64 = 200;
const MEASURED: u64 = 2000;

/// Allocations per request while serving `app`.
fn allocations_per_request<A: App>(app: A) -> f64 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let server_thread = std::thread::spawn(move || {
        runtime.block_on(async move {
            let listener = Listener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            let server = Server::with_config(app, support::test_config());
            let stop = server.shutdown_signal();
            let serving = server.serve(listener);
            tokio::pin!(serving);
            tokio::select! {
                _ = &mut serving => {}
                _ = tokio::time::sleep(std::time::Duration::from_secs(60)) => stop.trigger(),
            }
        });
    });
    let addr = addr_rx.recv().unwrap();
    let mut stream = TcpStream::connect(addr).unwrap();
    let request = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let mut buf = [0u8; 4096];
    // One response, to learn its length (everything but the date and ids is fixed).
    let mut exchange = |stream: &mut TcpStream| {
        stream.write_all(request).unwrap();
        let mut got = 0;
        loop {
            got += stream.read(&mut buf[got..]).unwrap();
            if let Some(end) = buf[..got].windows(4).position(|w| w == b"\r\n\r\n") {
                let head = std::str::from_utf8(&buf[..end]).unwrap();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .unwrap()
                    .parse()
                    .unwrap();
                while got < end + 4 + length {
                    got += stream.read(&mut buf[got..]).unwrap();
                }
                return;
            }
        }
    };
    for _ in 0..WARM_UP {
        exchange(&mut stream);
    }
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..MEASURED {
        exchange(&mut stream);
    }
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    drop(stream);
    drop(server_thread);
    (after - before) as f64 / MEASURED as f64
}

#[test]
fn allocations_per_request_stay_within_budget() {
    let bare = allocations_per_request(Hello);
    let config = DemoConfig::default();
    let stacked = rasgi::demo::stack(&config, Arc::new(RequestCounts::default()), Hello).unwrap();
    let full = allocations_per_request(stacked);
    println!("allocations per request: bare hello {bare:.2}, full demo stack {full:.2}");
    assert!(
        bare <= BARE_BUDGET,
        "bare hello: {bare:.2} allocations per request"
    );
    assert!(
        full <= FULL_STACK_BUDGET,
        "full stack: {full:.2} allocations per request"
    );
}

/// The bare hello path: request header list, response header list.
const BARE_BUDGET: f64 = 2.0;
/// Through the demo's nine middleware (see docs/benchmarks.md for what each one costs).
const FULL_STACK_BUDGET: f64 = 4.0;
