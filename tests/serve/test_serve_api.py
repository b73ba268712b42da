"""reflex serve, end to end on 127.0.0.1 with stories260K: greedy output over HTTP equals
llama.cpp's reference (one at a time and 16 in one batch) and `reflex run`; streaming equals
non-streaming; chat, embeddings, models, logprobs, n, stop, usage; operations endpoints; and
every kind of bad request gets a 4xx with an OpenAI-style error naming the field."""
import json
import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from rxserve import BIN, STORIES, Server, check, finish, read_ref  # noqa: E402

refs = read_ref()
srv = Server("serve", ["-m", STORIES, "-np", "16", "-c", "256", "-t", "2", "--quiet"])


def complete(prompt, **kw):
    body = {"prompt": prompt, "max_tokens": 64, "temperature": 0}
    body.update(kw)
    return srv.json("POST", "/v1/completions", body)


# --- greedy equals the reference, one at a time ---
for r in refs:
    st, _, out = complete(r["prompt"], max_tokens=r["n_predict"])
    ok = check(st == 200, f"completion {r['prompt']!r}: status {st} {out}")
    if ok:
        ch = out["choices"][0]
        check(ch["text"] == r["text"], f"greedy {r['prompt']!r}: {ch['text']!r} != {r['text']!r}")
        check(out["usage"]["prompt_tokens"] == len(r["prompt_tokens"]),
              f"prompt_tokens {out['usage']} for {r['prompt']!r}")
        check(out["object"] == "text_completion" and out["id"].startswith("cmpl-"), f"shape {out}")

# --- and 16 at once, in one batch ---
results = [None] * 16
def one(i):
    r = refs[i % len(refs)]
    results[i] = complete(r["prompt"], max_tokens=r["n_predict"])
threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for i, res in enumerate(results):
    r = refs[i % len(refs)]
    check(res[0] == 200 and res[2]["choices"][0]["text"] == r["text"],
          f"concurrent greedy #{i} {r['prompt']!r}: {res[0]} {res[2]}")

# --- equals `reflex run` ---
run = subprocess.run([BIN, "run", "-m", STORIES, "-p", refs[0]["prompt"], "-n", "40", "--temp", "0"],
                     capture_output=True, text=True, timeout=60)
st, _, out = complete(refs[0]["prompt"], max_tokens=40)
check(run.returncode == 0 and out["choices"][0]["text"] == run.stdout,
      f"http vs reflex run: {out['choices'][0]['text']!r} != {run.stdout!r}")

# --- streaming gives the same text, then [DONE]; usage on request ---
r = refs[1]
st, events, done = srv.stream("/v1/completions", {"prompt": r["prompt"], "max_tokens": 64,
                                                  "temperature": 0, "stream": True,
                                                  "stream_options": {"include_usage": True}})
text = "".join(e["choices"][0]["text"] for e in events if e.get("choices"))
check(st == 200 and done and text == r["text"], f"stream text {text!r} != {r['text']!r}")
finals = [e["choices"][0].get("finish_reason") for e in events if e.get("choices")]
check(finals and finals[-1] == "length", f"stream finish_reason {finals[-3:]}")
usage = [e for e in events if e.get("usage")]
check(usage and usage[-1]["usage"]["completion_tokens"] == 64 and usage[-1]["choices"] == [],
      f"stream usage {usage}")

# --- chat (no template in this model: plain role format), stream and not ---
msgs = [{"role": "system", "content": "Tell a story."},
        {"role": "user", "content": [{"type": "text", "text": "Once upon"}, {"type": "text", "text": " a time"}]}]
st, _, out = srv.json("POST", "/v1/chat/completions", {"messages": msgs, "max_tokens": 16, "temperature": 0})
check(st == 200 and out["object"] == "chat.completion" and out["choices"][0]["message"]["role"] == "assistant"
      and out["usage"]["completion_tokens"] >= 1, f"chat {st} {out}")
st, events, done = srv.stream("/v1/chat/completions", {"messages": msgs, "max_tokens": 16,
                                                       "temperature": 0, "stream": True})
check(st == 200 and done and events[0]["choices"][0]["delta"].get("role") == "assistant",
      f"chat stream first chunk {events[:1]}")
stext = "".join(e["choices"][0]["delta"].get("content") or "" for e in events)
check(stext == out["choices"][0]["message"]["content"], f"chat stream {stext!r} vs {out}")

