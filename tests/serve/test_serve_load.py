"""reflex serve under load and abuse, on 127.0.0.1: 16 concurrent streams complete; a client
that disconnects mid-stream has its slot freed (seen in /metrics); a full queue answers 503 with
Retry-After at once; broken HTTP and slow clients get 4xx or a closed connection and the server
goes on; API keys (and SIGHUP reload); SIGTERM drains running streams and exits 0."""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from rxserve import STORIES, Server, check, finish, now_ms, raw, read_ref  # noqa: E402

refs = read_ref()

# --- 16 concurrent streams ---
srv = Server("serve", ["-m", STORIES, "-np", "16", "-c", "512", "-t", "2", "--queue", "2",
                       "--header-timeout", "0.5", "--body-timeout", "1", "--quiet"])
outs = [None] * 16


def stream(i):
    r = refs[i % len(refs)]
    outs[i] = srv.stream("/v1/completions", {"prompt": r["prompt"], "max_tokens": 64, "temperature": 0,
                                             "stream": True})


ts = [threading.Thread(target=stream, args=(i,)) for i in range(16)]
for t in ts:
    t.start()
for t in ts:
    t.join()
for i, (st, events, done) in enumerate(outs):
    text = "".join(e["choices"][0]["text"] for e in events if e.get("choices"))
    check(st == 200 and done and text == refs[i % len(refs)]["text"], f"stream #{i}: {st} done={done}")

# --- a disconnect mid-stream frees its slot ---
def abandon():
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    body = json.dumps({"prompt": "Once upon a time", "max_tokens": 400, "stream": True,
                       "reflex": {"ignore_eos": True}})
    s.sendall(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n{body}").encode())
    got = b""
    while got.count(b"data: ") < 3:
        got += s.recv(4096)
    s.close()


cancelled0 = srv.metric("reflex_requests_cancelled_total")
abandon()
deadline = time.time() + 10
while time.time() < deadline and srv.metric("reflex_slots_active") != 0:
    time.sleep(0.05)
check(srv.metric("reflex_slots_active") == 0, "slot freed after a disconnect")
check(srv.metric("reflex_requests_cancelled_total") == cancelled0 + 1, "disconnect counted as cancelled")

# --- broken HTTP, slow clients ---
out = raw(srv.port, b"GARBAGE\r\n\r\n")
check(out.startswith(b"HTTP/1.1 400") or out == b"", f"garbage request line: {out[:40]!r}")
out = raw(srv.port, b"POST /v1/completions HTTP/1.1\r\nContent-Length: -5\r\n\r\n")
check(out.startswith(b"HTTP/1.1 4") or out == b"", f"negative length: {out[:40]!r}")
out = raw(srv.port, b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n")
check(out.startswith(b"HTTP/1.1 4") or out == b"", f"huge header: {out[:40]!r}")
t0 = now_ms()
out = raw(srv.port, b"GET /health HTTP/1.1\r\nHost:", read_timeout=5)
check(now_ms() - t0 < 4000, f"slow header closed after {now_ms() - t0:.0f} ms")
s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"pro")
t0 = now_ms()
try:
    rest = s.recv(100)
except socket.timeout:
    rest = None
check(rest is not None and now_ms() - t0 < 40000, "slow body: connection answered or closed")
s.close()
check(srv.request("GET", "/health")[0] == 200, "alive after broken clients")

# --- a full queue answers 503 at once (tiny-random: slow enough per token to hold a slot) ---
TINY = STORIES.replace("stories260K.gguf", "tiny-random-Q4_0.gguf")
long_req = {"prompt": "Once upon a time", "max_tokens": 300, "temperature": 0, "reflex": {"ignore_eos": True}}
# not --quiet: the node's own log gives the time it took to answer each 503
small = Server("serve", ["-m", TINY, "-np", "1", "--queue", "1", "-t", "1"])
answers = []


def timed():
    # a raw socket: the time from the request's last byte to the answer's first, nothing else
    body = json.dumps(long_req).encode()
    s = socket.create_connection(("127.0.0.1", small.port), timeout=60)
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    t0 = now_ms()
    out = s.recv(65536)
    elapsed = now_ms() - t0
    while True:
        more = s.recv(65536)
        if not more:
            break
        out += more
    s.close()
    head, _, payload = out.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    retry = b"retry-after:" in head.lower()
    answers.append((status, elapsed, retry, json.loads(payload) if status == 503 else None))


ts = [threading.Thread(target=timed) for _ in range(12)]
for t in ts:
    t.start()
for t in ts:
    t.join()
full = [a for a in answers if a[0] == 503]
check(len([a for a in answers if a[0] == 200]) >= 2 and len(full) >= 1, f"queue: {[a[0] for a in answers]}")
for st, elapsed, retry, payload in full:
    check(retry and payload["error"]["message"], f"503 without Retry-After or message: {payload}")
# the node's own handling time for each 503, from its request log
server_ms = [json.loads(line)["total_ms"] for line in small.log
             if line.startswith("{") and '"status":503' in line]
check(len(server_ms) == len(full) and max(server_ms) < 10, f"node-side 503 times {server_ms} ms (want < 10)")
# As a client sees it, the time adds the operating system's scheduling of both processes, which
# on a loaded 2-core machine (ctest -j2, an engine thread per node) varies by several ms: it is
# printed, and the node-side bound above is what is asserted.
client_ms = sorted(a[1] for a in full)
median = client_ms[len(client_ms) // 2] if client_ms else 0
print(f"503 latency: client median {median:.2f} ms, max {max(client_ms or [0]):.2f} ms; "
      f"node max {max(server_ms or [0]):.3f} ms")

# --- API keys, reloaded on SIGHUP ---
keyfile = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"rx-keys-{os.getpid()}")
with open(keyfile, "w") as f:
    f.write("# keys\nfirst-key\n")
auth = Server("serve", ["-m", STORIES, "--api-key", "flag-key", "--api-key-file", keyfile, "--quiet"])
check(auth.request("GET", "/health")[0] == 200, "health needs no key")
st, hdrs, out = auth.json("GET", "/v1/models")
check(st == 401 and out["error"]["type"] == "authentication_error", f"no key: {st} {out}")
check(auth.request("GET", "/v1/models", headers={"Authorization": "Bearer wrong"})[0] == 401, "wrong key")
check(auth.request("GET", "/metrics", headers={"Authorization": "Bearer flag-key"})[0] == 200, "flag key")
check(auth.request("GET", "/v1/models", headers={"Authorization": "Bearer first-key"})[0] == 200, "file key")
with open(keyfile, "w") as f:
    f.write("second-key\n")
auth.signal(signal.SIGHUP)
deadline = time.time() + 5
while time.time() < deadline and auth.request("GET", "/v1/models", headers={"Authorization": "Bearer second-key"})[0] != 200:
    time.sleep(0.05)
check(auth.request("GET", "/v1/models", headers={"Authorization": "Bearer second-key"})[0] == 200, "reloaded key")
check(auth.request("GET", "/v1/models", headers={"Authorization": "Bearer first-key"})[0] == 401, "old key gone")
check(auth.stop() == 0, "auth server exit")
os.unlink(keyfile)

# --- TLS, and client certificates when asked ---
import ssl
import tempfile
tls = tempfile.mkdtemp()


def sh(*cmd):
    subprocess.run(cmd, cwd=tls, check=True, capture_output=True)


sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
   "-days", "2", "-subj", "/CN=reflex test CA")
