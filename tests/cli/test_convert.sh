#!/usr/bin/env bash
# cli/cmd_convert.c: `reflex convert --llama2c` turns stories260K.bin + tok512.bin into exactly
# llama.cpp's stories260K.gguf, which then scores text the same; bad checkpoints and
# tokenizers get one line on stderr, exit 1 and no output file.
set -u
BIN=${RX_BIN:-./build/reflex}
SHARED=${RX_SHARED:-../shared}
M=$SHARED/models
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

expect_error() { # NAME CODE PATTERN ARGS...
    local name=$1 code=$2 pattern=$3
    shift 3
    "$BIN" convert "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    [ $rc -eq "$code" ] || fail "$name: exit $rc, want $code: $(cat "$TMP/err")"
    [ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "$name: want one stderr line: $(cat "$TMP/err")"
    grep -q -- "$pattern" "$TMP/err" || fail "$name: stderr lacks '$pattern': $(cat "$TMP/err")"
    [ ! -e "$TMP/o.gguf" ] && [ ! -e "$TMP/o.gguf.tmp" ] || fail "$name: output left behind"
}

"$BIN" convert --help >"$TMP/out" 2>&1 || fail "--help exits non-zero"
grep -q "usage: reflex convert --llama2c" "$TMP/out" || fail "--help lacks usage"
"$BIN" --help | grep -q "convert" || fail "reflex --help does not list convert"
expect_error no-args 2 "^reflex convert: --llama2c MODEL.bin is required"
expect_error no-tok 2 "--tokenizer TOK.bin is required" --llama2c "$M/stories260K.bin" -o "$TMP/o.gguf"
expect_error no-out 2 "-o OUT.gguf is required" --llama2c "$M/stories260K.bin" --tokenizer "$M/tok512.bin"
expect_error missing-value 2 "--tokenizer needs a value" --llama2c "$M/stories260K.bin" --tokenizer
expect_error bad-option 2 "unknown option '--bogus'" --bogus
expect_error bad-ctx 2 "--ctx: expected an integer" --ctx 0 --llama2c a --tokenizer b -o "$TMP/o.gguf"

# --- the real thing ---
"$BIN" convert -q --llama2c "$M/stories260K.bin" --tokenizer "$M/tok512.bin" -o "$TMP/s.gguf" ||
    fail "convert failed"
cmp -s "$TMP/s.gguf" "$M/stories260K.gguf" && echo "ok   byte-identical to stories260K.gguf" ||
    fail "output differs from stories260K.gguf"
# it runs, with the same scores as llama.cpp's conversion
ppl() { "$BIN" perplexity -m "$1" -f "$SHARED/ref/stories260K-sample.txt" -c 128 -t 1 2>/dev/null | tail -n 1; }
a=$(ppl "$TMP/s.gguf")
b=$(ppl "$M/stories260K.gguf")
case "$a" in "Final estimate: PPL = "*) ;; *) fail "perplexity on the conversion: '$a'" ;; esac
[ "$a" = "$b" ] || fail "perplexity differs: '$a' vs '$b'"
"$BIN" convert -q --llama2c "$M/stories260K.bin" --tokenizer "$M/tok512.bin" -o "$TMP/c.gguf" --ctx 512 ||
    fail "--ctx failed"
"$BIN" inspect "$TMP/c.gguf" | grep -q "llama.context_length = 512" || fail "--ctx 512 not recorded"

# --- bad inputs ---
head -c 1000 "$M/stories260K.bin" >"$TMP/cut.bin"
expect_error truncated 1 "cut.bin: llama2c: the header (dim 64, .*) does not match the file size of 1000 bytes" \
    --llama2c "$TMP/cut.bin" --tokenizer "$M/tok512.bin" -o "$TMP/o.gguf"
head -c 10 "$M/stories260K.bin" >"$TMP/tiny.bin"
expect_error tiny 1 "less than the 28-byte header" --llama2c "$TMP/tiny.bin" --tokenizer "$M/tok512.bin" -o "$TMP/o.gguf"
{ printf '\x32\x34\x6b\x61\x02\x00\x00\x00'; head -c 300 /dev/zero; } >"$TMP/v2.bin" # export.py --version 2
expect_error ak42 1 "version 2 export" --llama2c "$TMP/v2.bin" --tokenizer "$M/tok512.bin" -o "$TMP/o.gguf"
{ printf '\xf8\xff\xff\x7f'; tail -c +5 "$M/stories260K.bin"; } >"$TMP/huge.bin"
expect_error huge-dim 1 "dim 2147483640.* does not match" --llama2c "$TMP/huge.bin" --tokenizer "$M/tok512.bin" -o "$TMP/o.gguf"
head -c 3000 "$M/tok512.bin" >"$TMP/cut-tok.bin"
expect_error tok-truncated 1 "cut-tok.bin: tokenizer: token .* at byte" \
    --llama2c "$M/stories260K.bin" --tokenizer "$TMP/cut-tok.bin" -o "$TMP/o.gguf"
expect_error missing 1 "$TMP/none.bin: cannot open" --llama2c "$TMP/none.bin" --tokenizer "$M/tok512.bin" -o "$TMP/o.gguf"
expect_error no-dir 1 "cannot create" --llama2c "$M/stories260K.bin" --tokenizer "$M/tok512.bin" -o "$TMP/nodir/o.gguf"

if [ $failures -ne 0 ]; then
    echo "test_convert: $failures failure(s)" >&2
    exit 1
fi
echo "test_convert: all passed"
