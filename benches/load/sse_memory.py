"""Memory per waiting server-sent-event stream, side by side: the shipped rasgi binary (its demo's
`/sse`, plain and through its GZip), hyper streaming the same events from a channel-fed body
(`load_hyper`'s `/sse`), and uvicorn + Starlette (`starlette_app:app`'s `/sse`, behind the same
middleware as the demo, and `starlette_app:bare`'s, behind none). Each measurement is a fresh server on CPU 0: one stream to warm it,
its resident memory, N more streams each read up to its first event, a second's wait, its
resident memory again. Prints every round and the medians as a markdown table."""
import argparse
import os
import signal
import socket
import statistics
import time

import procs

HERE = os.path.dirname(os.path.abspath(__file__))

SERVERS = {
    "rasgi-binary": (["{root}/target/release/rasgi", "--workers", "1", "--no-access-log", "--bind", "127.0.0.1:{port}",
                      "--log-file", "{root}/target/bench-demo.log"], None),
    "hyper": (["{root}/target/release/examples/load_hyper", "--bind", "127.0.0.1:{port}"], None),
    "uvicorn-starlette": (["{venv}/bin/uvicorn", "starlette_app:app", "--port", "{port}", "--no-access-log", "--loop", "uvloop",
                           "--http", "httptools", "--log-level", "warning"], HERE),
    "uvicorn-starlette-bare": (["{venv}/bin/uvicorn", "starlette_app:bare", "--port", "{port}", "--no-access-log", "--loop",
                                "uvloop", "--http", "httptools", "--log-level", "warning"], HERE),
}

# (server, ask for gzip)
CONFIGS = [("rasgi-binary", False), ("rasgi-binary", True), ("hyper", False),
           ("uvicorn-starlette", False), ("uvicorn-starlette", True), ("uvicorn-starlette-bare", False)]


def start(name, port, args):
    command, cwd = SERVERS[name]
    command = [c.format(root=args.root, venv=args.venv, port=port) for c in command]
    return procs.start(name, command, cwd, port)


def open_stream(port, gzip):
    """A stream read up to its first event; returns the socket and whether it came compressed."""
    s = socket.create_connection(("127.0.0.1", port))
    request = b"GET /sse?events=100&interval_ms=1000 HTTP/1.1\r\nHost: localhost\r\n"
    if gzip:
        request += b"Accept-Encoding: gzip\r\n"
    s.sendall(request + b"\r\n")
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit("a stream closed before its first event")
        data += chunk
        end = data.find(b"\r\n\r\n")
        if end >= 0 and len(data) > end + 4 + 8:
            head = data[:end].lower()
            if not head.startswith(b"http/1.1 200"):
                raise SystemExit(f"not a stream: {head[:40]!r}")
            return s, b"content-encoding: gzip" in head


def measure(name, gzip, port, args):
    process = start(name, port, args)
    try:
        warm, compressed = open_stream(port, gzip)
        time.sleep(0.5)
        before = procs.rss_kib(process.pid)
        streams = [open_stream(port, gzip)[0] for _ in range(args.streams)]
        time.sleep(1.0)
        after = procs.rss_kib(process.pid)
        for s in streams + [warm]:
            s.close()
        return (after - before) * 1024 / args.streams, compressed
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--venv", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--skip-servers", default="")
    args = parser.parse_args()
    skip = set(filter(None, args.skip_servers.split(",")))
    configs = [c for c in CONFIGS if c[0] not in skip]
    runs = {c: [] for c in configs}
    compressed = {}
    for round_ in range(args.rounds):
        for i, (name, gzip) in enumerate(configs):
            per, compressed[(name, gzip)] = measure(name, gzip, 18700 + i, args)
            runs[(name, gzip)].append(per)
            label = f"{name}{' gzip' if gzip else ''}"
            print(f"round {round_ + 1} {label:24} {per:8.0f} B per stream", flush=True)
    print()
    print(f"{args.streams} waiting streams, median of {args.rounds} fresh servers (resident memory)")
    print("| server | asked for gzip | compressed | bytes per stream |")
    print("| --- | --- | --- | ---: |")
    for (name, gzip), values in runs.items():
        print(f"| {name} | {'yes' if gzip else 'no'} | {'yes' if compressed[(name, gzip)] else 'no'} "
              f"| {statistics.median(values):,.0f} |")


main()
