"""reflex wan end to end (root; skipped with exit 77 otherwise): a three-host WAN with a unique
name, real servers inside its hosts (tests/wan/wan_peer.py and a `reflex serve` node), and a
client in another host, reached only through the relay:
- a request on an open connection costs 2 x delay, a first connection (connect + request +
  response) 4 x delay, each median within 5% or 1 ms of the configuration;
- a rate-limited link delivers a download at its rate (within 10%); jitter spreads round trips
  within +-2 x jitter around 2 x delay;
- status counts the bytes and connections; cut stops an open connection's traffic and refuses new
  connections, heal delivers what waited and accepts again;
- the host's other addresses and unlisted ports are unreachable; `up` twice is refused;
- `down` leaves no namespace and no state behind, and a second `down` is fine.
The client side runs in this process: sockets are created inside the client's namespace
(setns(2) through ctypes), so timing has no process start-up in it."""
import ctypes
import fcntl
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from rxserve import BIN, STORIES, check, finish  # noqa: E402

PEER = os.path.join(os.path.dirname(__file__), "wan_peer.py")


def skip(why):
    print(f"SKIP: {why}", flush=True)
    sys.exit(77)


if os.geteuid() != 0:
    skip("reflex wan needs root (network namespaces)")
# root in a container without CAP_SYS_ADMIN cannot make namespaces: a probe says so up front
probe = f"rxprobe{os.getpid()}"
try:
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
except FileNotFoundError:
    skip("'ip' (iproute2) is not installed")
if made.returncode != 0:
    skip(f"cannot create a network namespace here: {made.stderr.strip()}")
subprocess.run(["ip", "netns", "del", probe])

# what is measured is the relay's timing, not how the shared machine schedules this test's client
# and servers: they run ahead of ordinary processes, as the relay itself does (children inherit it)
os.setpriority(os.PRIO_PROCESS, 0, -10)

NAME = f"rxt{os.getpid()}"
D_CS, D_CR, RATE_MBIT, D_SR, J_SR = 25, 5, 20, 15, 3  # ms, ms, mbit, ms, ms
CONFIG = f"/tmp/{NAME}.yaml"
with open(CONFIG, "w") as f:
    f.write(f"""name: {NAME}
hosts:
  - {{name: c}}
  - {{name: s, ports: [7001, 7003, 7004]}}
  - {{name: r, ports: [7001, 7002]}}
links:
  - {{a: c, b: s, delay: {D_CS}ms}}
  - {{a: c, b: r, delay: {D_CR}ms, rate: {RATE_MBIT}mbit}}
  - {{a: s, b: r, delay: {D_SR}ms, jitter: {J_SR}ms}}
""")
S_ADDR, R_ADDR = "10.77.0.2", "10.77.0.3"

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
SELF_NS = os.open("/proc/self/ns/net", os.O_RDONLY)


def wan(*args, timeout=30):
    return subprocess.run([BIN, "wan", *args, "--config", CONFIG], capture_output=True, text=True,
                          timeout=timeout)


def status():
    p = wan("status", "--json")
    return json.loads(p.stdout) if p.returncode == 0 else None


def link_status(st, name):
    return next(l for l in st["links"] if l["name"] == name)


