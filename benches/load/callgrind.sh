#!/usr/bin/env bash
# Instructions per request, counted by callgrind (repeatable on a shared, noisy machine where
# clocks are not): runs a load server under valgrind, drives it with wrk for a few seconds, and
# divides the program's total instruction count by the requests wrk completed. Start-up is
# included, which overstates the figure by well under 1 % at these request counts.
#
#   benches/load/callgrind.sh [hello|pipelined|stack|binary|binary-pipelined|hyper|
#                              hyper-pipelined|hyper-minimal|hyper-minimal-pipelined]...
#
# `binary` is the shipped `rasgi --workers 1 --no-access-log` with its demo stack;
# `hyper-minimal` is hyper at its fastest (one `Full<Bytes>` hello, no router), the baseline.
#
# The profiles are left in target/callgrind/<name>.out for callgrind_annotate.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
# The tools come from Debian's packages, installed as run.sh installs wrk.
missing=()
for tool in valgrind wrk; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${missing[@]}"
fi
cargo build --release --bin rasgi --example load_rasgi --example load_hyper
out="$root/target/callgrind"
mkdir -p "$out"
port=19400

run() {
  local name=$1 script=$2
  shift 2
  port=$((port + 1))
  valgrind --tool=callgrind --callgrind-out-file="$out/$name.out" "$@" --bind "127.0.0.1:$port" \
    >/dev/null 2>"$out/$name.log" &
  local pid=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  local args=(-t1 -c8 -d8s -H 'Host: localhost')
  [ -n "$script" ] && args+=(-s "$here/$script")
  local requests
  requests=$(wrk "${args[@]}" "http://127.0.0.1:$port/" | awk '/requests in/ {print $1}')
  kill -TERM "$pid"
  wait "$pid" || true
  local total
  total=$(awk '/^summary:/ {print $2}' "$out/$name.out")
  echo "$name: $requests requests, $((total / requests)) instructions per request"
}

binary=(target/release/rasgi --workers 1 --no-access-log --log-file "$out/rasgi-demo.log")
all="hello pipelined stack binary binary-pipelined hyper hyper-pipelined hyper-minimal hyper-minimal-pipelined"
for scenario in "${@:-$all}"; do
  for name in $scenario; do
    case $name in
      hello) run hello "" target/release/examples/load_rasgi ;;
      pipelined) run pipelined pipeline.lua target/release/examples/load_rasgi ;;
      stack) run stack "" target/release/examples/load_rasgi --stack ;;
      binary) run binary "" "${binary[@]}" ;;
      binary-pipelined) run binary-pipelined pipeline.lua "${binary[@]}" ;;
      hyper) run hyper "" target/release/examples/load_hyper ;;
      hyper-pipelined) run hyper-pipelined pipeline.lua target/release/examples/load_hyper ;;
      hyper-minimal) run hyper-minimal "" target/release/examples/load_hyper --minimal ;;
      hyper-minimal-pipelined)
        run hyper-minimal-pipelined pipeline.lua target/release/examples/load_hyper --minimal ;;
      *) echo "unknown scenario: $name" >&2; exit 2 ;;
    esac
  done
done
