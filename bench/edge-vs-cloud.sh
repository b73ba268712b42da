#!/usr/bin/env bash
# The headline experiment (issue 6, item 3): the same model and the same load on two topologies
# over an emulated wide-area network (`reflex wan`), and what the edge buys.
#
#   bench/edge-vs-cloud.sh            # the full run (about 6 minutes)
#   bench/edge-vs-cloud.sh --short    # the CI version (under 3 minutes)
#
# Hosts are network namespaces joined by user-space link relays (see `reflex wan`):
#
#   client --1 ms--> edge (gateway + node) --75 ms--> central (node)
#   client --------------76 ms-------------------> central          (the cloud-only path)
#
# cloud-only: client -> central node across the WAN. edge: client -> gateway at the edge site,
# which serves from its own node and would escalate to central only when it must. Each topology
# gets a steady run (CONC streams, PROMPT-word prompts, OUTPUT-token outputs, REQUESTS requests)
# for latency, throughput and cost, then an open-loop run (CUT_RATE requests/s, as a population of
# users sends them whether or not the last ones were answered) of CUT_RUN seconds with both WAN
# links cut for CUT_FOR seconds in the middle, for availability during a partition. Cost per million generated
# tokens = CPU-seconds of every process of the topology (from /proc) x a price per core-hour,
# plus bytes that crossed a WAN link (the relay's counters) x a price per GB; the prices are
# stated in the report. Writes bench/results/edge-vs-cloud.md, the raw JSON and SVG plots, and
# exits non-zero when a target is missed (edge TTFT p95 at least 10x lower than cloud-only, edge
# availability 100% during the cut).
#
# Environment: MODEL (default ../shared/models/stories260K.gguf), CONC (4), PROMPT (16 words:
# about 46 tokens with stories260K's 512-token vocabulary, whose context is 128; the report gives
# the servers' own count),
# OUTPUT (64), REQUESTS (300), CUT_RATE (10), CUT_RUN (90 s), CUT_AT (30 s), CUT_FOR (30 s), WAN_DELAY (75ms one
# way edge-central; the client-central path gets 1 ms more), THREADS (node threads, 1),
# PRICE_CORE_HOUR (USD per core-hour, 0.0400), PRICE_WAN_GB (USD per GB crossing the WAN, 0.09),
# RESULTS (bench/results). Needs root (network namespaces); traffic stays inside them.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SHORT=0
[ "${1:-}" = "--short" ] && SHORT=1
if [ $# -gt 0 ] && [ "$1" != "--short" ]; then
    echo "usage: bench/edge-vs-cloud.sh [--short]" >&2
    exit 2
fi
MODEL=${MODEL:-$ROOT/../shared/models/stories260K.gguf}
CONC=${CONC:-4} PROMPT=${PROMPT:-16} OUTPUT=${OUTPUT:-64} THREADS=${THREADS:-1}
if [ $SHORT = 1 ]; then
    REQUESTS=${REQUESTS:-60} CUT_RUN=${CUT_RUN:-30} CUT_AT=${CUT_AT:-8} CUT_FOR=${CUT_FOR:-12}
else
    REQUESTS=${REQUESTS:-300} CUT_RUN=${CUT_RUN:-90} CUT_AT=${CUT_AT:-30} CUT_FOR=${CUT_FOR:-30}
fi
WAN_DELAY=${WAN_DELAY:-75ms} CUT_RATE=${CUT_RATE:-10}
PRICE_CORE_HOUR=${PRICE_CORE_HOUR:-0.0400} PRICE_WAN_GB=${PRICE_WAN_GB:-0.09}
RESULTS=${RESULTS:-$ROOT/bench/results}

if [ "$(id -u)" != 0 ]; then
    echo "edge-vs-cloud: needs root: the emulated WAN is made of network namespaces" >&2
    exit 2
fi
if ! ip netns list >/dev/null 2>&1; then
    echo "edge-vs-cloud: 'ip netns' is not available here (iproute2, network namespaces)" >&2
    exit 2
fi
[ -f "$MODEL" ] || { echo "edge-vs-cloud: model not found: $MODEL" >&2; exit 2; }
case "$WAN_DELAY" in *ms) ;; *) echo "edge-vs-cloud: WAN_DELAY must be like 75ms" >&2; exit 2 ;; esac
CLIENT_CENTRAL="$((${WAN_DELAY%ms} + 1))ms"

