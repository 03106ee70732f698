#!/usr/bin/env bash
# Load benchmarks: rasgi against hyper and uvicorn, in alternation, server pinned to CPU 0 and
# wrk (one thread) to CPU 1. See docs/benchmarks.md.
#
#   benches/load/run.sh [--rounds N] [--duration SECS] [--only SCENARIO[,SCENARIO]]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

if ! command -v wrk >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq wrk
fi
venv="$root/target/bench-venv"
if [ ! -x "$venv/bin/uvicorn" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "uvicorn[standard]" starlette
fi
cargo build --release --bin rasgi --example load_rasgi --example load_hyper
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
exec python3 "$here/bench.py" --root "$root" --venv "$venv" "$@"
