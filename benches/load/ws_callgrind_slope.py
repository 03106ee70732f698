#!/usr/bin/env python3
"""Instructions per WebSocket round trip as a slope: a WebSocket echo server runs under
callgrind twice while benches/load/ws_client.rs echoes small messages over 8 connections, once
for a short and once for a long run, and the difference of the two instruction totals divided by
the difference of the round trips counted is what one more round trip costs. Start-up, the
handshakes and shutdown fall out of the difference.

    benches/load/ws_callgrind_slope.py [--size 16] [--short 3] [--long 9] [--path /ws/echo] \
        -- SERVER ARGS...

SERVER ARGS get `--bind 127.0.0.1:PORT` appended; the server runs on CPU 0 (`procs.start`), the
client (built by `cargo build --release --example load_ws_client`) on CPU 1.
"""
import argparse
import os
import subprocess
import sys

import procs

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONNECTIONS = 8


def run(command, seconds, size, path):
    """The server's instruction total and the round trips the client counted."""
    def load(port):
        client = subprocess.run(
            ["taskset", "-c", "1", f"{ROOT}/target/release/examples/load_ws_client",
             "--url", f"ws://127.0.0.1:{port}{path}", "--connections", str(CONNECTIONS),
             "--size", str(size), "--duration", str(seconds)],
            check=True, capture_output=True, text=True)
        return int(client.stdout.split()[-1])
    return procs.callgrind_total(command, load)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--short", type=int, default=3)
    parser.add_argument("--long", type=int, default=9)
    parser.add_argument("--path", default="/ws/echo")
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()
    short, short_trips = run(args.command, args.short, args.size, args.path)
    long, long_trips = run(args.command, args.long, args.size, args.path)
    slope = (long - short) / (long_trips - short_trips)
    print(f"{' '.join(args.command)}: {slope:,.0f} instructions per round trip "
          f"({short_trips:,} and {long_trips:,} round trips)")


if __name__ == "__main__":
    sys.exit(main())
