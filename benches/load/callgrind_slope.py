#!/usr/bin/env python3
"""Instructions per request as a slope: the server runs under callgrind twice, once for a small
and once for a large fixed number of requests, and the difference of the two totals divided by
the difference of the request counts is what one more request costs. Start-up, shutdown and the
first requests' warm-up fall out of the difference, so the figure is the same from run to run
to within a few instructions, however busy the machine is.

    benches/load/callgrind_slope.py [--pipelined | --h2 STREAMS [--path P] [--data FILE]]
        [--small 3000] [--large 13000] -- SERVER ARGS...

The client keeps 8 keep-alive connections busy, each sending `GET /` (16 at a time with
--pipelined) and reading the whole response before the next. With --h2, h2load is the client:
8 connections of HTTP/2 with prior knowledge, STREAMS requests in flight on each, each a `GET`
of `--path` (default `/`), or a `POST` of `--data`'s bytes when it is given. SERVER ARGS get
`--bind 127.0.0.1:PORT` appended; the server runs on CPU 0 (`procs.start`).
"""
import argparse
import selectors
import socket
import subprocess
import sys

import procs

REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
CONNECTIONS = 8


def responses_in(buffer):
    """How many whole responses `buffer` starts with, and the bytes they take."""
    count, at = 0, 0
    while True:
        end = buffer.find(b"\r\n\r\n", at)
        if end < 0:
            return count, at
        length = 0
        for line in buffer[at:end].split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if len(buffer) < end + 4 + length:
            return count, at
        at = end + 4 + length
        count += 1


def drive(port, total, depth):
    """Send `total` requests over CONNECTIONS connections, `depth` in flight on each."""
    selector = selectors.DefaultSelector()
    state = {}
    sent = 0
    for _ in range(CONNECTIONS):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        state[sock] = [b"", 0]
        selector.register(sock, selectors.EVENT_READ)
    done = 0

    def send_batch(sock):
        nonlocal sent
        n = min(depth, total - sent)
        if n > 0:
            sock.sendall(REQUEST * n)
            sent += n
            state[sock][1] = n

    for sock in list(state):
        send_batch(sock)
    while done < total:
        for key, _ in selector.select(timeout=30):
            sock = key.fileobj
            data = sock.recv(1 << 16)
            if not data:
                raise SystemExit("the server closed a connection")
            entry = state[sock]
            entry[0] += data
            count, used = responses_in(entry[0])
            entry[0] = entry[0][used:]
            entry[1] -= count
            done += count
            if entry[1] == 0:
                send_batch(sock)
    for sock in state:
        sock.close()


def drive_h2(port, total, streams, path, data):
    """Send `total` HTTP/2 requests with h2load over CONNECTIONS connections."""
    upload = ["-d", data] if data else []
    result = subprocess.run(
        ["taskset", "-c", "1", "h2load", "-n", str(total), "-c", str(CONNECTIONS),
         "-m", str(streams), *upload, f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=True)
    if f"{total} succeeded" not in result.stdout:
        raise SystemExit(f"h2load did not succeed in full:\n{result.stdout}")


def total_instructions(command, requests, depth, h2, path="/", data=None):
    if h2:
        load = lambda port: drive_h2(port, requests, h2, path, data)
    else:
        load = lambda port: drive(port, requests, depth)
    total, _ = procs.callgrind_total(command, load)
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipelined", action="store_true")
    parser.add_argument("--h2", type=int, default=0, metavar="STREAMS")
    parser.add_argument("--path", default="/")
    parser.add_argument("--data", default=None)
    parser.add_argument("--small", type=int, default=3000)
    parser.add_argument("--large", type=int, default=13000)
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()
    depth = 16 if args.pipelined else 1
    small = total_instructions(args.command, args.small, depth, args.h2, args.path, args.data)
    large = total_instructions(args.command, args.large, depth, args.h2, args.path, args.data)
    slope = (large - small) / (args.large - args.small)
    print(f"{' '.join(args.command)}: {slope:,.0f} instructions per request")


if __name__ == "__main__":
    sys.exit(main())
