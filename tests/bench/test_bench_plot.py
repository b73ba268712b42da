"""reflex bench plot, end to end: a real `reflex serve` (stories260K, 127.0.0.1) measured by
three `reflex bench serve --json` runs (labelled "edge", labelled with XML specials, and
unlabelled), drawn by `reflex bench plot`. The SVG must parse (xml.etree), have four panels
with one curve per report in each, keep every coordinate finite and inside the viewBox, escape
the labels, and draw the data: every CDF vertex and every throughput step is recomputed here
from the JSON records and compared, in pixels, with the chart's own axes (read back from its
tick labels). Also every bad input: one line on stderr, a non-zero exit, no output file."""
import atexit
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from rxserve import BIN, STORIES, Server, check, finish  # noqa: E402

NS = "{http://www.w3.org/2000/svg}"
TMP = tempfile.mkdtemp(prefix="rx-plot-")
atexit.register(shutil.rmtree, TMP, True)
PX = 0.6  # coordinates are written to 0.1 px; ticks and data both round


def path(name):
    return os.path.join(TMP, name)


def run(args, timeout=120):
    return subprocess.run([BIN] + args, capture_output=True, text=True, timeout=timeout,
                          errors="replace")


# --- every bad input: one line, a non-zero exit, no SVG left behind ---

def expect_error(code, what, args, out=None):
    r = run(["bench", "plot"] + args)
    lines = r.stderr.strip().split("\n")
    check(r.returncode == code and len(lines) == 1 and lines[0].startswith("reflex bench plot: "),
          f"{what}: rc={r.returncode} (want {code}) stderr={r.stderr!r}")
    if out:
        check(not os.path.exists(out), f"{what}: {out} was written")
    return lines[0]


with open(path("bad.json"), "w") as f:
    f.write('{"summary": {}, "config": {}, "requests": [')
with open(path("engine.json"), "w") as f:  # what `reflex bench -o json` prints: not a report
    json.dump([{"model": "m", "n_prompt": 512, "avg_ts": 100.0}], f)
with open(path("wrongfield.json"), "w") as f:
    json.dump({"summary": {}, "config": {}, "requests": [{"status": "ok", "start_s": "soon"}]}, f)
with open(path("tiny.json"), "w") as f:
    json.dump({"summary": {}, "config": {"label": "tiny"}, "requests": [
        {"start_s": 0, "ttft_ms": 5, "itl_ms": [1, 2], "e2e_ms": 8, "completion_tokens": 3,
         "status": "ok"}]}, f)
out = path("err.svg")
expect_error(2, "no arguments", [])
expect_error(2, "no -o", [path("tiny.json")])
expect_error(2, "-o without a value", [path("tiny.json"), "-o"])
expect_error(2, "no input", ["-o", out], out)
expect_error(2, "unknown flag", [path("tiny.json"), "-o", out, "--frobnicate"], out)
expect_error(2, "eleven inputs", [path("tiny.json")] * 11 + ["-o", out], out)
m = expect_error(1, "missing file", [path("none.json"), "-o", out], out)
check("cannot read" in m and "none.json" in m, f"missing file message: {m}")
m = expect_error(1, "bad JSON", [path("tiny.json"), path("bad.json"), "-o", out], out)
check("bad.json: not valid JSON" in m, f"bad JSON message: {m}")
m = expect_error(1, "not a report", [path("engine.json"), "-o", out], out)
check("not a reflex bench serve report" in m, f"not a report message: {m}")
m = expect_error(1, "wrong field", [path("wrongfield.json"), "-o", out], out)
check("requests[0].start_s" in m, f"wrong field message: {m}")
m = expect_error(1, "directory as input", [TMP, "-o", out], out)
m = expect_error(1, "unwritable output", [path("tiny.json"), "-o", path("no/such/dir/x.svg")])
check("cannot write" in m, f"unwritable message: {m}")
expect_error(1, "output is a directory", [path("tiny.json"), "-o", TMP])
r = run(["bench", "plot", "--help"])
check(r.returncode == 0 and "usage: reflex bench plot" in r.stdout, "--help")
r = run(["bench", "--help"])
check("reflex bench plot" in r.stdout, "bench --help mentions plot")
r = run(["bench", "serve", "--url", "http://127.0.0.1:9", "--model", "m", "--concurrency", "1",
         "--requests", "1", "--prompt-len", "1", "--output-len", "1", "--label", ""])
check(r.returncode == 2 and "--label" in r.stderr and r.stderr.count("\n") == 1,
      f"bench serve --label '': {r.returncode} {r.stderr!r}")


# --- reading the chart back ---

def floats(s):
    return [float(v) for v in re.split(r"[ ,]+", s.strip()) if v]