make -s all >/dev/null
RX=$ROOT/build/reflex
WORK=$(mktemp -d /tmp/rx-edge-cloud.XXXXXX)
NAME=rxevc$$
CFG=$WORK/wan.yaml
cat >"$CFG" <<EOF
name: $NAME
hosts:
  - {name: client}
  - {name: edge, ports: [8080]}
  - {name: central, ports: [8080]}
links:
  - {a: client, b: edge, delay: 1ms}
  - {a: edge, b: central, delay: $WAN_DELAY}
  - {a: client, b: central, delay: $CLIENT_CENTRAL}
EOF

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    "$RX" wan down --config "$CFG" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
"$RX" wan up --config "$CFG" >/dev/null
addr() { "$RX" wan status --config "$CFG" --json | python3 -c \
    'import json,sys; print(next(h["address"] for h in json.load(sys.stdin)["hosts"] if h["name"]==sys.argv[1]))' "$1"; }
EDGE=$(addr edge) CENTRAL=$(addr central)
in_ns() { local host=$1; shift; ip netns exec "$NAME-$host" "$@"; }

# started directly (not through a shell function) so that $! is the server itself: ip netns exec
# execs it, and its pid is what /proc and the cleanup need
node_args=(-m "$MODEL" -np 4 -t "$THREADS" --quiet)
ip netns exec "$NAME-central" "$RX" serve "${node_args[@]}" --host 0.0.0.0 --port 8080 \
    --node-name central-node 2>"$WORK/central.err" >/dev/null &
pids+=($!) PID_CENTRAL=$!
ip netns exec "$NAME-edge" "$RX" serve "${node_args[@]}" --host 127.0.0.1 --port 8081 \
    --node-name edge-node 2>"$WORK/edge.err" >/dev/null &
pids+=($!) PID_EDGE=$!
ip netns exec "$NAME-edge" "$RX" gateway --host 0.0.0.0 --port 8080 --quiet --tier access \
    --name edge-gateway --upstream "http://127.0.0.1:8081;tier=access;name=edge-node" \
    --upstream "http://$CENTRAL:8080;tier=central;name=central-node" 2>"$WORK/gateway.err" >/dev/null &
pids+=($!) PID_GW=$!
for url in "http://$EDGE:8080/ready" "http://$CENTRAL:8080/ready"; do
    for _ in $(seq 200); do in_ns client curl -sf -o /dev/null "$url" && break; sleep 0.1; done
    in_ns client curl -sf -o /dev/null "$url" || { echo "edge-vs-cloud: $url never became ready" >&2; exit 1; }
done
MODEL_ID=$(in_ns client curl -sf "http://$CENTRAL:8080/v1/models" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["id"])')