# --- n, seed, logprobs, stop, echo, token-id prompts, several prompts ---
st, _, out = complete("Once upon a time", n=3, temperature=0.9, seed=7, max_tokens=12)
check(st == 200 and [c["index"] for c in out["choices"]] == [0, 1, 2], f"n=3 {out}")
st, _, again = complete("Once upon a time", n=3, temperature=0.9, seed=7, max_tokens=12)
check([c["text"] for c in out["choices"]] == [c["text"] for c in again["choices"]], "same seed, same text")
st, _, out = complete(refs[0]["prompt"], logprobs=3, max_tokens=5)
lp = out["choices"][0]["logprobs"] if st == 200 else None
check(lp and len(lp["tokens"]) == 5 and len(lp["top_logprobs"][0]) == 3, f"completion logprobs {out}")
if lp:
    want = refs[0]["steps"][0]["logprob"]
    check(abs(lp["token_logprobs"][0] - want) < 1e-3, f"logprob {lp['token_logprobs'][0]} vs ref {want}")
st, _, out = srv.json("POST", "/v1/chat/completions", {"messages": msgs, "max_tokens": 4, "temperature": 0,
                                                       "logprobs": True, "top_logprobs": 2})
c0 = out["choices"][0]["logprobs"]["content"][0] if st == 200 else {}
check(st == 200 and len(c0.get("top_logprobs", [])) == 2 and "bytes" in c0, f"chat logprobs {out}")
stop_at = refs[0]["text"].split(" ")[3]
st, _, out = complete(refs[0]["prompt"], stop=[" " + stop_at])
want = refs[0]["text"][:refs[0]["text"].index(" " + stop_at)]
check(st == 200 and out["choices"][0]["text"] == want and out["choices"][0]["finish_reason"] == "stop",
      f"stop {out} want {want!r}")
st, _, out = complete(refs[0]["prompt_tokens"][1:], max_tokens=8)
check(st == 200 and refs[0]["text"].startswith(out["choices"][0]["text"]), f"token-id prompt {out}")
st, _, out = complete([refs[0]["prompt"], refs[1]["prompt"]], max_tokens=8)
check(st == 200 and len(out["choices"]) == 2 and refs[1]["text"].startswith(out["choices"][1]["text"]),
      f"two prompts {out}")
st, _, out = complete(refs[0]["prompt"], max_tokens=4, echo=True)
check(st == 200 and out["choices"][0]["text"].startswith(refs[0]["prompt"]), f"echo {out}")

# --- embeddings ---
st, _, out = srv.json("POST", "/v1/embeddings", {"input": ["Once upon a time", "The cat sat"]})
ok = check(st == 200 and len(out["data"]) == 2, f"embeddings {st} {out}")
if ok:
    a, b = out["data"][0]["embedding"], out["data"][1]["embedding"]
    norm = sum(x * x for x in a) ** 0.5
    check(abs(norm - 1) < 1e-3 and a != b and len(a) == 64, f"embedding norm {norm} len {len(a)}")
    st, _, again = srv.json("POST", "/v1/embeddings", {"input": "Once upon a time"})
    check(st == 200 and again["data"][0]["embedding"] == a, "embedding deterministic")
    import base64
    import struct
    st, _, b64 = srv.json("POST", "/v1/embeddings", {"input": "Once upon a time", "encoding_format": "base64"})
    raw = base64.b64decode(b64["data"][0]["embedding"]) if st == 200 else b""
    vec = list(struct.unpack(f"<{len(raw) // 4}f", raw))
    check(len(vec) == 64 and all(abs(x - y) < 1e-6 for x, y in zip(vec, a)), "base64 embedding")

# --- models, health, ready, status, metrics, traceparent ---
st, _, out = srv.json("GET", "/v1/models")
check(st == 200 and out["data"][0]["id"] == "stories260K", f"models {out}")
check(srv.request("GET", "/health")[0] == 200, "health")
check("access-control-allow-origin" not in srv.request("GET", "/v1/models")[1], "no CORS unless asked")
check(srv.request("GET", "/ready")[0] == 200, "ready")
st, _, out = srv.json("GET", "/v1/status")
check(st == 200 and out["slots"]["total"] == 16 and len(out["sha256"]) == 64 and out["tier"] == "access"
      and out["kv_cells"]["total"] == 16 * 256 and out["prefix_cache"]["digests"], f"status {out}")
tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
st, hdrs, _ = srv.request("POST", "/v1/completions", {"prompt": "Hi", "max_tokens": 2}, {"traceparent": tp})
check(hdrs.get("traceparent", "").startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")
      and hdrs["traceparent"] != tp and hdrs.get("x-reflex-node"), f"traceparent {hdrs}")
_, _, text = srv.request("GET", "/metrics")
text = text.decode()
for name in ["reflex_time_to_first_token_seconds_bucket", "reflex_inter_token_latency_seconds_bucket",
             "reflex_request_duration_seconds_count", "reflex_queue_wait_seconds_bucket",
             "reflex_prompt_tokens_bucket", "reflex_output_tokens_bucket", 'reflex_requests_total{status="200"}',
             'reflex_tokens_total{kind="generated"}', "reflex_slots_active", "reflex_queue_depth",
             "reflex_kv_cells_used", "reflex_kv_cells_total", "reflex_prefix_cache_hit_ratio"]:
    check(name in text, f"/metrics lacks {name}")
