#!/usr/bin/env bash
# WebSocket load: rasgi's bare echo (benches/load/ws_rasgi.rs) and the shipped binary
# (`--workers 1`, its /ws/echo behind the demo stack) against fastwebsockets and tokio-tungstenite (benches/load/ws_peer.rs, one-thread runtimes) and
# uvicorn with `websockets`; servers pinned to CPU 0, the client (benches/load/ws_client.rs) to
# CPU 1. See docs/benchmarks.md.
#
#   benches/load/ws.sh [--rounds N] [--duration SECS] [--connections N] [--idle N]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

venv="$root/target/bench-venv"
if [ ! -x "$venv/bin/uvicorn" ] || ! "$venv/bin/python" -c "import websockets" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "uvicorn[standard]" starlette websockets
fi
cargo build --release --bin rasgi --example load_ws_rasgi --example load_ws_peer --example load_ws_client
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
exec python3 "$here/ws_bench.py" --root "$root" --venv "$venv" "$@"
