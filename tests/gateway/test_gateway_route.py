"""reflex gateway in front of real `reflex serve` nodes (stories260K) on 127.0.0.1: each filter
and score decides (model, domain, prefix affinity, locality) as x-reflex-route reports; a model
that is not local escalates to the regional tier; a private domain never leaves its node, even
when that node is down; no upstream at all gives a fast 503 with Retry-After."""
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from rxserve import STORIES, Server, check, finish, now_ms  # noqa: E402


def node(*extra):
    # not --quiet: each node logs one JSON line per request, which the domain test reads
    return Server("serve", ["-m", STORIES, "-np", "4", "-t", "1"] + list(extra))


def spec(srv, **kw):
    s = f"http://127.0.0.1:{srv.port}"
    return s + "".join(f";{k}={v}" for k, v in kw.items())


def served(srv):
    return sum(1 for line in srv.log if '"path":"/v1/' in line)


A = node("--node-name", "A")
B = node("--node-name", "B")
P = node("--node-name", "P", "--domains", "private1")
R = node("--node-name", "R", "--tier", "regional")
R2 = node("--node-name", "R2", "--tier", "regional", "--model-id", "big")
gw = Server("gateway", [
    "--site", "s1", "--region", "r1", "--poll-interval", "0.1", "--eject-time", "2",
    "--upstream", spec(A, name="A", site="s1", region="r1", models="stories260K"),
    "--upstream", spec(B, name="B", site="s2", region="r1", models="stories260K"),
    "--upstream", spec(P, name="P", site="s1", region="r1", models="stories260K", domains="private1"),
    "--upstream", spec(R, name="R", tier="regional", region="r1", models="stories260K"),
    "--upstream", spec(R2, name="R2", tier="regional", region="r1", models="big"),
])
time.sleep(0.4)  # a few status polls


def ask(prompt, headers=None, **kw):
    body = {"model": "stories260K", "prompt": prompt, "max_tokens": 8, "temperature": 0}
    body.update(kw)
    st, hdrs, out = gw.json("POST", "/v1/completions", body, headers)
    return st, hdrs.get("x-reflex-node"), hdrs.get("x-reflex-route", ""), out


# locality: idle nodes, a fresh prompt: the gateway's own site wins
st, who, why, _ = ask("A fresh prompt about a dog")
check(st == 200 and who == "A" and "locality=1.00" in why, f"locality: {st} {who} {why}")

# prefix affinity: B saw this prompt (sent to it directly); after a poll the gateway sends it there
B.json("POST", "/v1/completions", {"prompt": "The little red hen found a seed", "max_tokens": 4})
time.sleep(0.3)
st, who, why, _ = ask("The little red hen found a seed")
check(st == 200 and who == "B" and "prefix cache hit" in why, f"prefix affinity: {st} {who} {why}")

# sticky routing on request: one user, one node, whatever the prompt
picked = {ask(f"Story number {i}", user="carol", reflex={"sticky": True})[1] for i in range(8)}
check(len(picked) == 1, f"sticky user moved: {picked}")
why = ask("Another story", user="carol", reflex={"sticky": True})[2]
check("sticky by user" in why, f"sticky reason: {why}")

# the cascade opt-in: only a low-confidence local answer goes up a tier
st, who, why, out = ask("Once upon a time", reflex={"cascade": {"min_confidence": -50.0}})
check(st == 200 and who == "A" and out["choices"][0]["logprobs"] is None,
      f"confident local answer stays local (logprobs stripped): {st} {who} {why} {out}")
st, who, why, out = ask("Once upon a time", reflex={"cascade": {"min_confidence": -0.0001}})
check(st == 200 and who == "R" and "cascade: confidence" in why, f"low confidence escalates: {st} {who} {why}")
st, who, why, out = ask("Once upon a time", stream=True, reflex={"cascade": {"min_confidence": -1}})
check(st == 400, f"a cascade on a stream is refused: {st} {out}")

# model: only R2 (regional) serves "big": escalation, counted
st, who, why, out = ask("Once upon a time", model="big")
check(st == 200 and who == "R2" and "escalated" in why, f"model filter + escalation: {st} {who} {why} {out}")
st, who, why, out = ask("Once upon a time", model="nonexistent")
check(st == 503 and "model" in out.get("error", {}).get("message", ""), f"unknown model: {st} {out}")

# domain: private1 only ever reaches P, by body field or header
for hdrs, kw in [({}, {"reflex": {"domain": "private1"}}), ({"x-reflex-domain": "private1"}, {})]:
    st, who, why, _ = ask("Secret note", hdrs, **kw)
    check(st == 200 and who == "P", f"domain: {st} {who} {why}")
st, who, why, _ = ask("Public note")
check(who != "P", f"public request reached the private node: {who}")

# requests the gateway cannot check against policy go nowhere
time.sleep(0.3)  # the nodes log a request just after answering it
quiet_before = {s.log[0]: served(s) for s in (A, B, P, R, R2)}
st, _, out = gw.json("POST", "/v1/completions", b'{"prompt": "x", "reflex": {"domain": "private1"')
check(st == 400 and out["error"]["type"] == "invalid_request_error", f"malformed body: {st} {out}")
st, _, _, out = ask("x", {"x-reflex-domain": "private1"}, reflex={"domain": "private2"})
check(st == 400, f"contradicting domains: {st} {out}")
st, _, _, out = ask("x", {"x-reflex-domain": "d" * 100})
check(st == 400, f"over-long domain: {st} {out}")
st, _, _, out = ask("x", reflex={"domain": 5})
check(st == 400, f"non-string domain: {st} {out}")

