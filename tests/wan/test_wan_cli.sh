#!/usr/bin/env bash
# cli/cmd_wan.c without root: usage errors are one line with exit 2, bad configs one line naming
# the file position and field with exit 1, and an unprivileged `up` says it needs root (run as
# nobody through setpriv when we are root). Nothing here creates a namespace.
set -u
BIN=${RX_BIN:-./reflex}
fails=0

. "$(dirname "$0")/../support/expect_err.sh"

dir=$(mktemp -d)
chmod 755 "$dir"
trap 'rm -rf "$dir"' EXIT
good=$dir/good.yaml
cat > "$good" <<'EOF'
name: rxcli
hosts: [{name: a, ports: [80]}, {name: b}]
links: [{a: a, b: b, delay: 1ms}]
EOF
chmod 644 "$good"

expect_err "no action" 2 "an action is required" "$BIN" wan
expect_err "unknown action" 2 "unknown action 'sideways'" "$BIN" wan sideways --config "$good"
expect_err "no config" 2 "--config FILE is required" "$BIN" wan up
expect_err "config without value" 2 "--config needs a value" "$BIN" wan up --config
expect_err "unknown option" 2 "unknown option '--fast'" "$BIN" wan up --fast --config "$good"
expect_err "cut without link" 2 "cut needs a LINK" "$BIN" wan cut --config "$good"
expect_err "extra argument" 2 "unexpected argument 'x'" "$BIN" wan up x --config "$good"
expect_err "json not status" 2 "--json goes with status only" "$BIN" wan up --json --config "$good"
expect_err "missing file" 1 "cannot read config file '/nonexistent.yaml'" "$BIN" wan up --config /nonexistent.yaml
expect_err "unknown link" 2 "no link 'a-c' in wan 'rxcli' (links: a-b)" "$BIN" wan cut a-c --config "$good"
expect_err "status when down" 1 "wan 'rxcli' is not up" "$BIN" wan status --config "$good"
expect_err "heal when down" 1 "wan 'rxcli' is not up" "$BIN" wan heal b-a --config "$good"

bad() { # name, stderr substring, config text
    printf '%s\n' "$3" > "$dir/bad.yaml"
    expect_err "$1" 1 "$2" "$BIN" wan up --config "$dir/bad.yaml"
}
bad "unknown host" "config $dir/bad.yaml:3:19: links[0].b: unknown host 'c'" \
    "name: w
hosts: [{name: a}, {name: b}]
links: [{a: a, b: c, delay: 1ms}]"
bad "duplicate host" "hosts[1].name: host 'a' is defined twice" \
    "name: w
hosts: [{name: a}, {name: a}]
links: [{a: a, b: a, delay: 1ms}]"
bad "bad duration" "links[0].delay: '10' is not a duration" \
    "name: w
hosts: [{name: a}, {name: b}]
links: [{a: a, b: b, delay: 10}]"
bad "bad rate" "links[0].rate: '5mbps' is not a rate" \
    "name: w
hosts: [{name: a}, {name: b}]
links: [{a: a, b: b, delay: 1ms, rate: 5mbps}]"
bad "syntax" "config $dir/bad.yaml:" "name: [w"
hosts=$(for i in $(seq 17); do printf '{name: h%d}, ' "$i"; done)
bad "too many hosts" "hosts[16]: more than 16 hosts" \
    "name: w
hosts: [${hosts%, }]
links: [{a: h1, b: h2, delay: 1ms}]"

"$BIN" wan --help | grep -q "usage: reflex wan" || { echo "FAIL wan --help"; fails=$((fails + 1)); }

# without root: one line saying so, and nothing made
if [ "$(id -u)" -eq 0 ]; then
    if command -v setpriv >/dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
        RX_WAN_RUN_DIR=$dir/run expect_err "up as nobody" 1 "needs root" \
            setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN" wan up --config "$good"
        RX_WAN_RUN_DIR=$dir/run expect_err "down as nobody" 1 "needs root" \
            setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN" wan down --config "$good"
    fi
else
    expect_err "up without root" 1 "needs root" "$BIN" wan up --config "$good"
fi
if ip netns list 2>/dev/null | grep -q '^rxcli-'; then
    echo "FAIL a namespace was made"
    fails=$((fails + 1))
fi

[ $fails -eq 0 ] && echo ok
exit $((fails > 0))
