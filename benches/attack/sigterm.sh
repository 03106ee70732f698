#!/usr/bin/env bash
# SIGTERM under load: 64 keep-alive connections keep the binary busy, half asking for hello
# (`GET /`), half for a streaming route (`GET /stream`, 20 chunks 10 ms apart); after 2 s the
# server gets SIGTERM. A client that reads each response byte-exactly counts, per route:
# responses completed, those that started after the signal and said `connection: close` (and
# those that did not), responses cut mid-body, and requests the server closed the connection
# on before answering (a request sent as the server closed an idle connection: never read).
# The server's access log is counted too: every request it read must have been answered.
#
#   benches/attack/sigterm.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
cargo build --release --quiet
out="$root/target/attack"
mkdir -p "$out"
port=18390
target/release/rasgi --bind "127.0.0.1:$port" --log-file "$out/demo.log" \
  >/dev/null 2>"$out/sigterm.server.log" &
server=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
python3 - "$port" "$server" <<'PY'
import asyncio, os, signal, sys, time

port, server = int(sys.argv[1]), int(sys.argv[2])
ROUTES = {"hello": "/", "stream": "/stream?chunks=20&size=64&interval_ms=10"}
stats = {name: dict(complete=0, close_after_signal=0, no_close_after_signal=0, cut=0,
                    unanswered=0, sent=0) for name in ROUTES}
signalled = None

async def response(reader):
    """One response, byte-exactly: (status, headers, complete, first_byte_time)."""
    head = await reader.readuntil(b"\r\n\r\n")
    first = time.monotonic()
    lines = head.decode().split("\r\n")
    headers = {}
    for line in lines[1:]:
        if line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        try:
            await reader.readexactly(int(headers["content-length"]))
        except asyncio.IncompleteReadError:
            return headers, False, first
        return headers, True, first
    while True:
        try:
            size = int((await reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
            await reader.readexactly(size + 2)
        except (asyncio.IncompleteReadError, ValueError):
            return headers, False, first
        if size == 0:
            return headers, True, first

async def client(name):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    path = ROUTES[name]
    s = stats[name]
    while True:
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
            await writer.drain()
        except ConnectionError:
            return
        s["sent"] += 1
        try:
            headers, complete, first = await response(reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            s["unanswered"] += 1
            return
        if not complete:
            s["cut"] += 1
            return
        s["complete"] += 1
        closing = headers.get("connection") == "close"
        # A response whose head arrived after the signal should say it closes (one whose head
        # the server wrote just before the signal may still arrive just after it).
        if signalled is not None and first > signalled:
            s["close_after_signal" if closing else "no_close_after_signal"] += 1
        if closing:
            return

async def main():
    global signalled
    clients = [asyncio.create_task(client("hello" if i % 2 == 0 else "stream")) for i in range(64)]
    await asyncio.sleep(2)
    signalled = time.monotonic()
    os.kill(server, signal.SIGTERM)
    await asyncio.wait_for(asyncio.gather(*clients), 30)

asyncio.run(main())
for name, s in stats.items():
    print(f"{name:6} sent {s['sent']}, complete {s['complete']}, after the signal with "
          f"connection: close {s['close_after_signal']} (without: {s['no_close_after_signal']}), "
          f"cut mid-body {s['cut']}, closed before an answer {s['unanswered']}")
total_complete = sum(s["complete"] for s in stats.values())
print(f"complete responses: {total_complete}")
PY
wait "$server"
echo "server exit status: $?"
echo "requests in the server's access log: $(grep -c 'rasgi::access' "$out/sigterm.server.log")"
