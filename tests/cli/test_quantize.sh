#!/usr/bin/env bash
# cli/cmd_quantize.c: `reflex quantize` writes files byte-identical to llama-quantize's (the
# shipped tiny-random-{Q8_0,Q4_0,Q4_K_M,Q6_K} and stories260K-{Q4_K_M,F16}); usage errors
# exit 2, failures exit 1 with one line on stderr, and no output (or OUT.tmp) is left behind.
set -u
BIN=${RX_BIN:-./build/reflex}
SHARED=${RX_SHARED:-../shared}
M=$SHARED/models
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# expect_error NAME CODE PATTERN ARGS...: exit CODE, exactly one stderr line matching PATTERN
expect_error() {
    local name=$1 code=$2 pattern=$3
    shift 3
    "$BIN" quantize "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    [ $rc -eq "$code" ] || fail "$name: exit $rc, want $code: $(cat "$TMP/err")"
    [ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "$name: want one stderr line: $(cat "$TMP/err")"
    grep -q -- "$pattern" "$TMP/err" || fail "$name: stderr lacks '$pattern': $(cat "$TMP/err")"
}

no_output() { # NAME PATH
    [ ! -e "$2" ] || fail "$1: $2 was left behind"
    [ ! -e "$2.tmp" ] || fail "$1: $2.tmp was left behind"
}

# --- help and usage ---
"$BIN" quantize --help >"$TMP/out" 2>&1 || fail "--help exits non-zero"
grep -q "usage: reflex quantize" "$TMP/out" || fail "--help lacks usage"
"$BIN" --help | grep -q "quantize" || fail "reflex --help does not list quantize"
expect_error no-args 2 "^reflex quantize: expected IN.gguf OUT.gguf TYPE" 
expect_error unknown-type 2 "unknown type 'Q9_0'" "$M/stories260K.gguf" "$TMP/x.gguf" Q9_0
expect_error unsupported-type 2 "type Q5_K_M is not supported yet" "$M/stories260K.gguf" "$TMP/x.gguf" Q5_K_M
expect_error bad-option 2 "unknown option '--bogus'" --bogus a b c
expect_error bad-threads 2 "-t: expected an integer" -t 0 a b Q8_0
expect_error too-many 2 "too many arguments" a b Q8_0 d
no_output usage "$TMP/x.gguf"

# --- byte identity with llama-quantize (build 4748) ---
check() { # IN TYPE WANT
    "$BIN" quantize -t 2 "$M/$1" "$TMP/q.gguf" "$2" 2>"$TMP/err" || fail "$1 $2: $(tail -n 1 "$TMP/err")"
    if cmp -s "$TMP/q.gguf" "$M/$3"; then echo "ok   $1 -> $2 is byte-identical to $3"; else fail "$1 -> $2 differs from $3"; fi
    no_output "$1 $2" "$TMP/q.gguf.tmp"
}
check tiny-random-F16.gguf Q8_0 tiny-random-Q8_0.gguf
check tiny-random-F16.gguf Q4_0 tiny-random-Q4_0.gguf
check tiny-random-F16.gguf Q4_K_M tiny-random-Q4_K_M.gguf
check tiny-random-F16.gguf q4_k tiny-random-Q4_K_M.gguf
check tiny-random-F16.gguf Q6_K tiny-random-Q6_K.gguf
check stories260K.gguf Q4_K_M stories260K-Q4_K_M.gguf
check stories260K.gguf F16 stories260K-F16.gguf
# progress: one line per tensor when stderr is not a terminal, then the summary
"$BIN" quantize "$M/stories260K.gguf" "$TMP/p.gguf" F16 2>"$TMP/err" || fail "progress run failed"
[ "$(grep -c '^\[ *[0-9]*/  48\]' "$TMP/err")" -eq 48 ] || fail "progress: want 48 tensor lines: $(head -3 "$TMP/err")"
grep -q "^wrote $TMP/p.gguf: " "$TMP/err" || fail "progress: no summary line"
"$BIN" quantize -q "$M/stories260K.gguf" "$TMP/p.gguf" F16 2>"$TMP/err"
[ ! -s "$TMP/err" ] || fail "-q still prints: $(cat "$TMP/err")"

# --- failures: one line, exit 1, nothing left ---
expect_error missing 1 "$TMP/missing.gguf: cannot open" "$TMP/missing.gguf" "$TMP/o.gguf" Q8_0
no_output missing "$TMP/o.gguf"
head -c 5000 "$M/stories260K.gguf" >"$TMP/trunc.gguf"
expect_error truncated 1 "trunc.gguf: gguf: " "$TMP/trunc.gguf" "$TMP/o.gguf" Q8_0
expect_error not-llama 1 "architecture 'bert' is not supported" "$SHARED/vocab/ggml-vocab-bert-bge.gguf" "$TMP/o.gguf" Q8_0
expect_error requantize 1 "requantizing needs --allow-requantize" "$M/tiny-random-Q8_0.gguf" "$TMP/o.gguf" Q4_0
expect_error no-fallback 1 "rows of 172 do not fit Q8_0" "$M/stories260K.gguf" "$TMP/o.gguf" Q8_0
expect_error no-dir 1 "$TMP/nodir/o.gguf.tmp: cannot create" "$M/stories260K.gguf" "$TMP/nodir/o.gguf" F16
no_output failures "$TMP/o.gguf"
# a write that fails half way (file size limit; SIGXFSZ ignored so write() reports EFBIG)
(
    trap '' XFSZ
    ulimit -f 2048 # 1 MiB in 512-byte blocks: the Q8_0 output is 20 MiB
    "$BIN" quantize -q "$M/tiny-random-F16.gguf" "$TMP/big.gguf" Q8_0 2>"$TMP/err"
    echo $? >"$TMP/rc"
)
[ "$(cat "$TMP/rc")" -eq 1 ] || fail "write failure: exit $(cat "$TMP/rc")"
[ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "write failure: want one line: $(cat "$TMP/err")"
grep -q "write failed" "$TMP/err" || fail "write failure: $(cat "$TMP/err")"
no_output write-failure "$TMP/big.gguf"
# the requantization that was refused above works when allowed
"$BIN" quantize -q --allow-requantize "$M/tiny-random-Q8_0.gguf" "$TMP/rq.gguf" Q4_0 ||
    fail "--allow-requantize failed"

if [ $failures -ne 0 ]; then
    echo "test_quantize: $failures failure(s)" >&2
    exit 1
fi
echo "test_quantize: all passed"
