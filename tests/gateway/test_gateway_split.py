"""Releases through reflex gateway (real nodes, stories260K, 127.0.0.1): a 90/10 canary over 1,000
requests lands within +-3%; a shadow version gets a copy of every request and no client sees its
answers; a sticky split keeps each user on one version; blue-green switches through the admin
API under load drop nothing; the admin API refuses a missing key and a bad split."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from rxserve import STORIES, Server, check, finish  # noqa: E402


def node(version, queue=64):
    return Server("serve", ["-m", STORIES, "-np", "4", "-t", "1", "--quiet", "--node-name", version,
                            "--model-id", version, "--queue", str(queue)])


# The shadow gets as many requests as both live versions together and nothing paces it (clients
# wait only for the live answer), so on a busy machine its backlog can grow: a queue of 1,000
# means it never counts as saturated here, and no copy is shed.
V1, V2, V3 = node("stories-v1"), node("stories-v2"), node("stories-v3", queue=1000)
ADMIN = {"Authorization": "Bearer admin-secret"}
gw = Server("gateway", [
    "--quiet", "--poll-interval", "0.1", "--admin-key", "admin-secret",
    "--split", "stories=stories-v1:90,stories-v2:10;shadow=stories-v3",
    "--upstream", f"http://127.0.0.1:{V1.port};models=stories-v1;name=stories-v1",
    "--upstream", f"http://127.0.0.1:{V2.port};models=stories-v2;name=stories-v2",
    "--upstream", f"http://127.0.0.1:{V3.port};models=stories-v3;name=stories-v3",
])
time.sleep(0.3)


def ask(user=None):
    body = {"model": "stories", "prompt": "Once upon a time", "max_tokens": 1, "temperature": 0}
    if user:
        body["user"] = user
    st, hdrs, out = gw.json("POST", "/v1/completions", body)
    return st, hdrs.get("x-reflex-node", ""), out


def run_many(n, threads, user_of=None):
    out, lock = [], threading.Lock()

    def worker(k):
        for i in range(k, n, threads):
            r = ask(user_of(i) if user_of else None)
            with lock:
                out.append((i, r))

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


# --- a 90/10 canary over 1,000 requests, with a shadow copy of each ---
res = run_many(1000, 4)
ok = [r for _, r in res if r[0] == 200]
check(len(ok) == 1000, f"canary: {1000 - len(ok)} failed: {[r for _, r in res if r[0] != 200][:3]}")
share = sum(1 for r in ok if r[1] == "stories-v2") / max(len(ok), 1)
print(f"canary share {share:.3f}")
check(abs(share - 0.10) <= 0.03, f"canary share {share:.3f} (want 0.10 +- 0.03)")
check(all(r[1] in ("stories-v1", "stories-v2") for r in ok), "no client was answered by the shadow")
deadline = time.monotonic() + 60  # the shadow's backlog drains at its own pace
while time.monotonic() < deadline:
    shadow = {k: gw.metric("reflex_gateway_shadow_" + k) for k in
              ("requests_total", "dropped_total", "errors_total", "duration_seconds_count")}
    if shadow["dropped_total"] + shadow["errors_total"] + shadow["duration_seconds_count"] >= 1000:
        break
    time.sleep(0.2)
check(shadow["requests_total"] == 1000, f"1,000 shadow copies: {shadow}")
check(shadow["dropped_total"] == 0 and shadow["errors_total"] == 0 and
      shadow["duration_seconds_count"] == 1000, f"every shadow copy answered: {shadow}")

# --- sticky by user: each user stays on one version ---
st, _, out = gw.json("POST", "/admin/splits", {"split": "stories=stories-v1:50,stories-v2:50;sticky"}, ADMIN)
check(st == 200 and out["splits"][0]["sticky"], f"admin split change: {st} {out}")
res = run_many(200, 4, user_of=lambda i: f"user-{i % 40}")
by_user = {}
for i, r in res:
    by_user.setdefault(f"user-{i % 40}", set()).add(r[1])
check(all(len(v) == 1 for v in by_user.values()), f"a user moved between versions: {by_user}")
check({next(iter(v)) for v in by_user.values()} == {"stories-v1", "stories-v2"}, "both versions serve users")

# --- blue-green switches under load drop nothing ---
stop = threading.Event()
errors, seen = [], []


def load():
    while not stop.is_set():
        st, who, out = ask()
        (seen if st == 200 else errors).append(who if st == 200 else (st, out))


ts = [threading.Thread(target=load) for _ in range(4)]
for t in ts:
    t.start()
for flip in range(6):
    spec = "stories=stories-v1:100,stories-v2:0" if flip % 2 else "stories=stories-v1:0,stories-v2:100"
    st, _, _ = gw.json("POST", "/admin/splits", {"split": spec}, ADMIN)
    check(st == 200, f"switch {flip}: {st}")
    time.sleep(0.15)
stop.set()
for t in ts:
    t.join()
check(not errors and len(seen) > 50, f"blue-green under load: {len(errors)} errors {errors[:3]}, {len(seen)} ok")
after = [ask()[1] for _ in range(20)]
check(set(after) == {"stories-v1"}, f"after the last switch (to v1): {set(after)}")

# --- the admin API's refusals ---
check(gw.request("GET", "/admin/splits")[0] == 401, "admin without a key")
check(gw.request("GET", "/admin/splits", headers={"Authorization": "Bearer nope"})[0] == 401, "admin, wrong key")
st, _, out = gw.json("POST", "/admin/splits", {"split": "stories=v1:0"}, ADMIN)
check(st == 400 and "weight" in out["error"]["message"], f"all-zero split refused: {st} {out}")
st, _, out = gw.json("POST", "/admin/splits", {"delete": "stories"}, ADMIN)
check(st == 200 and out["splits"] == [], f"split deleted: {st} {out}")
st, _, out = gw.json("POST", "/v1/completions", {"model": "stories", "prompt": "x", "max_tokens": 1})
check(st == 503, f"no split and no node serves 'stories': {st}")
for s in (gw, V1, V2, V3):
    check(s.stop() == 0, "exit code")
finish()