check(srv.metric("reflex_prefix_cache_hit_ratio") > 0, "prefix cache hits after repeated prompts")

# --- the prefix cache is partitioned by tenant: another user never hits a prompt's cache ---
secret = "Once upon a time there was a secret garden behind the old house"
st, _, first = complete(secret, max_tokens=2, user="alice")
st, _, again = complete(secret, max_tokens=2, user="alice")
check(again["usage"]["prompt_tokens_details"]["cached_tokens"] > 0, f"same tenant reuses: {again['usage']}")
st, _, other = complete(secret, max_tokens=2, user="mallory")
check(other["usage"]["prompt_tokens_details"]["cached_tokens"] == 0, f"other tenant: {other['usage']}")

# --- bad requests: 4xx with an OpenAI error naming the field ---
def bad(path, body, status, param=None, raw=False):
    st, hdrs, out = srv.json("POST", path, body if raw else json.dumps(body))
    err = out.get("error", {}) if isinstance(out, dict) else {}
    check(st == status and err.get("message") and err.get("type"),
          f"bad {path} {str(body)[:60]}: {st} {out}")
    if param is not None:
        check(err.get("param") == param, f"bad {str(body)[:60]}: param {err.get('param')!r} != {param!r}")

bad("/v1/completions", b"{not json", 400, raw=True)
bad("/v1/completions", b"[1,2]", 400, raw=True)
bad("/v1/completions", b"", 400, raw=True)
bad("/v1/completions", {"prompt": "x", "temperature": "hot"}, 400, "temperature")
bad("/v1/completions", {"prompt": "x", "temperature": 3}, 400, "temperature")
bad("/v1/completions", {"prompt": "x", "max_tokens": 0}, 400, "max_tokens")
bad("/v1/completions", {"prompt": "x", "top_p": 0}, 400, "top_p")
bad("/v1/completions", {"prompt": "x", "n": 100}, 400, "n")
bad("/v1/completions", {"prompt": 5}, 400, "prompt")
bad("/v1/completions", {}, 400, "prompt")
bad("/v1/completions", {"prompt": [1, 99999]}, 400, "prompt")
bad("/v1/completions", {"prompt": "x", "stop": 3}, 400, "stop")
bad("/v1/chat/completions", {"messages": []}, 400, "messages")
bad("/v1/chat/completions", {"messages": [{"role": "user", "content": 1}]}, 400, "messages[0].content")
bad("/v1/chat/completions", {"messages": [{"role": "wizard", "content": "x"}]}, 400, "messages[0].role")
bad("/v1/completions", {"prompt": "x", "model": "gpt-9"}, 404, "model")
bad("/v1/embeddings", {"input": 3}, 400, "input")
# prompt + max_tokens over the context: 400 with both numbers
st, _, out = complete("Once upon a time", max_tokens=1000)
msg = out.get("error", {}).get("message", "")
check(st == 400 and "256" in msg and "1000" in msg, f"over context: {st} {msg}")
long_prompt = " ".join(["story"] * 400)
st, _, out = complete(long_prompt, max_tokens=10)
check(st == 400 and "256" in out.get("error", {}).get("message", ""), f"long prompt: {st} {out}")
check(srv.request("GET", "/v1/nothing")[0] == 404, "unknown route 404")
check(srv.request("GET", "/v1/completions")[0] == 405, "GET on POST route 405")
check(srv.request("POST", "/v1/models", {})[0] == 405, "POST on GET route 405")

# the server is still well after all of that
st, _, out = complete(refs[2]["prompt"], max_tokens=refs[2]["n_predict"])
check(st == 200 and out["choices"][0]["text"] == refs[2]["text"], "still serving after bad input")
check(srv.stop() == 0, f"SIGTERM exit code (log tail {srv.log[-3:]})")

# --- CORS: off by default, on for one origin ---
cors = Server("serve", ["-m", STORIES, "--cors-origin", "https://app.example", "--quiet"])
st, hdrs, _ = cors.request("OPTIONS", "/v1/chat/completions",
                           headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
check(st == 204 and hdrs.get("access-control-allow-origin") == "https://app.example"
      and "POST" in hdrs.get("access-control-allow-methods", ""), f"CORS preflight: {st} {hdrs}")
st, hdrs, _ = cors.request("GET", "/v1/models")
check(hdrs.get("access-control-allow-origin") == "https://app.example", f"CORS header: {hdrs}")
check(cors.stop() == 0, "cors server exit")
finish()
