"""The edge-versus-cloud report (bench/edge-vs-cloud.sh writes its inputs): a Markdown table of
latency, jitter, throughput, availability during a WAN cut and cost per million generated tokens
for both topologies, every price and assumption printed beside the figures. Exits 1 when a
target is missed: edge TTFT p95 at least 10x lower than cloud-only, edge availability 100% while
the WAN is cut."""
import argparse
import json
import os
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--results", required=True)
ap.add_argument("--measurements", required=True)
ap.add_argument("--price-core-hour", type=float, required=True)
ap.add_argument("--price-wan-gb", type=float, required=True)
ap.add_argument("--clk-tck", type=int, required=True)
ap.add_argument("--machine", required=True)
ap.add_argument("--setup", required=True)
a = ap.parse_args()

meas = {}
for line in open(a.measurements):
    topo, phase, *kv = line.split()
    meas[(topo, phase)] = {k: float(v) for k, v in (x.split("=", 1) for x in kv)}


def load(phase, topo):
    return json.load(open(os.path.join(a.results, f"{phase}-{topo}.json")))


def during_cut(topo):
    """Requests started while the WAN was cut: (succeeded, attempted)."""
    run = load("cut", topo)
    t0 = meas[(topo, "cut")]["start"]
    w = meas[(topo, "cutwindow")]
    inside = [r for r in run["requests"] if w["from"] <= t0 + r["start_s"] < w["to"]]
    return sum(r["status"] == "ok" for r in inside), len(inside), run["summary"]


rows, fig = [], {}
for topo in ("cloud", "edge"):
    s = load("steady", topo)["summary"]
    m = meas[(topo, "steady")]
    cpu_s = m["cpu_ticks"] / a.clk_tck
    tokens = s["completion_tokens"]
    compute = cpu_s / 3600 * a.price_core_hour
    wan = m["wan_bytes"] / 1e9 * a.price_wan_gb
    ok_cut, n_cut, cut_summary = during_cut(topo)
    fig[topo] = {
        "ttft_p50": s["ttft_ms"]["p50"], "ttft_p95": s["ttft_ms"]["p95"],
        "ttft_p99": s["ttft_ms"]["p99"], "e2e_p95": s["e2e_ms"]["p95"],
        "itl_p50": s["itl_ms"]["p50"], "jitter_sd": s["jitter_ms"]["stddev"],
        "jitter_spread": s["jitter_ms"]["p99_minus_p50"],
        "tok_s": s["output_token_throughput"], "req_s": s["request_throughput"],
        "avail_steady": s["availability"], "ok_cut": ok_cut, "n_cut": n_cut,
        "avail_cut": ok_cut / n_cut if n_cut else float("nan"),
        "avail_cut_run": cut_summary["availability"], "cpu_s": cpu_s, "tokens": tokens,
        "wan_bytes": m["wan_bytes"], "requests": s["ok"],
        "prompt_tokens": s["prompt_tokens"] / s["ok"] if s["ok"] else float("nan"),
        "cost_compute": compute / tokens * 1e6 if tokens else float("nan"),
        "cost_wan": wan / tokens * 1e6 if tokens else float("nan"),
    }
    fig[topo]["cost"] = fig[topo]["cost_compute"] + fig[topo]["cost_wan"]

c, e = fig["cloud"], fig["edge"]


def ratio(x, y):
    return f"{x / y:.1f}x" if y else "-"


def row(name, key, fmt, better_low=True):
    cv, ev = c[key], e[key]
    r = (ratio(cv, ev) + " lower") if better_low else (ratio(ev, cv) + " higher")
    if abs(cv - ev) < 0.01 or not cv or not ev:
        r = "-"
    return f"| {name} | {fmt.format(cv)} | {fmt.format(ev)} | {r} |"


ttft_ratio = c["ttft_p95"] / e["ttft_p95"] if e["ttft_p95"] else float("inf")
ok_ttft = ttft_ratio >= 10
ok_avail = e["n_cut"] > 0 and e["ok_cut"] == e["n_cut"]
cost_change = (e["cost"] - c["cost"]) / c["cost"] * 100 if c["cost"] else float("nan")

