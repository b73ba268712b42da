# Sourced by the shell tests: expect_err NAME CODE NEEDLE CMD... runs CMD and counts a failure in
# $fails unless it exits with CODE and writes exactly one stderr line containing NEEDLE.
expect_err() {
    local name=$1 code=$2 needle=$3
    shift 3
    local err
    err=$(timeout 20 "$@" 2>&1 >/dev/null)
    local rc=$?
    if [ $rc -ne "$code" ] || [[ "$err" != *"$needle"* ]] || [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ]; then
        echo "FAIL $name: rc=$rc stderr '$err'"
        fails=$((fails + 1))
    fi
}
