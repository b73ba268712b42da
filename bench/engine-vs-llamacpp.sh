#!/usr/bin/env bash
# reflex's engine against llama.cpp, side by side in one run (issue 3, "Done when" g and h).
#
#   bench/engine-vs-llamacpp.sh LLAMA_CPP_BUILD_DIR
#
# Synthesizes TinyLlama-1.1B-shaped Q4_0 and Q8_0 models with `reflex synth` (vocabulary from
# ../shared/vocab/ggml-vocab-llama-spm.gguf), then runs `reflex bench` and `llama-bench`
# alternately on the same files and thread counts, and prints each ratio with the fraction of
# the memory-bandwidth roofline reached (weight bytes read per token x tokens/s / measured read
# bandwidth). Also stories260K decode at 1 thread, and the peak RSS of `reflex run` against
# `llama-cli` at the same context.
#
# Environment: P (prompt tokens, default 64), N (generated tokens, default 32), R (repetitions
# per llama-bench/reflex-bench call, default 3), ROUNDS (alternations, default 2), THREADS
# (default "1 2"), WORK (where models are written, default bench/out). The llama.cpp build is
# yours to make; nothing here downloads or builds it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

LLAMA=${1:-}
if [ -z "$LLAMA" ] || [ ! -x "$LLAMA/bin/llama-bench" ]; then
    echo "engine-vs-llamacpp: skipped: pass a llama.cpp build directory containing bin/llama-bench" >&2
    echo "  (e.g. cmake -S llama.cpp -B llama.cpp/build -DGGML_NATIVE=ON && cmake --build llama.cpp/build)" >&2
    exit 0
fi
LLAMA=$(cd "$LLAMA" && pwd)
P=${P:-64} N=${N:-32} R=${R:-3} ROUNDS=${ROUNDS:-2} THREADS=${THREADS:-"1 2"}
WORK=${WORK:-$ROOT/bench/out}
SHARED=$ROOT/../shared
mkdir -p "$WORK"

make -s all >/dev/null
RX=$ROOT/build/reflex
cc -O2 -mavx2 -pthread bench/membw.c -o "$WORK/membw"

for type in Q4_0 Q8_0; do
    f="$WORK/tinyllama-1.1b-$type.gguf"
    [ -f "$f" ] || "$RX" synth --shape tinyllama-1.1b --vocab "$SHARED/vocab/ggml-vocab-llama-spm.gguf" \
        --type "$type" --seed 1 -o "$f" >&2
done

declare -A BW
for t in $THREADS; do BW[$t]=$("$WORK/membw" "$t" 1024 | awk '{print $2}'); done

# mean tokens/s of one test: tool model threads pp|tg n
measure() {
    local tool=$1 model=$2 t=$3 kind=$4 n=$5 args
    if [ "$kind" = pp ]; then args=(-p "$n" -n 0); else args=(-p 0 -n "$n"); fi
    if [ "$tool" = reflex ]; then
        "$RX" bench -m "$model" "${args[@]}" -t "$t" -r "$R" -o json
    else
        "$LLAMA/bin/llama-bench" -m "$model" "${args[@]}" -t "$t" -r "$R" -o json 2>/dev/null
    fi | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["avg_ts"])'
}

weight_bytes() {
    "$RX" bench -m "$1" -p 0 -n 1 -r 1 -t 1 -o json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["weight_bytes_per_token"])'
}

# alternate reflex and llama.cpp ROUNDS times; print one result row
compare() { # label model threads kind n target
    local label=$1 model=$2 t=$3 kind=$4 n=$5 target=$6 rx=0 lc=0 v
    for ((i = 0; i < ROUNDS; i++)); do
        v=$(measure reflex "$model" "$t" "$kind" "$n"); rx=$(python3 -c "print($rx + $v)")
        v=$(measure llama "$model" "$t" "$kind" "$n"); lc=$(python3 -c "print($lc + $v)")
    done
    python3 - "$label" "$t" "$kind$n" "$rx" "$lc" "$ROUNDS" "$target" "$(weight_bytes "$model")" "${BW[$t]:-0}" <<'PY'
import sys
label, t, test, rx, lc, rounds, target, wbytes, bw = sys.argv[1:]
rx, lc = float(rx) / int(rounds), float(lc) / int(rounds)
ratio = rx / lc
roof = ""
if test.startswith("tg") and float(bw) > 0:
    roof = "%5.1f%% / %5.1f%%" % (100 * int(wbytes) * rx / (float(bw) * 1e9), 100 * int(wbytes) * lc / (float(bw) * 1e9))
ok = "ok" if ratio >= float(target) else "BELOW"
print("| %-22s | %7s | %-6s | %10.2f | %10.2f | %6.2fx | >= %-4s %-5s | %-17s |" % (label, t, test, rx, lc, ratio, target, ok, roof))
PY
}

echo
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; read bandwidth (GB/s):$(for t in $THREADS; do printf ' %s thread(s) %s;' "$t" "${BW[$t]}"; done)"
echo "llama.cpp: $("$LLAMA/bin/llama-bench" --help >/dev/null 2>&1; "$LLAMA/bin/llama-cli" --version 2>&1 | head -n 1)"
echo "reflex: $("$RX" version); P=$P N=$N R=$R ROUNDS=$ROUNDS (mean tokens/s over rounds, alternating)"
echo
echo "| model                  | threads | test   |     reflex |  llama.cpp |  ratio | target       | roofline rx / lc  |"
echo "| ---------------------- | ------: | ------ | ---------: | ---------: | -----: | ------------ | ----------------- |"
for type in Q4_0 Q8_0; do
    for t in $THREADS; do
        compare "TinyLlama-1.1B $type" "$WORK/tinyllama-1.1b-$type.gguf" "$t" tg "$N" 1.2
        compare "TinyLlama-1.1B $type" "$WORK/tinyllama-1.1b-$type.gguf" "$t" pp "$P" 1.0
    done
done
compare "stories260K F32" "$SHARED/models/stories260K.gguf" 1 tg 128 3.0

# peak resident memory at the same context: weights are mmap'd and read, never copied
rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F: '/Maximum resident/ {gsub(/ /, "", $2); print $2}'; }
M="$WORK/tinyllama-1.1b-Q4_0.gguf"
rx_kb=$(rss "$RX" run -m "$M" -p "Once upon a time" -n 16 -c 2048 -t 2 --temp 0)
lc_kb=$(rss "$LLAMA/bin/llama-cli" -m "$M" -p "Once upon a time" -n 16 -c 2048 -t 2 --temp 0 -no-cnv </dev/null)
echo
echo "peak RSS, TinyLlama-1.1B Q4_0, context 2048, 16 tokens: reflex run $((rx_kb / 1024)) MiB, llama-cli $((lc_kb / 1024)) MiB ($(python3 -c "print('%.2f' % ($rx_kb / $lc_kb))")x) -> $([ "$rx_kb" -le "$lc_kb" ] && echo ok || echo ABOVE)"
