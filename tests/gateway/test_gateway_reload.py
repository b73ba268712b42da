"""reflex gateway reloads its topology from its YAML config file on SIGHUP and on POST
/admin/reload, under load, without dropping a request; a broken file leaves the running topology
in place (real nodes, stories260K, 127.0.0.1)."""
import os
import signal
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from rxserve import STORIES, Server, check, finish  # noqa: E402


def node(name):
    return Server("serve", ["-m", STORIES, "-np", "4", "-t", "1", "--quiet", "--node-name", name])


A, B = node("A"), node("B")
cfg = os.path.join(tempfile.mkdtemp(), "gateway.yaml")


def write(*nodes, broken=False):
    with open(cfg + ".tmp", "w") as f:
        f.write("poll-interval: 0.1\nquiet: true\nadmin-key: k\nupstream:\n")
        for n in nodes:
            f.write(f"  - 'http://127.0.0.1:{n.port};name={n.port}'\n")
        if broken:
            f.write("  nested: [\n")
    os.replace(cfg + ".tmp", cfg)  # a reader never sees half a file


write(A)
gw = Server("gateway", ["--config", cfg])
stop = threading.Event()
errors, served = [], []


def load():
    while not stop.is_set():
        st, hdrs, out = gw.json("POST", "/v1/completions", {"prompt": "Once upon a time", "max_tokens": 2})
        (served if st == 200 else errors).append(hdrs.get("x-reflex-node") if st == 200 else (st, out))


ts = [threading.Thread(target=load) for _ in range(4)]
for t in ts:
    t.start()
time.sleep(0.5)
check(set(served) == {str(A.port)}, f"only A at first: {set(served)}")

write(B)
gw.signal(signal.SIGHUP)
time.sleep(0.5)
mark = len(served)
time.sleep(0.5)
check(set(served[mark:]) == {str(B.port)}, f"only B after SIGHUP: {set(served[mark:])}")

write(A, broken=True)
gw.signal(signal.SIGHUP)
time.sleep(0.3)
mark = len(served)
time.sleep(0.5)
check(set(served[mark:]) == {str(B.port)}, f"a broken file keeps B: {set(served[mark:])}")

write(A, B)
st, _, out = gw.json("POST", "/admin/reload", {}, {"Authorization": "Bearer k"})
check(st == 200 and out.get("upstreams") == 2, f"admin reload: {st} {out}")
time.sleep(0.3)
mark = len(served)
time.sleep(0.8)
check(set(served[mark:]) == {str(A.port), str(B.port)}, f"both after the admin reload: {set(served[mark:])}")
check(gw.json("POST", "/admin/reload", {})[0] == 401, "admin reload needs the key")

stop.set()
for t in ts:
    t.join()
check(not errors, f"{len(errors)} requests failed across reloads: {errors[:3]}")
check(len(served) > 100, f"served {len(served)}")
for s in (gw, A, B):
    check(s.stop() == 0, "exit code")
finish()