cpu_ticks() { # utime + stime of the given pids, in clock ticks
    local t=0 p
    for p in "$@"; do
        t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
    done
    echo $t
}
wan_bytes() { # bytes that crossed a WAN link (both directions, every link but the access one)
    "$RX" wan status --config "$CFG" --json | python3 -c '
import json, sys
print(sum(l["bytes_a_to_b"] + l["bytes_b_to_a"] for l in json.load(sys.stdin)["links"]
          if l["name"] != "client-edge"))'
}
MEAS=$WORK/measurements.txt
: >"$MEAS"
bench() { # topology url phase extra-args...
    local topo=$1 url=$2 phase=$3
    shift 3
    local pids_of
    if [ "$topo" = edge ]; then pids_of=("$PID_EDGE" "$PID_GW" "$PID_CENTRAL"); else pids_of=("$PID_CENTRAL"); fi
    local c0 b0 t0
    c0=$(cpu_ticks "${pids_of[@]}") b0=$(wan_bytes) t0=$(date +%s.%N)
    in_ns client "$RX" bench serve --url "$url" --model "$MODEL_ID" \
        --prompt-len "$PROMPT" --output-len "$OUTPUT" --timeout 5 --label "$topo-$phase" \
        --json "$WORK/$phase-$topo.json" "$@" >"$WORK/$phase-$topo.txt" 2>"$WORK/$phase-$topo.err" || {
        echo "edge-vs-cloud: bench serve ($topo, $phase) failed: $(tail -2 "$WORK/$phase-$topo.err")" >&2
        exit 1
    }
    echo "$topo $phase start=$t0 cpu_ticks=$(($(cpu_ticks "${pids_of[@]}") - c0)) wan_bytes=$(($(wan_bytes) - b0))" >>"$MEAS"
}
cut_run() { # topology url: a run with both WAN links cut in its middle
    bench "$1" "$2" cut --rate "$CUT_RATE" --duration "$CUT_RUN" &
    local b=$!
    sleep "$CUT_AT"
    local c0 c1
    c0=$(date +%s.%N)
    "$RX" wan cut edge-central --config "$CFG"
    "$RX" wan cut client-central --config "$CFG"
    sleep "$CUT_FOR"
    c1=$(date +%s.%N)
    "$RX" wan heal edge-central --config "$CFG"
    "$RX" wan heal client-central --config "$CFG"
    wait $b
    echo "$1 cutwindow from=$c0 to=$c1" >>"$MEAS"
}

echo "edge-vs-cloud: steady runs ($REQUESTS requests, $CONC streams, $PROMPT-word prompts, $OUTPUT-token outputs)" >&2
bench cloud "http://$CENTRAL:8080" steady --concurrency "$CONC" --requests "$REQUESTS"
bench edge "http://$EDGE:8080" steady --concurrency "$CONC" --requests "$REQUESTS"
echo "edge-vs-cloud: partition runs ($CUT_RATE requests/s for $CUT_RUN s, WAN cut for $CUT_FOR s after $CUT_AT s)" >&2
cut_run cloud "http://$CENTRAL:8080"
cut_run edge "http://$EDGE:8080"

mkdir -p "$RESULTS"
cp "$WORK"/steady-*.json "$WORK"/cut-*.json "$MEAS" "$RESULTS"/
if "$RX" bench plot --help >/dev/null 2>&1; then
    "$RX" bench plot "$RESULTS/steady-edge.json" "$RESULTS/steady-cloud.json" \
        -o "$RESULTS/edge-vs-cloud-steady.svg" --title "edge vs cloud-only, steady load"
    "$RX" bench plot "$RESULTS/cut-edge.json" "$RESULTS/cut-cloud.json" \
        -o "$RESULTS/edge-vs-cloud-partition.svg" --title "edge vs cloud-only, WAN cut for ${CUT_FOR}s"
fi
python3 bench/edge-vs-cloud-report.py --results "$RESULTS" --measurements "$RESULTS/measurements.txt" \
    --price-core-hour "$PRICE_CORE_HOUR" --price-wan-gb "$PRICE_WAN_GB" \
    --clk-tck "$(getconf CLK_TCK)" --machine "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
    --setup "model $(basename "$MODEL"), node threads $THREADS, 4 slots per node, $CONC streams, $PROMPT-word prompts, $OUTPUT-token outputs, $REQUESTS requests; links client-edge 1ms, edge-central $WAN_DELAY, client-central $CLIENT_CENTRAL one way$([ $SHORT = 1 ] && echo '; short (CI) version')"
