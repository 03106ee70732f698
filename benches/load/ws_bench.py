"""WebSocket load (see ws.sh): echo round trips per second and memory per idle WebSocket, for the
shipped rasgi binary, fastwebsockets, tokio-tungstenite and uvicorn; servers on CPU 0, the client
on CPU 1, in alternation; medians and ratios to the faster Rust peer."""
import argparse
import os
import statistics
import subprocess

import procs

HERE = os.path.dirname(os.path.abspath(__file__))

SERVERS = {
    "rasgi": ["{root}/target/release/examples/load_ws_rasgi", "--bind", "127.0.0.1:{port}"],
    "rasgi-binary": ["{root}/target/release/rasgi", "--workers", "1", "--no-access-log", "--bind", "127.0.0.1:{port}"],
    "fastwebsockets": ["{root}/target/release/examples/load_ws_peer", "--impl", "fastwebsockets", "--bind", "127.0.0.1:{port}"],
    "tungstenite": ["{root}/target/release/examples/load_ws_peer", "--impl", "tungstenite", "--bind", "127.0.0.1:{port}"],
    "uvicorn": ["{venv}/bin/uvicorn", "ws_echo_asgi:app", "--port", "{port}", "--ws", "websockets", "--loop", "uvloop",
                "--no-access-log", "--log-level", "warning", "--ws-per-message-deflate", "false"],
}
RUST_PEERS = ["fastwebsockets", "tungstenite"]


def start(name, port, args):
    command = [c.format(root=args.root, venv=args.venv, port=port) for c in SERVERS[name]]
    return procs.start(name, command, HERE, port)


def client(args, port, *extra):
    command = ["taskset", "-c", "1", f"{args.root}/target/release/examples/load_ws_client",
               "--url", f"ws://127.0.0.1:{port}/ws/echo"] + [str(e) for e in extra]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--venv", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=4)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--idle", type=int, default=1000)
    args = parser.parse_args()
    port = 8200
    results = {}
    for size in [16, 65536]:
        for round_ in range(args.rounds):
            for name in SERVERS:
                port += 1
                process = start(name, port, args)
                try:
                    rate, _ = client(args, port, "--size", size, "--duration", args.duration,
                                     "--connections", args.connections)
                    results.setdefault((size, name), []).append(float(rate))
                finally:
                    process.terminate()
                    process.wait()
    idle = {}
    for name in SERVERS:
        port += 1
        process = start(name, port, args)
        try:
            before, after, per = client(args, port, "--idle", args.idle, "--pid", process.pid)
            idle[name] = (int(before), int(after), float(per))
        finally:
            process.terminate()
            process.wait()
    print(f"echo round trips per second, {args.connections} connections, medians of {args.rounds} rounds of {args.duration:g} s")
    for size in [16, 65536]:
        faster = max(RUST_PEERS, key=lambda p: statistics.median(results[(size, p)]))
        peer = statistics.median(results[(size, faster)])
        print(f"\n{size} bytes (faster Rust peer: {faster}):")
        for name in SERVERS:
            runs = results[(size, name)]
            median = statistics.median(runs)
            # Rounds alternate servers, so a round's ratio to the peer's same round is less
            # exposed to the machine's slow drifts than the ratio of the medians.
            per_round = statistics.median(r / p for r, p in zip(runs, results[(size, faster)]))
            print(f"  {name:15} {median:10.0f}  {median / peer:5.2f}x of the faster Rust peer"
                  f" (per round {per_round:4.2f}x)   runs: {', '.join(f'{r:.0f}' for r in runs)}")
    print(f"\nmemory per idle open WebSocket ({args.idle} held open, resident set before and after):")
    for name, (before, after, per) in idle.items():
        print(f"  {name:15} {per:8.0f} B   ({before} KiB -> {after} KiB)")


main()