md = f"""# Edge versus cloud-only

Machine: {a.machine}. Setup: {a.setup}.
Command: `bash bench/edge-vs-cloud.sh` (see the script's header for every knob).

| | cloud-only | edge | edge vs cloud |
|---|---:|---:|---:|
| prompt tokens per request (the servers' count) | {c["prompt_tokens"]:.1f} | {e["prompt_tokens"]:.1f} | |
{row("TTFT p50 (ms)", "ttft_p50", "{:.1f}")}
{row("TTFT p95 (ms)", "ttft_p95", "{:.1f}")}
{row("TTFT p99 (ms)", "ttft_p99", "{:.1f}")}
{row("end-to-end p95 (ms)", "e2e_p95", "{:.1f}")}
{row("inter-token latency p50 (ms)", "itl_p50", "{:.2f}")}
{row("ITL jitter: stddev (ms)", "jitter_sd", "{:.2f}")}
{row("ITL jitter: p99 - p50 (ms)", "jitter_spread", "{:.2f}")}
{row("output tokens/s", "tok_s", "{:.0f}", better_low=False)}
{row("requests/s", "req_s", "{:.2f}", better_low=False)}
| availability, steady run | {c["avail_steady"]:.2%} | {e["avail_steady"]:.2%} | |
| availability while the WAN is cut (ok / started) | {c["avail_cut"]:.2%} ({c["ok_cut"]}/{c["n_cut"]}) | {e["avail_cut"]:.2%} ({e["ok_cut"]}/{e["n_cut"]}) | |
| availability, whole partition run | {c["avail_cut_run"]:.2%} | {e["avail_cut_run"]:.2%} | |
| CPU-seconds, steady run (all processes of the topology) | {c["cpu_s"]:.2f} | {e["cpu_s"]:.2f} | |
| bytes across the WAN, steady run | {c["wan_bytes"]:.0f} | {e["wan_bytes"]:.0f} | |
| cost per 1M generated tokens: compute (USD) | {c["cost_compute"]:.4f} | {e["cost_compute"]:.4f} | |
| cost per 1M generated tokens: WAN transfer (USD) | {c["cost_wan"]:.4f} | {e["cost_wan"]:.4f} | |
| cost per 1M generated tokens: total (USD) | {c["cost"]:.4f} | {e["cost"]:.4f} | {cost_change:+.0f}% |

Targets: edge TTFT p95 at least 10x lower than cloud-only: **{ratio(c["ttft_p95"], e["ttft_p95"])}, {"met" if ok_ttft else "NOT met"}**;
edge availability 100% while the WAN is cut: **{e["avail_cut"]:.2%}, {"met" if ok_avail else "NOT met"}**.

How the cost is computed, and what it assumes:
- Compute: CPU-seconds (user + system, from /proc/PID/stat) of every process of the topology
  during the steady run (cloud-only: the central node; edge: the edge node, the edge gateway
  and the idle central node it could escalate to) x {a.price_core_hour:.4f} USD per core-hour,
  the same price at both tiers (set PRICE_CORE_HOUR; edge hardware often costs more per core,
  which this does not model).
- WAN transfer: request and response bytes counted by the link relays on the WAN links
  (edge-central, client-central; not the 1 ms access link) x {a.price_wan_gb:.2f} USD per GB
  (set PRICE_WAN_GB), in both directions. The edge's WAN bytes are the gateway's health polls
  of the central node.
- Per million generated tokens ({c["tokens"]} and {e["tokens"]} tokens in the steady runs).
  Idle capacity, memory, storage and the machines' purchase are not counted.
- Both topologies run on one machine, so the central node is as fast as the edge node: the
  difference is the network path alone. Requests "while the WAN is cut" are those started
  between the cut and the heal, arriving at a fixed rate (open loop); a request whose
  connection stalls for 5 s without data fails (bench serve --timeout 5).

Plots: edge-vs-cloud-steady.svg (latency CDFs, throughput over time), edge-vs-cloud-partition.svg.
Raw per-request records: steady-*.json, cut-*.json; CPU ticks, WAN bytes and the cut's times:
measurements.txt.
"""
with open(os.path.join(a.results, "edge-vs-cloud.md"), "w") as f:
    f.write(md)
print(md)
sys.exit(0 if ok_ttft and ok_avail else 1)
