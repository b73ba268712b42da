#!/usr/bin/env bash
# Builds bench/matmul_bench.c against the Release library (make first) and runs it.
# Usage: bench/run.sh [types, e.g. "Q4_0 Q8_0"] [max threads, default 2]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
make -C "$root" >/dev/null
cc -std=c11 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$root/include" -I"$root/src" \
    "$root/bench/matmul_bench.c" "$root/build/libreflex.a" -lpthread -lm -o "$root/build/matmul_bench"
exec "$root/build/matmul_bench" "$@"