for name in ("server", "client"):
    sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
       "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")
    sh("openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
       "-out", f"{name}.pem", "-days", "2", "-copy_extensions", "copy")
secure = Server("serve", ["-m", STORIES, "--quiet", "--tls-cert", f"{tls}/server.pem", "--tls-key", f"{tls}/server.key",
                          "--tls-client-ca", f"{tls}/ca.pem"])


def tls_get(with_cert):
    ctx = ssl.create_default_context(cafile=f"{tls}/ca.pem")
    if with_cert:
        ctx.load_cert_chain(f"{tls}/client.pem", f"{tls}/client.key")
    import http.client
    c = http.client.HTTPSConnection("127.0.0.1", secure.port, context=ctx, timeout=10)
    try:
        c.request("POST", "/v1/completions", body=json.dumps({"prompt": refs[0]["prompt"], "max_tokens": 8,
                                                             "temperature": 0}),
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, json.loads(r.read())
    except (ssl.SSLError, ConnectionError, OSError) as e:
        return None, repr(e)
    finally:
        c.close()


st, out = tls_get(True)
check(st == 200 and refs[0]["text"].startswith(out["choices"][0]["text"]), f"HTTPS with a client cert: {st} {out}")
st, out = tls_get(False)
check(st is None, f"HTTPS without a client cert must fail: {st} {out}")
check(b"HTTP/1.1 200" not in raw(secure.port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"), "plain HTTP on the TLS port")
check(secure.stop() == 0, "TLS server exit")

# --- SIGTERM drains: a running stream finishes, then the process exits 0 ---
result = {}


def drained_stream():
    body = dict(long_req, stream=True, stream_options={"include_usage": True})
    result["v"] = small.stream("/v1/completions", body)


t = threading.Thread(target=drained_stream)
t.start()
deadline = time.time() + 10
while time.time() < deadline and small.metric("reflex_slots_active") == 0:
    time.sleep(0.005)
small.signal(signal.SIGTERM)
t.join(60)
st, events, done = result.get("v", (0, [], False))
usage = [e["usage"] for e in events if e.get("usage")]
check(st == 200 and done and usage and usage[0]["completion_tokens"] == 300,
      f"stream across SIGTERM: {st} {done} {usage}")
check(small.wait(30) == 0, f"drained exit code (log {small.log[-3:]})")
check(srv.stop() == 0, f"exit code (log {srv.log[-3:]})")
finish()
