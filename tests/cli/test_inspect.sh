#!/usr/bin/env bash
# cli/cmd_inspect.c: `reflex inspect` on real models prints metadata, tensors and a memory
# estimate; on bad files (truncated, wrong magic/version, huge counts, hostile names) it prints
# one line on stderr and exits 1, never crashing.
set -u
BIN=${RX_BIN:-./build/reflex}
SHARED=${RX_SHARED:-../shared}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# expect_ok NAME ARGS... : exit 0; stdout in $TMP/out
expect_ok() {
    local name=$1
    shift
    "$BIN" inspect "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    [ $rc -eq 0 ] || fail "$name: exit $rc: $(cat "$TMP/err")"
}

# expect_error NAME CODE PATTERN ARGS... : exit CODE, exactly one stderr line matching PATTERN
expect_error() {
    local name=$1 code=$2 pattern=$3
    shift 3
    "$BIN" inspect "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    [ $rc -eq "$code" ] || fail "$name: exit $rc, want $code: $(cat "$TMP/err")"
    local lines
    lines=$(wc -l <"$TMP/err")
    [ "$lines" -eq 1 ] || fail "$name: $lines lines on stderr, want 1: $(cat "$TMP/err")"
    grep -q -- "$pattern" "$TMP/err" || fail "$name: stderr lacks '$pattern': $(cat "$TMP/err")"
}

has() {
    grep -qF -- "$2" "$TMP/out" || fail "$1: output lacks '$2'"
}

le32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $((($1 >> 8) & 255)) \
    $((($1 >> 16) & 255)) $((($1 >> 24) & 255)); }
le64() { printf '%s%s' "$(le32 $(($1 & 0xffffffff)))" "$(le32 $((($1 >> 32) & 0xffffffff)))"; }

# --- help and usage ---
"$BIN" inspect --help >"$TMP/out" 2>&1 || fail "--help exits non-zero"
has help "usage: reflex inspect"
"$BIN" --help | grep -q "inspect" || fail "reflex --help does not list inspect"
expect_error no-args 2 "reflex inspect: no model given"
expect_error bad-option 2 "unknown option '--bogus'" --bogus x.gguf
expect_error two-models 2 "one model at a time" a.gguf b.gguf

# --- real models ---
expect_ok stories "$SHARED/models/stories260K.gguf"
has stories "tensors: 48"
has stories "llama.embedding_length = 64"
has stories "tokenizer.ggml.tokens = [string x 512] \"<unk>\", \"<s>\", \"</s>\", \"<0x00>\", ..."
has stories "292800 parameters"
has stories "KV cache (F16):    80.00 KiB  (2 x 5 layers x 128 ctx x 32 n_embd_k_gqa x 2 bytes)"
expect_ok q4km "$SHARED/models/tiny-random-Q4_K_M.gguf"
grep -Eq '^  token_embd\.weight +Q4_K +\[256, 32000\] +4608000$' "$TMP/out" ||
    fail "q4km: no token_embd.weight Q4_K [256, 32000] row"
grep -Eq "^  Q6_K +5 tensors +8650752 parameters" "$TMP/out" || fail "q4km: no Q6_K total"
has q4km "(2 x 4 layers x 512 ctx x 128 n_embd_k_gqa x 2 bytes)"
expect_ok vocab "$SHARED/vocab/ggml-vocab-gpt-2.gguf"
has vocab "tensors: 0"
for f in "$SHARED"/models/*.gguf "$SHARED"/vocab/*.gguf; do
    expect_ok "$(basename "$f")" "$f"
done

# --- bad files: one line "reflex inspect: <path>: gguf: ...", exit 1 ---
model="$SHARED/models/stories260K.gguf"
head -c 1000 "$model" >"$TMP/truncated.gguf"
expect_error truncated 1 "^reflex inspect: $TMP/truncated.gguf: gguf: .* at byte " "$TMP/truncated.gguf"
head -c 1100000 "$model" >"$TMP/short-data.gguf"
expect_error short-data 1 "runs past the end of the file" "$TMP/short-data.gguf"
{ printf 'GGUG'; tail -c +5 "$model"; } >"$TMP/magic.gguf"
expect_error magic 1 "magic at byte 0" "$TMP/magic.gguf"
{ printf 'GGUF'; printf "$(le32 7)"; tail -c +9 "$model"; } >"$TMP/version.gguf"
expect_error version 1 "version at byte 4: 7 is not supported" "$TMP/version.gguf"
{ head -c 16 "$model"; printf "$(le64 0x7fffffffffffffff)"; tail -c +25 "$model"; } >"$TMP/nkv.gguf"
expect_error huge-n-kv 1 "n_kv at byte 16" "$TMP/nkv.gguf"
: >"$TMP/empty.gguf"
expect_error empty 1 "the file is empty" "$TMP/empty.gguf"
expect_error missing 1 "$TMP/missing.gguf: cannot open" "$TMP/missing.gguf"
expect_error directory 1 "not a regular file" "$TMP"
# a key whose name holds a newline and an escape byte, with a bad value type
{
    printf 'GGUF'; printf "$(le32 3)$(le64 0)$(le64 1)$(le64 4)"
    printf 'a\n\033b'; printf "$(le32 99)"; printf '\0\0\0\0\0\0\0\0\0\0'
} >"$TMP/hostile.gguf"
expect_error hostile-key 1 "key 'a\\\\n\\\\x1bb' value type at byte 36: 99 is not a type" \
    "$TMP/hostile.gguf"

if [ $failures -ne 0 ]; then
    echo "test_inspect: $failures failure(s)" >&2
    exit 1
fi
echo "test_inspect: all passed"