def axis(panel, anchor):
    """(value, pixel) of the tick labels along one axis, and whether it is log."""
    ticks = []
    for t in panel.iter(NS + "text"):
        if t.get("text-anchor") != anchor or t.get("font-size") or t.get("transform"):
            continue
        try:
            v = float(t.text)
        except (TypeError, ValueError):
            continue
        ticks.append((v, float(t.get("x") if anchor == "middle" else t.get("y")) -
                      (0 if anchor == "middle" else 4)))
    titles = [t.text or "" for t in panel.iter(NS + "text")]
    log = anchor == "middle" and any("log scale" in t for t in titles)
    return sorted(ticks), log


def mapper(ticks, log, lo_px, hi_px):
    """Value to pixel through the two outer ticks, clamped to the frame as the chart does."""
    (v0, p0), (v1, p1) = ticks[0], ticks[-1]
    f = math.log10 if log else (lambda v: v)
    lo, hi = min(lo_px, hi_px), max(lo_px, hi_px)

    def px(v):
        if log and v <= 0:
            return lo_px
        p = p0 + (f(v) - f(v0)) * (p1 - p0) / (f(v1) - f(v0))
        return min(max(p, lo), hi)
    return px


def cdf_vertices(values):
    """The step line the chart must draw: (x0, 0), then for each distinct value v the
    vertices (v, F before v) and (v, F at v)."""
    xs = sorted(values)
    n = len(xs)
    out = [(xs[0], 0.0)]
    i = 0
    while i < n:
        j = i
        while j < n and xs[j] == xs[i]:
            j += 1
        out += [(xs[i], i / n), (xs[i], j / n)]
        i = j
    return out


def buckets(report):
    """Tokens received in each second, from the records: start + TTFT + the gaps so far."""
    ends, chunks = [], []
    for q in report["requests"]:
        ends.append(q["start_s"] + (q["e2e_ms"] or 0) / 1e3)
        if q["status"] != "ok" or q["ttft_ms"] is None:
            continue
        at = q["start_s"] + q["ttft_ms"] / 1e3
        times = [at]
        for g in q["itl_ms"]:
            at += g / 1e3
            times.append(at)
        ends.append(at)
        chunks += [(t, q["completion_tokens"] / len(times)) for t in times]
    out = [0.0] * (int(max(ends)) + 1)
    for t, k in chunks:
        out[int(t)] += k
    return out


def check_svg(svg_path, reports, labels):
    raw = open(svg_path, encoding="utf-8").read()
    try:
        root = ET.fromstring(raw.encode())
    except ET.ParseError as e:
        check(False, f"{svg_path}: not well-formed XML: {e}")
        return raw
    check(root.tag == NS + "svg", f"root is <svg>, not {root.tag}")
    _, _, W, H = floats(root.get("viewBox"))
    n = len(reports)
    # every coordinate finite and inside the viewBox
    for el in root.iter():
        nums = []
        for a in ("x", "y", "x1", "y1", "x2", "y2", "width", "height"):
            if el.get(a) is not None:
                nums.append((a, float(el.get(a))))
        if el.get("points") is not None:
            pts = floats(el.get("points"))
            nums += [("x" if k % 2 == 0 else "y", v) for k, v in enumerate(pts)]
        for a, v in nums:
            lim = W if a in ("x", "x1", "x2", "width") else H
            if not (math.isfinite(v) and 0 <= v <= lim):
                check(False, f"{el.tag} {a}={v} outside 0..{lim}")
    legend = [t for t in root.iter(NS + "text") if t.get("class") == "legend-entry"]
    check(len(legend) == n, f"{len(legend)} legend entries for {n} reports")
    for t, label in zip(legend, labels):
        check(t.text.startswith(label + " \u2014 http://127.0.0.1:"), f"legend {t.text!r}")
    panels = {g.get("data-panel"): g for g in root.iter(NS + "g") if g.get("class") == "panel"}
    check(sorted(panels) == ["e2e", "itl", "throughput", "ttft"], f"panels {sorted(panels)}")
    for name, g in panels.items():
        curves = [p for p in g.iter(NS + "polyline") if p.get("class") == "curve"]
        check(len(curves) == n, f"{name}: {len(curves)} curves for {n} reports")
        check(sorted(int(c.get("data-run")) for c in curves) == list(range(n)), f"{name} runs")
        xt, log = axis(g, "middle")
        yt, _ = axis(g, "end")
        if len(xt) < 2 or len(yt) < 2:
            check(False, f"{name}: too few ticks to read the axes")
            continue
        frame = [r for r in g.iter(NS + "rect") if r.get("stroke") == "black"][0]
        fx, fy, fw, fh = (float(frame.get(a)) for a in ("x", "y", "width", "height"))
        px, py = mapper(xt, log, fx, fx + fw), mapper(yt, False, fy + fh, fy)
        for c in curves:
            rep = reports[int(c.get("data-run"))]
            pts = floats(c.get("points"))
            got = list(zip(pts[0::2], pts[1::2]))
            if name == "throughput":
                want = []
                for k, v in enumerate(buckets(rep)):
                    want += [(k, v), (k + 1, v)]
            else:
                key = {"ttft": "ttft_ms", "itl": "itl_ms", "e2e": "e2e_ms"}[name]
                ok = [q for q in rep["requests"] if q["status"] == "ok"]
                vals = [g for q in ok for g in q["itl_ms"]] if key == "itl_ms" else \
                    [q[key] for q in ok if q[key] is not None]
                want = cdf_vertices(vals)
            want = [(px(x), py(y)) for x, y in want]
            same = len(got) == len(want) and all(
                abs(a[0] - b[0]) <= PX and abs(a[1] - b[1]) <= PX for a, b in zip(got, want))
            check(same, f"{name} run {c.get('data-run')}: {len(got)} vertices, want {len(want)}; "
                  f"first differences {[(a, b) for a, b in zip(got, want) if a != b][:3]}")
    return raw


