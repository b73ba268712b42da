#!/usr/bin/env bash
# reflex perplexity on ../shared/ref/stories260K-sample.txt must land within 0.1% of
# llama.cpp's figures in ../shared/ref/README.md; bad input gets a one-line error.
set -euo pipefail
BIN=${RX_BIN:?} SHARED=${RX_SHARED:?}
fail=0
check() { # model expected
    local out ppl
    out=$("$BIN" perplexity -m "$SHARED/models/$1" -f "$SHARED/ref/stories260K-sample.txt" -c 128 -t 1 2>/dev/null)
    ppl=$(tail -n 1 <<<"$out" | sed -n 's/^Final estimate: PPL = \([0-9.]*\)$/\1/p')
    if [ -z "$ppl" ]; then echo "FAIL $1: last line is '$(tail -n 1 <<<"$out")'"; fail=1; return; fi
    if awk -v a="$ppl" -v b="$2" 'BEGIN { d = (a - b) / b; if (d < 0) d = -d; exit !(d <= 0.001) }'; then
        echo "ok   $1: PPL $ppl (llama.cpp $2)"
    else
        echo "FAIL $1: PPL $ppl, llama.cpp $2 (more than 0.1% apart)"; fail=1
    fi
}
check stories260K.gguf 2.7510
check stories260K-F16.gguf 2.7511
check stories260K-Q4_K_M.gguf 2.7948

expect_error() { # description, args...
    local desc=$1; shift
    local err rc=0
    err=$("$BIN" perplexity "$@" 2>&1 >/dev/null) || rc=$?
    if [ "$rc" -eq 0 ] || [ "$(wc -l <<<"$err")" -ne 1 ] || ! grep -q '^reflex perplexity: ' <<<"$err"; then
        echo "FAIL $desc: rc=$rc stderr='$err'"; fail=1
    else
        echo "ok   $desc: $err"
    fi
}
tiny=$(mktemp); trap 'rm -f "$tiny"' EXIT
echo "Once upon a time" >"$tiny"
expect_error "missing file" -m "$SHARED/models/stories260K.gguf" -f /nonexistent.txt
expect_error "missing -f" -m "$SHARED/models/stories260K.gguf"
expect_error "text too short" -m "$SHARED/models/stories260K.gguf" -f "$tiny" -c 128
expect_error "bad model" -m "$tiny" -f "$tiny"
expect_error "bad ctx" -m "$SHARED/models/stories260K.gguf" -f "$tiny" -c abc
exit $fail
