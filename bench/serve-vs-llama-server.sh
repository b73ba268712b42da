#!/usr/bin/env bash
# reflex serve against llama.cpp's llama-server under the same closed-loop load (issue 4, "Done
# when" e), side by side in one run.
#
#   bench/serve-vs-llama-server.sh LLAMA_CPP_BUILD_DIR
#
# For each model (tiny-random-Q4_0 from ../shared, and a TinyLlama-1.1B-shaped Q4_0 made with
# `reflex synth`) and each concurrency (1, 4, 16 streams; 128-token prompts, 128-token outputs,
# every request generating all its tokens), it starts `reflex serve --parallel 16` and
# `llama-server -np 16` in turn on the same model, threads and per-slot context, drives each with
# `reflex bench serve`, and prints aggregate output tokens/s, TTFT p50/p99 and ITL p50/p99 with
# the ratios (reflex / llama-server; for latencies below 1 is better). Rounds alternate the two
# servers so drift on a shared machine hits both alike.
#
# Environment: THREADS (default 2), ROUNDS (default 2), CONC (default "1 4 16"), PROMPT (128),
# OUTPUT (128), MODELS ("tiny tinyllama"), REQS (requests per stream per run, default 3; at
# least 8 in all), WORK (bench/out). The llama.cpp build is yours to make;
# nothing here downloads or builds it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

LLAMA=${1:-}
if [ -z "$LLAMA" ] || [ ! -x "$LLAMA/bin/llama-server" ]; then
    echo "serve-vs-llama-server: skipped: pass a llama.cpp build directory containing bin/llama-server" >&2
    exit 0
fi
LLAMA=$(cd "$LLAMA" && pwd)
THREADS=${THREADS:-2} ROUNDS=${ROUNDS:-2} CONC=${CONC:-"1 4 16"}
PROMPT=${PROMPT:-128} OUTPUT=${OUTPUT:-128} MODELS=${MODELS:-"tiny tinyllama"} REQS=${REQS:-3}
WORK=${WORK:-$ROOT/bench/out}
SHARED=$ROOT/../shared
SLOT_CTX=$((PROMPT * 2 + OUTPUT + 64)) # the synthetic prompt's token count varies a little
mkdir -p "$WORK"
make -s all >/dev/null
RX=$ROOT/build/reflex

model_path() {
    case $1 in
    tiny) echo "$SHARED/models/tiny-random-Q4_0.gguf" ;;
    tinyllama)
        local f="$WORK/tinyllama-1.1b-Q4_0.gguf"
        [ -f "$f" ] || "$RX" synth --shape tinyllama-1.1b --vocab "$SHARED/vocab/ggml-vocab-llama-spm.gguf" \
            --type Q4_0 --seed 1 -o "$f" >&2
        echo "$f"
        ;;
    esac
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_ready() { # port pid
    for _ in $(seq 600); do
        curl -sf "http://127.0.0.1:$1/health" >/dev/null 2>&1 && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# One measurement: server model concurrency -> JSON summary path
measure() {
    local server=$1 model=$2 c=$3 port pid out
    port=$(free_port)
    if [ "$server" = reflex ]; then
        "$RX" serve -m "$model" --model-id bench --port "$port" -np 16 -c "$SLOT_CTX" -t "$THREADS" --quiet 2>"$WORK/server.log" &
    else
        "$LLAMA/bin/llama-server" -m "$model" --host 127.0.0.1 --port "$port" -np 16 \
            -c $((SLOT_CTX * 16)) -t "$THREADS" >"$WORK/server.log" 2>&1 &
    fi
    pid=$!
    if ! wait_ready "$port" "$pid"; then
        echo "serve-vs-llama-server: $server did not start (see $WORK/server.log)" >&2
        kill "$pid" 2>/dev/null || true
        return 1
    fi
    out="$WORK/serve-$server-$(basename "$model" .gguf)-c$c.json"
    local n=$((c * REQS < 8 ? 8 : c * REQS))
    "$RX" bench serve --url "http://127.0.0.1:$port" --model bench --concurrency "$c" \
        --requests "$n" --warmup "$c" --prompt-len "$PROMPT" --output-len "$OUTPUT" --json "$out" >/dev/null
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    echo "$out"
}

echo "# reflex serve vs llama-server: $(nproc) cores, $THREADS threads, prompts $PROMPT, outputs $OUTPUT tokens, 16 slots"
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), llama.cpp $(git -C "$LLAMA/.." describe --tags --always 2>/dev/null || echo '?')"
echo
echo "| model | streams | server | out tok/s | TTFT p50 ms | TTFT p99 ms | ITL p50 ms | ITL p99 ms |"
echo "|---|---:|---|---:|---:|---:|---:|---:|"
summary=$(mktemp)
for m in $MODELS; do
    model=$(model_path "$m")
    for c in $CONC; do
        for r in $(seq "$ROUNDS"); do
            # alternate which server goes first
            if [ $((r % 2)) -eq 1 ]; then order="reflex llama"; else order="llama reflex"; fi
            for s in $order; do
                f=$(measure "$s" "$model" "$c") || exit 1
                echo "$m $c $s $f" >>"$summary"
            done
        done
    done
done
python3 - "$summary" <<'EOF'
import json, sys, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    m, c, s, f = line.split()
    rows[(m, int(c), s)].append(json.load(open(f))["summary"])
def mean(xs): return sum(xs) / len(xs)
def fig(runs):
    return {"tps": mean([r["output_token_throughput"] for r in runs]),
            "ttft50": mean([r["ttft_ms"]["p50"] for r in runs]), "ttft99": mean([r["ttft_ms"]["p99"] for r in runs]),
            "itl50": mean([r["itl_ms"]["p50"] for r in runs]), "itl99": mean([r["itl_ms"]["p99"] for r in runs]),
            "fail": sum(r["attempted"] - r["ok"] for r in runs)}
keys = sorted({(m, c) for m, c, _ in rows}, key=lambda k: (k[0], k[1]))
ratios = []
for m, c in keys:
    a, b = fig(rows[(m, c, "reflex")]), fig(rows[(m, c, "llama")])
    for name, f in (("reflex", a), ("llama-server", b)):
        print(f"| {m} | {c} | {name} | {f['tps']:.1f} | {f['ttft50']:.1f} | {f['ttft99']:.1f} | {f['itl50']:.2f} | {f['itl99']:.2f} |"
              + (f" ({f['fail']} failed)" if f["fail"] else ""))
    ratios.append((m, c, a["tps"] / b["tps"], a["ttft99"] / b["ttft99"], a["itl50"] / b["itl50"]))
print()
print("| model | streams | tok/s ratio (target >= 1.5 at 16) | TTFT p99 ratio (target <= 1) | ITL p50 ratio |")
print("|---|---:|---:|---:|---:|")
for m, c, t, ttft, itl in ratios:
    print(f"| {m} | {c} | {t:.2f}x | {ttft:.2f}x | {itl:.2f}x |")
EOF
rm -f "$summary"