# --- a crafted report with a hostile label, no server needed ---
with open(path("hostile.json"), "w") as f:
    json.dump({"summary": {}, "config": {"url": "http://127.0.0.1:1", "model": "m",
                                         "label": "<script>&\"'"},
               "requests": [{"start_s": 0.2, "ttft_ms": 3, "itl_ms": [0, 0, 2, 120],
                             "e2e_ms": 130, "completion_tokens": 5, "status": "ok"},
                            {"start_s": 0.3, "ttft_ms": None, "itl_ms": [], "e2e_ms": 2,
                             "completion_tokens": 0, "status": "http"},
                            {"start_s": 1.95, "ttft_ms": 30, "itl_ms": [10, 20, 30],
                             "e2e_ms": 95, "completion_tokens": 8, "status": "ok"}]}, f)
r = run(["bench", "plot", path("hostile.json"), "-o", path("hostile.svg"), "--title", "a<b & c"])
check(r.returncode == 0 and os.path.exists(path("hostile.svg")), f"hostile: {r.stderr}")
if r.returncode == 0:
    raw = check_svg(path("hostile.svg"), [json.load(open(path("hostile.json")))],
                    ["<script>&\"'"])
    check("&lt;script&gt;&amp;&quot;&apos;" in raw and "<script>" not in raw, "label escaped")
    check("<title>a&lt;b &amp; c</title>" in raw, "title escaped")
    check("2 of 0 ms on the left edge" in raw, "zero gaps on a log axis are said")

# --- the real thing: reflex serve measured three times, then plotted ---
srv = Server("serve", ["-m", STORIES, "-np", "4", "-c", "256", "-t", "1", "--quiet"])
url = f"http://127.0.0.1:{srv.port}"
_, _, models = srv.json("GET", "/v1/models")
model = models["data"][0]["id"]
runs = [("edge", ["--concurrency", "4", "--requests", "24", "--prompt-len", "16",
                  "--output-len", "16"]),
        # an open loop for 2.5 s: its tokens fall into several one-second buckets
        ("cloud <&\">", ["--rate", "10", "--duration", "2.5s", "--prompt-len", "8",
                         "--output-len", "24"]),
        (None, ["--concurrency", "2", "--requests", "8", "--prompt-len", "4",
                "--output-len", "8"])]
files, reports, labels = [], [], []
for k, (label, args) in enumerate(runs):
    out = path(f"run{k}.json")
    cmd = ["bench", "serve", "--url", url, "--model", model, "--json", out] + args
    if label:
        cmd += ["--label", label]
    r = run(cmd)
    if not check(r.returncode == 0, f"bench serve {label}: {r.returncode} {r.stderr}"):
        continue
    rep = json.load(open(out))
    check(rep["config"].get("label") == label, f"config.label {rep['config'].get('label')!r}")
    check(("Label:" in r.stdout) == bool(label), "text report shows the label")
    check(set(rep) == {"summary", "config", "requests"} and rep["summary"]["ok"] == len(
        rep["requests"]), f"report shape: {sorted(rep)} {rep['summary'].get('ok')}")
    files.append(out)
    reports.append(rep)
    labels.append(label or out)
srv.stop()

svg = path("plot.svg")
r = run(["bench", "plot"] + files + ["-o", svg, "--title", "edge vs cloud"])
check(r.returncode == 0 and r.stdout.startswith(f"wrote {svg}: 3 reports"),
      f"bench plot: {r.returncode} {r.stdout!r} {r.stderr!r}")
if r.returncode == 0 and len(files) == 3:
    raw = check_svg(svg, reports, labels)
    check("cloud &lt;&amp;&quot;&gt;" in raw, "the cloud label is escaped")
    print(f"plot of 3 real runs: {os.path.getsize(svg)} bytes", flush=True)
finish()
