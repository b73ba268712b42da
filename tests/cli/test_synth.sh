#!/usr/bin/env bash
# cli/cmd_synth.c: `reflex synth` writes a small random model that `reflex perplexity` and
# `inspect` load, with the asked shape and llama-quantize's types; the same seed gives the same bytes;
# usage errors exit 2, failures exit 1 with one line and no output file. Sizes stay tiny (CI).
set -u
BIN=${RX_BIN:-./build/reflex}
SHARED=${RX_SHARED:-../shared}
V=$SHARED/vocab/ggml-vocab-llama-spm.gguf
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

expect_error() { # NAME CODE PATTERN ARGS...
    local name=$1 code=$2 pattern=$3
    shift 3
    "$BIN" synth "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    [ $rc -eq "$code" ] || fail "$name: exit $rc, want $code: $(cat "$TMP/err")"
    [ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "$name: want one stderr line: $(cat "$TMP/err")"
    grep -q -- "$pattern" "$TMP/err" || fail "$name: stderr lacks '$pattern': $(cat "$TMP/err")"
    [ ! -e "$TMP/o.gguf" ] && [ ! -e "$TMP/o.gguf.tmp" ] || fail "$name: output left behind"
}

"$BIN" synth --help >"$TMP/out" 2>&1 || fail "--help exits non-zero"
grep -q "usage: reflex synth" "$TMP/out" || fail "--help lacks usage"
grep -q "tinyllama-1.1b" "$TMP/out" || fail "--help lacks the shapes"
"$BIN" --help | grep -q "synth" || fail "reflex --help does not list synth"
expect_error no-args 2 "^reflex synth: --shape NAME or --dims"
expect_error bad-shape 2 "unknown shape 'gpt-9'" --shape gpt-9 --vocab "$V" -o "$TMP/o.gguf"
expect_error bad-dims 2 "--dims: expected five positive integers" --dims 64,128,2,4 --vocab "$V" -o "$TMP/o.gguf"
expect_error neg-dims 2 "--dims: expected five" --dims 64,-128,2,4,2 --vocab "$V" -o "$TMP/o.gguf"
expect_error no-vocab 2 "--vocab VOCAB.gguf is required" --shape tiny -o "$TMP/o.gguf"
expect_error no-out 2 "-o OUT.gguf is required" --shape tiny --vocab "$V"
expect_error bad-type 2 "unsupported type 'Q3_K_M'" --shape tiny --vocab "$V" --type Q3_K_M -o "$TMP/o.gguf"
expect_error bad-seed 2 "--seed: expected an integer" --shape tiny --seed x --vocab "$V" -o "$TMP/o.gguf"
expect_error heads 1 "do not divide into heads" --dims 64,128,2,5,1 --vocab "$V" -o "$TMP/o.gguf"
expect_error vocab-missing 1 "$TMP/none.gguf: cannot open" --dims 64,128,2,4,2 --vocab "$TMP/none.gguf" -o "$TMP/o.gguf"
expect_error no-dir 1 "cannot create" --dims 64,128,2,4,2 --vocab "$V" -o "$TMP/nodir/o.gguf"

# --- a small model: shape, types, loads and runs ---
"$BIN" synth --dims 64,128,2,4,2 --ctx 256 --vocab "$V" --type Q4_0 --seed 5 -t 2 -o "$TMP/a.gguf" 2>"$TMP/err" ||
    fail "synth failed: $(cat "$TMP/err")"
[ "$(grep -c '^\[ *[0-9]*/  21\]' "$TMP/err")" -eq 21 ] || fail "progress: want 21 tensor lines"
"$BIN" inspect "$TMP/a.gguf" >"$TMP/out" || fail "inspect failed"
for want in "llama.embedding_length = 64" "llama.feed_forward_length = 128" "llama.block_count = 2" \
    "llama.attention.head_count = 4" "llama.attention.head_count_kv = 2" "llama.context_length = 256" \
    "general.file_type = 2" "tokenizer.ggml.tokens = [string x 32000]"; do
    grep -qF "$want" "$TMP/out" || fail "inspect lacks '$want'"
done
grep -Eq '^  token_embd\.weight +Q4_0 +\[64, 32000\]' "$TMP/out" || fail "token_embd is not Q4_0 [64, 32000]"
grep -Eq '^  output\.weight +Q8_0 +\[64, 32000\]' "$TMP/out" || fail "output is not Q8_0 (Q6_K fallback)"
grep -Eq '^  blk\.1\.attn_k\.weight +Q4_0 +\[64, 32\]' "$TMP/out" || fail "attn_k is not Q4_0 [64, 32]"
grep -Eq '^  blk\.1\.ffn_norm\.weight +F32 +\[64\]' "$TMP/out" || fail "ffn_norm is not F32 [64]"
out=$("$BIN" perplexity -m "$TMP/a.gguf" -f "$SHARED/ref/stories260K-sample.txt" -c 128 -t 2 2>"$TMP/err" | tail -n 1)
case "$out" in "Final estimate: PPL = "*) ;; *) fail "perplexity on the synthetic model: '$out' $(tail -n 1 "$TMP/err")" ;; esac

# --- same seed, same bytes (whatever the threads); another seed, other bytes ---
"$BIN" synth -q --dims 64,128,2,4,2 --ctx 256 --vocab "$V" --type Q4_0 --seed 5 -t 1 -o "$TMP/b.gguf" || fail "synth b"
cmp -s "$TMP/a.gguf" "$TMP/b.gguf" || fail "same seed gave different files"
"$BIN" synth -q --dims 64,128,2,4,2 --ctx 256 --vocab "$V" --type Q4_0 --seed 6 -o "$TMP/c.gguf" || fail "synth c"
cmp -s "$TMP/a.gguf" "$TMP/c.gguf" && fail "another seed gave the same file"
# the named tiny shape is tiny-random's (dim 256, 4 layers): same types as llama-quantize chose there
"$BIN" synth -q --shape tiny --vocab "$V" --type Q4_K_M -o "$TMP/t.gguf" || fail "synth tiny"
"$BIN" inspect "$TMP/t.gguf" | grep -E '^  (Q4_K|Q6_K|F32) ' | awk '{print $1, $2}' >"$TMP/types"
"$BIN" inspect "$SHARED/models/tiny-random-Q4_K_M.gguf" | grep -E '^  (Q4_K|Q6_K|F32) ' | awk '{print $1, $2}' >"$TMP/want"
cmp -s "$TMP/types" "$TMP/want" || fail "tiny Q4_K_M types differ from tiny-random-Q4_K_M: $(cat "$TMP/types")"

if [ $failures -ne 0 ]; then
    echo "test_synth: $failures failure(s)" >&2
    exit 1
fi
echo "test_synth: all passed"
