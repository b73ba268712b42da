#!/usr/bin/env bash
# reflex run: greedy output equals llama.cpp's reference text byte for byte, only generated
# text on stdout, timings on stderr, the same seed gives the same text, bad flags fail cleanly.
set -euo pipefail
BIN=${RX_BIN:?} SHARED=${RX_SHARED:?}
M="$SHARED/models/stories260K.gguf"
fail=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }

# every reference prompt: 64 greedy tokens must print exactly the reference text
n=0
while IFS= read -r line; do
    prompt=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["prompt"], end="")' "$line")
    want=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["text"], end="")' "$line")
    got=$("$BIN" run -m "$M" -p "$prompt" -n 64 --temp 0 -t 1 2>/dev/null)
    if [ "$got" == "$want" ]; then n=$((n + 1)); else bad "greedy text for '$prompt': got '$got'"; fi
done <"$SHARED/ref/stories260K.jsonl"
[ "$n" -eq 12 ] && ok "greedy text identical for 12/12 reference prompts"

err=$("$BIN" run -m "$M" -p "Once upon a time" -n 8 --temp 0 2>&1 >/dev/null)
grep -q "tokens/s" <<<"$err" && grep -q "time to first token" <<<"$err" && ok "timings on stderr" || bad "timings: $err"

a=$("$BIN" run -m "$M" -p "Once upon a time" -n 32 --temp 1.0 --seed 7 2>/dev/null)
b=$("$BIN" run -m "$M" -p "Once upon a time" -n 32 --temp 1.0 --seed 7 2>/dev/null)
c=$("$BIN" run -m "$M" -p "Once upon a time" -n 32 --temp 1.0 --seed 8 2>/dev/null)
[ "$a" == "$b" ] && ok "same seed, same text" || bad "same seed gave '$a' and '$b'"
[ "$a" != "$c" ] && ok "another seed, another text" || bad "seeds 7 and 8 gave the same text"

"$BIN" run --help | grep -q "usage: reflex run" && ok "--help" || bad "--help"
expect_error() { # description, args...
    local desc=$1; shift
    local err rc=0
    err=$("$BIN" run "$@" 2>&1 >/dev/null) || rc=$?
    if [ "$rc" -ne 0 ] && [ "$(wc -l <<<"$err")" -eq 1 ] && grep -q '^reflex run: ' <<<"$err"; then
        ok "$desc: $err"
    else
        bad "$desc: rc=$rc stderr='$err'"
    fi
}
expect_error "no prompt" -m "$M"
expect_error "no model" -p hi
expect_error "missing model file" -m /nonexistent.gguf -p hi
expect_error "bad temperature" -m "$M" -p hi --temp -1
expect_error "bad -n" -m "$M" -p hi -n many
expect_error "unknown flag" -m "$M" -p hi --frobnicate 1
expect_error "prompt longer than the context" -m "$M" -p "$(printf 'once upon a time %.0s' $(seq 100))" -c 16
expect_error "bad kv type" -m "$M" -p hi --kv-type q4_0
exit $fail
