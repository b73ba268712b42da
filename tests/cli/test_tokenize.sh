#!/usr/bin/env bash
# cli/cmd_tokenize.c: ids on one line, BOS and special parsing on request, one-line errors.
set -u
BIN=${RX_BIN:-./reflex}
SHARED=${RX_SHARED:-../shared}
fails=0

expect_out() { # name, expected stdout, command...
    local name=$1 want=$2
    shift 2
    local got
    got=$("$@" 2>/dev/null)
    local rc=$?
    if [ $rc -ne 0 ] || [ "$got" != "$want" ]; then
        echo "FAIL $name: rc=$rc got '$got' want '$want'"
        fails=$((fails + 1))
    fi
}

expect_err() { # name, expected exit code, stderr substring, command...
    local name=$1 code=$2 needle=$3
    shift 3
    local err
    err=$("$@" 2>&1 >/dev/null)
    local rc=$?
    if [ $rc -ne "$code" ] || [[ "$err" != *"$needle"* ]] || [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ]; then
        echo "FAIL $name: rc=$rc stderr '$err'"
        fails=$((fails + 1))
    fi
}

STORIES=$SHARED/models/stories260K.gguf
GPT2=$SHARED/vocab/ggml-vocab-gpt-2.gguf
# From ../shared/ref/stories260K.jsonl (llama.cpp, BOS added).
expect_out "stories prompt" "1 403 407 261 378" "$BIN" tokenize -m "$STORIES" "Once upon a time"
expect_out "no bos" "403 407 261 378" "$BIN" tokenize -m "$STORIES" --no-bos "Once upon a time"
expect_out "gpt-2" "15496 995" "$BIN" tokenize -m "$GPT2" "Hello world"
expect_out "gpt-2 special" "64 50256 65" "$BIN" tokenize -m "$GPT2" --special "a<|endoftext|>b"
expect_out "no special" "64 27 91 437 1659 5239 91 29 65" "$BIN" tokenize -m "$GPT2" "a<|endoftext|>b"
expect_out "empty" "" "$BIN" tokenize -m "$GPT2" ""
expect_out "help" "usage: reflex tokenize -m MODEL [--no-bos] [--special] TEXT" \
    bash -c "\"$BIN\" tokenize --help | head -1"

expect_err "no model" 2 "-m MODEL is required" "$BIN" tokenize "hi"
expect_err "no text" 2 "TEXT is required" "$BIN" tokenize -m "$GPT2"
expect_err "-m without value" 2 "-m needs a value" "$BIN" tokenize -m
expect_err "unknown flag" 2 "unknown option" "$BIN" tokenize -m "$GPT2" --bogus hi
expect_err "missing file" 1 "/nonexistent.gguf" "$BIN" tokenize -m /nonexistent.gguf hi
tmp=$(mktemp)
printf 'not a gguf file at all' >"$tmp"
expect_err "bad file" 1 "$tmp" "$BIN" tokenize -m "$tmp" hi
rm -f "$tmp"

[ $fails -eq 0 ] && echo "test_tokenize.sh: all passed"
exit $((fails != 0))