def sock_in(host, timeout=5.0):
    """A TCP socket created inside host's namespace (it stays there); this thread returns home."""
    fd = os.open(f"/run/netns/{NAME}-{host}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
        s = socket.socket()
    finally:
        libc.setns(SELF_NS, CLONE_NEWNET)
        os.close(fd)
    s.settimeout(timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def connect(host, addr, port, timeout=5.0):
    s = sock_in(host, timeout)
    s.connect((addr, port))
    return s


def read_to_end(s):
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            return out
        out += b


def echo_once(s, n=64):
    s.sendall(b"p" * n)
    got = 0
    while got < n:
        d = s.recv(65536)
        if not d:
            raise ConnectionError("closed")
        got += len(d)


def within(samples_fn, want_ms, tol_ms, what, also=None, rounds=5):
    """The median of samples_fn()'s round trips is within tol_ms of want_ms (and also(samples)
    holds) in one of up to rounds tries: the machine is shared, and a burst of load delays a
    whole round (its stalls only ever add time), while a relay that is wrong is wrong in every
    round. No sample may ever be early, in any round."""
    medians = []
    for _ in range(rounds):
        samples = samples_fn()
        medians.append(statistics.median(samples))
        print(f"{what}: median {medians[-1]:.2f} ms, want {want_ms} +- {tol_ms:.2f}; samples "
              f"{' '.join(f'{x:.2f}' for x in sorted(samples))}", flush=True)
        if abs(medians[-1] - want_ms) <= tol_ms and (also is None or also(samples)):
            return samples
    check(False, f"{what}: medians {[round(m, 2) for m in medians]} ms, want {want_ms} +- "
                 f"{tol_ms:.2f}")
    return samples


def tol(want_ms):
    return max(0.05 * want_ms, 1.0)


peers = []


def start_peer(host, *args):
    p = subprocess.Popen(["ip", "netns", "exec", f"{NAME}-{host}", sys.executable, PEER,
                          "--lifetime", "90", *args], stdout=subprocess.PIPE, text=True)
    peers.append(p)
    if p.stdout.readline().strip() != "ready":
        raise RuntimeError(f"peer in {host} did not start")


def main():
    # a namespace of ours already there (another WAN's, a crashed run's): refused, untouched
    subprocess.run(["ip", "netns", "add", f"{NAME}-l1"], check=True)
    clash = wan("up")
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    check(clash.returncode == 1 and f"'{NAME}-l1' exists already" in clash.stderr
          and f"{NAME}-c" not in left and f"{NAME}-l1" in left, f"up over a clash: {clash.stderr}")
    subprocess.run(["ip", "netns", "del", f"{NAME}-l1"], check=True)

    up = wan("up")
    if not check(up.returncode == 0, f"up: {up.stderr.strip()}"):
        return
    start_peer("s", "echo", "7001")
    start_peer("r", "echo", "7001", "source", "7002")
    node = subprocess.Popen(["ip", "netns", "exec", f"{NAME}-s", BIN, "serve", "-m", STORIES,
                             "--host", "0.0.0.0", "--port", "7003", "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peers.append(node)

    again = wan("up")
    check(again.returncode == 1 and "already up" in again.stderr
          and again.stderr.count("\n") == 1, f"second up: rc={again.returncode} {again.stderr!r}")

    # first connection: connect + request + response = 4 x delay
    def firsts():
        out = []
        for _ in range(9):
            t = time.monotonic()
            c = connect("c", S_ADDR, 7001)
            echo_once(c)
            out.append((time.monotonic() - t) * 1e3)
            c.close()
        return out

    within(firsts, 4 * D_CS, tol(4 * D_CS), "first-connection round trip (c-s)")
    # an open connection: 2 x delay
    s = connect("c", S_ADDR, 7001)
    echo_once(s)

    def requests(conn=s, n=12):
        out = []
        for _ in range(n):
            t = time.monotonic()
            echo_once(conn)
            out.append((time.monotonic() - t) * 1e3)
        return out

    within(requests, 2 * D_CS, tol(2 * D_CS), "request round trip (c-s)")

    # the rate: a 1 MB download over the 20 mbit link, timed from its first byte to its last
    size = 1_000_000

    def download():
        d = connect("c", R_ADDR, 7002, timeout=10)
        d.sendall(f"{size}\n".encode())
        got, t_first = 0, None
        while got < size:
            b = d.recv(1 << 20)
            if not b:
                break
            if t_first is None:
                t_first = time.monotonic()
            got += len(b)
        t_last = time.monotonic()
        d.close()
        mbit = (got - 1500) * 8 / (t_last - t_first) / 1e6 if t_first and t_last > t_first else 0
        print(f"c-r download: {got} bytes at {mbit:.2f} mbit/s (link {RATE_MBIT} mbit)",
              flush=True)
        return got == size and abs(mbit - RATE_MBIT) <= 0.10 * RATE_MBIT

    check(any(download() for _ in range(5)), f"rate: not {RATE_MBIT} mbit/s +- 10% in 5 tries")

    # jitter: s reaches r's echo over the jittery link
    j = connect("s", R_ADDR, 7001)
    echo_once(j)
    # a wide spread's median moves with the machine's one-sided stalls more than a narrow one's
    # (a stalled sample below the median lands above it): half the jitter more leeway
    lo, hi = 2 * (D_SR - J_SR), 2 * (D_SR + J_SR) + 1.5
    # the samples spread, and all but a few stalled ones stay within 2 x (delay +- jitter)
    jr = within(lambda: requests(j, 30), 2 * D_SR, tol(2 * D_SR) + J_SR / 2,
                f"round trip with +-{J_SR} ms jitter (s-r)",
                also=lambda x: max(x) - min(x) >= 1.0 and sum(v > hi for v in x) <= 3)
    j.close()
    check(min(jr) >= lo - 0.3, f"jitter: a round trip of {min(jr):.2f} ms, under {lo}")

    # a real node behind the WAN, once it listens (checked inside its own host: through the
    # relay, a port with nothing behind it is accepted and then reset one round trip later)
    body = json.dumps({"prompt": "Once upon a time", "max_tokens": 4, "temperature": 0})
    for _ in range(300):
        try:
            connect("s", "127.0.0.1", 7003, timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    n = connect("c", S_ADDR, 7003, timeout=30)
    n.sendall(f"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}".encode())
    resp = read_to_end(n)
    check(resp.startswith(b"HTTP/1.1 200") and b'"choices"' in resp,
          f"reflex serve through the WAN: {resp[:200]!r}")
    n.close()

    # status: bytes and connections of the link, its state
    st = status()
    if check(st is not None, "status --json"):
        cs = link_status(st, "c-s")
        check(cs["state"] == "up" and cs["delay_ms"] == D_CS and cs["a"] == "c" and cs["b"] == "s",
              f"status c-s: {cs}")
        check(cs["bytes_a_to_b"] >= 20 * 64 and cs["bytes_b_to_a"] >= 20 * 64,
              f"status c-s bytes: {cs}")
        check(cs["connections"] >= 9, f"status c-s connections: {cs}")
        cr = link_status(st, "c-r")
        check(cr["bytes_b_to_a"] >= size and cr["rate_mbit"] == RATE_MBIT, f"status c-r: {cr}")
        hosts = {h["name"]: h for h in st["hosts"]}
        check(hosts["s"]["address"] == S_ADDR and hosts["s"]["netns"] == f"{NAME}-s"
              and hosts["s"]["ports"] == [7001, 7003, 7004], f"status hosts: {st['hosts']}")

    # only the service address and the listed ports get through
    for addr, port, err in ((S_ADDR, 7999, ConnectionRefusedError), ("10.78.0.6", 7001, OSError)):
        try:
            connect("c", addr, port, timeout=1).close()
            check(False, f"{addr}:{port} reachable from c")
        except err:
            pass

    # cut: the open connection's request waits, new connections are refused
    p = wan("cut", "c-s")
    check(p.returncode == 0 and "cut" in p.stdout, f"cut: {p.returncode} {p.stderr}")
    s.settimeout(1.0)
    s.sendall(b"q" * 64)
    try:
        s.recv(65536)
        check(False, "a reply crossed a cut link")
    except socket.timeout:
        pass
    try:
        connect("c", S_ADDR, 7001, timeout=2).close()
        check(False, "a new connection crossed a cut link")
    except ConnectionRefusedError:
        pass
    st = status()
    check(st is not None and link_status(st, "c-s")["state"] == "cut", "status after cut")
    # heal (named the other way round): what waited arrives, new connections work again
    t = time.monotonic()
    p = wan("heal", "s-c")
    check(p.returncode == 0, f"heal: {p.returncode} {p.stderr}")
    s.settimeout(5.0)
    got = 0
    try:
        while got < 64:
            got += len(s.recv(65536))
    except socket.timeout:
        pass
    check(got == 64, f"after heal the held request got {got} of 64 bytes back")
    print(f"after heal the held reply came back in {(time.monotonic() - t) * 1e3:.1f} ms",
          flush=True)
    s.close()
    s = connect("c", S_ADDR, 7001)
    echo_once(s)
    s.close()
    st = status()
    check(st is not None and link_status(st, "c-s")["state"] == "up", "status after heal")

    # a half-close crosses in order: the echo, then the end of the stream
    h = connect("c", S_ADDR, 7001)
    h.sendall(b"h" * 1000)
    h.shutdown(socket.SHUT_WR)
    got = read_to_end(h)
    h.close()
    check(got == b"h" * 1000, f"half-close: {len(got)} of 1000 bytes before the end")
    # a listed port with nothing behind it: accepted (the relay cannot know), then reset once
    # the refusal has crossed back
    t = time.monotonic()
    e = connect("c", S_ADDR, 7004)
    try:
        e.recv(1)
        check(False, "a port with no server behind it answered")
    except ConnectionResetError:
        ms = (time.monotonic() - t) * 1e3
        check(ms >= 2 * D_CS, f"a refused onward connection was reset after {ms:.1f} ms only")
    e.close()
    # every connection the test closed is gone from the relay once the ends have crossed
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        st = status()
        if st and all(l["active_connections"] == 0 for l in st["links"]):
            break
        time.sleep(0.1)
    check(st and all(l["active_connections"] == 0 for l in st["links"]),
          f"connections left open in the relay: {st and [l['active_connections'] for l in st['links']]}")

    bad = wan("cut", "c-x")
    check(bad.returncode == 2 and "no link 'c-x'" in bad.stderr, f"cut unknown link: {bad.stderr}")


def stop_relay_and_read_its_log():
    """Stops the relay as a crash would leave it (down must still clean up), and returns its
    log: under sanitizers it holds any error or leak report, written before the lock is freed."""
    st = status()
    if st is None:
        return ""
    os.kill(st["relay_pid"], signal.SIGTERM)
    with open(f"/run/reflex-wan/{NAME}/relay.pid") as f:
        for _ in range(500):
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                time.sleep(0.02)
    with open(f"/run/reflex-wan/{NAME}/relay.log") as f:
        return f.read()


try:
    main()
    log = stop_relay_and_read_its_log()
    check("Sanitizer" not in log and "runtime error" not in log, f"relay log: {log}")
    check("relay for" in log and "stopping" in log, f"relay log: {log}")
finally:
    down = wan("down")
    for p in peers:
        if p.poll() is None:
            p.kill()
        p.wait()
    check(down.returncode == 0 and "down" in down.stdout, f"down: {down.returncode} {down.stderr}")
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    check(f"{NAME}-" not in left, f"namespaces left after down: {left}")
    check(not os.path.exists(f"/run/reflex-wan/{NAME}"), "state directory left after down")
    again = wan("down")
    check(again.returncode == 0 and "was not up" in again.stdout, f"second down: {again.stdout}")
    gone = wan("status")
    check(gone.returncode == 1 and "not up" in gone.stderr, f"status when down: {gone.stderr}")
    os.unlink(CONFIG)
finish()