# the private node down: its domain gets 503 and reaches no other node
time.sleep(0.3)  # the nodes log a request just after answering it
check(quiet_before == {s.log[0]: served(s) for s in (A, B, P, R, R2)}, "refused requests reached a node")
before = {s.log[0]: served(s) for s in (A, B, R, R2)}
P.proc.send_signal(signal.SIGKILL)
P.wait()
for i in range(10):
    st, who, why, out = ask(f"Secret note {i}", reflex={"domain": "private1"})
    check(st == 503, f"private domain with its node down: {st} {who} {why}")
time.sleep(0.2)
after = {s.log[0]: served(s) for s in (A, B, R, R2)}
check(before == after, f"a private request reached another node: {before} -> {after}")

# the whole local tier down: the regional node serves, and it is counted
for s in (A, B):
    s.proc.send_signal(signal.SIGKILL)
    s.wait()
errors = 0
for i in range(20):
    st, who, why, out = ask(f"Once upon a time {i}")
    errors += st != 200
    check(st != 200 or who == "R", f"local tier down: {st} {who} {why}")
check(errors == 0, f"{errors} errors with the local tier down")
_, _, text = gw.request("GET", "/metrics")
m = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.decode().splitlines()
     if line.startswith("reflex_gateway_") and " " in line and "{" not in line}
check(m.get("reflex_gateway_escalations_total", 0) >= 22, f"escalations counted: {m}")
check(m.get("reflex_gateway_cascades_total", 0) == 1, f"cascades counted: {m}")
check('reflex_gateway_slo_ttft_seconds{window="1m",quantile="0.99"}' in text.decode()
      and "reflex_gateway_upstream_ttft_seconds_bucket" in text.decode(), "SLO windows in /metrics")
st, _, status = gw.json("GET", "/v1/status")
slo = status.get("slo", {})
check(st == 200 and slo.get("requests", 0) >= 30 and slo.get("ttft_p99_ms", 0) > 0
      and 0 < slo.get("error_rate", 0) < 1, f"SLO window in /v1/status: {slo}")
check(gw.stop() == 0, f"gateway exit code (log {gw.log[-3:]})")
for s in (R, R2):
    check(s.stop() == 0, "node exit code")

# the last rungs: a local fallback model, then the response cache, then 503
N1, F = node("--node-name", "N1"), node("--node-name", "F")
gw2 = Server("gateway", ["--poll-interval", "0.1", "--cache-ttl", "60",
                         "--upstream", spec(N1, name="N1"),
                         "--upstream", spec(F, name="F", fallback="true")])
time.sleep(0.3)
body = {"prompt": "Once upon a time", "max_tokens": 8, "temperature": 0}
st, hdrs, first = gw2.json("POST", "/v1/completions", body)
check(st == 200 and hdrs.get("x-reflex-node") == "N1", f"primary while it is up: {st} {hdrs.get('x-reflex-node')}")
N1.proc.send_signal(signal.SIGKILL)
N1.wait()
st, hdrs, out = gw2.json("POST", "/v1/completions", dict(body, prompt="The cat"))
check(st == 200 and hdrs.get("x-reflex-node") == "F" and "fallback" in hdrs.get("x-reflex-route", ""),
      f"fallback model: {st} {hdrs}")
F.proc.send_signal(signal.SIGKILL)
F.wait()
time.sleep(0.3)
st, hdrs, again = gw2.json("POST", "/v1/completions", body)
check(st == 200 and hdrs.get("x-reflex-cache") == "hit" and again == first, f"cached answer: {st} {hdrs}")
st, hdrs, out = gw2.json("POST", "/v1/completions", dict(body, reflex={"domain": "public"}, user="someone"))
check(st == 200 and hdrs.get("x-reflex-cache") == "hit", f"user and explicit public domain share the entry: {st}")
st, hdrs, out = gw2.json("POST", "/v1/completions", dict(body, temperature=0.7))
check(st == 503 and "retry-after" in hdrs, f"sampled requests are never cached: {st}")
st, hdrs, out = gw2.json("POST", "/v1/completions", dict(body, prompt="Something new"))
check(st == 503, f"uncached request with nothing eligible: {st}")
check(gw2.stop() == 0, "gateway 2 exit")

# no upstream at all: 503 with Retry-After at once
lonely = Server("gateway", ["--upstream", "http://127.0.0.1:9;name=nobody", "--poll-interval", "0.05"])
time.sleep(0.2)
worst = 0
for i in range(5):
    t0 = now_ms()
    st, hdrs, out = lonely.json("POST", "/v1/completions", {"prompt": "x", "max_tokens": 2})
    worst = max(worst, now_ms() - t0)
    check(st == 503 and hdrs.get("retry-after") and out["error"]["message"], f"no upstream: {st} {out}")
check(worst < 50, f"503 took {worst:.1f} ms (want < 50)")
check(lonely.stop() == 0, "lonely gateway exit")
finish()
