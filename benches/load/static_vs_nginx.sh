#!/usr/bin/env bash
# Static files, side by side: the shipped binary (`rasgi --workers 1 --static-dir DIR`, its whole
# demo stack) against nginx (one worker, `sendfile on`, `tcp_nopush on`, no access log), each
# serving the same 64 MiB file on core 0, wrk -t1 on core 1 downloading it over keep-alive
# connections. Five alternating rounds of 5 s per concurrency; medians and their ratio.
#
#   benches/load/static_vs_nginx.sh [CONNECTIONS...]   (default: 1 8)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 2; }
command -v nginx >/dev/null || { echo "nginx is needed (apt-get install nginx)" >&2; exit 2; }
cargo build --release --quiet --bin rasgi
out="$root/target/static-bench"
rm -rf "$out"
mkdir -p "$out/www" "$out/nginx"
head -c $((64 << 20)) /dev/urandom > "$out/www/big.bin"

cat > "$out/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $out/nginx/nginx.pid;
error_log $out/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path $out/nginx;
  proxy_temp_path $out/nginx;
  fastcgi_temp_path $out/nginx;
  uwsgi_temp_path $out/nginx;
  scgi_temp_path $out/nginx;
  server {
    listen 127.0.0.1:18090;
    location /static/ { alias $out/www/; }
  }
}
CONF

serve() {
  case $1 in
    rasgi) exec taskset -c 0 target/release/rasgi --bind 127.0.0.1:18090 --workers 1 --no-access-log \
             --log-file "$out/demo.log" --static-dir "$out/www" ;;
    nginx) exec taskset -c 0 nginx -c "$out/nginx/nginx.conf" -e "$out/nginx/error.log" ;;
  esac
}

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
connections=("$@")
[ ${#connections[@]} -gt 0 ] || connections=(1 8)
for c in "${connections[@]}"; do
  declare -A results=()
  for round in 1 2 3 4 5; do
    for server in rasgi nginx; do
      serve $server >/dev/null 2>&1 &
      pid=$!
      for _ in $(seq 100); do
        curl -fso /dev/null -r 0-0 http://127.0.0.1:18090/static/big.bin && break
        sleep 0.1
      done
      line=$(taskset -c 1 wrk -t1 -c"$c" -d5s -s "$here/bytes.lua" http://127.0.0.1:18090/static/big.bin |
        grep '^bytes')
      kill "$pid"; wait "$pid" 2>/dev/null || true
      mibs=$(echo "$line" | awk '{ printf "%.0f", $2 / $4 / 1048576 }')
      results[$server]+="$mibs "
      echo "c=$c round $round $server: $mibs MiB/s"
    done
  done
  r=$(echo "${results[rasgi]}" | median)
  n=$(echo "${results[nginx]}" | median)
  echo "64 MiB file, -c $c, medians: rasgi $r MiB/s, nginx $n MiB/s: $(awk -v r="$r" -v n="$n" 'BEGIN { printf "%.2f", r / n }')x"
done
