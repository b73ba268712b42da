"""kill -9 of a node behind the gateway during 20 concurrent greedy streams and 200 unary requests
(real `reflex serve` nodes, stories260K, 127.0.0.1): the clients see no error, every stream
completes, and every text equals the uninterrupted output: failures before the first byte are
retried elsewhere, streams cut mid-way are resumed on another node from the tokens delivered."""
import json
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from rxserve import STORIES, Server, check, finish, read_ref  # noqa: E402

N_TOKENS = 100
prompts = [r["prompt"] for r in read_ref()]
args = ["-m", STORIES, "-np", "8", "-t", "1", "--quiet"]
K1 = Server("serve", args + ["--node-name", "K1"])
K2 = Server("serve", args + ["--node-name", "K2"])
gw = Server("gateway", ["--site", "s1", "--poll-interval", "0.1", "--eject-time", "5", "--quiet",
                        "--upstream", f"http://127.0.0.1:{K1.port};name=K1;site=s1",
                        "--upstream", f"http://127.0.0.1:{K2.port};name=K2;site=s1"])


UNARY_TOKENS = 16  # unary requests are many and sequential: short keeps the test's time bounded


def body(prompt, stream, n=N_TOKENS):
    return {"prompt": prompt, "max_tokens": n, "temperature": 0, "stream": stream,
            "reflex": {"ignore_eos": True}}


# the uninterrupted outputs, from a node outside the gateway (so no node behind it starts with
# every prompt's prefix cached, which would pull all traffic to it)
ref_node = Server("serve", args)
want, want_unary = {}, {}
for p in prompts:
    st, _, out = ref_node.json("POST", "/v1/completions", body(p, False))
    want[p] = out["choices"][0]["text"]
    st, _, out = ref_node.json("POST", "/v1/completions", body(p, False, UNARY_TOKENS))
    want_unary[p] = out["choices"][0]["text"]
check(ref_node.stop() == 0, "reference node exit")

stop = threading.Event()
lock = threading.Lock()
results = {"streams": 0, "unary": 0, "errors": [], "mismatch": 0}


def streamer(seed):
    rnd = random.Random(seed)
    while not stop.is_set():
        p = rnd.choice(prompts)
        try:
            st, events, done = gw.stream("/v1/completions", body(p, True))
            text = "".join(e["choices"][0]["text"] for e in events if e.get("choices"))
            err = None if st == 200 and done and not any("error" in e for e in events) else f"stream {st} {done}"
        except Exception as e:  # a broken connection is an error the client saw
            err, text = f"stream exception {e!r}", None
        with lock:
            results["streams"] += 1
            if err:
                results["errors"].append(err)
            elif text != want[p]:
                results["mismatch"] += 1
                results["errors"].append(f"stream text differs for {p!r}: {text!r}")


def unary():
    rnd = random.Random(99)
    for _ in range(200):
        p = rnd.choice(prompts)
        try:
            st, _, out = gw.json("POST", "/v1/completions", body(p, False, UNARY_TOKENS))
            ok = st == 200 and out["choices"][0]["text"] == want_unary[p]
            err = None if ok else f"unary {st} {str(out)[:120]}"
        except Exception as e:
            err = f"unary exception {e!r}"
        with lock:
            results["unary"] += 1
            if err:
                results["errors"].append(err)


workers = [threading.Thread(target=streamer, args=(i,)) for i in range(20)]
u = threading.Thread(target=unary)
for t in workers + [u]:
    t.start()
time.sleep(1.0)
K1.proc.send_signal(signal.SIGKILL)
K1.wait()
u.join(400)
time.sleep(0.5)
stop.set()
for t in workers:
    t.join(120)

check(results["unary"] == 200, f"unary requests done: {results['unary']}")
check(results["streams"] >= 40, f"streams done: {results['streams']}")
check(not results["errors"], f"{len(results['errors'])} client-visible errors: {results['errors'][:5]}")
_, _, text = gw.request("GET", "/metrics")
m = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.decode().splitlines()
     if line.startswith("reflex_gateway_") and " " in line and "{" not in line}
check(m.get("reflex_gateway_failovers_total", 0) >= 1, f"the kill was routed around: {m}")
check(m.get("reflex_gateway_stream_resumptions_total", 0) >= 1, f"a stream was resumed: {m}")
print(f"streams {results['streams']}, unary {results['unary']}, "
      f"resumed {m.get('reflex_gateway_stream_resumptions_total')}, retries {m.get('reflex_gateway_retries_total')}")
check(gw.stop() == 0, "gateway exit")
check(K2.stop() == 0, "node exit")
finish()
