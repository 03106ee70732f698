#!/usr/bin/env bash
# Slow-client attacks against the shipped binary, with slowhttptest (Debian package
# slowhttptest): slow headers (slowloris), slow body (R-U-Dead-Yet) and slow read, 1,000
# connections each (CONNECTIONS changes it). For each mode it prints how many of the
# connections open at the attack's peak the server had closed once its timeout + 2 s had passed (counted on the server's side
# with `ss`: a slow reader whose connection is reset may not notice, as its own window is
# shut), and whether a normal client (one GET every 0.5 s, 2 s patience) was served
# throughout.
#
#   [CONNECTIONS=N] [RASGI=path] benches/attack/slow.sh [headers|body|read|read-big]...
#
# The server runs with --timeout-body 5 --timeout-send 5 (the header-read timeout is its
# default, 10 s). slowhttptest sends its follow-up bytes (or reads) every 10 s, so each
# attacking connection stalls for longer than the timeout it meets. The slow readers ask for a
# 16 MiB stream (more than the socket buffers hold), or (read-big) an 8 MiB body sent in one
# message; a connection whose write stalls is reset, so the kernel drops what its client would
# not read. The server's resident memory is sampled with its sockets.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
command -v slowhttptest >/dev/null || { echo "slowhttptest is needed (apt-get install slowhttptest)" >&2; exit 2; }
# RASGI=path measures another build of the binary (an older one, to compare).
rasgi=${RASGI:-target/release/rasgi}
[ -n "${RASGI:-}" ] || cargo build --release --quiet
ulimit -n 8192
out="$root/target/attack"
mkdir -p "$out"
connections=${CONNECTIONS:-1000}
port=18300

attack() {
  local mode=$1 timeout=$2
  shift 2
  port=$((port + 1))
  "$rasgi" --bind "127.0.0.1:$port" --no-access-log --log-file "$out/demo.log" \
    --timeout-body 5 --timeout-send 5 >/dev/null 2>"$out/$mode.server.log" &
  local server=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  python3 - "$port" 40 >"$out/$mode.probe" <<'PY' &
import socket, sys, time
port, length = int(sys.argv[1]), float(sys.argv[2])
ok = failed = 0
end = time.time() + length
while time.time() < end:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            s.settimeout(2)
            reply = b""
            while chunk := s.recv(4096):
                reply += chunk
        ok += reply.startswith(b"HTTP/1.1 200")
        failed += not reply.startswith(b"HTTP/1.1 200")
    except OSError:
        failed += 1
    time.sleep(0.5)
print(ok, failed)
PY
  local probe=$!
  # The server's side of the story: its established connections on the port, each second.
  (
    start=$(date +%s)
    while kill -0 "$server" 2>/dev/null; do
      rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$server/status" 2>/dev/null || echo 0)
      echo "$(( $(date +%s) - start )) $(ss -Htn state established "( sport = :$port )" | wc -l) ${rss:-0}"
      sleep 1
    done
  ) >"$out/$mode.sockets" &
  local sampler=$!
  timeout 60 slowhttptest "$@" -c "$connections" -r 500 -l 40 -g -o "$out/$mode" \
    -u "http://127.0.0.1:$port$path" >"$out/$mode.log" 2>&1 || true
  wait "$probe"
  kill -TERM "$server"
  wait "$server" || true
  wait "$sampler" || true
  python3 - "$out/$mode.sockets" "$timeout" "$mode" "$(cat "$out/$mode.probe")" <<'PY'
import sys
samples = [tuple(map(int, line.split())) for line in open(sys.argv[1]) if line.strip()]
rss = [s[2] for s in samples if s[2] > 0]
samples = [s[:2] for s in samples]
timeout, mode = float(sys.argv[2]), sys.argv[3]
ok, failed = sys.argv[4].split()
# The attack is at its peak when the most connections are open; every one of them should be
# gone once its timeout and 2 s more have passed since the peak was reached.
peak_at, peak = max(samples, key=lambda s: (s[1], -s[0]))
check = peak_at + timeout + 2
left = min((n for t, n in samples if peak_at < t <= check), default=peak)
gone = next((t for t, n in samples if t > peak_at and n == 0), None)
gone = f"all gone at {gone} s" if gone is not None else "not all gone by the end"
print(f"{mode:8} {peak} connections open at {peak_at} s; closed by the server by {check:.0f} s "
      f"(timeout {timeout:.0f} s + 2 s): {peak - left} of {peak}, {gone}; "
      f"normal client: {ok} served, {failed} failed; server memory: peak {max(rss, default=0) // 1024} MiB, "
      f"last {rss[-1] // 1024 if rss else 0} MiB")
PY
}

for name in "${@:-headers body read}"; do
  for mode in $name; do
    case $mode in
      headers) path=/ attack headers 10 -H -i 10 ;;
      body) path=/send-data attack body 5 -B -i 10 -s 4096 -f application/json ;;
      read) path="/stream?chunks=1024&size=16384&interval_ms=0" attack read 5 -X -i 10 -n 10 -w 1 -y 64 -z 32 ;;
      # The same slow readers against a body the app sends in one message (8 MiB of `/big`).
      read-big) path="/big?size=8388608" attack read-big 5 -X -i 10 -n 10 -w 1 -y 64 -z 32 ;;
      *) echo "unknown mode: $mode" >&2; exit 2 ;;
    esac
  done
done
