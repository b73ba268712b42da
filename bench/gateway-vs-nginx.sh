#!/usr/bin/env bash
# The gateway's own overhead against nginx as a reverse proxy (issue 5, "Done when" g).
#
#   bench/gateway-vs-nginx.sh
#
# One nginx serves a small static JSON file (the upstream, never the bottleneck: it gets its own
# worker processes). In front of it, in turn: `reflex gateway` (one event-loop thread) and nginx
# as a reverse proxy with one worker process and keep-alive to the upstream, so both proxies
# have one thread. wrk measures each (and the upstream alone, for the added latency), runs
# alternating, and the script prints requests/s and latency p50/p99, the latency each proxy adds
# over the upstream alone, and the ratios. Everything listens on 127.0.0.1.
#
# Environment: ROUNDS (default 3), DURATION (wrk seconds per run, default 5), CONNS (default 32),
# WRK_THREADS (default 1), WORK (bench/out). Needs nginx and wrk (scripts/install-deps).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-5} CONNS=${CONNS:-32} WRK_THREADS=${WRK_THREADS:-1}
WORK=${WORK:-$ROOT/bench/out}/gw-nginx
for tool in nginx wrk; do
    command -v "$tool" >/dev/null || { echo "gateway-vs-nginx: skipped: $tool is not installed (scripts/install-deps)" >&2; exit 0; }
done
NGINX=$(command -v nginx)
mkdir -p "$WORK/www/v1" "$WORK/tmp"
make -s all >/dev/null
RX=$ROOT/build/reflex
printf '{"object":"list","data":[{"id":"stories260K","object":"model","created":0,"owned_by":"reflex"}]}' >"$WORK/www/v1/models"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP=$(free_port) PX=$(free_port) GW=$(free_port)

nginx_conf() { # name workers body
    cat >"$WORK/$1.conf" <<EOF
worker_processes $2;
daemon off;
pid $WORK/$1.pid;
error_log $WORK/$1.err warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/tmp; proxy_temp_path $WORK/tmp; fastcgi_temp_path $WORK/tmp;
    uwsgi_temp_path $WORK/tmp; scgi_temp_path $WORK/tmp;
    $3
}
EOF
}
nginx_conf upstream 2 "server { listen 127.0.0.1:$UP; root $WORK/www; default_type application/json; keepalive_requests 1000000; }"
nginx_conf proxy 1 "upstream up { server 127.0.0.1:$UP; keepalive 64; }
    server { listen 127.0.0.1:$PX; keepalive_requests 1000000;
        location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
"$NGINX" -c "$WORK/upstream.conf" -p "$WORK" & pids+=($!)
"$NGINX" -c "$WORK/proxy.conf" -p "$WORK" & pids+=($!)
"$RX" gateway --port "$GW" --quiet --upstream "http://127.0.0.1:$UP;name=nginx-static" 2>"$WORK/gateway.err" & pids+=($!)
for port in $UP $PX $GW; do
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v1/models" >/dev/null && break; sleep 0.05; done
done

# wrk: requests/s, p50 and p99 in microseconds, errors
run() { # port
    wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" --latency "http://127.0.0.1:$1/v1/models" 2>&1 | python3 -c '
import re, sys
t = sys.stdin.read()
def us(s):
    v, u = float(s[:-2] if s.endswith(("us", "ms")) else s[:-1]), s[-2:] if s.endswith(("us", "ms")) else s[-1:]
    return v * {"us": 1, "ms": 1e3, "s": 1e6}[u]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p50 = us(re.search(r"^\s+50%\s+(\S+)", t, re.M).group(1)); p99 = us(re.search(r"^\s+99%\s+(\S+)", t, re.M).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", t); errs = re.search(r"Socket errors: (.*)", t)
print(rps, p50, p99, int(non2xx.group(1)) if non2xx else 0, "errors" if errs else "ok")'
}

echo "# reflex gateway vs nginx reverse proxy: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# $("$NGINX" -v 2>&1), wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s, $ROUNDS alternating rounds, one proxy thread each"
results=$(mktemp)
for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) -eq 1 ]; then order="direct gateway nginx"; else order="nginx gateway direct"; fi
    for who in $order; do
        case $who in direct) port=$UP ;; gateway) port=$GW ;; nginx) port=$PX ;; esac
        echo "$who $(run "$port")" >>"$results"
    done
done
python3 - "$results" <<'EOF'
import sys, collections
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    who, rps, p50, p99, bad, err = line.split()
    runs[who].append((float(rps), float(p50), float(p99), int(bad), err))
def mean(xs): return sum(xs) / len(xs)
fig = {w: (mean([r[0] for r in v]), mean([r[1] for r in v]), mean([r[2] for r in v]), sum(r[3] for r in v),
           sum(r[4] != "ok" for r in v)) for w, v in runs.items()}
print()
print("| target | requests/s | p50 us | p99 us | added p50 us | added p99 us | non-2xx | socket errors |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
d = fig["direct"]
for w in ("direct", "gateway", "nginx"):
    f = fig[w]
    add50 = "" if w == "direct" else f"{f[1] - d[1]:.0f}"
    add99 = "" if w == "direct" else f"{f[2] - d[2]:.0f}"
    print(f"| {w} | {f[0]:.0f} | {f[1]:.0f} | {f[2]:.0f} | {add50} | {add99} | {f[3]} | {f[4]} |")
g, n = fig["gateway"], fig["nginx"]
print()
print(f"requests/s ratio gateway/nginx: {g[0] / n[0]:.2f}x (target >= 1)")
a_g, a_n = g[2] - d[2], n[2] - d[2]
print(f"added p99 gateway vs nginx: {a_g:.0f} us vs {a_n:.0f} us (target: gateway <= nginx)")
EOF
rm -f "$results"
