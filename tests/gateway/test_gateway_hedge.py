"""Hedging through reflex gateway (real nodes, stories260K, 127.0.0.1): once a node stalls (SIGSTOP:
it accepts connections but answers nothing), each non-streamed request the router still sends
there is copied to the other node after the stalled node's p95 and answered from the copy, well
inside the 20 s first-byte timeout (without the hedge each would wait for it); x-reflex-route
says so and /metrics counts it."""
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from rxserve import STORIES, Server, check, finish  # noqa: E402


def node(name):
    return Server("serve", ["-m", STORIES, "-np", "4", "-t", "1", "--quiet", "--node-name", name])


A, B = node("A"), node("B")


def gateway(*extra):
    return Server("gateway", ["--quiet", "--poll-interval", "0.1", "--first-byte-timeout", "20",
                              "--upstream", f"http://127.0.0.1:{A.port};name=A;site=s1", *extra])


# A shares the gateway's site and B does not: locality sends every new prompt to A first
# (a retry budget of 1 x requests: this test is about hedging, not about the budget, and hedges
# in the busy warm-up count against it)
gw = gateway("--hedge", "--site", "s1", "--retry-budget", "1",
             "--upstream", f"http://127.0.0.1:{B.port};name=B;site=s2")
time.sleep(0.3)


def ask(srv, i, timeout=30):
    # a different opening per request: prefix affinity would otherwise pin them all to one node
    body = {"model": "stories260K", "prompt": f"{i} little birds sang", "max_tokens": 2,
            "temperature": 0}
    t0 = time.monotonic()
    st, hdrs, out = srv.json("POST", "/v1/completions", body, timeout=timeout)
    return st, hdrs, time.monotonic() - t0


# --- warm-up: A answers 20+ requests, so it has a p95 to hedge by ---
seen = {"A": 0, "B": 0}
served_by = {}
lock = threading.Lock()


def warm(k):
    for i in range(k, 120, 4):
        st, hdrs, _ = ask(gw, i)
        with lock:
            if st == 200:
                who = hdrs.get("x-reflex-node", "?")
                seen[who] = seen.get(who, 0) + 1
                served_by[i] = who


ts = [threading.Thread(target=warm, args=(k,)) for k in range(4)]
for t in ts:
    t.start()
for t in ts:
    t.join()
check(seen["A"] >= 20, f"A (the local node) served the warm-up: {seen}")
# (about one request in twenty is slower than p95 by definition, so a few hedges happen here too)
hedges0 = gw.metric("reflex_gateway_hedges_total")
print(f"warm-up: {seen}, {hedges0:.0f} hedged")
wins0 = gw.metric("reflex_gateway_hedge_wins_total")

# --- node A stalls: every request still routed there is answered by B through a hedge ---
A.signal(signal.SIGSTOP)
try:
    # prompts no node has cached: nothing but locality (A) and load decide
    results = [ask(gw, 1000 + i) for i in range(20)]
    check(all(st == 200 for st, _, _ in results), f"all answered: {[r[0] for r in results]}")
    slowest = max(dt for _, _, dt in results)
    print(f"slowest answer while A is stalled: {slowest * 1e3:.0f} ms")
    check(slowest < 5, f"no request waited for the 20 s timeout (slowest {slowest:.1f} s)")
    hedged = [h.get("x-reflex-route", "") for _, h, _ in results if "hedged" in h.get("x-reflex-route", "")]
    print(f"{len(hedged)} of {len(results)} requests hedged")
    check(len(hedged) == len(results), "every request (routed to A by locality) was hedged")
    check(all("B answered first" in h for h in hedged), f"the copy to B answered: {hedged[:2]}")
    check(all(h.get("x-reflex-node") == "B" for _, h, _ in results), "every answer came from B")
    hedges = gw.metric("reflex_gateway_hedges_total") - hedges0
    wins = gw.metric("reflex_gateway_hedge_wins_total") - wins0
    print(f"hedges {hedges:.0f}, won {wins:.0f}, of {len(results)} requests")
    check(hedges == len(hedged) and wins == len(hedged), f"metrics count the hedges: {hedges} {wins}")
finally:
    A.signal(signal.SIGCONT)

# --- A is back: requests flow to both again, and nothing was lost ---
time.sleep(0.5)
ok = [ask(gw, 3000 + i)[0] == 200 for i in range(10)]
check(all(ok), "answers after the stall ends")
finish()
