#!/usr/bin/env bash
# TLS hello, side by side: the shipped binary (`rasgi --workers 1 --no-access-log` with
# --ssl-certfile/--ssl-keyfile; its full demo stack) against the smallest hyper behind
# tokio-rustls, each on core 0, wrk -t1 -c64 on core 1, keep-alive (the handshake is paid once
# per connection). Three alternating rounds of 4 s; medians and their ratio.
#
#   benches/load/tls.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 2; }
command -v openssl >/dev/null || { echo "openssl is needed (apt-get install openssl)" >&2; exit 2; }
cargo build --release --quiet --bin rasgi --example load_hyper_tls
out="$root/target/tls-bench"
mkdir -p "$out"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
  -keyout "$out/key.pem" -out "$out/cert.pem" 2>/dev/null

serve() {
  case $1 in
    rasgi) exec taskset -c 0 target/release/rasgi --bind 127.0.0.1:18443 --workers 1 --no-access-log \
             --log-file "$out/demo.log" --ssl-certfile "$out/cert.pem" --ssl-keyfile "$out/key.pem" ;;
    hyper) exec taskset -c 0 target/release/examples/load_hyper_tls --bind 127.0.0.1:18443 \
             --cert "$out/cert.pem" --key "$out/key.pem" ;;
  esac
}

declare -A results
for round in 1 2 3; do
  for server in rasgi hyper; do
    serve $server >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 100); do
      (exec 3<>/dev/tcp/127.0.0.1/18443) 2>/dev/null && break
      sleep 0.1
    done
    rps=$(taskset -c 1 wrk -t1 -c64 -d4s -H 'Host: localhost' https://127.0.0.1:18443/ |
      awk '/Requests\/sec/ {print $2}')
    kill "$pid"; wait "$pid" 2>/dev/null || true
    results[$server]+="$rps "
    echo "round $round $server: $rps req/s"
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | sed -n 2p; }
r=$(echo "${results[rasgi]}" | median)
h=$(echo "${results[hyper]}" | median)
echo "TLS hello, medians: rasgi (shipped binary, demo stack) $r req/s, hyper + tokio-rustls $h req/s: $(awk -v r="$r" -v h="$h" 'BEGIN { printf "%.2f", r / h }')x"
