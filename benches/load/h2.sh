#!/usr/bin/env bash
# HTTP/2 side by side: hyper (`load_hyper --h2`, its `http2::Builder` with default settings,
# one current-thread runtime; `--minimal` for hello: one `Full<Bytes>` body, no router), bare
# rasgi (`load_rasgi`), rasgi with the demo stack (`load_rasgi --stack`) and the shipped binary
# (`rasgi --workers 1 --no-access-log`), all h2c with prior knowledge on core 0, h2load on
# core 1. Five alternating rounds of 5 s per scenario; medians, and each one's ratio to hyper.
#
#   benches/load/h2.sh [hello10|hello1|download|upload|sse]...   (default: all five)
#
# hello10: GET /, -c 64 -m 10;  hello1: GET /, -c 64 -m 1;
# download: 1 MiB answers in 16 pieces of 64 KiB (GET /stream; the binary's with
# ?chunks=16&size=65536&interval_ms=0), -c 8 -m 1;  upload: POST /echo of 1 MiB (the body read and sent back),
# -c 8 -m 1. Every figure is requests per second; for download and upload each request moves
# 1 MiB each way it says, so the ratios are throughput ratios.
# sse: 100 event streams at once on one connection (-c 1 -m 100), each GET /sse?events=100 with
# no pause between events; hyper (its router, its /sse fed by a task through a channel, as a
# hyper user streams) against the shipped binary (the demo's /sse), the load server having none.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
command -v h2load >/dev/null || { echo "h2load is needed (apt-get install nghttp2-client)" >&2; exit 2; }
cargo build --release --quiet --bin rasgi --example load_rasgi --example load_hyper
out="$root/target/h2-bench"
mkdir -p "$out"
head -c $((1 << 20)) /dev/urandom > "$out/upload.bin"
port=18200

serve() {
  local server=$1 minimal=$2
  case $server in
    hyper) exec taskset -c 0 target/release/examples/load_hyper --h2 $minimal --bind "127.0.0.1:$port" ;;
    bare) exec taskset -c 0 target/release/examples/load_rasgi --bind "127.0.0.1:$port" ;;
    stack) exec taskset -c 0 target/release/examples/load_rasgi --stack --bind "127.0.0.1:$port" ;;
    binary) exec taskset -c 0 target/release/rasgi --workers 1 --no-access-log \
              --log-file "$out/demo.log" --bind "127.0.0.1:$port" ;;
  esac
}

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(hello10 hello1 download upload sse)
for scenario in "${scenarios[@]}"; do
  minimal=""
  case $scenario in
    hello10) args=(-c 64 -m 10); path=/; minimal=--minimal; unit="req/s" ;;
    hello1) args=(-c 64 -m 1); path=/; minimal=--minimal; unit="req/s" ;;
    download) args=(-c 8 -m 1); path=/stream; unit="req/s" ;;
    upload) args=(-c 8 -m 1 -d "$out/upload.bin"); path=/echo; unit="req/s" ;;
    sse) args=(-c 1 -m 100); path="/sse?events=100&interval_ms=0"; unit="streams/s" ;;
    *) echo "unknown scenario $scenario" >&2; exit 2 ;;
  esac
  declare -A results=()
  servers=(hyper bare stack binary)
  [ "$scenario" = sse ] && servers=(hyper binary)
  for round in 1 2 3 4 5; do
    for server in "${servers[@]}"; do
      port=$((port + 1))
      serve $server "$minimal" >/dev/null 2>&1 &
      pid=$!
      for _ in $(seq 100); do
        curl -fso /dev/null --http2-prior-knowledge "http://127.0.0.1:$port/" && break
        sleep 0.1
      done
      target=$path
      [ "$server/$scenario" = binary/download ] && target="/stream?chunks=16&size=65536&interval_ms=0"
      line=$(taskset -c 1 h2load -D 5 "${args[@]}" "http://127.0.0.1:$port$target" | grep '^finished in')
      kill "$pid"; wait "$pid" 2>/dev/null || true
      # finished in 5.00s, 123456.00 req/s, 12.34MB/s
      value=$(echo "$line" | awk '{ printf "%.0f", $4 }')
      results[$server]+="$value "
      echo "$scenario round $round $server: $value $unit"
    done
  done
  h=$(echo "${results[hyper]}" | median)
  summary="$scenario medians ($unit): hyper $h"
  for server in "${servers[@]:1}"; do
    m=$(echo "${results[$server]}" | median)
    summary+=", $server $m ($(awk -v m="$m" -v h="$h" 'BEGIN { printf "%.2f", m / h }')x)"
  done
  echo "$summary"
done
