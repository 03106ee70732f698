#!/usr/bin/env bash
# Memory per waiting server-sent-event stream: the shipped binary (plain and through GZip),
# hyper with a channel-fed body and uvicorn + Starlette, each a fresh server on CPU 0. See
# docs/benchmarks.md.
#
#   benches/load/sse.sh [--rounds N] [--streams N]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

venv="$root/target/bench-venv"
if [ ! -x "$venv/bin/uvicorn" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "uvicorn[standard]" starlette
fi
cargo build --release --bin rasgi --example load_hyper
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
exec python3 "$here/sse_memory.py" --root "$root" --venv "$venv" "$@"
