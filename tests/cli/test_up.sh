#!/usr/bin/env bash
# cli/cmd_up.c, cmd_serve.c, cmd_gateway.c: the embedded default answers through its gateway and
# stops cleanly; usage errors are one line with exit 2, failures one line with exit 1.
set -u
BIN=${RX_BIN:-./reflex}
SHARED=${RX_SHARED:-../shared}
STORIES=$SHARED/models/stories260K.gguf
fails=0

. "$(dirname "$0")/../support/expect_err.sh"

# reflex up --once: node + gateway, one completion through the gateway, both stop cleanly
out=$(timeout 60 "$BIN" up -m "$STORIES" --port 0 --once "Once upon a time" 2>/tmp/rx-up-$$.err)
rc=$?
if [ $rc -ne 0 ] || [[ "$out" != *'"text":", there was a little girl named Lily.'* ]] || [[ "$out" != *"reflex is up"* ]]; then
    echo "FAIL up --once: rc=$rc out '$out' err '$(cat /tmp/rx-up-$$.err)'"
    fails=$((fails + 1))
fi
grep -q "reflex up: stopped" /tmp/rx-up-$$.err || { echo "FAIL up: no clean stop"; fails=$((fails + 1)); }
rm -f /tmp/rx-up-$$.err

expect_err "up missing model" 1 "cannot read the model" "$BIN" up -m /nonexistent.gguf
expect_err "up bad port" 2 "--port" "$BIN" up --port 70000
expect_err "serve no model" 2 "model is required" "$BIN" serve
expect_err "serve unknown flag" 2 "unknown option '--frobnicate'" "$BIN" serve -m "$STORIES" --frobnicate 1
expect_err "serve bad parallel" 2 "--parallel" "$BIN" serve -m "$STORIES" --parallel 0
expect_err "serve bad tier" 2 "--tier" "$BIN" serve -m "$STORIES" --tier edge
expect_err "serve missing model file" 1 "/nonexistent.gguf" "$BIN" serve -m /nonexistent.gguf --port 0
expect_err "serve bad tls" 1 "/nonexistent.pem" "$BIN" serve -m "$STORIES" --port 0 --tls-cert /nonexistent.pem --tls-key /nonexistent.pem
expect_err "serve missing key file" 1 "/nonexistent.keys" "$BIN" serve -m "$STORIES" --port 0 --api-key-file /nonexistent.keys
cfg=$(mktemp)
printf 'port: [1\n' > "$cfg"
expect_err "serve bad config" 1 "config $cfg:" "$BIN" serve --config "$cfg"
printf 'parallel: 0\n' > "$cfg"
expect_err "serve bad config value" 2 "--parallel" "$BIN" serve -m "$STORIES" --config "$cfg"
expect_err "gateway no upstream" 2 "at least one --upstream" "$BIN" gateway
expect_err "gateway bad upstream" 2 "unknown field 'colour'" "$BIN" gateway --upstream 'http://127.0.0.1:1;colour=red'
expect_err "gateway bad tier" 2 "--tier" "$BIN" gateway --tier edge --upstream http://127.0.0.1:1
# the port is taken: a one-line failure naming the address
python3 -c 'import socket,time,sys; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(20)' > "$cfg.port" &
holder=$!
for _ in $(seq 50); do [ -s "$cfg.port" ] && break; sleep 0.1; done
port=$(cat "$cfg.port")
expect_err "gateway port taken" 1 "127.0.0.1:$port" "$BIN" gateway --port "$port" --upstream http://127.0.0.1:1
kill $holder 2>/dev/null
rm -f "$cfg" "$cfg.port"

for cmd in up serve gateway; do
    "$BIN" $cmd --help | grep -q "usage: reflex $cmd" || { echo "FAIL $cmd --help"; fails=$((fails + 1)); }
done
echo "$fails failure(s)"
[ $fails -eq 0 ]
