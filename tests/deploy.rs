//! The deployment recipe of docs/deploy.md, run for real: nginx (with `deploy/nginx/rasgi.conf`
//! from the repo) in front of two rasgi instances, load through nginx while each instance in
//! turn gets SIGTERM and is started again, and `scope.client` as nginx reports it.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::binary::{binary, TempDir};

/// nginx, installed from Debian's packages if it is not there yet (CI installs it first).
fn nginx() -> &'static str {
    const NGINX: &str = "/usr/sbin/nginx";
    if !std::path::Path::new(NGINX).exists() {
        let installed = Command::new("apt-get")
            .args(["install", "-y", "-qq", "nginx-light"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            installed,
            "this test needs nginx: apt-get install nginx-light (.ci/run does)"
        );
    }
    NGINX
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_until_listening(port: u16) {
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "port {port} never opened"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A rasgi instance, stopped when it is dropped: also when a test fails half-way (nginx
/// missing, say), so that no instance outlives its test.
struct Instance(Child);

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A rasgi instance on `port`.
fn instance(port: u16, dir: &TempDir) -> Instance {
    let child = Command::new(binary())
        .args([
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--no-access-log",
            "--log-file",
        ])
        .arg(dir.0.join(format!("demo-{port}.log")))
        .args(["--timeout-graceful-shutdown", "5"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start rasgi");
    let instance = Instance(child);
    wait_until_listening(port);
    instance
}

/// nginx with the repo's config, its ports moved to the ones the test picked.
struct Nginx {
    child: Child,
    port: u16,
}

impl Nginx {
    fn start(dir: &TempDir, upstreams: [u16; 2]) -> Nginx {
        let port = free_port();
        let site = include_str!("../deploy/nginx/rasgi.conf")
            .replace("127.0.0.1:8001", &format!("127.0.0.1:{}", upstreams[0]))
            .replace("127.0.0.1:8002", &format!("127.0.0.1:{}", upstreams[1]))
            .replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));
        std::fs::write(dir.0.join("rasgi.conf"), site).unwrap();
        let prefix = dir.0.display();
        let main = format!(
            "daemon off;\nworker_processes 1;\nuser root root;\npid {prefix}/nginx.pid;\n\
             error_log {prefix}/error.log warn;\nevents {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {prefix}/body;\n\
             proxy_temp_path {prefix}/proxy;\n  fastcgi_temp_path {prefix}/fastcgi;\n\
             uwsgi_temp_path {prefix}/uwsgi;\n  scgi_temp_path {prefix}/scgi;\n\
             include {prefix}/rasgi.conf;\n}}\n"
        );
        std::fs::write(dir.0.join("nginx.conf"), main).unwrap();
        let child = Command::new(nginx())
            .arg("-p")
            .arg(&dir.0)
            .arg("-c")
            .arg(dir.0.join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start nginx");
        wait_until_listening(port);
        Nginx { child, port }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One GET on a keep-alive connection: the status, the body and whether the connection closes
/// after it, or `None` if the exchange failed.
fn get(stream: &mut TcpStream, path: &str) -> Option<(u16, Vec<u8>, bool)> {
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
        .ok()?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.trim().parse().ok())?;
            while raw.len() < end + 4 + length {
                let n = stream.read(&mut buf).ok()?;
                if n == 0 {
                    return None;
                }
                raw.extend_from_slice(&buf[..n]);
            }
            let status = head.get(9..12)?.parse().ok()?;
            let close = head.lines().any(|l| l.trim() == "connection: close");
            return Some((status, raw[end + 4..end + 4 + length].to_vec(), close));
        }
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn a_rolling_restart_behind_nginx_fails_no_request() {
    let dir = TempDir::new("deploy");
    let ports = [free_port(), free_port()];
    let mut instances = ports.map(|port| instance(port, &dir));
    let nginx = Nginx::start(&dir, ports);
    let front = SocketAddr::from(([127, 0, 0, 1], nginx.port));

    let running = Arc::new(AtomicBool::new(true));
    let (served, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (running, served, failed) = (running.clone(), served.clone(), failed.clone());
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(front).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                while running.load(Ordering::Relaxed) {
                    let close = match get(&mut stream, "/") {
                        Some((200, body, close)) if body == b"Hello, World!" => {
                            served.fetch_add(1, Ordering::Relaxed);
                            close
                        }
                        other => {
                            eprintln!("failed: {other:?}");
                            failed.fetch_add(1, Ordering::Relaxed);
                            true
                        }
                    };
                    // nginx closes a client connection after keepalive_requests (1,000).
                    if close {
                        stream = TcpStream::connect(front).unwrap();
                        stream
                            .set_read_timeout(Some(Duration::from_secs(10)))
                            .unwrap();
                    }
                }
            })
        })
        .collect();

    std::thread::sleep(Duration::from_millis(500));
    for (i, port) in ports.iter().enumerate() {
        let before = served.load(Ordering::Relaxed);
        let status = Command::new("kill")
            .args(["-TERM", &instances[i].0.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        assert_eq!(instances[i].0.wait().unwrap().code(), Some(0));
        // Served by the other instance meanwhile.
        std::thread::sleep(Duration::from_millis(300));
        instances[i] = instance(*port, &dir);
        std::thread::sleep(Duration::from_millis(500));
        assert!(served.load(Ordering::Relaxed) > before, "load kept flowing");
    }
    running.store(false, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }
    let (served, failed) = (
        served.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
    );
    println!("rolling restart behind nginx: {served} requests served, {failed} failed");
    assert!(served > 1000, "{served} requests");
    assert_eq!(failed, 0, "{served} served");
}

#[test]
fn behind_nginx_the_app_sees_the_real_client_and_scheme() {
    let dir = TempDir::new("deploy-client");
    let ports = [free_port(), free_port()];
    let instances = ports.map(|port| instance(port, &dir));
    let nginx = Nginx::start(&dir, ports);
    // The client comes from 127.0.0.2 (loopback too): nginx's own connection to rasgi comes
    // from 127.0.0.1, so the address the app reports can only be the one nginx forwarded.
    let mut stream = connect_from("127.0.0.2", nginx.port);
    let (status, body, _) = get(&mut stream, "/whoami").expect("an answer");
    assert_eq!(status, 200);
    let seen: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(seen["client"], "127.0.0.2:0", "{seen}");
    assert_eq!(seen["scheme"], "http");
    drop(instances);
}

/// A TCP connection from `source` (a local address) to `port` on 127.0.0.1.
fn connect_from(source: &str, port: u16) -> TcpStream {
    use std::os::fd::FromRawFd;
    let source: std::net::Ipv4Addr = source.parse().unwrap();
    // SAFETY: plain socket calls on a descriptor this function creates and then hands to
    // `TcpStream`, which owns it from there on.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0, "socket");
        let mut local: libc::sockaddr_in = std::mem::zeroed();
        local.sin_family = libc::AF_INET as libc::sa_family_t;
        local.sin_addr.s_addr = u32::from(source).to_be();
        let bound = libc::bind(
            fd,
            &local as *const libc::sockaddr_in as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert_eq!(bound, 0, "bind {source}");
        let mut remote: libc::sockaddr_in = std::mem::zeroed();
        remote.sin_family = libc::AF_INET as libc::sa_family_t;
        remote.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
        remote.sin_port = port.to_be();
        let connected = libc::connect(
            fd,
            &remote as *const libc::sockaddr_in as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert_eq!(connected, 0, "connect");
        let stream = TcpStream::from_raw_fd(fd);
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
    }
}
